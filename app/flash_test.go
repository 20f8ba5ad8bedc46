package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

// The flash sales' part of the HTTP contract (API.md, "Flash sales (抢购)"):
// offers, the purchase fast path, tickets becoming orders through the Asynq
// workers, rate limits, a lost Redis, unpaid orders going back on sale,
// settlement and reminders. The shared helpers are in kit_test.go.

// flSaleRow is a sale's row in the database.
type flSaleRow struct {
	Quantity, Sold     int
	Settled, Withdrawn bool
}

func flRow(t testing.TB, e *testEnv, id string) flSaleRow {
	t.Helper()
	var r flSaleRow
	err := e.srv.DB.NewSelect().Table("flash_sales").Column("quantity", "sold", "settled", "withdrawn").Where("id = ?", id).
		Scan(context.Background(), &r.Quantity, &r.Sold, &r.Settled, &r.Withdrawn)
	if err != nil {
		t.Fatalf("flash sale %s: %v", id, err)
	}
	return r
}

// flOrders counts the live and all orders of a sale.
func flOrders(t testing.TB, e *testEnv, saleID string) (live, all int) {
	t.Helper()
	return countRows(t, e, "orders", "flash_sale_id = ? AND status <> ?", saleID, orders.StatusCancelled),
		countRows(t, e, "orders", "flash_sale_id = ?", saleID)
}

// flWaitTickets waits until n tickets of the sale are ordered and none is
// left queued in Redis.
func flWaitTickets(t testing.TB, e *testEnv, saleID string, n int) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		got := countRows(t, e, "flash_tickets", "sale_id = ? AND status = ?", saleID, orders.TicketOrdered)
		if got > n {
			t.Fatalf("%d tickets ordered, want %d at most", got, n)
		}
		if got != n {
			return fmt.Errorf("%d tickets ordered, want %d", got, n)
		}
		return nil
	})
}

// flOverLimit lists buyers holding more live orders of a sale than limit.
func flOverLimit(t testing.TB, e *testEnv, saleID string, limit int) []string {
	t.Helper()
	var rows []struct {
		BuyerID string
		Units   int
	}
	err := e.srv.DB.NewSelect().TableExpr("orders AS o").Join("JOIN order_items AS i ON i.order_id = o.id").
		ColumnExpr("o.buyer_id, SUM(i.quantity) AS units").
		Where("o.flash_sale_id = ? AND o.status <> ?", saleID, orders.StatusCancelled).
		GroupExpr("o.buyer_id").Scan(context.Background(), &rows)
	if err != nil {
		t.Fatal(err)
	}
	var over []string
	for _, r := range rows {
		if r.Units > limit {
			over = append(over, fmt.Sprintf("%s:%d", r.BuyerID, r.Units))
		}
	}
	return over
}

