//go:build browser

package app

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser test of after-sales on phones (390×844): the buyer asks for a
// return on their orders page, the merchant declines on the stall's
// after-sales page, the buyer escalates, and the fair's organizer finds the
// order at the order desk and decides. Run it as the other browser tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...

// basAcceptConfirms answers yes to the forms' confirmation dialogs.
func basAcceptConfirms(t testing.TB, tab context.Context) {
	t.Helper()
	browserRun(t, tab, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
}

func TestBrowserAfterSales(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "aftersale-phone-2026")
	buyer := w.shopper(t)
	order := w.buyPaid(t, buyer.Token, w.lantern, 2) // ¥25.00

	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	card := `[data-order="` + order.ID + `"] `

	// 1. The buyer asks for a return of one lantern on the phone.
	shop := bcTab(t, browser, "buyer")
	browserDo(t, shop, "emulate a phone", bbPhone())
	bcSignIn(t, shop, base, buyer.Email)
	res := browserNavigate(t, shop, "open the orders", chromedp.Navigate(base+"/orders"))
	browserWantStatus(t, shop, "open the orders", res.Status, 200)
	browserDo(t, shop, "open the after-sales form",
		chromedp.Click(chromedp.CSS(card+"[data-testid=aftersale-toggle]")),
		chromedp.WaitVisible(chromedp.CSS(card+"[data-testid=aftersale-amount]")))
	bbWantFits(t, shop, "the orders page with the after-sales form")
	res = browserNavigate(t, shop, "send the request",
		chromedp.Click(chromedp.CSS(card+`input[name=kind][value=return]`)),
		chromedp.SendKeys(chromedp.CSS(card+"[data-testid=aftersale-amount]"), "12.50"),
		chromedp.SendKeys(chromedp.CSS(card+"[data-testid=aftersale-reason]"), "灯笼骨架断了"),
		chromedp.Click(chromedp.CSS(card+"[data-testid=aftersale-submit]")))
	browserWantStatus(t, shop, "send the request", res.Status, 200)
	browserWantText(t, shop, "[data-testid=flash]", "售后申请已提交，请等待商家处理。")
	browserWantText(t, shop, card+"[data-testid=aftersale-status]", "待商家处理")

	// 2. The merchant declines it on their phone.
	merch := bcTab(t, browser, "merchant")
	browserDo(t, merch, "emulate a phone", bbPhone())
	bcSignIn(t, merch, base, w.merchA.Email)
	res = browserNavigate(t, merch, "open the after-sales", chromedp.Navigate(base+"/merchant/stalls/"+w.stallA+"/after-sales"))
	browserWantStatus(t, merch, "open the after-sales", res.Status, 200)
	browserWantText(t, merch, "[data-testid=aftersale-status]", "待商家处理")
	bbWantFits(t, merch, "the stall's after-sales")
	browserDo(t, merch, "open the reject form",
		chromedp.Click(chromedp.CSS("[data-testid=aftersale-reject-toggle]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=aftersale-reject-reason]")))
	res = browserNavigate(t, merch, "decline",
		chromedp.SendKeys(chromedp.CSS("[data-testid=aftersale-reject-reason]"), "售出时完好"),
		chromedp.Click(chromedp.CSS("[data-testid=aftersale-reject]")))
	browserWantStatus(t, merch, "decline", res.Status, 200)
	browserWantText(t, merch, "[data-testid=aftersale-status]", "商家已拒绝")

	// 3. The buyer escalates.
	res = browserNavigate(t, shop, "reload the orders", chromedp.Reload())
	browserWantStatus(t, shop, "reload the orders", res.Status, 200)
	basAcceptConfirms(t, shop)
	res = browserNavigate(t, shop, "escalate", chromedp.Click(chromedp.CSS(card+"[data-testid=aftersale-escalate]")))
	browserWantStatus(t, shop, "escalate", res.Status, 200)
	browserWantText(t, shop, card+"[data-testid=aftersale-status]", "平台介入中")

	// 4. The organizer finds the order by its reference and decides.
	org := bcTab(t, browser, "organizer")
	browserDo(t, org, "emulate a phone", bbPhone())
	bcSignIn(t, org, base, "organizer-"+w.slug+"@example.com")
	res = browserNavigate(t, org, "open the order desk", chromedp.Navigate(base+"/organizer/fairs/"+w.slug+"/orders"))
	browserWantStatus(t, org, "open the order desk", res.Status, 200)
	bbWantFits(t, org, "the order desk")
	res = browserNavigate(t, org, "search by reference",
		chromedp.SendKeys(chromedp.CSS("[data-testid=desk-q]"), order.ID[len(order.ID)-8:]),
		chromedp.Click(chromedp.CSS("[data-testid=desk-search]")))
	browserWantStatus(t, org, "search by reference", res.Status, 200)
	browserWantText(t, org, card+"[data-testid=order-buyer]", buyer.Email)
	res = browserNavigate(t, org, "decide",
		chromedp.SendKeys(chromedp.CSS("[data-testid=aftersale-decide-amount]"), "5"),
		chromedp.SendKeys(chromedp.CSS("[data-testid=aftersale-decide-reason]"), "各退一步"),
		chromedp.Click(chromedp.CSS("[data-testid=aftersale-decide]")))
	browserWantStatus(t, org, "decide", res.Status, 200)
	browserWantText(t, org, "[data-testid=flash]", "裁决已提交。")
	browserDo(t, org, "see nothing left to decide", chromedp.WaitVisible(chromedp.CSS("[data-testid=escalated-none]")))

	// 5. The buyer sees the decision; ¥5.00 came back.
	res = browserNavigate(t, shop, "reload the orders again", chromedp.Reload())
	browserWantStatus(t, shop, "reload the orders again", res.Status, 200)
	browserWantText(t, shop, card+"[data-testid=aftersale-status]", "平台已裁决")
	if got := readOrder(t, env, order.ID); got.Refunded != 500 {
		t.Errorf("refunded %d, want 500", got.Refunded)
	}
}
