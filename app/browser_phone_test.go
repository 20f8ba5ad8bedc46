//go:build browser

package app

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// Browser tests of the pages on a phone (390×844) as a shopper, a merchant
// and an organizer would use them: the bottom tab bar, the flash banner, the
// cart that stays on the page, the orders' tabs, the second grab of a flash
// sale, the inbox, the cart's stepper. Helpers here are prefixed bx. Run:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run TestBrowserPhone ./app

// bxPhoneTab opens a tab as a phone and signs in as email ("" stays a visitor).
func bxPhoneTab(t testing.TB, browser context.Context, base, who, email string) context.Context {
	t.Helper()
	tab := bcTab(t, browser, who)
	browserDo(t, tab, "emulate a phone", bbPhone())
	if email != "" {
		bcSignIn(t, tab, base, email)
	}
	return tab
}

// bxSmallTargets lists the links and buttons of the header and the tab bar
// smaller than 44×44 CSS pixels.
func bxSmallTargets(t testing.TB, tab context.Context) []string {
	t.Helper()
	return browserRun(t, tab, "measure the tap targets", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("header a, header button, .tabbar a")).
		map(e => [e, e.getBoundingClientRect()]).filter(([e, r]) => r.width < 44 || r.height < 44).
		map(([e, r]) => (e.getAttribute("data-testid") || e.textContent.trim()) + " " + Math.round(r.width) + "×" + Math.round(r.height))`))
}

// bxWantNav checks the phone navigation of the page the tab shows: a header
// of one row, the tab bar fixed at the bottom with the tabs keys (the one
// marked current first… not necessarily), and no tap target under 44 px.
func bxWantNav(t testing.TB, tab context.Context, what string, keys []string, current string) {
	t.Helper()
	got := browserRun(t, tab, "read the tabs", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-testid=tabbar] a")).map(a => a.getAttribute("data-testid"))`))
	want := make([]string, len(keys))
	for i, k := range keys {
		want[i] = "tab-" + k
	}
	if len(got) != len(want) {
		t.Fatalf("%s: tabs %v, want %v%s", what, got, want, browserPage(tab))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: tabs %v, want %v%s", what, got, want, browserPage(tab))
		}
	}
	cur := browserRun(t, tab, "read the current tab", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-testid=tabbar] a[aria-current=page]")).map(a => a.getAttribute("data-testid"))`))
	if current == "" && len(cur) != 0 || current != "" && (len(cur) != 1 || cur[0] != "tab-"+current) {
		t.Errorf("%s: the current tab is %v, want %q", what, cur, current)
	}
	// The bar stays at the bottom of the screen, and the header at the top,
	// even scrolled.
	browserRun(t, tab, "scroll down", chromedp.Evaluate[bool](`window.scrollTo(0, document.body.scrollHeight); true`))
	bottom := browserRun(t, tab, "measure the tab bar", chromedp.Evaluate[int](`Math.round(document.querySelector("[data-testid=tabbar]").getBoundingClientRect().bottom)`))
	if bottom != 844 {
		t.Errorf("%s: the tab bar ends at %d, want at the bottom of the screen (844)", what, bottom)
	}
	top := browserRun(t, tab, "measure the header", chromedp.Evaluate[[]int](`(r => [Math.round(r.top), Math.round(r.height)])(document.querySelector("header.top").getBoundingClientRect())`))
	if top[0] != 0 || top[1] > 56 {
		t.Errorf("%s: the header stands at %d and is %d pixels high, want at the top in one row (≤ 56)", what, top[0], top[1])
	}
	browserRun(t, tab, "scroll up", chromedp.Evaluate[bool](`window.scrollTo(0, 0); true`))
	if small := bxSmallTargets(t, tab); len(small) > 0 {
		t.Errorf("%s: tap targets under 44×44: %v", what, small)
	}
	bbWantFits(t, tab, what)
}

func TestBrowserPhoneNavigation(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "phone-nav-2026")
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 2)
	organizer := env.createUser("phone-nav-organizer@example.com", "organizer")
	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. A visitor: five tabs, 首页 current on the home page; the header
	// offers 登录.
	visitor := bxPhoneTab(t, browser, base, "visitor", "")
	browserDo(t, visitor, "open the home page", chromedp.Navigate(base+"/"))
	bxWantNav(t, visitor, "the visitor's home", []string{"home", "browse", "cart", "orders", "me"}, "home")
	browserWantText(t, visitor, "header [data-testid=nav-login]", "登录")

	// 2. The shopper: the cart's count on its tab, which names it; 订单
	// current on the orders page; 逛庙会 leads to the open fair.
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)
	browserDo(t, shop, "open the orders", chromedp.Navigate(base+"/orders"))
	bxWantNav(t, shop, "the shopper's orders", []string{"home", "browse", "cart", "orders", "me"}, "orders")
	browserWantText(t, shop, "[data-testid=tab-cart] [data-testid=cart-count]", "2")
	name := browserRun(t, shop, "read the cart tab's text", chromedp.Evaluate[string](`document.querySelector("[data-testid=tab-cart]").textContent.replace(/\s+/g, "")`))
	if name != "购物车2件商品" {
		t.Errorf("the cart tab reads %q to a screen reader, want 购物车2件商品", name)
	}
	browserNavigate(t, shop, "tap 逛庙会", chromedp.Click(chromedp.CSS("[data-testid=tab-browse]")))
	browserWantLocation(t, shop, base+"/fairs/"+w.slug)
	bxWantNav(t, shop, "the fair page", []string{"home", "browse", "cart", "orders", "me"}, "browse")

	// 3. The merchant: no cart, their stalls instead; one-row header.
	mer := bxPhoneTab(t, browser, base, "merchant", w.merchA.Email)
	browserDo(t, mer, "open the merchant console", chromedp.Navigate(base+"/merchant"))
	bxWantNav(t, mer, "the merchant console", []string{"home", "browse", "merchant", "me"}, "merchant")

	// 4. The organizer: their fairs, no cart.
	org := bxPhoneTab(t, browser, base, "organizer", organizer.Email)
	browserDo(t, org, "open the organizer console", chromedp.Navigate(base+"/organizer"))
	bxWantNav(t, org, "the organizer console", []string{"home", "browse", "organizer", "me"}, "organizer")
	browserWantText(t, org, "[data-testid=tab-organizer]", "主办管理")
}
