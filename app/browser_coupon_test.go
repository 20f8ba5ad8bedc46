//go:build browser

package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"miaohui/orders"
)

// A 消费券 from grab to dashboard on a phone (390×844): the shopper grabs
// the organizer's voucher on the fair page, checks out with it and pays the
// discounted total; the organizer's dashboard then shows the campaign:
// claimed, used, the discount it gave and the sales it pulled.
func TestBrowserCouponGrabCheckoutDashboard(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "coupon-phone-2026")
	camp := w.fairCampaign(t, w.couponBody("庙会消费券 满20减5", 500, 2000, 100, 1, env.clock.Now().Add(time.Minute)))
	env.clock.Advance(time.Minute + time.Second)
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 2) // ¥25.00, over the minimum spend
	env.runWorkers()
	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. The fair page's coupon centre: grab the voucher.
	shop := bcTab(t, browser, "shopper")
	browserDo(t, shop, "emulate a phone", bbPhone())
	bcSignIn(t, shop, base, buyer.Email)
	browserNavigate(t, shop, "open the fair", chromedp.Navigate(base+"/fairs/"+w.slug))
	card := `#coupons [data-testid=coupon-campaign] `
	browserDo(t, shop, "see the voucher", chromedp.WaitVisible(chromedp.CSS(card+"[data-testid=claim-coupon]")))
	bbWantFits(t, shop, "the fair page with its coupons")
	browserNavigate(t, shop, "grab it", chromedp.Click(chromedp.CSS(card+"[data-testid=claim-coupon]")))
	var coupons []orders.Coupon
	if err := env.srv.DB.NewSelect().Model(&coupons).Where("campaign_id = ? AND user_id = ?", camp["id"], buyer.ID).Scan(t.Context()); err != nil || len(coupons) != 1 {
		t.Fatalf("the shopper holds %d coupons (%v), want 1%s", len(coupons), err, browserPage(shop))
	}

	// 2. Check out with it: ¥25.00 − ¥5.00.
	browserNavigate(t, shop, "open the checkout", chromedp.Navigate(base+"/checkout"))
	browserDo(t, shop, "choose the voucher", chromedp.Click(chromedp.CSS(`[data-testid=coupon-fair][value="`+coupons[0].ID+`"]`), chromedp.NodeVisible))
	res := browserNavigate(t, shop, "check out", chromedp.Click(chromedp.CSS("[data-testid=checkout-button]")))
	browserWantStatus(t, shop, "check out", res.Status, 200)
	browserWantText(t, shop, "[data-testid=pay-amount]", "¥20.00")
	browserNavigate(t, shop, "pay", chromedp.Click(chromedp.CSS("[data-testid=pay-succeed]")))
	var o orders.Order
	if err := env.srv.DB.NewSelect().Model(&o).Where("buyer_id = ?", buyer.ID).Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if o.Status != "paid" || o.Total != 2000 || o.Discount != 500 || o.Subsidy != 500 {
		t.Fatalf("order %s: status %s, total %d, discount %d, subsidy %d; want paid 2000 500 500", o.ID, o.Status, o.Total, o.Discount, o.Subsidy)
	}

	// 3. The organizer's dashboard charts the campaign with its figures.
	org := bcTab(t, browser, "organizer")
	browserDo(t, org, "emulate a phone", bbPhone())
	bcSignIn(t, org, base, "organizer-"+w.slug+"@example.com")
	res = browserNavigate(t, org, "open the dashboard", chromedp.Navigate(base+"/organizer/fairs/"+w.slug+"/dashboard"))
	browserWantStatus(t, org, "open the dashboard", res.Status, 200)
	// Charts are drawn as they come near the screen: scroll down to it.
	browserRun(t, org, "wait for the coupons chart", chromedp.Poll[bool](
		`(() => { const c = document.querySelector("[data-chart=coupons]"); if (!c) return null; c.scrollIntoView({block: "center"}); return c.width > 0 && !!window.Chart && !!Chart.getChart(c) || null; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	fig := browserRun(t, org, "read the chart", chromedp.Evaluate[[]any](
		`(() => { const ch = Chart.getChart(document.querySelector("[data-chart=coupons]")); return [ch.data.labels[0], ch.data.datasets[0].data[0], ch.data.datasets[1].data[0]]; })()`))
	if len(fig) != 3 || !strings.Contains(fig[0].(string), "庙会消费券") || !strings.Contains(fig[0].(string), "4.0") || fig[1].(float64) != 5 || fig[2].(float64) != 20 {
		t.Errorf("the coupons chart shows %v, want the campaign with ¥5 given, ¥20 pulled, ratio 4.0", fig)
	}
	csv := browserRun(t, org, "read the CSV link", chromedp.Evaluate[string](`document.querySelector("[data-testid=csv-coupons]").getAttribute("href")`))
	if !strings.HasSuffix(csv, "totals.csv?table=coupon") {
		t.Errorf("the coupons chart's CSV link is %q", csv)
	}
	// The console lists it claimed once and used once.
	browserNavigate(t, org, "open the coupon console", chromedp.Navigate(base+"/organizer/fairs/"+w.slug+"/coupons"))
	browserWantText(t, org, "[data-testid=campaign-row] [data-testid=campaign-claimed]", "1 / 100")
	browserWantText(t, org, "[data-testid=campaign-row] [data-testid=campaign-used]", "1")
	bbWantFits(t, org, "the coupon console")
}
