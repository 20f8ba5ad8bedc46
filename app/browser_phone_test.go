//go:build browser

package app

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"miaohui/catalog"
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
	if was := browserRun(t, shop, "read the usual price", chromedp.Evaluate[string](`document.querySelector('`+banner+`s').textContent`)); was != "原价¥20.00" {
		t.Errorf("the usual price reads %q, want 原价¥20.00", was)
	}
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

func TestBrowserPhoneAddToCartStays(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "phone-cart-2026")
	other := newShopWorld(t, env, "phone-cart-other-2026")
	buyer := w.shopper(t)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)

	// 1. 加入购物车 twice: the page stays, the tab's count follows, a toast
	// tells it; the page was not reloaded.
	browserDo(t, shop, "open the lantern", chromedp.Navigate(base+"/products/"+w.lantern))
	browserRun(t, shop, "mark the page", chromedp.Evaluate[bool](`window.bxMark = true`))
	add := chromedp.CSS("[data-testid=add-to-cart-button]")
	for _, want := range []string{"1", "2"} {
		browserDo(t, shop, "add the lantern", chromedp.WaitEnabled(add), chromedp.Click(add))
		browserRun(t, shop, "see the count "+want, chromedp.Poll[bool](`(b => b && b.textContent === "`+want+`")(document.querySelector("[data-testid=tab-cart] [data-testid=cart-count]"))`, chromedp.WithPollingTimeout(5*time.Second)))
	}
	browserWantText(t, shop, "[data-testid=toast]", "已加入购物车。去购物车")
	browserWantLocation(t, shop, base+"/products/"+w.lantern)
	if marked := browserRun(t, shop, "read the mark", chromedp.Evaluate[bool](`window.bxMark === true`)); !marked {
		t.Fatalf("the page was reloaded%s", browserPage(shop))
	}
	if got := bxCartQuantity(t, env, buyer.ID, w.lantern); got != 2 {
		t.Fatalf("the cart holds %d lanterns, want 2", got)
	}

	// 2. A product of another fair: the toast explains, and the page offers
	// to empty the cart and add it, which works.
	browserDo(t, shop, "open the other fair's paper-cut", chromedp.Navigate(base+"/products/"+other.paperCut))
	browserDo(t, shop, "add it", chromedp.Click(add))
	browserDo(t, shop, "see the offer to switch", chromedp.WaitVisible(chromedp.CSS("[data-testid=switch-fair-button]")))
	browserWantText(t, shop, "[data-testid=toast]", "购物车里是另一个庙会的商品，请先结算或清空购物车。")
	browserDo(t, shop, "empty the cart and add it", chromedp.Click(chromedp.CSS("[data-testid=switch-fair-button]")))
	browserRun(t, shop, "see the count 1", chromedp.Poll[bool](`(b => b && b.textContent === "1")(document.querySelector("[data-testid=tab-cart] [data-testid=cart-count]"))`, chromedp.WithPollingTimeout(5*time.Second)))
	browserDo(t, shop, "see the offer gone", chromedp.WaitNotVisible(chromedp.CSS("[data-testid=switch-fair]")))
	if a, b := bxCartQuantity(t, env, buyer.ID, w.lantern), bxCartQuantity(t, env, buyer.ID, other.paperCut); a != 0 || b != 1 {
		t.Fatalf("the cart holds %d lanterns and %d paper-cuts, want 0 and 1", a, b)
	}

	// 3. Without JavaScript the form still works: it leads to the cart.
	plain := bxPhoneTab(t, browser, base, "no-js shopper", "")
	browserDo(t, plain, "turn JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	bcSignIn(t, plain, base, buyer.Email)
	browserDo(t, plain, "open the paper-cut", chromedp.Navigate(base+"/products/"+other.paperCut))
	res := browserNavigate(t, plain, "add it without JavaScript", chromedp.Click(add))
	browserWantStatus(t, plain, "add without JavaScript", res.Status, 200)
	browserWantLocation(t, plain, base+"/cart")
	browserWantText(t, plain, "[data-testid=flash]", "已加入购物车。")
	if got := bxCartQuantity(t, env, buyer.ID, other.paperCut); got != 2 {
		t.Fatalf("the cart holds %d paper-cuts, want 2", got)
	}
}