func TestFlashOffers(t *testing.T) {
	t.Parallel()
	path := "/api/v1/flash-sales"
	// setup is a fresh flash world, a shopper, and the merchant's offer of
	// 10 units at ¥9.90, two per person, starting in a minute.
	setup := func(t *testing.T) (e *testEnv, w *world, shopper registered, id string, sale map[string]any) {
		t.Helper()
		e = newTestEnv(t)
		w = newFlashWorld(t, e, "flash-offers")
		shopper = w.shopper(t)
		sale = w.createSale(t, w.saleBody(990, 10, 2))
		return e, w, shopper, sale["id"].(string), sale
	}
	// edited is setup with the offer cut to 8 units at ¥8.80 (EditBeforeStart).
	edited := func(t *testing.T) (e *testEnv, w *world, shopper registered, id string, sale map[string]any) {
		t.Helper()
		e, w, shopper, id, sale = setup(t)
		wantStatus(t, e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchA.Token, Body: map[string]any{"quantity": 8, "price": 880}}), http.StatusOK)
		return e, w, shopper, id, sale
	}

	t.Run("Created", func(t *testing.T) {
		e, w, _, _, sale := setup(t)
		wantKeys(t, "flash sale", sale, "id", "product_id", "price", "quantity", "remaining", "per_user_limit", "starts_at", "ends_at", "status")
		if sale["product_id"] != w.product || jsonInt(t, sale, "price") != 990 || jsonInt(t, sale, "quantity") != 10 ||
			jsonInt(t, sale, "remaining") != 10 || jsonInt(t, sale, "per_user_limit") != 2 || sale["status"] != catalog.FlashUpcoming {
			t.Errorf("created sale %v", sale)
		}
		wantTime(t, sale, "starts_at", e.clock.Now().Add(time.Minute))
		wantTime(t, sale, "ends_at", e.clock.Now().Add(2*time.Hour))
		wantStock(t, e, w.product, flashProductStock-10)
	})

	t.Run("NotTheMerchant", func(t *testing.T) {
		e, w, shopper, id, _ := setup(t)
		wantDenied(t, e.do(req{Method: "POST", Path: path, Token: w.merchB.Token, Body: w.saleBody(990, 5, 1)}))
		wantDenied(t, e.do(req{Method: "POST", Path: path, Token: shopper.Token, Body: w.saleBody(990, 5, 1)}))
		wantDenied(t, e.do(req{Method: "POST", Path: path, Token: w.org, Body: w.saleBody(990, 5, 1)}))
		wantProblem(t, e.do(req{Method: "POST", Path: path, Body: w.saleBody(990, 5, 1)}), http.StatusUnauthorized, "unauthenticated")
		wantDenied(t, e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchB.Token, Body: map[string]any{"price": 1}}))
		wantDenied(t, e.do(req{Method: "POST", Path: path + "/" + id + "/withdraw", Token: shopper.Token}))
		wantStock(t, e, w.product, flashProductStock-10)
		if n := countRows(t, e, "flash_sales", "1 = 1"); n != 1 {
			t.Errorf("%d flash sales, want 1", n)
		}
	})

	t.Run("MoreThanStock", func(t *testing.T) {
		e, w, _, _, _ := setup(t)
		wantProblem(t, e.do(req{Method: "POST", Path: path, Token: w.merchA.Token, Body: w.saleBody(990, flashProductStock-10+1, 1)}), http.StatusConflict, "insufficient_stock")
		wantStock(t, e, w.product, flashProductStock-10)
	})

	t.Run("Validation", func(t *testing.T) {
		e, w, _, _, _ := setup(t)
		now := e.clock.Now()
		with := func(k string, v any) map[string]any {
			b := w.saleBody(990, 5, 1)
			b[k] = v
			return b
		}
		for _, tc := range []struct {
			name, field string
			body        map[string]any
		}{
			{"EndBeforeStart", "ends_at", with("ends_at", fairTime(now.Add(30*time.Second)))},
			{"EndAtStart", "ends_at", with("ends_at", fairTime(now.Add(time.Minute)))},
			{"EndAfterTheFair", "", with("ends_at", fairTime(now.Add(31*24*time.Hour)))},
			{"StartInThePast", "starts_at", with("starts_at", fairTime(now.Add(-time.Minute)))},
			{"PriceZero", "price", with("price", 0)},
			{"LimitZero", "per_user_limit", with("per_user_limit", 0)},
			{"QuantityZero", "quantity", with("quantity", 0)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do(req{Method: "POST", Path: path, Token: w.merchA.Token, Body: tc.body})
				if tc.field == "" { // the contract names no field for the fair's dates
					wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
					return
				}
				wantField(t, res, tc.field)
			})
		}
		wantStock(t, e, w.product, flashProductStock-10)
		if n := countRows(t, e, "flash_sales", "1 = 1"); n != 1 {
			t.Errorf("%d flash sales after invalid offers, want 1", n)
		}
	})

	t.Run("EditBeforeStart", func(t *testing.T) {
		e, w, _, id, _ := setup(t)
		res := e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchA.Token, Body: map[string]any{"quantity": 15, "price": 880}})
		wantStatus(t, res, http.StatusOK)
		m := res.JSON(t)
		if jsonInt(t, m, "quantity") != 15 || jsonInt(t, m, "price") != 880 || jsonInt(t, m, "remaining") != 15 || jsonInt(t, m, "per_user_limit") != 2 {
			t.Errorf("patched sale %v", m)
		}
		wantStock(t, e, w.product, flashProductStock-15)
		res = e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchA.Token, Body: map[string]any{"quantity": 8}})
		wantStatus(t, res, http.StatusOK)
		wantStock(t, e, w.product, flashProductStock-8)
		wantField(t, e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchA.Token, Body: map[string]any{"price": 0}}), "price")
		wantProblem(t, e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchA.Token, Body: map[string]any{"quantity": flashProductStock + 1}}), http.StatusConflict, "insufficient_stock")
		wantStock(t, e, w.product, flashProductStock-8)
		if got := w.sale(t, id); jsonInt(t, got, "quantity") != 8 || jsonInt(t, got, "price") != 880 || jsonInt(t, got, "remaining") != 8 {
			t.Errorf("sale after edits %v", got)
		}
	})

	t.Run("Withdraw", func(t *testing.T) {
		e, w, shopper, _, _ := edited(t)
		other := w.createSale(t, w.saleBody(500, 7, 1))["id"].(string)
		wantStock(t, e, w.product, flashProductStock-8-7)
		res := e.do(req{Method: "POST", Path: path + "/" + other + "/withdraw", Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		if m := res.JSON(t); m["status"] != catalog.FlashWithdrawn {
			t.Errorf("withdrawn sale %v", m)
		}
		wantStock(t, e, w.product, flashProductStock-8)
		wantProblem(t, e.do(req{Method: "POST", Path: path + "/" + other + "/withdraw", Token: w.merchA.Token}), http.StatusConflict, "conflict")
		wantStock(t, e, w.product, flashProductStock-8)
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/flash-sales"})
		wantStatus(t, res, http.StatusOK)
		if ids := listField(listItems(t, res), "id"); slices.Contains(ids, other) {
			t.Errorf("the fair lists a withdrawn sale: %v", ids)
		}
		wantProblem(t, w.purchase(shopper.Token, other, 1), http.StatusNotFound, "not_found")
	})

	t.Run("Reads", func(t *testing.T) {
		e, w, _, id, _ := edited(t)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/flash-sales"})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		if ids := listField(items, "id"); len(ids) != 1 || ids[0] != id {
			t.Fatalf("fair's flash sales %v, want [%s]", ids, id)
		}
		wantKeys(t, "listed sale", items[0], "id", "product_id", "price", "quantity", "remaining", "per_user_limit", "starts_at", "ends_at", "status")
		if jsonInt(t, items[0], "remaining") != 8 || items[0]["status"] != catalog.FlashUpcoming {
			t.Errorf("listed sale %v", items[0])
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/flash-sales/" + id})
		wantStatus(t, res, http.StatusOK)
		st, err := time.Parse(time.RFC3339Nano, res.Header.Get("X-Server-Time"))
		if err != nil {
			t.Fatalf("X-Server-Time %q: %v", res.Header.Get("X-Server-Time"), err)
		}
		if !st.Equal(e.clock.Now()) {
			t.Errorf("X-Server-Time %v, want the server's clock %v", st, e.clock.Now())
		}
		if m := res.JSON(t); jsonInt(t, m, "remaining") != 8 || m["id"] != id {
			t.Errorf("sale %v", m)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/flash-sales/nope"}), http.StatusNotFound, "not_found")
	})

	t.Run("AfterStart", func(t *testing.T) {
		e, w, _, id, _ := edited(t)
		e.clock.Advance(time.Minute + time.Second)
		if m := w.sale(t, id); m["status"] != catalog.FlashLive {
			t.Errorf("status %v after the start, want live", m["status"])
		}
		wantProblem(t, e.do(req{Method: "PATCH", Path: path + "/" + id, Token: w.merchA.Token, Body: map[string]any{"quantity": 9}}), http.StatusConflict, "conflict")
		wantProblem(t, e.do(req{Method: "POST", Path: path + "/" + id + "/withdraw", Token: w.merchA.Token}), http.StatusConflict, "conflict")
		wantStock(t, e, w.product, flashProductStock-8)
		if r := flRow(t, e, id); r.Quantity != 8 || r.Withdrawn {
			t.Errorf("sale row %+v after refused changes", r)
		}
	})
}

func TestFlashPurchase(t *testing.T) {
	t.Parallel()
	// setup is a fresh flash world (no per-user rate limit: TestFlashRateLimits
	// tests the limits), four shoppers, and an offer of 10 units at ¥9.90, two
	// per person, starting in a minute.
	setup := func(t *testing.T) (e *testEnv, w *world, buyer, other, browser, leaver registered, id, purchasePath string) {
		t.Helper()
		e = newTestEnv(t, func(c *Config) { c.FlashUserRPS = 0 })
		w = newFlashWorld(t, e, "flash-buy")
		buyer, other, browser, leaver = w.shopper(t), w.shopper(t), w.shopper(t), w.shopper(t)
		id = w.createSale(t, w.saleBody(990, 10, 2))["id"].(string)
		return e, w, buyer, other, browser, leaver, id, "/api/v1/flash-sales/" + id + "/purchase"
	}
	// bought is setup once the sale is live, with the workers running and the
	// buyer's two units ordered and paid (Purchase), and the browser's one unit
	// ordered too when browserBought (CookieNeedsCSRF).
	bought := func(t *testing.T, browserBought bool) (e *testEnv, w *world, buyer, other, browser, leaver registered, id, purchasePath string) {
		t.Helper()
		e, w, buyer, other, browser, leaver, id, purchasePath = setup(t)
		e.clock.Advance(time.Minute + time.Second)
		e.runWorkers()
		w.payOrder(t, buyer.Token, w.waitOrdered(t, buyer.Token, id, w.win(t, buyer.Token, id, 2)))
		if browserBought {
			w.waitOrdered(t, browser.Token, id, w.win(t, browser.Token, id, 1))
		}
		return e, w, buyer, other, browser, leaver, id, purchasePath
	}

	t.Run("Purchase", func(t *testing.T) {
		e, w, buyer, other, _, _, id, purchasePath := setup(t)
		wantProblem(t, w.purchase(buyer.Token, id, 1), http.StatusConflict, "not_started")
		e.clock.Advance(time.Minute + time.Second)

		wantProblem(t, w.purchase(buyer.Token, "nope", 1), http.StatusNotFound, "not_found")
		wantProblem(t, e.do(req{Method: "POST", Path: purchasePath, Body: map[string]any{"quantity": 1}}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "POST", Path: purchasePath, Token: "m1.forged.token.x.y.z", Body: map[string]any{"quantity": 1}}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "POST", Path: purchasePath, Token: buyer.Token, Body: `{"quantity":`}), http.StatusBadRequest, "malformed_json")
		wantField(t, e.do(req{Method: "POST", Path: purchasePath, Token: buyer.Token, Body: map[string]any{}}), "quantity")
		wantField(t, w.purchase(buyer.Token, id, 0), "quantity")
		wantProblem(t, w.purchase(buyer.Token, id, 3), http.StatusConflict, "limit_reached")

		res := w.purchase(buyer.Token, id, 2)
		wantStatus(t, res, http.StatusAccepted)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("202 content type %q", ct)
		}
		m := res.JSON(t)
		ticket, _ := m["ticket"].(string)
		if ticket == "" || m["status"] != "queued" {
			t.Fatalf("purchase answer %s", res.Body)
		}
		wantProblem(t, w.purchase(buyer.Token, id, 1), http.StatusConflict, "limit_reached")

		// No worker yet: the ticket waits in the queue.
		res = w.ticket(buyer.Token, id, ticket)
		wantStatus(t, res, http.StatusOK)
		if m := res.JSON(t); m["status"] != "queued" || m["ticket"] != ticket {
			t.Errorf("ticket before any worker runs: %v, want queued", m)
		}
		wantProblem(t, w.ticket(other.Token, id, ticket), http.StatusNotFound, "not_found")
		wantProblem(t, w.ticket(buyer.Token, id, "nope"), http.StatusNotFound, "not_found")
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/flash-sales/" + id + "/tickets/" + ticket}), http.StatusUnauthorized, "unauthenticated")
		if got := w.remaining(t, id); got != 8 {
			t.Errorf("remaining %d after 2 won, want 8", got)
		}

		e.runWorkers()
		orderID := w.waitOrdered(t, buyer.Token, id, ticket)
		wantProblem(t, w.ticket(other.Token, id, ticket), http.StatusNotFound, "not_found")

		res = e.do(req{Method: "GET", Path: "/api/v1/orders/" + orderID, Token: buyer.Token})
		wantStatus(t, res, http.StatusOK)
		o := res.JSON(t)
		if o["status"] != orders.StatusPendingPayment || jsonInt(t, o, "total") != 2*990 || o["fulfillment"] != catalog.ShipPickup ||
			o["stall_id"] != w.stallA || o["buyer_id"] != buyer.ID || o["currency"] != "CNY" {
			t.Errorf("flash order %v", o)
		}
		if o["flash_sale_id"] != id || o["ticket_id"] != ticket {
			t.Errorf("order's flash_sale_id %v ticket_id %v, want %s %s", o["flash_sale_id"], o["ticket_id"], id, ticket)
		}
		if items, _ := o["items"].([]any); len(items) != 1 {
			t.Errorf("order items %v", o["items"])
		} else if it := items[0].(map[string]any); it["product_id"] != w.product || jsonInt(t, it, "unit_price") != 990 || jsonInt(t, it, "quantity") != 2 {
			t.Errorf("order item %v", it)
		}
		if r := flRow(t, e, id); r.Sold != 2 {
			t.Errorf("sold %d, want 2", r.Sold)
		}
		w.payOrder(t, buyer.Token, orderID)
		wantOrderStatus(t, e, orders.StatusPaid, orderID)
		wantStock(t, e, w.product, flashProductStock-10) // flash units never come from the stock twice
	})

	t.Run("CookieNeedsCSRF", func(t *testing.T) {
		e, w, _, _, browser, _, id, purchasePath := bought(t, false)
		if browser.Cookie == nil || browser.CSRF == "" {
			t.Fatal("registration set no session cookie or CSRF token")
		}
		cookies := []*http.Cookie{browser.Cookie}
		body := map[string]any{"quantity": 1}
		wantProblem(t, e.do(req{Method: "POST", Path: purchasePath, Cookies: cookies, Body: body}), http.StatusForbidden, "forbidden")
		wantProblem(t, e.do(req{Method: "POST", Path: purchasePath, Cookies: cookies, Body: body, Header: map[string]string{"X-CSRF-Token": "wrong"}}), http.StatusForbidden, "forbidden")
		wantProblem(t, e.do(req{Method: "POST", Path: purchasePath, Cookies: cookies, Body: body,
			Header: map[string]string{"X-CSRF-Token": browser.CSRF, "Origin": "https://evil.example"}}), http.StatusForbidden, "forbidden")
		if got := w.remaining(t, id); got != 8 {
			t.Errorf("remaining %d after refused cookie purchases, want 8", got)
		}
		res := e.do(req{Method: "POST", Path: purchasePath, Cookies: cookies, Body: body, Header: map[string]string{"X-CSRF-Token": browser.CSRF}})
		wantStatus(t, res, http.StatusAccepted)
		w.waitOrdered(t, browser.Token, id, res.JSON(t)["ticket"].(string))
		if live, all := flOrders(t, e, id); live != 2 || all != 2 {
			t.Errorf("%d live of %d orders, want 2", live, all)
		}
	})

	t.Run("RevokedToken", func(t *testing.T) {
		e, w, _, _, _, leaver, id, _ := bought(t, true)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: leaver.Token}), http.StatusNoContent)
		wantProblem(t, w.purchase(leaver.Token, id, 1), http.StatusUnauthorized, "unauthenticated")
		if got := w.remaining(t, id); got != 7 {
			t.Errorf("remaining %d, want 7", got)
		}
	})

	t.Run("AfterEnd", func(t *testing.T) {
		e, w, _, other, _, _, id, _ := bought(t, false)
		e.clock.Advance(2 * time.Hour)
		wantProblem(t, w.purchase(other.Token, id, 1), http.StatusGone, "ended")
		if m := w.sale(t, id); m["status"] != catalog.FlashEnded {
			t.Errorf("status %v after the end, want ended", m["status"])
		}
	})
}

