//go:build browser

package app

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"miaohui/app/web"
)

// The browser test of editions on phones: the organizer starts the next
// edition from the fair's console with the form's own suggestions, the
// merchant re-enrols their stall in one tap, and the organizer sees the
// returning stall and its products once approved. Run it as the other
// browser tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...

func TestBrowserNextEditionAndReEnrol(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "miaohui-2026")
	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. The organizer starts the next edition: the form suggests its slug
	// and its dates a year on; the edition starts now, not next year.
	org := bcTab(t, browser, "organizer")
	browserDo(t, org, "emulate a phone", bbPhone())
	bcSignIn(t, org, base, "organizer-"+w.slug+"@example.com")
	browserDo(t, org, "open the fair's console", chromedp.Navigate(base+"/organizer/fairs/"+w.slug))
	browserDo(t, org, "see the next-edition form", chromedp.WaitVisible(chromedp.CSS("[data-testid=edition-form]")))
	bbWantFits(t, org, "the fair's console")
	slug := browserRun(t, org, "read the suggested slug", chromedp.JavascriptAttribute[string](chromedp.CSS("[data-testid=edition-slug]"), "value"))
	if slug != "miaohui-2027" {
		t.Fatalf("suggested slug %q, want miaohui-2027", slug)
	}
	now := env.clock.Now()
	browserDo(t, org, "start it now", chromedp.SetValue(chromedp.CSS("[data-testid=edition-starts]"), web.InputTime(now.Add(time.Minute))))
	res := browserNavigate(t, org, "start the next edition", chromedp.Click(chromedp.CSS("[data-testid=edition-button]")))
	browserWantStatus(t, org, "start the next edition", res.Status, 200)
	browserWantLocation(t, org, base+"/organizer/fairs/miaohui-2027")
	browserWantText(t, org, "[data-testid=flash]", "下一届已开启，设置已沿用本届。")
	browserDo(t, org, "see the link to the previous edition", chromedp.WaitVisible(chromedp.CSS(`[data-testid=previous-edition][href="/organizer/fairs/miaohui-2026"]`)))

	// 2. The merchant re-enrols in one tap.
	mer := bcTab(t, browser, "merchant")
	browserDo(t, mer, "emulate a phone", bbPhone())
	bcSignIn(t, mer, base, w.merchA.Email)
	browserDo(t, mer, "open the merchant console", chromedp.Navigate(base+"/merchant"))
	browserDo(t, mer, "see the one-step re-enrolment", chromedp.WaitVisible(chromedp.CSS("[data-testid=reenrol-button]")))
	bbWantFits(t, mer, "the merchant console")
	res = browserNavigate(t, mer, "re-enrol", chromedp.Click(chromedp.CSS("[data-testid=reenrol-button]")))
	browserWantStatus(t, mer, "re-enrol", res.Status, 200)
	browserWantText(t, mer, "[data-testid=flash]", "已报名本届，请等待主办方审核；通过后商品将自动复制。")
	browserDo(t, mer, "see the pending re-enrolment", chromedp.WaitVisible(chromedp.CSS(`[data-testid=application-row][data-status=pending] .edition-badge`)))

	// 3. The organizer approves the returning stall; its products come along.
	browserDo(t, org, "reload the new edition's console", chromedp.Navigate(base+"/organizer/fairs/miaohui-2027"))
	browserWantText(t, org, `[data-testid=application-row][data-status=pending] .edition-badge`, "往届续报")
	res = browserNavigate(t, org, "approve", chromedp.Click(chromedp.CSS(`[data-testid=application-row][data-status=pending] [data-testid=approve-button]`)))
	browserWantStatus(t, org, "approve", res.Status, 200)
	browserDo(t, org, "open the new edition's search", chromedp.Navigate(base+"/fairs/miaohui-2027/search?q=兔子灯"))
	browserDo(t, org, "find the copied lantern", chromedp.WaitVisible(chromedp.CSS(`main a[href^="/products/"]`)))
}