// bxCartQuantity is how many of a product the user's cart holds.
func bxCartQuantity(t testing.TB, env *testEnv, userID, productID string) int {
	t.Helper()
	cart, err := env.srv.Orders.Cart(context.Background(), catalog.Actor{UserID: userID, Role: catalog.RoleShopper})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cart.Items {
		if l.ProductID == productID {
			return l.Quantity
		}
	}
	return 0
}

func TestBrowserPhoneOrderTabs(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "phone-orders-2026")
	buyer := w.shopper(t)
	unpaid := w.buy(t, buyer.Token, w.dumplings, 1).Orders[0].ID
	toCollect := w.buyPaid(t, buyer.Token, w.paperCut, 1)
	done := w.buyPaid(t, buyer.Token, w.lantern, 1)
	if _, err := env.srv.Orders.Redeem(context.Background(), catalog.Actor{UserID: w.merchA.ID, Role: catalog.RoleMerchant}, done.ID, done.PickupCode); err != nil {
		t.Fatal(err)
	}
	var booth string
	if err := env.srv.DB.NewSelect().Table("stalls").Column("booth").Where("id = ?", w.stallB).Scan(context.Background(), &booth); err != nil || booth == "" {
		t.Fatalf("stall B's booth %q: %v", booth, err)
	}
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)

	cards := func() []string {
		return browserRun(t, shop, "list the order cards", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-testid=order-card]")).map(c => c.getAttribute("data-order"))`))
	}
	// 1. 全部: three orders; the tabs read 全部 待付款 待取货 已完成.
	browserDo(t, shop, "open the orders", chromedp.Navigate(base+"/orders"))
	tabs := browserRun(t, shop, "read the tabs", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-testid=order-tab]")).map(a => a.textContent.trim() + (a.getAttribute("aria-current") ? "*" : ""))`))
	if want := []string{"全部*", "待付款", "待取货", "已完成"}; !slices.Equal(tabs, want) {
		t.Fatalf("the order tabs read %v, want %v", tabs, want)
	}
	if got := cards(); len(got) != 3 {
		t.Fatalf("全部 lists %v, want 3 orders", got)
	}
	// The pickup card shows the booth, and its QR code only after a tap.
	card := `[data-testid=order-card][data-order="` + toCollect.ID + `"] `
	browserWantText(t, shop, card+"[data-testid=order-booth]", "展位 "+booth)
	if visible := browserRun(t, shop, "is the QR shown", chromedp.Evaluate[bool](`document.querySelector('`+card+`[data-testid=pickup-qr]').checkVisibility()`)); visible {
		t.Fatalf("the QR code shows before a tap%s", browserPage(shop))
	}
	// Clear of the sticky header and the tab bar, as a thumb would tap it.
	browserRun(t, shop, "bring 出示二维码 to the middle", chromedp.Evaluate[bool](`document.querySelector('`+card+`[data-testid=pickup-qr-toggle]').scrollIntoView({block: "center"}); true`))
	browserDo(t, shop, "tap 出示二维码", chromedp.Click(chromedp.CSS(card+"[data-testid=pickup-qr-toggle]")))
	boWantImageLoaded(t, shop, card+"[data-testid=pickup-qr]")
	h := browserRun(t, shop, "measure the page", chromedp.Evaluate[int](`document.documentElement.scrollHeight`))
	if h > 2000 {
		t.Errorf("three orders make a page %d pixels high", h)
	}

	// 2. Each tab lists its own.
	for _, c := range []struct{ label, want string }{{"待付款", unpaid}, {"待取货", toCollect.ID}, {"已完成", done.ID}} {
		browserNavigate(t, shop, "tap "+c.label, chromedp.Click(chromedp.CSS(`[data-testid=order-tab][data-stage]:not([data-stage=""])`+bxNth(c.label))))
		browserWantText(t, shop, `[data-testid=order-tab][aria-current=page]`, c.label)
		if got := cards(); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s lists %v, want [%s]", c.label, got, c.want)
		}
	}
	bxWantNav(t, shop, "the orders", []string{"home", "browse", "cart", "orders", "me"}, "orders")
}