func TestFlashSoldOut(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 })
	w := newFlashWorld(t, e, "flash-soldout")
	buyers := e.buyers(t, "soldout", 25)
	id := w.liveSale(t, 1200, 3, 1)
	for i := range 3 {
		w.win(t, buyers[i].Token, id, 1)
	}
	wantProblem(t, w.purchase(buyers[3].Token, id, 1), http.StatusConflict, "sold_out")
	if got := w.remaining(t, id); got != 0 {
		t.Errorf("remaining %d, want 0", got)
	}

	// Sold out is answered from memory: a burst costs Redis nothing.
	calls := e.srv.Admission.Calls.Load()
	for i := 4; i < len(buyers); i++ {
		wantProblem(t, w.purchase(buyers[i].Token, id, 1), http.StatusConflict, "sold_out")
	}
	if got := e.srv.Admission.Calls.Load(); got != calls {
		t.Errorf("%d sold-out attempts made %d Redis calls, want none", len(buyers)-4, got-calls)
	}

	e.runWorkers()
	flWaitTickets(t, e, id, 3)
	if live, _ := flOrders(t, e, id); live != 3 {
		t.Errorf("%d orders, want 3", live)
	}
	if r := flRow(t, e, id); r.Sold != 3 {
		t.Errorf("sold %d, want 3", r.Sold)
	}
}

