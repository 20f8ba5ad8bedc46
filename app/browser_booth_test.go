//go:build browser

package app

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser test of the booth on phones (390×844): the shopper opens their
// fair pass, the stall's staff types the pass code on the redeem page, and
// both see the result. Run it as the other browser tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...

// bbPhone makes a tab a phone's: 390×844 CSS pixels, mobile, touch.
func bbPhone() chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch)
}

// bbWantFits fails when the page is wider than the phone's screen.
func bbWantFits(t testing.TB, tab context.Context, what string) {
	t.Helper()
	if w := browserRun(t, tab, "measure "+what, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		wide := browserRun(t, tab, "find what is too wide", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > 391).slice(0, 8).map(e => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))`))
		t.Errorf("%s is %d pixels wide on a 390-pixel phone: %v", what, w, wide)
	}
}

func TestBrowserBoothPassAndRedeem(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "booth-phone-2026")
	buyer := w.shopper(t)
	order := w.buyPaid(t, buyer.Token, w.lantern, 2)
	staff := w.boothStaff(t, w.merchA.Token, w.stallA)

	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. The shopper opens their pass on the phone: the QR code, the code,
	// and the lantern stall's pickup still to collect.
	shop := bcTab(t, browser, "shopper")
	browserDo(t, shop, "emulate a phone", bbPhone())
	bcSignIn(t, shop, base, buyer.Email)
	res := browserNavigate(t, shop, "open the pass", chromedp.Navigate(base+"/fairs/"+w.slug+"/pass"))
	browserWantStatus(t, shop, "open the pass", res.Status, 200)
	// Wait for the page's own DOM before scripts run in it.
	code := strings.TrimSpace(browserRun(t, shop, "read the pass code", chromedp.Text(chromedp.CSS("[data-testid=pass-code]"), chromedp.NodeVisible)))
	boWantImageLoaded(t, shop, "[data-testid=pass-qr]")
	if len(code) != 10 || !strings.HasPrefix(code, "P") {
		t.Fatalf("the pass shows the code %q%s", code, browserPage(shop))
	}
	pickup := `[data-testid=pass-pickup][data-order="` + order.ID + `"] `
	browserWantText(t, shop, pickup+"[data-testid=pickup-status]", "已付款")
	browserWantText(t, shop, pickup+"strong", "老街灯笼铺")
	qrWidth := browserRun(t, shop, "measure the QR code", chromedp.Evaluate[int](`document.querySelector("[data-testid=pass-qr]").getBoundingClientRect().width`))
	if qrWidth < 240 {
		t.Errorf("the QR code is %d pixels wide, want it big (≥ 240)", qrWidth)
	}
	bbWantFits(t, shop, "the pass")

	// 2. The staff opens the redeem page on their phone and types the code
	// (headless Chromium has no camera: the typed code is the fallback).
	desk := bcTab(t, browser, "staff")
	browserDo(t, desk, "emulate a phone", bbPhone())
	bcSignIn(t, desk, base, staff.Email)
	res = browserNavigate(t, desk, "open the redeem page", chromedp.Navigate(base+"/stalls/"+w.stallA+"/redeem"))
	browserWantStatus(t, desk, "open the redeem page", res.Status, 200)
	browserDo(t, desk, "see the code input", chromedp.WaitVisible(chromedp.CSS("[data-testid=redeem-code-input]")))
	bbWantFits(t, desk, "the redeem page")
	res = browserNavigate(t, desk, "redeem the pass",
		chromedp.SendKeys(chromedp.CSS("[data-testid=redeem-code-input]"), strings.ToLower(code)),
		chromedp.Click(chromedp.CSS("[data-testid=redeem-submit]")))
	browserWantStatus(t, desk, "redeem the pass", res.Status, 200)
	browserDo(t, desk, "see the success", chromedp.WaitVisible(chromedp.CSS("[data-testid=redeem-ok]")))
	browserWantText(t, desk, `[data-testid=redeemed-item][data-order="`+order.ID+`"]`, "兔子灯 ×2")

	// The same code again: nothing is left, and the page says so.
	res = browserNavigate(t, desk, "redeem the pass again",
		chromedp.SendKeys(chromedp.CSS("[data-testid=redeem-code-input]"), code),
		chromedp.Click(chromedp.CSS("[data-testid=redeem-submit]")))
	browserWantStatus(t, desk, "redeem the pass again", res.Status, 409)
	browserDo(t, desk, "see the refusal", chromedp.WaitVisible(chromedp.CSS(`[data-testid=redeem-error][data-code=nothing_to_redeem]`)))

	// 3. The shopper reloads the pass: the pickup is redeemed.
	res = browserNavigate(t, shop, "reload the pass", chromedp.Reload())
	browserWantStatus(t, shop, "reload the pass", res.Status, 200)
	browserWantText(t, shop, pickup+"[data-testid=pickup-status]", "已核销")
	wantOrderStatus(t, env, "redeemed", order.ID)
}