// bxNth picks the order tab by its label.
func bxNth(label string) string {
	switch label {
	case "待付款":
		return `[data-stage=unpaid]`
	case "待取货":
		return `[data-stage=to_collect]`
	}
	return `[data-stage=done]`
}

func TestBrowserPhoneFlashOrderLabel(t *testing.T) {
	env := newTestEnv(t)
	w := newFlashWorld(t, env, "phone-flash-order-2026")
	buyer := w.shopper(t)
	sale := w.liveSale(t, 1000, 5, 1)
	w.win(t, buyer.Token, sale, 1)
	env.runWorkers()
	var o orders.Order
	deadline := time.Now().Add(10 * time.Second)
	for env.srv.DB.NewSelect().Model(&o).Where("flash_sale_id = ?", sale).Scan(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no order for the ticket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)
	browserDo(t, shop, "open the orders to pay", chromedp.Navigate(base+"/orders?stage=unpaid"))
	browserWantText(t, shop, `[data-testid=order-card][data-order="`+o.ID+`"] [data-testid=order-flash]`, "抢购")
}

func TestBrowserPhoneInbox(t *testing.T) {
	env := newTestEnv(t)
	env.runWorkers()
	w := newShopWorld(t, env, "phone-inbox-2026")
	buyer := w.shopper(t)
	order := w.buyPaid(t, buyer.Token, w.lantern, 1)
	// The payment's notice reaches the inbox (with the welcome).
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := env.srv.DB.NewSelect().Table("notifications").Where("user_id = ? AND kind = ?", buyer.ID, "order_paid").Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the order_paid notice never reached the inbox")
		}
		time.Sleep(50 * time.Millisecond)
	}
	unread, err := env.srv.DB.NewSelect().Table("notifications").Where("user_id = ? AND read_at IS NULL", buyer.ID).Count(context.Background())
	if err != nil || unread < 1 {
		t.Fatalf("%d unread: %v", unread, err)
	}
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)

	// 1. The bell's name says how many are unread (its visible count is
	// part of it, and no aria-label overrides it).
	bell := browserRun(t, shop, "read the bell", chromedp.Evaluate[[]string](`(b => [b.textContent.replace(/\s+/g, ""), b.getAttribute("aria-label") || ""])(document.querySelector("[data-testid=nav-inbox]"))`))
	if want := "消息" + strconv.FormatInt(int64(unread), 10) + "条未读"; bell[0] != want || bell[1] != "" {
		t.Fatalf("the bell reads %q (aria-label %q), want %q and no aria-label", bell[0], bell[1], want)
	}

	// 2. The payment's message names the order as the order pages do (the
	// last 8 characters), and links to it.
	browserDo(t, shop, "open the inbox", chromedp.Navigate(base+"/account#inbox"))
	item := `[data-testid=inbox-item][data-kind=order_paid] `
	body := browserRun(t, shop, "read the message", chromedp.Text(chromedp.CSS(item+"[data-testid=inbox-body]"), chromedp.NodeVisible))
	if !strings.Contains(body, order.ID[len(order.ID)-8:]) || strings.Contains(body, order.ID) {
		t.Errorf("the message reads %q, want the order's short reference %s and not its id", body, order.ID[len(order.ID)-8:])
	}
	href := browserRun(t, shop, "read the link", chromedp.AttributeValue(chromedp.CSS(item+"[data-testid=inbox-link]"), "href"))
	if href.Value != "/orders#order-"+order.ID {
		t.Errorf("the message links to %q, want /orders#order-%s", href.Value, order.ID)
	}
	if small := browserRun(t, shop, "measure the inbox buttons", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#inbox a, #inbox button")).map(e => e.getBoundingClientRect()).filter(r => r.height < 44).map(r => Math.round(r.width) + "×" + Math.round(r.height))`)); len(small) > 0 {
		t.Errorf("inbox tap targets under 44 px high: %v", small)
	}

	// 3. 全部已读 marks them all: no count on the bell any more.
	res := browserNavigate(t, shop, "tap 全部已读", chromedp.Click(chromedp.CSS("[data-testid=inbox-read-all]")))
	browserWantStatus(t, shop, "mark all read", res.Status, 200)
	browserWantText(t, shop, "[data-testid=flash]", "消息已全部标为已读。")
	if n := browserRun(t, shop, "count the unread", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=unread], [data-testid=inbox-item]:not([data-read='1'])").length`)); n != 0 {
		t.Errorf("%d unread marks after 全部已读", n)
	}
	left, err := env.srv.DB.NewSelect().Table("notifications").Where("user_id = ? AND read_at IS NULL", buyer.ID).Count(context.Background())
	if err != nil || left != 0 {
		t.Fatalf("%d unread notifications left: %v", left, err)
	}

	// 4. The link leads to the order.
	browserNavigate(t, shop, "follow the link", chromedp.Click(chromedp.CSS(item+"[data-testid=inbox-link]")))
	browserWantLocation(t, shop, base+"/orders#order-"+order.ID)
	browserDo(t, shop, "see the order", chromedp.WaitVisible(chromedp.CSS(`[data-testid=order-card][data-order="`+order.ID+`"]`)))
}