func TestFlashRateLimits(t *testing.T) {
	t.Parallel()
	burst := func(t *testing.T, e *testEnv, tokens []string) (limited int) {
		t.Helper()
		w := newFlashWorld(t, e, "flash-rate")
		id := w.liveSale(t, 1200, 50, 1)
		for i := range 10 {
			res := w.purchase(tokens[i%len(tokens)], id, 1)
			switch res.StatusCode {
			case http.StatusTooManyRequests:
				wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
				if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
					t.Errorf("429 with Retry-After %q", ra)
				}
				limited++
			case http.StatusAccepted:
			case http.StatusConflict:
				wantProblem(t, res, http.StatusConflict, "limit_reached")
			default:
				t.Errorf("attempt %d: status %d %s", i, res.StatusCode, res.Body)
			}
		}
		return limited
	}
	t.Run("PerUser", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.FlashUserRPS = 2 })
		b := e.buyers(t, "rate", 1)
		if n := burst(t, e, []string{b[0].Token}); n == 0 {
			t.Errorf("10 attempts at once by one user with FlashUserRPS=2: no 429")
		}
	})
	t.Run("PerAddress", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 3 })
		var tokens []string
		for _, b := range e.buyers(t, "rate", 10) {
			tokens = append(tokens, b.Token)
		}
		if n := burst(t, e, tokens); n == 0 {
			t.Errorf("10 attempts at once from one address with FlashIPRPS=3: no 429")
		}
	})
	t.Run("Off", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.FlashUserRPS = 0 })
		b := e.buyers(t, "rate", 1)
		if n := burst(t, e, []string{b[0].Token}); n != 0 {
			t.Errorf("%d × 429 with FlashUserRPS=0, want none", n)
		}
	})
}

func TestFlashRace(t *testing.T) {
	t.Parallel()
	// 500 buyers press twice each, 64 at a time, for 50 units, one per person.
	const buyers, units, conc = 500, 50, 64
	e := newTestEnv(t, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 })
	w := newFlashWorld(t, e, "flash-race")
	bs := e.buyers(t, "race", buyers)
	id := w.liveSale(t, 1888, units, 1)
	e.runWorkers()

	order := make([]int, 0, 2*buyers)
	for i := range buyers {
		order = append(order, i, (i*7+3)%buyers)
	}
	start := time.Now()
	won := e.wins(t, e.flashRush(t, id, bs, order, conc))
	t.Logf("%d attempts answered in %s", len(order), time.Since(start).Round(time.Millisecond))
	wantWonOnce(t, won, units)

	flWaitTickets(t, e, id, units)
	live, all := flOrders(t, e, id)
	if live != units || all != units {
		t.Errorf("%d live of %d orders, want %d", live, all, units)
	}
	if over := flOverLimit(t, e, id, 1); len(over) > 0 {
		t.Errorf("buyers above the limit: %v", over)
	}
	if n := countRows(t, e, "orders", "flash_sale_id = ? AND total = ?", id, 1888); n != units {
		t.Errorf("%d orders at the flash price, want %d", n, units)
	}
	if r := flRow(t, e, id); r.Sold != units || r.Quantity != units {
		t.Errorf("sale row %+v, want sold = quantity = %d", r, units)
	}
	if n := countRows(t, e, "flash_tickets", "sale_id = ? AND status <> ?", id, orders.TicketOrdered); n != 0 {
		t.Errorf("%d tickets not ordered", n)
	}
	if got := w.remaining(t, id); got != 0 {
		t.Errorf("remaining %d, want 0", got)
	}
	// Every winner's ticket is theirs and ordered.
	for b, ts := range won {
		if res := w.ticket(bs[b].Token, id, ts[0]); res.StatusCode != http.StatusOK || res.JSON(t)["status"] != orders.TicketOrdered {
			t.Errorf("buyer %d's ticket: %d %s", b, res.StatusCode, res.Body)
		}
	}
}

