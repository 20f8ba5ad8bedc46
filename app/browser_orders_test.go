//go:build browser

package app

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"miaohui/catalog"
	"miaohui/orders"
)

// The browser test of a purchase across two stalls, from the product pages
// to the merchant's redemption and the organizer's totals. Helpers here are
// prefixed bo so that they do not collide with the other suites of package
// app; it uses the bc helpers of browser_catalog_test.go (tabs, sign-in,
// screenshots on failure: set TEST_BROWSER_ARTIFACTS to keep them). Run it as
// the other browser tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...

// boWantImageLoaded waits until the image matching sel has loaded with a
// width (naturalWidth > 0).
func boWantImageLoaded(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	js := `(() => { const img = document.querySelector(` + "`" + sel + "`" + `); return !!img && img.complete && img.naturalWidth > 0; })()`
	browserRun(t, ctx, "wait for "+sel+" to load", chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second)))
}

func TestBrowserTwoStallPurchase(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()

	// An open temple fair with two stalls of two merchants, each selling a
	// product picked up at the stall, set up through the API.
	const (
		slug        = "taizhou-two-stalls-2026"
		orgMail     = "two.organizer@example.com"
		merchAMail  = "two.chougan@example.com"
		merchBMail  = "two.shaobing@example.com"
		shopperMail = "two.shopper@example.com"
		chougan     = "泰州臭干"
		shaobing    = "黄桥烧饼"
	)
	_, orgToken := env.organizer(t, orgMail)
	env.createFair(t, orgToken, env.fairBody(slug, "temple_fair"))
	merchA := env.register(merchAMail, catalog.RoleMerchant)
	merchB := env.register(merchBMail, catalog.RoleMerchant)
	stallA := env.openStall(t, orgToken, merchA.Token, slug, "老街臭干坊")["id"].(string)
	stallB := env.openStall(t, orgToken, merchB.Token, slug, "黄桥烧饼铺")["id"].(string)
	productA := env.createProduct(t, merchA.Token, stallA, goods(chougan, 1280, 20))["id"].(string)
	productB := env.createProduct(t, merchB.Token, stallB, goods(shaobing, 350, 50))["id"].(string)
	env.register(shopperMail, catalog.RoleShopper)
	env.runWorkers()

	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. The shopper signs in and adds each product from its page.
	shop := bcTab(t, browser, "shopper")
	bcSignIn(t, shop, base, shopperMail)
	// Adding stays on the product's page: a toast says so and the cart
	// tab counts the items.
	for i, p := range []struct{ id, title, price string }{
		{productA, chougan, "¥12.80"},
		{productB, shaobing, "¥3.50"},
	} {
		res := browserNavigate(t, shop, "open "+p.title, chromedp.Navigate(base+"/products/"+p.id))
		browserWantStatus(t, shop, "open "+p.title, res.Status, 200)
		browserWantText(t, shop, "[data-testid=product-title]", p.title)
		browserWantText(t, shop, "[data-testid=product-price]", p.price)
		browserDo(t, shop, "add "+p.title+" to the cart", chromedp.Click(chromedp.CSS("[data-testid=add-to-cart-button]")))
		browserRun(t, shop, "see the cart count "+strconv.Itoa(i+1), chromedp.Poll[bool](`(b => b && b.textContent === "`+strconv.Itoa(i+1)+`")(document.querySelector("[data-testid=tab-cart] [data-testid=cart-count]"))`, chromedp.WithPollingTimeout(5*time.Second)))
		browserWantLocation(t, shop, base+"/products/"+p.id)
		browserWantText(t, shop, "[data-testid=toast]", "已加入购物车。去购物车")
	}

	// 2. The cart holds both lines, one per stall.
	res := browserNavigate(t, shop, "open the cart", chromedp.Navigate(base+"/cart"))
	browserWantStatus(t, shop, "open the cart", res.Status, 200)
	browserWantText(t, shop, `[data-testid=cart-line][data-product="`+productA+`"] [data-testid=cart-line-title]`, chougan)
	browserWantText(t, shop, `[data-testid=cart-line][data-product="`+productB+`"] [data-testid=cart-line-title]`, shaobing)
	if n := browserRun(t, shop, "count the cart lines", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=cart-line]").length`)); n != 2 {
		t.Fatalf("the cart shows %d lines, want 2%s", n, browserPage(shop))
	}
	browserWantText(t, shop, "[data-testid=cart-total]", "¥16.30")

	// 3. Check out, picked up: the checkout leads to the sandbox payment.
	res = browserNavigate(t, shop, "go to the checkout", chromedp.Click(chromedp.CSS("[data-testid=checkout-link]")))
	browserWantStatus(t, shop, "go to the checkout", res.Status, 200)
	browserWantLocation(t, shop, base+"/checkout")
	browserWantText(t, shop, "[data-testid=checkout-total]", "¥16.30")
	browserDo(t, shop, "see the pickup notice", chromedp.WaitVisible(chromedp.CSS("[data-testid=all-pickup]")))
	res = browserNavigate(t, shop, "check out", chromedp.Click(chromedp.CSS("[data-testid=checkout-button]")))
	browserWantStatus(t, shop, "check out", res.Status, 200)
	loc := browserRun(t, shop, "read the location", chromedp.Location())
	paymentID, ok := strings.CutPrefix(loc, base+"/pay/")
	if !ok || paymentID == "" {
		t.Fatalf("the checkout led to %s, want a payment page%s", loc, browserPage(shop))
	}
	browserWantText(t, shop, "[data-testid=pay-amount]", "¥16.30")
	if n := browserRun(t, shop, "count the orders to pay", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=pay-order]").length`)); n != 2 {
		t.Fatalf("the payment page shows %d orders, want 2%s", n, browserPage(shop))
	}

	// The checkout made one order per stall.
	var list []orders.Order
	if err := env.srv.DB.NewSelect().Model(&list).Where("payment_id = ?", paymentID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	orderOf := map[string]string{}
	for _, o := range list {
		orderOf[o.StallID] = o.ID
	}
	if len(list) != 2 || orderOf[stallA] == "" || orderOf[stallB] == "" {
		t.Fatalf("the payment has %d orders in stalls %v, want one in each of %s and %s", len(list), orderOf, stallA, stallB)
	}

	// 4. Pay: the orders page shows both orders paid, each with its pickup
	// code and a QR code that loaded.
	res = browserNavigate(t, shop, "pay", chromedp.Click(chromedp.CSS("[data-testid=pay-succeed]")))
	browserWantStatus(t, shop, "pay", res.Status, 200)
	browserWantLocation(t, shop, base+"/orders?paid="+paymentID)
	browserWantText(t, shop, "[data-testid=flash]", "支付成功！订单已付款。")
	codes := map[string]string{}
	for stall, total := range map[string]string{stallA: "¥12.80", stallB: "¥3.50"} {
		card := `[data-testid=order-card][data-order="` + orderOf[stall] + `"] `
		browserWantText(t, shop, card+"[data-testid=order-status]", "已付款")
		browserWantText(t, shop, card+"[data-testid=order-total]", total)
		code := strings.TrimSpace(browserRun(t, shop, "read a pickup code", chromedp.Text(chromedp.CSS(card+"[data-testid=pickup-code]"), chromedp.NodeVisible)))
		if code == "" {
			t.Fatalf("the order of stall %s shows no pickup code%s", stall, browserPage(shop))
		}
		// The QR code is behind a tap (出示二维码).
		browserRun(t, shop, "bring the QR toggle to the middle", chromedp.Evaluate[bool](`document.querySelector('`+card+`[data-testid=pickup-qr-toggle]').scrollIntoView({block: "center"}); true`))
		browserDo(t, shop, "open the QR code", chromedp.Click(chromedp.CSS(card+"[data-testid=pickup-qr-toggle]")))
		boWantImageLoaded(t, shop, card+"[data-testid=pickup-qr]")
		codes[stall] = code
	}
	if codes[stallA] == codes[stallB] {
		t.Fatalf("both orders show the pickup code %s", codes[stallA])
	}
	if o := readOrder(t, env, orderOf[stallA]); o.PickupCode != codes[stallA] {
		t.Fatalf("the page shows the code %s, the order holds %s", codes[stallA], o.PickupCode)
	}

	// 5. Merchant A redeems its order with the code the shopper shows.
	mer := bcTab(t, browser, "merchant")
	bcSignIn(t, mer, base, merchAMail)
	ordersURL := base + "/merchant/stalls/" + stallA + "/orders"
	res = browserNavigate(t, mer, "open the stall's orders", chromedp.Navigate(ordersURL))
	browserWantStatus(t, mer, "open the stall's orders", res.Status, 200)
	mcard := `[data-testid=order-card][data-order="` + orderOf[stallA] + `"] `
	browserWantText(t, mer, mcard+"[data-testid=order-status]", "已付款")
	if n := browserRun(t, mer, "count the stall's orders", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=order-card]").length`)); n != 1 {
		t.Fatalf("the stall's orders page shows %d orders, want 1%s", n, browserPage(mer))
	}
	browserDo(t, mer, "type the pickup code", chromedp.SendKeys(chromedp.CSS(mcard+"[data-testid=redeem-code]"), codes[stallA]))
	res = browserNavigate(t, mer, "redeem", chromedp.Click(chromedp.CSS(mcard+"[data-testid=redeem-button]")))
	browserWantStatus(t, mer, "redeem", res.Status, 200)
	browserWantLocation(t, mer, ordersURL+"#order-"+orderOf[stallA])
	browserWantText(t, mer, "[data-testid=flash]", "核销成功。")
	browserWantText(t, mer, mcard+"[data-testid=order-status]", "已核销")
	if got := browserRun(t, mer, "read the order's status", chromedp.AttributeValue(chromedp.CSS(`[data-testid=order-card][data-order="`+orderOf[stallA]+`"]`), "data-status")); got.Value != orders.StatusRedeemed {
		t.Fatalf("the order's status is %q, want redeemed%s", got.Value, browserPage(mer))
	}
	if n := browserRun(t, mer, "look for the redeem form", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=redeem-form]").length`)); n != 0 {
		t.Fatalf("the redeemed order still offers the redeem form%s", browserPage(mer))
	}

	// 6. The organizer's totals count both paid orders.
	org := bcTab(t, browser, "organizer")
	bcSignIn(t, org, base, orgMail)
	res = browserNavigate(t, org, "open the fair's totals", chromedp.Navigate(base+"/organizer/fairs/"+slug+"/totals"))
	browserWantStatus(t, org, "open the fair's totals", res.Status, 200)
	browserWantText(t, org, "[data-testid=totals-paid-orders]", "2")
	browserWantText(t, org, "[data-testid=totals-gmv]", "¥16.30")

	// 7. The database holds the two orders, paid, the one of stall A
	// redeemed, and one payment, succeeded.
	a, b := readOrder(t, env, orderOf[stallA]), readOrder(t, env, orderOf[stallB])
	if a.Status != orders.StatusRedeemed || a.PaidAt == nil || a.RedeemedAt == nil || a.Total != 1280 {
		t.Fatalf("stall A's order is %s, paid at %v, redeemed at %v, total %d; want redeemed, paid, 1280", a.Status, a.PaidAt, a.RedeemedAt, a.Total)
	}
	if b.Status != orders.StatusPaid || b.PaidAt == nil || b.RedeemedAt != nil || b.Total != 350 {
		t.Fatalf("stall B's order is %s, paid at %v, redeemed at %v, total %d; want paid, not redeemed, 350", b.Status, b.PaidAt, b.RedeemedAt, b.Total)
	}
	if n := countRows(t, env, "orders", "paid_at IS NOT NULL"); n != 2 {
		t.Fatalf("%d paid orders, want 2", n)
	}
	if n := countRows(t, env, "orders", "redeemed_at IS NOT NULL"); n != 1 {
		t.Fatalf("%d redeemed orders, want 1", n)
	}
	if n := countRows(t, env, "payments", "1 = 1"); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	if p := readPayment(t, env, paymentID); p.Status != orders.PaymentSucceeded || p.Amount != 1630 {
		t.Fatalf("the payment is %s for %d, want succeeded for 1630", p.Status, p.Amount)
	}
}