func TestBrowserPhoneCartStepper(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "phone-stepper-2026")
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 1)
	w.cart(t, buyer.Token, w.paperCut, 1)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)

	line := `[data-testid=cart-line][data-product="` + w.lantern + `"] `
	browserDo(t, shop, "open the cart", chromedp.Navigate(base+"/cart"))
	// No number box and 更新: a stepper, − off at one.
	if n := browserRun(t, shop, "look for number boxes", chromedp.Evaluate[int](`document.querySelectorAll("main input[type=number]").length`)); n != 0 {
		t.Errorf("the cart has %d number boxes, want a stepper", n)
	}
	if off := browserRun(t, shop, "read −", chromedp.JavascriptAttribute[bool](chromedp.CSS(line+"[data-testid=cart-minus]"), "disabled")); !off {
		t.Errorf("− is on at one")
	}
	for _, want := range []string{"2", "3"} {
		browserNavigate(t, shop, "tap +", chromedp.Click(chromedp.CSS(line+"[data-testid=cart-plus]")))
		bxWantTextContent(t, shop, line+"[data-testid=cart-qty]", "数量 "+want)
	}
	browserWantText(t, shop, line+"[data-testid=cart-line-total]", "¥37.50")
	browserNavigate(t, shop, "tap −", chromedp.Click(chromedp.CSS(line+"[data-testid=cart-minus]")))
	bxWantTextContent(t, shop, line+"[data-testid=cart-qty]", "数量 2")
	if got := bxCartQuantity(t, env, buyer.ID, w.lantern); got != 2 {
		t.Fatalf("the cart holds %d lanterns, want 2", got)
	}
	if small := browserRun(t, shop, "measure the stepper", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-testid=cart-stepper] button, [data-testid=cart-remove], [data-testid=cart-clear]")).map(e => e.getBoundingClientRect()).filter(r => r.width < 44 || r.height < 44).map(r => Math.round(r.width) + "×" + Math.round(r.height))`)); len(small) > 0 {
		t.Errorf("cart tap targets under 44×44: %v", small)
	}

	// 清空 (after a confirm) empties the cart.
	browserRun(t, shop, "accept confirms", chromedp.Evaluate[bool](`window.confirm = () => true; true`))
	browserRun(t, shop, "bring 清空 to the middle", chromedp.Evaluate[bool](`document.querySelector("[data-testid=cart-clear]").scrollIntoView({block: "center"}); true`))
	browserNavigate(t, shop, "tap 清空购物车", chromedp.Click(chromedp.CSS("[data-testid=cart-clear]")))
	browserDo(t, shop, "see the empty cart", chromedp.WaitVisible(chromedp.CSS("[data-testid=cart-empty]")))
	if a, b := bxCartQuantity(t, env, buyer.ID, w.lantern), bxCartQuantity(t, env, buyer.ID, w.paperCut); a != 0 || b != 0 {
		t.Fatalf("the cart still holds %d lanterns and %d paper-cuts", a, b)
	}
}

