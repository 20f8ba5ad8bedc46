package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"miaohui/orders"
)

// Orders of a closed or postponed fair, or of a suspended stall, are not
// paid for: the sandbox and the pay page refuse them (409) and cancel them;
// a capture Stripe reports anyway is refunded.

func TestHardeningPaymentUnpayable(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, w *world)
	}{
		{"FairClosed", func(t *testing.T, w *world) { w.closeFair(t) }},
		{"FairPostponed", func(t *testing.T, w *world) { w.postponeFair(t) }},
		{"StallSuspended", func(t *testing.T, w *world) { w.suspendStallA(t) }},
	}
	for _, c := range cases {
		t.Run("Sandbox"+c.name, func(t *testing.T) {
			e := newTestEnv(t)
			w := newShopWorld(t, e, "unpayable-"+strings.ToLower(c.name))
			stock := readStock(t, e, w.lantern)
			buyer := w.shopper(t)
			co := w.buy(t, buyer.Token, w.lantern, 2)
			c.change(t, w)
			res := e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + co.Payment.ID + "/complete", Token: buyer.Token,
				Body: map[string]any{"outcome": "succeeded"}})
			p := wantProblem(t, res, http.StatusConflict, "conflict")
			if d, _ := p["detail"].(string); !strings.Contains(d, "can no longer be paid") {
				t.Errorf("detail %q, want it to say the order can no longer be paid", d)
			}
			wantOrderStatus(t, e, orders.StatusCancelled, co.Orders[0].ID)
			wantStock(t, e, w.lantern, stock)
			if pay := readPayment(t, e, co.Payment.ID); pay.Status != orders.PaymentCancelled {
				t.Errorf("payment %s, want cancelled", pay.Status)
			}
		})
	}

	t.Run("FlashPayPage", func(t *testing.T) {
		e := newTestEnv(t)
		e.runWorkers()
		w := newFlashWorld(t, e, "unpayable-flash")
		id := w.liveSale(t, 1000, 10, 2)
		buyer := w.shopper(t)
		orderID := w.waitOrdered(t, buyer.Token, id, w.win(t, buyer.Token, id, 1))
		o := readOrder(t, e, orderID)
		w.closeFair(t)
		res := e.do(req{Method: "GET", Path: "/api/v1/payments/" + o.PaymentID, Token: buyer.Token})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if p := readPayment(t, e, o.PaymentID); p.ProviderRef != "" || p.Status != orders.PaymentCancelled {
			t.Errorf("payment %s (ref %q), want cancelled and never opened at the provider", p.Status, p.ProviderRef)
		}
		wantOrderStatus(t, e, orders.StatusCancelled, orderID)
		if got := jsonInt(t, w.sale(t, id), "remaining"); got != 10 {
			t.Errorf("remaining %d, want 10 (the unit returned)", got)
		}
	})
}

func TestStripeCaptureAfterFairClosed(t *testing.T) {
	// The fair closed (or a stall was suspended) while the buyer paid on
	// Stripe: the capture is refunded automatically, the orders cancelled.
	for _, c := range []struct {
		name   string
		change func(t *testing.T, w *world)
		why    string
	}{
		{"FairClosed", func(t *testing.T, w *world) { w.closeFair(t) }, "the fair is closed"},
		{"StallSuspended", func(t *testing.T, w *world) { w.suspendStallA(t) }, "the stall is suspended"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newStripeEnv(t)
			w := newShopWorld(t, e, "stripe-closed-"+strings.ToLower(c.name))
			lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
			_, co, orderA, orderB := stripeCheckout(t, w)
			c.change(t, w)
			ev := stripeEvent("evt_closed_"+co.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, co.Payment.ID, "succeeded"))
			for range 2 { // delivered twice: applied once
				res := e.stripeDeliver(ev, stripeTestSecret, time.Now())
				if res.StatusCode != http.StatusOK {
					e.logErrors(t)
					t.Fatalf("capture event: status %d, want 200: %s", res.StatusCode, res.Body)
				}
			}
			for _, id := range []string{orderA, orderB} {
				o := readOrder(t, e, id)
				if o.Status != orders.StatusCancelled || o.Refunded != o.Total || o.RefundPending != 0 {
					t.Errorf("order %s: %s, refunded %d (pending %d) of %d; want cancelled and refunded in full",
						id, o.Status, o.Refunded, o.RefundPending, o.Total)
				}
			}
			var refunds []orders.Refund
			if err := e.srv.DB.NewSelect().Model(&refunds).Where("payment_id = ?", co.Payment.ID).Scan(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(refunds) != 2 {
				t.Errorf("%d refunds, want one per order", len(refunds))
			}
			for _, r := range refunds {
				if r.Status != orders.RefundSucceeded || !strings.HasPrefix(r.ProviderRef, "re_") || !strings.Contains(r.Reason, c.why) {
					t.Errorf("refund %s (Stripe ref %q) %q, want succeeded, saying %q", r.Status, r.ProviderRef, r.Reason, c.why)
				}
			}
			wantStock(t, e, w.lantern, lanterns)
			wantStock(t, e, w.paperCut, cuts)
		})
	}
}
