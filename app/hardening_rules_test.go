package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"miaohui/orders"
)

// A fair's dates, its publication and its stalls bound what is sold and
// paid for: the flash path, the ticket → order step, the sandbox and Stripe
// payments and the webhook's clock.

// editFair patches the world's fair as its organizer and expects 200.
func (w *world) editFair(t testing.TB, body map[string]any) {
	t.Helper()
	res := w.e.do(req{Method: "PATCH", Path: "/api/v1/fairs/" + w.slug, Token: w.org, Body: body})
	wantStatus(t, res, http.StatusOK)
}

// closeFair ends the world's fair now.
func (w *world) closeFair(t testing.TB) {
	t.Helper()
	w.editFair(t, map[string]any{"ends_at": fairTime(w.e.clock.Now())})
}

// postponeFair moves the world's fair to next week.
func (w *world) postponeFair(t testing.TB) {
	t.Helper()
	now := w.e.clock.Now()
	w.editFair(t, map[string]any{"starts_at": fairTime(now.Add(7 * 24 * time.Hour)), "ends_at": fairTime(now.Add(9 * 24 * time.Hour))})
}

// suspendStallA suspends stall A as the fair's organizer.
func (w *world) suspendStallA(t testing.TB) {
	t.Helper()
	res := w.e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: w.org})
	wantStatus(t, res, http.StatusOK)
}

// otherServer is a second server over the same database and Redis.
func (e *testEnv) otherServer(t testing.TB) *testEnv {
	t.Helper()
	other := *e
	other.srv = newTestServer(t, Deps{Config: e.cfg, Logger: e.srv.Logger, DB: e.srv.DB, Redis: e.redis.Client, Now: e.clock.Now})
	return &other
}

func TestHardeningFlashFairBounds(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, w *world)
		status int
		code   string
		sale   string
	}{
		{"Closed", func(t *testing.T, w *world) { w.closeFair(t) }, http.StatusGone, "ended", "ended"},
		{"Postponed", func(t *testing.T, w *world) { w.postponeFair(t) }, http.StatusConflict, "not_started", "upcoming"},
		{"Unpublished", func(t *testing.T, w *world) { w.editFair(t, map[string]any{"published": false}) }, http.StatusGone, "ended", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t)
			other := e.otherServer(t)
			w := newFlashWorld(t, e, "bounds-"+strings.ToLower(c.name))
			id := w.liveSale(t, 1000, 10, 2)
			// Both servers sold once: each keeps the offer in memory.
			w.win(t, w.shopper(t).Token, id, 1)
			wo := *w
			wo.e = other
			wo.win(t, w.shopper(t).Token, id, 1)
			left := w.remaining(t, id)
			c.change(t, w)
			for _, s := range []*world{w, &wo} {
				wantProblem(t, s.purchase(w.shopper(t).Token, id, 1), c.status, c.code)
			}
			if n, err := e.redis.Client.Get(context.Background(), "fs:{"+id+"}:stock").Int(); err != nil || n != left {
				t.Errorf("Redis stock %d (%v), want %d untouched", n, err, left)
			}
			if c.sale != "" {
				// The public copy of an offer is kept for a second.
				eventually(t, 3*time.Second, func() error {
					if got := w.sale(t, id)["status"]; got != c.sale {
						return fmt.Errorf("sale status %v, want %s", got, c.sale)
					}
					return nil
				})
			}
		})
	}

	t.Run("ListedStatus", func(t *testing.T) {
		e := newTestEnv(t)
		w := newFlashWorld(t, e, "bounds-listed")
		id := w.liveSale(t, 1000, 10, 2)
		w.postponeFair(t)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/flash-sales"})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		if len(items) != 1 || items[0]["id"] != id || items[0]["status"] != "upcoming" {
			t.Errorf("listed %v, want the sale upcoming", items)
		}
	})
}

func TestHardeningFlashTicketOfClosedFair(t *testing.T) {
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "ticket-closed")
	id := w.liveSale(t, 1000, 10, 2)
	buyer := w.shopper(t)
	ticket := w.win(t, buyer.Token, id, 1) // admitted; no worker has made its order yet
	w.closeFair(t)
	e.runWorkers()
	var last map[string]any
	eventually(t, 15*time.Second, func() error {
		res := w.ticket(buyer.Token, id, ticket)
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("ticket status %d: %s", res.StatusCode, res.Body)
		}
		last = res.JSON(t)
		if last["status"] == orders.TicketQueued {
			return fmt.Errorf("ticket still queued")
		}
		return nil
	})
	if last["status"] != orders.TicketRejected || last["reason"] != "fair_closed" || last["order_id"] != nil {
		t.Errorf("ticket %v, want rejected (fair_closed) without an order", last)
	}
	if n := countRows(t, e, "orders", "flash_sale_id = ?", id); n != 0 {
		t.Errorf("%d orders of the sale, want none", n)
	}
	// Its unit is back in Redis (for a fair that opens again).
	eventually(t, 15*time.Second, func() error {
		if n, _ := e.redis.Client.Get(context.Background(), "fs:{"+id+"}:stock").Int(); n != 10 {
			return fmt.Errorf("Redis stock %d, want 10", n)
		}
		return nil
	})
}