func TestBrowserPhoneSearch(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "phone-search-2026")
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "visitor", "")

	// 1. The filters take little room: the first result starts high up.
	browserDo(t, shop, "open the search", chromedp.Navigate(base+"/fairs/"+w.slug+"/search"))
	top := browserRun(t, shop, "measure where the results start", chromedp.Evaluate[int](`Math.round(document.querySelector("[data-testid=product-card]").getBoundingClientRect().top)`))
	if top > 360 {
		t.Errorf("the first result starts %d pixels down, want the filters compact (≤ 360)", top)
	}
	// 2. A category chip filters; result cards name their stall.
	browserNavigate(t, shop, "tap a category", chromedp.Click(chromedp.CSS(`[data-testid=search-category][href*="category=food"]`)))
	browserWantText(t, shop, `[data-testid=search-category][aria-current=true]`, bxCategoryLabel(t, shop))
	browserWantText(t, shop, "[data-testid=product-title]", "蟹黄汤包礼盒")
	browserWantText(t, shop, "[data-testid=product-card] .muted.small", "老街灯笼铺")
	if small := browserRun(t, shop, "measure the chips", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".chip")).map(e => e.getBoundingClientRect()).filter(r => r.height < 44).map(r => Math.round(r.height) + "")`)); len(small) > 0 {
		t.Errorf("chips under 44 px high: %v", small)
	}
	bbWantFits(t, shop, "the search")

	// 3. Nothing found: the page offers to clear the search, and popular items.
	browserDo(t, shop, "search for what is not there", chromedp.Navigate(base+"/fairs/"+w.slug+"/search?q=%E9%BE%99%E8%88%9F&category=food"))
	browserDo(t, shop, "see no results", chromedp.WaitVisible(chromedp.CSS("[data-testid=no-results]")))
	if n := browserRun(t, shop, "count the popular items", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=search-popular] [data-testid=product-card]").length`)); n != 3 {
		t.Errorf("%d popular items offered, want the fair's 3", n)
	}
	browserNavigate(t, shop, "clear the search", chromedp.Click(chromedp.CSS("[data-testid=search-clear]")))
	if n := browserRun(t, shop, "count the results", chromedp.Evaluate[int](`document.querySelectorAll("#results > ul [data-testid=product-card]").length`)); n != 3 {
		t.Errorf("%d results after clearing, want 3", n)
	}
}

// bxCategoryLabel is the label of the food category chip.
func bxCategoryLabel(t testing.TB, tab context.Context) string {
	t.Helper()
	return strings.TrimSpace(browserRun(t, tab, "read the food chip", chromedp.Text(chromedp.CSS(`[data-testid=search-category][href*="category=food"]`))))
}

func TestBrowserPhoneSignInReturns(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "phone-signin-2026")
	buyer := w.shopper(t)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	tab := bxPhoneTab(t, browser, base, "visitor", "")
	product := base + "/products/" + w.lantern

	// 1. From a product page, 登录 in the header comes back to the product.
	browserDo(t, tab, "open the product", chromedp.Navigate(product))
	browserNavigate(t, tab, "tap 登录", chromedp.Click(chromedp.CSS("header [data-testid=nav-login]")))
	browserDo(t, tab, "see 忘记密码", chromedp.WaitVisible(chromedp.CSS("[data-testid=forgot-password]")))
	res := browserNavigate(t, tab, "sign in",
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=email]`), buyer.Email),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main form[action="/login"] button[type=submit]`)))
	browserWantStatus(t, tab, "sign in", res.Status, 200)
	browserWantLocation(t, tab, product)

	// 2. An unsafe next is not followed.
	other := bxPhoneTab(t, browser, base, "visitor 2", "")
	browserDo(t, other, "open a sign-in with a foreign next", chromedp.Navigate(base+"/login?next=//evil.example/x"))
	res = browserNavigate(t, other, "sign in",
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=email]`), buyer.Email),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main form[action="/login"] button[type=submit]`)))
	browserWantLocation(t, other, base+"/account")

	// 3. Registering from the product's sign-in page (注册) also comes back,
	// and a new merchant is shown the next step: apply to a fair.
	third := bxPhoneTab(t, browser, base, "new merchant", "")
	browserDo(t, third, "open the sign-in from the product", chromedp.Navigate(base+"/login?next=/products/"+w.lantern))
	browserNavigate(t, third, "tap 注册", chromedp.Click(chromedp.CSS("[data-testid=to-register]")))
	browserDo(t, third, "fill the form",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "新商家"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "new.merchant.phone@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "lantern festival dumplings"),
		chromedp.Click(chromedp.CSS(`input[name=role][value=merchant]`)))
	res = browserNavigate(t, third, "register", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	browserWantStatus(t, third, "register", res.Status, 200)
	browserWantLocation(t, third, product)
	browserDo(t, third, "open the account", chromedp.Navigate(base+"/account"))
	browserNavigate(t, third, "follow the next step", chromedp.Click(chromedp.CSS("[data-testid=next-step-apply]")))
	browserWantLocation(t, third, base+"/merchant#apply")

	// 4. 忘记密码 explains what to do.
	browserDo(t, other, "open 忘记密码", chromedp.Navigate(base+"/password/forgot"))
	browserWantText(t, other, "h1", "忘记密码")
}

