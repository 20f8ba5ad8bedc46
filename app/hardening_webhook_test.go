package app

import (
	"net/http"
	"testing"
	"time"

	"miaohui/orders"
)

func TestStripeWebhookFutureTimestamp(t *testing.T) {
	e := newStripeEnv(t)
	w := newShopWorld(t, e, "stripe-future")
	_, co, orderA, orderB := stripeCheckout(t, w)
	ev := stripeEvent("evt_future_"+co.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, co.Payment.ID, "succeeded"))
	wantProblem(t, e.stripeDeliver(ev, stripeTestSecret, time.Now().Add(time.Hour)), http.StatusBadRequest, "invalid_signature")
	if p := readPayment(t, e, co.Payment.ID); p.Status != orders.PaymentPending {
		t.Errorf("payment %s, want pending", p.Status)
	}
	wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
	if n := countRows(t, e, "payment_events", "1 = 1"); n != 0 {
		t.Errorf("%d events recorded, want none", n)
	}
	// Signed now, the same event is applied.
	wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
	wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
}
