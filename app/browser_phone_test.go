//go:build browser

package app

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"miaohui/orders"
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

func TestBrowserPhoneFlashBannerAndSecondGrab(t *testing.T) {
	env := newTestEnv(t)
	w := newFlashWorld(t, env, "phone-flash-2026")
	buyer := w.shopper(t)
	// ¥10.00 instead of ¥20.00, 5 units, two a person, live now.
	sale := w.liveSale(t, 1000, 5, 2)
	env.runWorkers()
	bfRealTime(t, env.clock)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)

	// 1. The product page shows the live sale above 加入购物车: the flash
	// price beside the usual one, what is left, the countdown to the end.
	browserDo(t, shop, "open the product", chromedp.Navigate(base+"/products/"+w.product))
	banner := `[data-testid=flash-banner][data-sale="` + sale + `"] `
	browserWantText(t, shop, banner+"[data-testid=flash-banner-status]", "抢购中")
	browserWantText(t, shop, banner+"[data-testid=flash-banner-price]", "¥10.00")
	browserWantText(t, shop, banner+"s", "原价¥20.00")
	browserWantText(t, shop, banner+"[data-testid=flash-banner-remaining]", "5")
	browserRun(t, shop, "see the countdown run to the end", chromedp.Poll[bool](
		`document.querySelector("[data-testid=flash-banner-countdown]").textContent.startsWith("距结束 01:5")`, chromedp.WithPollingTimeout(5*time.Second)))
	above := browserRun(t, shop, "compare the banner and the add button", chromedp.Evaluate[bool](
		`document.querySelector("[data-testid=flash-banner]").getBoundingClientRect().bottom <= document.querySelector("[data-testid=add-to-cart-button]").getBoundingClientRect().top`))
	if !above {
		t.Errorf("the flash banner is not above 加入购物车%s", browserPage(shop))
	}

	// 2. The stall page shows it too.
	browserDo(t, shop, "open the stall", chromedp.Navigate(base+"/stalls/"+w.stallA))
	browserWantText(t, shop, banner+"[data-testid=flash-banner-price]", "¥10.00")

	// 3. The banner leads to the sale's page.
	browserNavigate(t, shop, "tap the banner", chromedp.Click(chromedp.CSS(banner+"a")))
	browserWantLocation(t, shop, base+"/flash-sales/"+sale)

	// 4. A first grab wins: its 去支付 shows, and the button no longer says
	// 抢购 but 再抢一件 with what the limit leaves.
	grab := chromedp.CSS("[data-testid=grab-button]")
	browserDo(t, shop, "wait for the grab button", chromedp.WaitEnabled(grab))
	browserDo(t, shop, "grab", chromedp.Click(grab))
	browserRun(t, shop, "see one order to pay", chromedp.Poll[bool](`document.querySelectorAll("[data-testid=flash-order] [data-testid=pay-link]").length === 1`, chromedp.WithPollingTimeout(10*time.Second)))
	browserRun(t, shop, "see the button re-armed for one more", chromedp.Poll[bool](`(b => !b.disabled && b.textContent === "再抢一件（还可抢 1 件）")(document.querySelector("[data-testid=grab-button]"))`, chromedp.WithPollingTimeout(5*time.Second)))

	// 5. The second, deliberate grab makes a second order: both are listed
	// with their own 去支付, and the limit reached closes the button.
	browserDo(t, shop, "grab again", chromedp.Click(grab))
	browserRun(t, shop, "see two orders to pay", chromedp.Poll[bool](`document.querySelectorAll("[data-testid=flash-order] [data-testid=pay-link]").length === 2`, chromedp.WithPollingTimeout(10*time.Second)))
	browserRun(t, shop, "see the button closed", chromedp.Poll[bool](`(b => b.disabled && b.textContent === "已抢到")(document.querySelector("[data-testid=grab-button]"))`, chromedp.WithPollingTimeout(5*time.Second)))
	links := browserRun(t, shop, "read the pay links", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-testid=pay-link]")).map(a => a.getAttribute("href"))`))
	var list []orders.Order
	if err := env.srv.DB.NewSelect().Model(&list).Where("flash_sale_id = ?", sale).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || len(links) != 2 {
		t.Fatalf("%d orders and %d pay links (%v), want 2 of each", len(list), len(links), links)
	}
	for _, o := range list {
		if !slices.Contains(links, "/pay/"+o.PaymentID) {
			t.Errorf("no pay link for the order %s (payment %s) among %v", o.ID, o.PaymentID, links)
		}
	}

	// 6. Reloaded, the page lists both orders, each with 去支付, and the
	// button stays closed.
	browserDo(t, shop, "reload", chromedp.Navigate(base+"/flash-sales/"+sale))
	browserRun(t, shop, "see the two orders", chromedp.Poll[bool](`document.querySelectorAll("[data-testid=flash-order] [data-testid=pay-link]").length === 2 && document.querySelector("[data-testid=grab-button]").textContent === "已抢到"`, chromedp.WithPollingTimeout(5*time.Second)))
}