func TestBrowserPhoneConsolesTaskFirst(t *testing.T) {
	env := newTestEnv(t)
	env.runWorkers()
	w := newShopWorld(t, env, "phone-console-2026")
	buyer := w.shopper(t)
	w.buyPaid(t, buyer.Token, w.lantern, 2) // a pickup to redeem
	w.buyPaid(t, buyer.Token, w.lantern, 1)
	w.cart(t, buyer.Token, w.dumplings, 1) // a delivery to ship
	ship := w.checkout(t, buyer.Token, map[string]any{"fulfillment": "ship", "shipping_address": "江苏省泰州市海陵区坡子街 1 号"})
	w.pay(t, buyer.Token, ship.Payment.ID)
	// A third merchant applies: the organizer hears of it.
	newcomer := env.register("newcomer-phone@example.com", catalog.RoleMerchant)
	res := env.do(req{Method: "POST", Path: "/api/v1/fairs/" + w.slug + "/applications", Token: newcomer.Token, Body: map[string]any{"stall_name": "新来的糖画摊"}})
	wantStatus(t, res, 201)
	appID := res.JSON(t)["id"].(string)
	organizerEmail := "organizer-" + w.slug + "@example.com"
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := env.srv.DB.NewSelect().Table("notifications").Where("user_id = ? AND event_key = ?", w.orgID, "application_new:"+w.slug+"/"+appID).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the organizer was never told of the application")
		}
		time.Sleep(50 * time.Millisecond)
	}
	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. The merchant's console opens on today: orders, sales, 待核销 and
	// 待发货, before the application form (folded away).
	mer := bxPhoneTab(t, browser, base, "merchant", w.merchA.Email)
	browserDo(t, mer, "open the console", chromedp.Navigate(base+"/merchant"))
	day := `[data-testid=today-stall][data-stall="` + w.stallA + `"] `
	browserWantText(t, mer, day+"[data-testid=today-orders]", "3")
	browserWantText(t, mer, day+"[data-testid=today-gmv]", "¥125.50")
	browserWantText(t, mer, day+"[data-testid=today-to-redeem]", "2")
	browserWantText(t, mer, day+"[data-testid=today-to-ship]", "1")
	first := browserRun(t, mer, "read the first section", chromedp.Evaluate[string](`document.querySelector("main section").getAttribute("data-testid") || ""`))
	if first != "merchant-today" {
		t.Errorf("the console opens on %q, want today's figures", first)
	}
	if open := browserRun(t, mer, "is the apply form open", chromedp.Evaluate[bool](`document.querySelector("[data-testid=apply-details]").open`)); open {
		t.Errorf("the application form is open on a console with stalls")
	}
	browserNavigate(t, mer, "tap 待核销", chromedp.Click(chromedp.CSS(day+"[data-testid=today-redeem-link]")))
	browserWantLocation(t, mer, base+"/stalls/"+w.stallA+"/redeem")

	// 2. The organizer's console opens on the applications to review, and
	// the inbox links to them.
	org := bxPhoneTab(t, browser, base, "organizer", organizerEmail)
	browserDo(t, org, "open the console", chromedp.Navigate(base+"/organizer"))
	browserWantText(t, org, "[data-testid=pending-count]", "1")
	browserNavigate(t, org, "tap the applications", chromedp.Click(chromedp.CSS("[data-testid=pending-link]")))
	browserWantLocation(t, org, base+"/organizer/fairs/"+w.slug+"#applications")
	browserDo(t, org, "open the inbox", chromedp.Navigate(base+"/account#inbox"))
	item := `[data-testid=inbox-item][data-kind=application_new] `
	browserWantText(t, org, item+"[data-testid=inbox-title]", "新的入驻申请：新来的糖画摊")
	href := browserRun(t, org, "read the link", chromedp.AttributeValue(chromedp.CSS(item+"[data-testid=inbox-link]"), "href"))
	if href.Value != "/organizer/fairs/"+w.slug+"#applications" {
		t.Errorf("the application's message links to %q", href.Value)
	}

	// 3. The queues page names the queues in Chinese.
	admin := env.createUser("phone-admin@example.com", catalog.RoleAdmin)
	adm := bxPhoneTab(t, browser, base, "admin", admin.Email)
	browserDo(t, adm, "open the queues", chromedp.Navigate(base+"/organizer/queues"))
	browserWantText(t, adm, `[data-testid=queue-row][data-queue=critical] [data-testid=queue-label]`, "紧急（支付与抢购）")
}

