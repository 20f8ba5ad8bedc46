//go:build browser

package app

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"miaohui/app/ops"
)

// The demo as a newcomer sees it on a phone (390×844): products with
// pictures, and a property season whose copy keeps its word: the 22
// developments it announces, one name for its deposit voucher (认筹券), a
// voucher redeemed at the sales office, and a checkout that restates what
// the voucher takes off, until when, and how it is refunded.
func TestBrowserDemoOnPhone(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	var out strings.Builder
	if err := ops.SeedDemo(ctx, env.srv.Demo(), env.cfg.HTTPAddr, &out); err != nil {
		t.Fatal(err)
	}
	base := serveForBrowser(t, env)
	tab := bcTab(t, newBrowser(t), "shopper")
	browserDo(t, tab, "emulate a phone", bbPhone())

	// 1. The temple fair's goods show their pictures.
	res := browserNavigate(t, tab, "open the temple fair", chromedp.Navigate(base+"/fairs/taizhou-temple-fair"))
	browserWantStatus(t, tab, "open the temple fair", res.Status, 200)
	boWantImageLoaded(t, tab, "#products img")
	blank := browserRun(t, tab, "count the products without a picture", chromedp.Evaluate[int](
		`Array.from(document.querySelectorAll("#products li")).filter(li => !li.querySelector("img")).length`))
	if blank != 0 {
		t.Errorf("%d products on the fair page have no picture%s", blank, browserPage(tab))
	}
	bbWantFits(t, tab, "the temple fair")

	// 2. The season lists every development it announces.
	res = browserNavigate(t, tab, "open the property season", chromedp.Navigate(base+"/fairs/taizhou-property-season"))
	browserWantStatus(t, tab, "open the property season", res.Status, 200)
	desc := browserRun(t, tab, "read the season", chromedp.Text(chromedp.CSS("main"), chromedp.NodeVisible))
	cards := browserRun(t, tab, "count the developments", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=stall-card]").length`))
	if !strings.Contains(desc, "22个楼盘") || cards != 22 {
		t.Errorf("the season announces 22个楼盘 (%v) and lists %d developments, want 22", strings.Contains(desc, "22个楼盘"), cards)
	}
	ph := browserRun(t, tab, "read the search hint", chromedp.Evaluate[string](`document.querySelector("[data-testid=search-input]").placeholder`))
	if strings.Contains(ph, "臭干") || !strings.Contains(ph, "楼盘") {
		t.Errorf("the season's search hint reads %q, want one about developments", ph)
	}
	for _, wrong := range []string{"代金券", "定金券"} {
		if strings.Contains(desc, wrong) {
			t.Errorf("the season calls its voucher %s; it is a 认筹券", wrong)
		}
	}

	// 3. A voucher's page: redeemed at the sales office, vouchers left, terms.
	browserNavigate(t, tab, "open a development", chromedp.Click(chromedp.CSS("[data-testid=stall-card] a")))
	browserNavigate(t, tab, "open its voucher", chromedp.Click(chromedp.CSS(`main a[href^="/products/"]`)))
	browserWantText(t, tab, "[data-testid=product-fulfillment]", "到售楼处核销")
	voucherPath := browserRun(t, tab, "read the voucher's address", chromedp.Evaluate[string](`location.pathname`))
	page := browserRun(t, tab, "read the voucher", chromedp.Text(chromedp.CSS("main"), chromedp.NodeVisible))
	for _, want := range []string{"认筹券", "剩余名额", "¥50,000.00", "退款"} {
		if !strings.Contains(page, want) {
			t.Errorf("the voucher page lacks %q:\n%s", want, page)
		}
	}
	for _, wrong := range []string{"到摊自提", "库存", "代金券"} {
		if strings.Contains(page, wrong) {
			t.Errorf("the voucher page says %q:\n%s", wrong, page)
		}
	}

	// 4. Checking it out restates the offset, the expiry and the refunds.
	browserDo(t, tab, "open the sign-in page", chromedp.Navigate(base+"/login"))
	browserNavigate(t, tab, "sign in as the demo shopper",
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=email]`), "shopper@demo.miaohui.cn"),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=password]`), ops.DemoPassword),
		chromedp.Click(chromedp.CSS(`main form[action="/login"] button[type=submit]`)),
	)
	// The cart is the account's: filled through the API, seen by the page.
	voucherID := strings.TrimPrefix(voucherPath, "/products/")
	login := env.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "shopper@demo.miaohui.cn", "password": ops.DemoPassword}})
	wantStatus(t, login, 200)
	token := login.JSON(t)["token"].(string)
	wantStatus(t, env.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + voucherID, Token: token, Body: map[string]any{"quantity": 1}}), 200)
	res = browserNavigate(t, tab, "open the checkout", chromedp.Navigate(base+"/checkout"))
	browserWantStatus(t, tab, "open the checkout", res.Status, 200)
	terms := browserRun(t, tab, "read the voucher's terms", chromedp.Text(chromedp.CSS("[data-testid=checkout-voucher-terms]"), chromedp.NodeVisible))
	for _, want := range []string{"¥10,000.00", "¥50,000.00", "有效期至", "退款"} {
		if !strings.Contains(terms, want) {
			t.Errorf("the checkout's voucher terms %q lack %q", terms, want)
		}
	}
	bbWantFits(t, tab, "the checkout")
}