func TestFlashRedisFlushed(t *testing.T) {
	t.Parallel()
	const units = 50
	e := newTestEnv(t, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 })
	w := newFlashWorld(t, e, "flash-flush")
	first := e.buyers(t, "before", 20)
	later := e.buyers(t, "after", 60)
	id := w.liveSale(t, 1500, units, 1)
	e.runWorkers()
	ctx := context.Background()

	won := map[string]bool{}
	for _, b := range first {
		w.win(t, b.Token, id, 1)
		won[b.ID] = true
	}
	flWaitTickets(t, e, id, 20)
	if r := flRow(t, e, id); r.Sold != 20 {
		t.Fatalf("sold %d before the flush, want 20", r.Sold)
	}

	// Redis restarts empty: admission state and queued tasks are gone.
	if err := e.redis.Client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got := w.remaining(t, id); got != units-20 {
		t.Errorf("remaining %d after the flush, want %d (from the database)", got, units-20)
	}
	// Who won before still cannot win again.
	for i, b := range first {
		if res := w.purchase(b.Token, id, 1); res.StatusCode != http.StatusConflict || problemCode(res.Body) != "limit_reached" {
			t.Fatalf("earlier winner %d after the rebuild: %d %s, want 409 limit_reached", i, res.StatusCode, res.Body)
		}
	}
	if got := w.remaining(t, id); got != units-20 {
		t.Errorf("remaining %d after the rebuild, want %d", got, units-20)
	}

	order := make([]int, 0, 2*len(later))
	for i := range later {
		order = append(order, i, len(later)-1-i)
	}
	got := e.wins(t, e.flashRush(t, id, later, order, 16))
	wantWonOnce(t, got, units-20)
	// The first winners try again while the new tickets are processed.
	for i, b := range first {
		res := w.purchase(b.Token, id, 1)
		if res.StatusCode != http.StatusConflict || (problemCode(res.Body) != "sold_out" && problemCode(res.Body) != "limit_reached") {
			t.Errorf("earlier winner %d after the sale sold out: %d %s, want 409 sold_out or limit_reached", i, res.StatusCode, res.Body)
		}
	}

	eventually(t, 20*time.Second, func() error {
		live, all := flOrders(t, e, id)
		if all > units {
			t.Fatalf("%d orders for %d units", all, units)
		}
		if live != units {
			return fmt.Errorf("%d orders, want %d", live, units)
		}
		return nil
	})
	time.Sleep(1500 * time.Millisecond) // a batch that would oversell has had its time
	if live, all := flOrders(t, e, id); live != units || all != units {
		t.Errorf("%d live of %d orders, want %d", live, all, units)
	}
	if over := flOverLimit(t, e, id, 1); len(over) > 0 {
		t.Errorf("buyers above the limit after the rebuild: %v", over)
	}
	var winners []string
	if err := e.srv.DB.NewSelect().Table("orders").Column("buyer_id").Where("flash_sale_id = ?", id).Scan(ctx, &winners); err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, b := range winners {
		if won[b] {
			again++
		}
	}
	if again != 20 {
		t.Errorf("%d orders belong to the 20 first winners, want 20 (one each)", again)
	}
	if r := flRow(t, e, id); r.Sold != units {
		t.Errorf("sold %d, want %d", r.Sold, units)
	}
}

func TestFlashUnpaidExpiry(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "flash-expiry")
	payer, dawdler, patient, late := w.shopper(t), w.shopper(t), w.shopper(t), w.shopper(t)
	id := w.liveSale(t, 1200, 2, 1)
	ctx := context.Background()
	e.runWorkers()

	paidOrder := w.waitOrdered(t, payer.Token, id, w.win(t, payer.Token, id, 1))
	unpaidOrder := w.waitOrdered(t, dawdler.Token, id, w.win(t, dawdler.Token, id, 1))
	wantProblem(t, w.purchase(patient.Token, id, 1), http.StatusConflict, "sold_out")
	w.payOrder(t, payer.Token, paidOrder)
	if r := flRow(t, e, id); r.Sold != 2 {
		t.Fatalf("sold %d, want 2", r.Sold)
	}

	e.clock.Advance(e.cfg.PaymentWindow + time.Second)
	n, err := e.srv.Orders.SweepExpired(ctx, 100)
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v; want 1 payment closed", n, err)
	}
	wantOrderStatus(t, e, orders.StatusCancelled, unpaidOrder)
	wantOrderStatus(t, e, orders.StatusPaid, paidOrder)
	if r := flRow(t, e, id); r.Sold != 1 || r.Quantity != 2 {
		t.Errorf("sale row %+v after the expiry, want sold 1 of 2", r)
	}
	wantStock(t, e, w.product, flashProductStock-2) // the unit goes back on sale, not to the stock
	eventually(t, 15*time.Second, func() error {
		if got := w.remaining(t, id); got != 1 {
			return fmt.Errorf("remaining %d, want 1", got)
		}
		return nil
	})

	// Another shopper wins the unit back.
	order := w.waitOrdered(t, patient.Token, id, w.win(t, patient.Token, id, 1))
	wantOrderStatus(t, e, orders.StatusPendingPayment, order)
	wantProblem(t, w.purchase(late.Token, id, 1), http.StatusConflict, "sold_out")

	// Nothing is returned twice.
	if n, err := e.srv.Orders.SweepExpired(ctx, 100); err != nil || n != 0 {
		t.Errorf("second sweep: %d, %v; want 0", n, err)
	}
	if err := e.srv.Admission.Restock(ctx, id, unpaidOrder, dawdler.ID, 1); err != nil {
		t.Fatal(err)
	}
	if got := w.remaining(t, id); got != 0 {
		t.Errorf("remaining %d after a repeated restock, want 0", got)
	}
	wantProblem(t, w.purchase(late.Token, id, 1), http.StatusConflict, "sold_out")
	if r := flRow(t, e, id); r.Sold != 2 {
		t.Errorf("sold %d, want 2", r.Sold)
	}
	if live, all := flOrders(t, e, id); live != 2 || all != 3 {
		t.Errorf("%d live of %d orders, want 2 of 3", live, all)
	}
	wantStock(t, e, w.product, flashProductStock-2)
}