func TestBrowserPhonePasswordReset(t *testing.T) {
	env := newTestEnv(t)
	env.runWorkers()
	w := newShopWorld(t, env, "phone-reset-2026")
	buyer := w.shopper(t)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	tab := bxPhoneTab(t, browser, base, "visitor", "")
	const newPassword = "spring lantern riddles by the river"

	// 1. 忘记密码 on the sign-in page asks for the email and says a link is
	// on its way (the same for an unknown email).
	browserDo(t, tab, "open the sign-in", chromedp.Navigate(base+"/login"))
	browserNavigate(t, tab, "tap 忘记密码", chromedp.Click(chromedp.CSS("[data-testid=forgot-password]")))
	browserNavigate(t, tab, "ask for a link", chromedp.SendKeys(chromedp.CSS("[data-testid=forgot-email]"), buyer.Email), chromedp.Click(chromedp.CSS("[data-testid=forgot-submit]")))
	browserDo(t, tab, "see it sent", chromedp.WaitVisible(chromedp.CSS("[data-testid=forgot-sent]")))
	browserDo(t, tab, "open 忘记密码 again", chromedp.Navigate(base+"/password/forgot"))
	browserNavigate(t, tab, "ask for an unknown email", chromedp.SendKeys(chromedp.CSS("[data-testid=forgot-email]"), "nobody-here@example.com"), chromedp.Click(chromedp.CSS("[data-testid=forgot-submit]")))
	browserDo(t, tab, "see the same answer", chromedp.WaitVisible(chromedp.CSS("[data-testid=forgot-sent]")))

	// 2. The link arrives through the notification path (inbox, and email
	// when a mailer is set), with the site's public address.
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for env.srv.DB.NewSelect().Table("notifications").Column("body").Where("user_id = ? AND kind = ?", buyer.ID, "password_reset").Scan(context.Background(), &body) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no password reset notice")
		}
		time.Sleep(50 * time.Millisecond)
	}
	i := strings.Index(body, "/password/reset?token=")
	if i < 0 {
		t.Fatalf("the notice has no link: %q", body)
	}
	link := strings.Fields(body[i:])[0]

	// 3. The link sets a new password; the old one no longer signs in, the
	// new one does.
	browserDo(t, tab, "open the link", chromedp.Navigate(base+link))
	browserDo(t, tab, "type a new password", chromedp.SendKeys(chromedp.CSS("[data-testid=reset-password]"), newPassword))
	res := browserNavigate(t, tab, "save it", chromedp.Click(chromedp.CSS("[data-testid=reset-submit]")))
	browserWantStatus(t, tab, "save the new password", res.Status, 200)
	browserWantLocation(t, tab, base+"/login")
	browserWantText(t, tab, "[data-testid=flash]", "密码已重设，请用新密码登录。")
	if _, _, _, err := env.srv.Accounts.Login(context.Background(), buyer.Email, testPassword); err == nil {
		t.Error("the old password still signs in")
	}
	if _, _, _, err := env.srv.Accounts.Login(context.Background(), buyer.Email, newPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}

	// 4. The link works once.
	browserDo(t, tab, "open the link again", chromedp.Navigate(base+link))
	browserDo(t, tab, "type another password", chromedp.SendKeys(chromedp.CSS("[data-testid=reset-password]"), "another spring lantern riddle"))
	res = browserNavigate(t, tab, "save it again", chromedp.Click(chromedp.CSS("[data-testid=reset-submit]")))
	browserWantStatus(t, tab, "reuse the link", res.Status, 410)
	browserWantText(t, tab, "[data-testid=form-error]", "这个重设链接无效、已过期或已使用，请重新获取。")
}

