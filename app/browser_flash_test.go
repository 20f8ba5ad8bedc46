//go:build browser

package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// The browser test of a flash sale (抢购), from the countdown to the paid
// order. Helpers here are prefixed bf so that they do not collide with the
// other suites of package app; it uses the bc helpers of
// browser_catalog_test.go (tabs, sign-in, screenshots on failure: set
// TEST_BROWSER_ARTIFACTS to keep them). Run it as the other browser tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...

// bfRealTime makes the test clock move with real time from where it stands
// until the test ends, so that a sale starts on the server while the
// browser watches its countdown.
func bfRealTime(t testing.TB, c *catalogtest.Clock) {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				now := time.Now()
				c.Advance(now.Sub(last))
				last = now
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

func TestBrowserFlashSale(t *testing.T) {
	env := newTestEnv(t)
	// The server's clock runs an hour ahead of the browser's: the page's
	// countdown must follow the server's.
	env.clock.Advance(time.Hour)
	bfRealTime(t, env.clock)
	ctx := context.Background()
	cat := env.srv.Catalog

	// An open temple fair with a merchant's approved stall selling 臭干.
	const (
		slug  = "taizhou-flash-2026"
		title = "泰州臭干"
	)
	organizer := env.createUser("flash.organizer@example.com", catalog.RoleOrganizer)
	merchant := env.createUser("flash.merchant@example.com", catalog.RoleMerchant)
	shopper := env.createUser("flash.shopper@example.com", catalog.RoleShopper)
	stall := env.serviceStall(t, organizer, merchant, slug, "泰州网络庙会", catalog.KindTempleFair, 500, "老街臭干坊", "三代传承")
	productTitle, price, stock, pickup := title, int64(1280), int64(20), catalog.ShipPickup
	product, err := cat.CreateProduct(ctx, merchant.Actor(), stall.ID, catalog.ProductInput{Title: &productTitle, Price: &price, Stock: &stock, Fulfillment: &pickup})
	if err != nil {
		t.Fatal(err)
	}
	env.runWorkers()

	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// 1. The shopper signs in.
	shop := bcTab(t, browser, "shopper")
	bcSignIn(t, shop, base, shopper.Email)

	// 2. The merchant offers 5 units at ¥9.90, one per person, starting 4
	// seconds from now on the server's clock.
	flashPrice, quantity, limit := int64(990), 5, 1
	starts := env.clock.Now().Add(4 * time.Second)
	ends := starts.Add(time.Hour)
	sale, err := cat.CreateFlashSale(ctx, merchant.Actor(), catalog.FlashInput{
		ProductID: product.ID, Price: &flashPrice, Quantity: &quantity, PerUserLimit: &limit, StartsAt: &starts, EndsAt: &ends,
	})
	if err != nil {
		t.Fatal(err)
	}
	saleURL := base + "/flash-sales/" + sale.ID

	// 3. The sale's page shows the offer and counts down seconds, not the
	// hour between the clocks; the grab button waits.
	res := browserNavigate(t, shop, "open the sale", chromedp.Navigate(saleURL))
	browserWantStatus(t, shop, "open the sale", res.Status, 200)
	browserWantText(t, shop, "[data-testid=flash-title]", title)
	browserWantText(t, shop, "[data-testid=flash-price]", "¥9.90")
	browserWantText(t, shop, "[data-testid=normal-price]", "¥12.80")
	browserWantText(t, shop, "[data-testid=flash-limit]", "每人限购 1 件")
	browserWantText(t, shop, "[data-testid=remaining]", "5")
	countdown := browserRun(t, shop, "read the countdown", chromedp.Text(chromedp.CSS("[data-testid=countdown]"), chromedp.NodeVisible))
	if !strings.HasPrefix(countdown, "距开抢 00:00:0") {
		t.Fatalf("the countdown reads %q, want a few seconds to the start (距开抢 00:00:0…)%s", countdown, browserPage(shop))
	}
	grab := chromedp.CSS("[data-testid=grab-button]")
	if disabled := browserRun(t, shop, "read the grab button", chromedp.JavascriptAttribute[bool](grab, "disabled")); !disabled {
		t.Fatalf("the grab button is enabled before the start%s", browserPage(shop))
	}
	browserWantText(t, shop, "[data-testid=grab-button]", "即将开抢")
	// A mark that a reload of the page would wipe.
	browserRun(t, shop, "mark the page", chromedp.Evaluate[bool](`window.bfMark = true`))

	// 4. At the start the button opens, once the server says the sale is live.
	browserDo(t, shop, "wait for the sale to open", chromedp.WaitEnabled(grab))
	if opened := env.clock.Now(); opened.Before(starts) {
		t.Fatalf("the grab button opened at %s, before the sale's start %s", opened, starts)
	}
	browserWantText(t, shop, "[data-testid=grab-button]", "抢购")
	browserWantText(t, shop, "[data-testid=flash-status]", "抢购中")
	if countdown := browserRun(t, shop, "read the countdown", chromedp.Text(chromedp.CSS("[data-testid=countdown]"))); countdown != "距结束 01:00:00" && !strings.HasPrefix(countdown, "距结束 00:59:") {
		t.Fatalf("the live countdown reads %q, want the hour to the end (距结束 00:59:…)%s", countdown, browserPage(shop))
	}

	// 5. 抢购: the ticket becomes an order and the pay link appears, without
	// a reload.
	browserDo(t, shop, "grab", chromedp.Click(grab))
	browserDo(t, shop, "see the pay link", chromedp.WaitVisible(chromedp.CSS("[data-testid=pay-link]")))
	if got := browserRun(t, shop, "read the ticket status", chromedp.AttributeValue(chromedp.CSS("[data-testid=ticket-status]"), "data-status")); got.Value != "ordered" {
		t.Fatalf("the ticket status is %q, want ordered%s", got.Value, browserPage(shop))
	}
	if marked := browserRun(t, shop, "read the mark", chromedp.Evaluate[bool](`window.bfMark === true`)); !marked {
		t.Fatalf("the page was reloaded on the way to the order%s", browserPage(shop))
	}
	browserWantLocation(t, shop, saleURL)
	browserWantText(t, shop, "[data-testid=grab-button]", "已抢到")
	browserRun(t, shop, "see what is left go down", chromedp.Poll[bool](
		`document.querySelector("[data-testid=remaining]").textContent.trim() === "4"`, chromedp.WithPollingTimeout(10*time.Second)))

	// 6. The pay link leads to the sandbox payment of the order; paying
	// leads to the orders, where it shows paid.
	var order orders.Order
	if err := env.srv.DB.NewSelect().Model(&order).Where("flash_sale_id = ?", sale.ID).Scan(ctx); err != nil {
		t.Fatalf("the sale's order: %v", err)
	}
	res = browserNavigate(t, shop, "follow the pay link", chromedp.Click(chromedp.CSS("[data-testid=pay-link]")))
	browserWantStatus(t, shop, "follow the pay link", res.Status, 200)
	browserWantLocation(t, shop, base+"/pay/"+order.PaymentID)
	browserWantText(t, shop, "[data-testid=pay-amount]", "¥9.90")
	res = browserNavigate(t, shop, "pay", chromedp.Click(chromedp.CSS("[data-testid=pay-succeed]")))
	browserWantStatus(t, shop, "pay", res.Status, 200)
	browserWantLocation(t, shop, base+"/orders?paid="+order.PaymentID)
	card := `[data-testid=order-card][data-order="` + order.ID + `"] `
	browserWantText(t, shop, card+"[data-testid=order-status]", "已付款")
	browserWantText(t, shop, card+"[data-testid=order-total]", "¥9.90")

	// 7. The database holds one order for the sale: the shopper's, paid, at
	// the flash price; the sale counts it sold.
	var list []orders.Order
	if err := env.srv.DB.NewSelect().Model(&list).Where("flash_sale_id = ?", sale.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d orders for the sale, want 1", len(list))
	}
	if o := list[0]; o.BuyerID != shopper.ID || o.Status != orders.StatusPaid || o.Total != flashPrice || o.PaidAt == nil {
		t.Fatalf("the sale's order is %s's, %s, total %d, paid at %v; want %s's, paid, 990", o.BuyerID, o.Status, o.Total, o.PaidAt, shopper.ID)
	}
	f, err := cat.FlashSaleByID(ctx, env.srv.DB, catalog.Actor{}, sale.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if f.Sold != 1 {
		t.Fatalf("the sale has sold %d, want 1", f.Sold)
	}
}