func TestFlashSettlement(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "flash-settle")
	a, b, c := w.shopper(t), w.shopper(t), w.shopper(t)
	id := w.liveSale(t, 1200, 10, 2)
	ctx := context.Background()
	settle := func() error { return e.srv.Orders.SettleFlashSale(ctx, e.srv.Admission, id) }

	ta, tb, tc := w.win(t, a.Token, id, 2), w.win(t, b.Token, id, 1), w.win(t, c.Token, id, 1)
	wantStock(t, e, w.product, flashProductStock-10)

	// Before the end there is nothing to settle.
	if err := settle(); err != nil {
		t.Errorf("settle before the end: %v", err)
	}
	if r := flRow(t, e, id); r.Settled || r.Quantity != 10 {
		t.Errorf("sale row %+v settled before its end", r)
	}
	wantStock(t, e, w.product, flashProductStock-10)

	e.clock.Advance(2 * time.Hour)
	wantProblem(t, w.purchase(c.Token, id, 1), http.StatusGone, "ended")
	// Tickets still queued hold the settlement back.
	if err := settle(); err == nil {
		t.Errorf("settled with tickets still queued")
	}
	if r := flRow(t, e, id); r.Settled {
		t.Errorf("sale settled with tickets still queued")
	}
	wantStock(t, e, w.product, flashProductStock-10)

	e.runWorkers()
	oa, ob, oc := w.waitOrdered(t, a.Token, id, ta), w.waitOrdered(t, b.Token, id, tb), w.waitOrdered(t, c.Token, id, tc)
	w.payOrder(t, a.Token, oa)
	w.payOrder(t, c.Token, oc)

	if err := settle(); err != nil {
		t.Fatalf("settle: %v", err)
	}
	wantStock(t, e, w.product, flashProductStock-4)
	if r := flRow(t, e, id); !r.Settled || r.Quantity != 4 || r.Sold != 4 {
		t.Errorf("sale row %+v after settlement, want settled, quantity = sold = 4", r)
	}
	if err := settle(); err != nil {
		t.Errorf("second settle: %v", err)
	}
	wantStock(t, e, w.product, flashProductStock-4)
	if n, err := e.redis.Client.Exists(ctx, "fs:{"+id+"}:stock", "fs:{"+id+"}:users", "fs:{"+id+"}:tickets").Result(); err != nil || n != 0 {
		t.Errorf("%d Redis keys of the settled sale left (%v)", n, err)
	}
	if m := w.sale(t, id); m["status"] != catalog.FlashEnded || jsonInt(t, m, "remaining") != 0 {
		t.Errorf("settled sale %v", m)
	}

	// An order of a settled sale that goes unpaid returns its unit to stock.
	e.clock.Advance(e.cfg.PaymentWindow + time.Second)
	if n, err := e.srv.Orders.SweepExpired(ctx, 100); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v; want 1", n, err)
	}
	wantOrderStatus(t, e, orders.StatusCancelled, ob)
	wantStock(t, e, w.product, flashProductStock-3)
	if r := flRow(t, e, id); r.Quantity != 3 || r.Sold != 3 {
		t.Errorf("sale row %+v after the cancellation, want quantity = sold = 3", r)
	}
	if n, err := e.srv.Orders.SweepExpired(ctx, 100); err != nil || n != 0 {
		t.Errorf("second sweep: %d, %v", n, err)
	}
	if err := settle(); err != nil {
		t.Errorf("third settle: %v", err)
	}
	wantStock(t, e, w.product, flashProductStock-3)

	// The sale's line in the totals: three units ordered, two orders paid
	// (a's two units and c's one at the flash price).
	res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	var totals orders.Totals
	if err := json.Unmarshal(res.Body, &totals); err != nil {
		t.Fatal(err)
	}
	if len(totals.FlashSales) != 1 {
		t.Fatalf("flash sales in the totals: %+v", totals.FlashSales)
	}
	if fs := totals.FlashSales[0]; fs.FlashSaleID != id || fs.StallID != w.stallA || fs.Price != 1200 || fs.Quantity != 3 || fs.Ordered != 3 || fs.PaidOrders != 2 || fs.GMV != 3600 {
		t.Errorf("the sale's totals %+v", fs)
	}
	if totals.GMV != 3600 || totals.PaidOrders != 2 {
		t.Errorf("fair totals: gmv %d, %d paid orders; want 3600 and 2", totals.GMV, totals.PaidOrders)
	}
	res = e.do(req{Method: "GET", Path: "/merchant/stalls/" + w.stallA + "/dashboard", Token: w.merchA.Token})
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(string(res.Body), `data-chart="flash-sales"`) {
		t.Error("the stall's dashboard has no flash-sale chart")
	}
}

func TestFlashReminders(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "flash-remind")
	fan, fan2, bystander := w.shopper(t), w.shopper(t), w.shopper(t)
	e.runWorkers()

	// The reminder task runs on Asynq's real clock: line the server's up with
	// it and start the sale a few seconds from now.
	if d := time.Since(e.clock.Now()); d > 0 {
		e.clock.Advance(d)
	}
	body := w.saleBody(990, 5, 1)
	body["starts_at"] = fairTime(e.clock.Now().Add(4 * time.Second))
	id := w.createSale(t, body)["id"].(string)
	path := "/api/v1/flash-sales/" + id + "/reminders"

	wantProblem(t, e.do(req{Method: "POST", Path: path}), http.StatusUnauthorized, "unauthenticated")
	wantStatus(t, e.do(req{Method: "POST", Path: path, Token: fan.Token}), http.StatusCreated)
	wantStatus(t, e.do(req{Method: "POST", Path: path, Token: fan.Token}), http.StatusCreated)
	wantStatus(t, e.do(req{Method: "POST", Path: path, Token: fan2.Token}), http.StatusCreated)
	wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/flash-sales/nope/reminders", Token: fan.Token}), http.StatusNotFound, "not_found")

	kinds := func(token string) map[string]int {
		res := e.do(req{Method: "GET", Path: "/api/v1/me/notifications", Token: token})
		wantStatus(t, res, http.StatusOK)
		n := map[string]int{}
		for _, k := range listField(listItems(t, res), "kind") {
			n[k]++
		}
		return n
	}
	defer func() {
		if t.Failed() { // show why a reminder did not arrive
			for _, line := range strings.Split(e.logBuf.String(), "\n") {
				if strings.Contains(line, "task failed") || strings.Contains(line, "flash:remind") {
					t.Log(line)
				}
			}
		}
	}()
	eventually(t, 15*time.Second, func() error {
		for i, tok := range []string{fan.Token, fan2.Token} {
			if k := kinds(tok); k["flash_start"] != 1 {
				return fmt.Errorf("subscriber %d's inbox %v, want one flash_start", i, k)
			}
		}
		return nil
	})
	time.Sleep(time.Second)
	for i, tok := range []string{fan.Token, fan2.Token} {
		if k := kinds(tok); k["flash_start"] != 1 {
			t.Errorf("subscriber %d's inbox %v, want exactly one flash_start", i, k)
		}
	}
	if k := kinds(bystander.Token); k["flash_start"] != 0 {
		t.Errorf("a shopper who asked for no reminder got %v", k)
	}

	e.clock.Advance(5 * time.Second)
	wantProblem(t, e.do(req{Method: "POST", Path: path, Token: bystander.Token}), http.StatusConflict, "conflict")
}

// flOtherServer is a second server on e's database, Redis and clock, as a
// deployment runs several behind a load balancer.
func flOtherServer(t testing.TB, e *testEnv) *testEnv {
	t.Helper()
	srv := newTestServer(t, Deps{Config: e.cfg, Logger: slog.New(slog.NewJSONHandler(e.logBuf, nil)), DB: e.srv.DB, Redis: e.redis.Client, Now: e.clock.Now})
	return &testEnv{t: t, srv: srv, redis: e.redis, clock: e.clock, cfg: e.cfg, logBuf: e.logBuf}
}

func TestFlashWithdrawnAfterAnAttempt(t *testing.T) {
	t.Parallel()
	// A shopper presses 抢购 early (the answer is not_started), then the
	// merchant withdraws the offer: at its old start time it must not sell.
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "flash-withdrawn")
	shopper := w.shopper(t)
	id := w.createSale(t, w.saleBody(990, 5, 1))["id"].(string)
	wantProblem(t, w.purchase(shopper.Token, id, 1), http.StatusConflict, "not_started")
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/flash-sales/" + id + "/withdraw", Token: w.merchA.Token}), http.StatusOK)
	wantStock(t, e, w.product, flashProductStock)

	e.clock.Advance(time.Minute + time.Second)
	w.wantRefused(t, w.purchase(shopper.Token, id, 1), shopper.Token, id, http.StatusNotFound, "not_found",
		"a withdrawn sale admitted a purchase at its old start time")
}