// bxAxe runs axe-core (its default rules) on the page the tab shows and
// reports each violation. The script is testdata/axe.min.js, or the file
// TEST_AXE_JS names; without either the check is skipped.
func bxAxe(t *testing.T, tab context.Context, what string) {
	t.Helper()
	path := os.Getenv("TEST_AXE_JS")
	if path == "" {
		path = "testdata/axe.min.js"
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no axe-core (%v): %s not audited", err, what)
		return
	}
	browserRun(t, tab, "inject axe-core", chromedp.Evaluate[bool](string(src)+"\n;typeof axe === 'object'"))
	type violation struct {
		ID    string   `json:"id"`
		Help  string   `json:"help"`
		Nodes []string `json:"nodes"`
	}
	found := browserRun(t, tab, "run axe-core on "+what, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html.slice(0, 160))})))`, chromedp.EvalAwaitPromise))
	for _, v := range found {
		t.Errorf("%s: axe %s (%s): %v", what, v.ID, v.Help, v.Nodes)
	}
	if passes := browserRun(t, tab, "count the rules passed", chromedp.Evaluate[int](`axe.run(document).then(r => r.passes.length)`, chromedp.EvalAwaitPromise)); passes == 0 {
		t.Errorf("%s: axe-core passed no rule; did it run?", what)
	} else {
		t.Logf("%s: %d axe rules pass", what, passes)
	}
}

func TestBrowserPhoneAxe(t *testing.T) {
	env := newTestEnv(t)
	env.runWorkers()
	w := newFlashWorld(t, env, "phone-axe-2026")
	buyer := w.shopper(t)
	w.liveSale(t, 1000, 5, 2)
	w.buyPaid(t, buyer.Token, w.product, 1)
	w.buy(t, buyer.Token, w.product, 1)
	w.cart(t, buyer.Token, w.product, 2)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bxPhoneTab(t, browser, base, "shopper", buyer.Email)
	for _, path := range []string{"/", "/fairs/" + w.slug, "/products/" + w.product, "/stalls/" + w.stallA, "/cart", "/orders", "/orders?stage=to_collect",
		"/account", "/fairs/" + w.slug + "/search?q=%E9%BE%99%E8%88%9F"} {
		browserDo(t, shop, "open "+path, chromedp.Navigate(base+path))
		bxAxe(t, shop, path)
	}
	mer := bxPhoneTab(t, browser, base, "merchant", w.merchA.Email)
	browserDo(t, mer, "open the console", chromedp.Navigate(base+"/merchant"))
	bxAxe(t, mer, "/merchant")
	org := bxPhoneTab(t, browser, base, "organizer", "organizer-"+w.slug+"@example.com")
	browserDo(t, org, "open the console", chromedp.Navigate(base+"/organizer"))
	bxAxe(t, org, "/organizer")
	visitor := bxPhoneTab(t, browser, base, "visitor", "")
	for _, path := range []string{"/login?next=/cart", "/register", "/password/forgot", "/password/reset?token=x"} {
		browserDo(t, visitor, "open "+path, chromedp.Navigate(base+path))
		bxAxe(t, visitor, path)
	}
}

// bxWantTextContent checks the text of the first element matching sel, its
// runs of white space read as one space (screen-reader text included).
func bxWantTextContent(t testing.TB, tab context.Context, sel, want string) {
	t.Helper()
	got := browserRun(t, tab, "read "+sel, chromedp.Evaluate[string](`(e => e ? e.textContent.replace(/\s+/g, " ").trim() : "")(document.querySelector('`+sel+`'))`))
	if got != want {
		t.Fatalf("%s reads %q, want %q%s", sel, got, want, browserPage(tab))
	}
}