func TestFlashRescheduledOnAnotherServer(t *testing.T) {
	t.Parallel()
	// Two servers share the database and Redis. Server B has seen the offer
	// (an early press); the merchant then moves its start an hour later
	// through server A. At the old start time B must still say not_started.
	e := newTestEnv(t)
	b := flOtherServer(t, e)
	w := newFlashWorld(t, e, "flash-moved")
	shopper := w.shopper(t)
	id := w.createSale(t, w.saleBody(990, 5, 1))["id"].(string)
	onB := func() response {
		return b.do(req{Method: "POST", Path: "/api/v1/flash-sales/" + id + "/purchase", Token: shopper.Token, Body: map[string]any{"quantity": 1}})
	}
	wantProblem(t, onB(), http.StatusConflict, "not_started")
	res := e.do(req{Method: "PATCH", Path: "/api/v1/flash-sales/" + id, Token: w.merchA.Token,
		Body: map[string]any{"starts_at": fairTime(e.clock.Now().Add(time.Hour))}})
	wantStatus(t, res, http.StatusOK)

	e.clock.Advance(time.Minute + 5*time.Second)
	wantProblem(t, w.purchase(shopper.Token, id, 1), http.StatusConflict, "not_started") // server A
	w.wantRefused(t, onB(), shopper.Token, id, http.StatusConflict, "not_started",
		"server B admitted a purchase an hour before the sale's (new) start")
}

// wantRefused expects a purchase refused with status and code; if it was
// admitted instead, it fails with what and tells what became of the ticket.
func (w *world) wantRefused(t *testing.T, res response, token, saleID string, status int, code, what string) {
	t.Helper()
	if res.StatusCode != http.StatusAccepted {
		wantProblem(t, res, status, code)
		return
	}
	t.Errorf("%s: 202 %s", what, res.Body)
	w.e.runWorkers()
	ticket := res.JSON(t)["ticket"].(string)
	eventually(t, 15*time.Second, func() error {
		m := w.ticket(token, saleID, ticket).JSON(t)
		if m["status"] == orders.TicketQueued {
			return fmt.Errorf("ticket still queued")
		}
		t.Logf("the ticket's fate: %v", m)
		return nil
	})
}

// The orders made from a batch of tickets have their payment windows closed
// by one scheduled task per batch (and their buyers reminded by another),
// not two tasks per order.
func TestFlashPaymentWindowTasks(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "flash-windows")
	buyers := []registered{w.shopper(t), w.shopper(t), w.shopper(t)}
	id := w.liveSale(t, 1200, 3, 1)
	ctx := context.Background()
	// Three winners turned into orders in one batch, as a worker does.
	var batch []orders.Ticket
	for _, b := range buyers {
		tk, err := e.srv.Admission.Purchase(ctx, b.ID, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, *tk)
	}
	if err := e.srv.Orders.ProcessTickets(ctx, batch); err != nil {
		t.Fatal(err)
	}
	payments := map[string]string{} // payment → order
	var firstOrder string
	var expiresAt time.Time
	for i, tk := range batch {
		o := readOrder(t, e, flTicketOrder(t, e, tk.ID))
		payments[o.PaymentID] = o.ID
		expiresAt = o.ExpiresAt
		if i == 0 {
			firstOrder = o.ID
		}
	}

	in := asynq.NewInspectorFromRedisClient(e.redis.Client)
	scheduled := func(queue, typ string) (ids map[string]bool, at []time.Time) {
		ids = map[string]bool{}
		tasks, err := in.ListScheduledTasks(queue)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if task.Type == jobs.TypePaymentExpire || task.Type == jobs.TypePaymentRemind {
				t.Errorf("a task %s for one payment of a flash order", task.Type)
			}
			if task.Type != typ {
				continue
			}
			var p struct{ IDs []string }
			if err := json.Unmarshal(task.Payload, &p); err != nil {
				t.Fatal(err)
			}
			for _, pid := range p.IDs {
				ids[pid] = true
			}
			at = append(at, task.NextProcessAt)
		}
		return ids, at
	}
	for _, q := range []struct {
		queue, typ string
		at         time.Time
	}{{jobs.QueueDefault, jobs.TypePaymentsExpire, expiresAt}, {jobs.QueueLow, jobs.TypePaymentsRemind, expiresAt.Add(-5 * time.Minute)}} {
		ids, at := scheduled(q.queue, q.typ)
		if len(ids) != len(payments) {
			t.Errorf("%s covers %d payments, want the %d of the batch", q.typ, len(ids), len(payments))
		}
		for pid := range payments {
			if !ids[pid] {
				t.Errorf("%s misses payment %s", q.typ, pid)
			}
		}
		if len(at) != 1 || at[0].Unix() != q.at.Unix() {
			t.Errorf("%s scheduled at %v, want once at %v", q.typ, at, q.at)
		}
	}

	// One buyer pays; at the window's end the task closes the other two and
	// their units go back on sale.
	paid := firstOrder
	w.payOrder(t, buyers[0].Token, paid)
	e.runWorkers()
	ids := make([]string, 0, len(payments))
	for pid := range payments {
		ids = append(ids, pid)
	}
	payload, _ := json.Marshal(map[string]any{"ids": ids})
	client := asynq.NewClientFromRedisClient(e.redis.Client)
	defer client.Close()
	// The reminder, run now: the two who have not paid hear of it.
	if _, err := client.EnqueueContext(ctx, asynq.NewTask(jobs.TypePaymentsRemind, payload), asynq.Queue(jobs.QueueLow)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		for i, b := range buyers {
			if got, want := inboxOf(t, e, b.ID)["payment_closing"], map[bool]int{true: 0, false: 1}[i == 0]; got != want {
				return fmt.Errorf("buyer %d has %d payment_closing notices, want %d", i, got, want)
			}
		}
		return nil
	})
	e.clock.Advance(e.cfg.PaymentWindow + time.Second)
	if _, err := client.EnqueueContext(ctx, asynq.NewTask(jobs.TypePaymentsExpire, payload), asynq.Queue(jobs.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		if live, _ := flOrders(t, e, id); live != 1 {
			return fmt.Errorf("%d live flash orders, want 1", live)
		}
		return nil
	})
	wantOrderStatus(t, e, orders.StatusPaid, paid)
	if r := flRow(t, e, id); r.Sold != 1 {
		t.Errorf("sold %d after the window closed, want 1", r.Sold)
	}
	eventually(t, 15*time.Second, func() error {
		if got := w.remaining(t, id); got != 2 {
			return fmt.Errorf("remaining %d, want 2", got)
		}
		return nil
	})
}

// flTicketOrder is the order a ticket became.
func flTicketOrder(t testing.TB, e *testEnv, ticket string) string {
	t.Helper()
	var id string
	if err := e.srv.DB.NewSelect().TableExpr("orders").Column("id").Where("ticket_id = ?", ticket).Scan(context.Background(), &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// The admission script run twice for one ticket (a client retrying a call
// whose answer was lost with its connection) takes the units once.
func TestFlashAdmitRetried(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	sale := "retry-" + catalog.NewID()
	keys := []string{"fs:{" + sale + "}:stock", "fs:{" + sale + "}:users", "fs:{" + sale + "}:tickets"}
	rdb := e.redis.Client
	if err := rdb.Set(ctx, keys[0], 5, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	script := redis.NewScript(orders.AdmitLua)
	admit := func(user, ticket string) []int64 {
		t.Helper()
		res, err := script.Run(ctx, rdb, keys, user, 1, 2, ticket, 0).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := admit("buyer-1", "ticket-1")
	again := admit("buyer-1", "ticket-1")
	if first[0] != 1 || again[0] != 1 || first[1] != 4 || again[1] != 4 {
		t.Fatalf("first %v, again %v: want both admitted with 4 left", first, again)
	}
	if n, _ := rdb.HGet(ctx, keys[1], "buyer-1").Int(); n != 1 {
		t.Errorf("the buyer counts %d units, want 1", n)
	}
	// A new ticket of the same buyer is a second unit, within the limit of 2.
	if res := admit("buyer-1", "ticket-2"); res[0] != 1 || res[1] != 3 {
		t.Errorf("a second ticket: %v, want admitted with 3 left", res)
	}
	if res := admit("buyer-1", "ticket-3"); res[0] != -3 {
		t.Errorf("a third ticket over the limit: %v, want limit reached", res)
	}
	if n, _ := rdb.HLen(ctx, keys[2]).Result(); n != 2 {
		t.Errorf("%d tickets recorded, want 2", n)
	}
}

// A flash order's payment is opened at the provider when its buyer comes to
// pay, not when the workers write the sale's orders.
func TestFlashPaymentOpenedWhenPaid(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	flPaymentOpenedWhenPaid(t, e, "flash-open", func(payID string, p orders.Payment) {
		if p.ProviderRef != "sbx_"+payID || p.ClientSecret != "" {
			t.Errorf("sandbox payment opened with ref %q, secret %q", p.ProviderRef, p.ClientSecret)
		}
	})
}

func TestStripeFlashPayment(t *testing.T) {
	e := newStripeEnv(t)
	orderID := flPaymentOpenedWhenPaid(t, e, "stripe-flash", func(payID string, p orders.Payment) {
		if !strings.HasPrefix(p.ProviderRef, "cs_") || !strings.HasPrefix(p.CheckoutURL, "https://") {
			t.Errorf("Stripe payment opened with session %q, checkout URL %q", p.ProviderRef, p.CheckoutURL)
		}
	})
	// Stripe says the intent succeeded: the flash order is paid.
	payID := readOrder(t, e, orderID).PaymentID
	paid := stripeEvent("evt_flash_"+payID, "payment_intent.succeeded", stripeIntent(t, e, payID, "succeeded"))
	wantStatus(t, e.stripeDeliver(paid, stripeTestSecret, time.Now()), http.StatusOK)
	wantOrderStatus(t, e, orders.StatusPaid, orderID)
}

// flPaymentOpenedWhenPaid wins a flash order, checks that its payment is not
// opened at the provider, opens it as its payer and calls opened with what
// is stored; it returns the order.
func flPaymentOpenedWhenPaid(t *testing.T, e *testEnv, slug string, opened func(payID string, p orders.Payment)) string {
	t.Helper()
	w := newFlashWorld(t, e, slug)
	buyer, other := w.shopper(t), w.shopper(t)
	id := w.liveSale(t, 1200, 5, 1)
	e.runWorkers()
	orderID := w.waitOrdered(t, buyer.Token, id, w.win(t, buyer.Token, id, 1))
	payID := readOrder(t, e, orderID).PaymentID
	if p := readPayment(t, e, payID); p.ProviderRef != "" || p.ClientSecret != "" {
		t.Fatalf("the payment is opened at the provider before its payer came: ref %q", p.ProviderRef)
	}
	ctx := context.Background()
	if _, _, err := e.srv.Orders.Payment(ctx, catalog.Actor{UserID: other.ID, Role: catalog.RoleShopper}, payID); err == nil {
		t.Error("another shopper sees the payment")
	}
	if p := readPayment(t, e, payID); p.ProviderRef != "" {
		t.Fatalf("another shopper's look opened the payment: ref %q", p.ProviderRef)
	}
	p, list, err := e.srv.Orders.Payment(ctx, catalog.Actor{UserID: buyer.ID, Role: catalog.RoleShopper}, payID)
	if err != nil || len(list) != 1 || list[0].ID != orderID {
		t.Fatalf("the payer's payment: %v, %d orders", err, len(list))
	}
	stored := readPayment(t, e, payID)
	if stored.ProviderRef != p.ProviderRef || stored.ClientSecret != p.ClientSecret || stored.CheckoutURL != p.CheckoutURL {
		t.Errorf("stored ref %q, secret %q, checkout URL %q; returned %q, %q, %q", stored.ProviderRef, stored.ClientSecret, stored.CheckoutURL,
			p.ProviderRef, p.ClientSecret, p.CheckoutURL)
	}
	opened(payID, stored)
	// Coming back changes nothing.
	again, _, err := e.srv.Orders.Payment(ctx, catalog.Actor{UserID: buyer.ID, Role: catalog.RoleShopper}, payID)
	if err != nil || again.ProviderRef != stored.ProviderRef {
		t.Errorf("the second visit: %v, ref %q (was %q)", err, again.ProviderRef, stored.ProviderRef)
	}
	return orderID
}

// Redis restarts mid-sale without its data or its scripts, dropping every
// connection: the pipelined admission reconnects, loads its script again
// and rebuilds the sale from the database before admitting anyone.
func TestFlashRedisRestarted(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 })
	if e.redis.Mini == nil {
		t.Skip("restarts the in-process Redis; a shared Redis is not restarted by tests")
	}
	const units = 6
	w := newFlashWorld(t, e, "flash-restart")
	buyers := e.buyers(t, "restart", 8)
	id := w.liveSale(t, 1500, units, 1)
	e.runWorkers()
	for _, b := range buyers[:2] {
		w.win(t, b.Token, id, 1)
	}
	flWaitTickets(t, e, id, 2)

	mr := e.redis.Mini
	mr.Close()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	mr.FlushAll()
	if err := e.redis.Client.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}

	wantProblem(t, w.purchase(buyers[0].Token, id, 1), http.StatusConflict, "limit_reached")
	for _, b := range buyers[2:6] {
		w.win(t, b.Token, id, 1)
	}
	wantProblem(t, w.purchase(buyers[6].Token, id, 1), http.StatusConflict, "sold_out")
	flWaitTickets(t, e, id, units)
	if live, _ := flOrders(t, e, id); live != units {
		t.Errorf("%d orders, want %d", live, units)
	}
	if r := flRow(t, e, id); r.Sold != units {
		t.Errorf("sold %d, want %d", r.Sold, units)
	}
}
