package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

// The Stripe provider against stripe-mock (TEST_STRIPE_MOCK_URL). stripe-mock
// answers every call with a fixture and never lets a payment succeed, so
// payments are settled the way Stripe settles them in production: through
// signed webhook events built here.

const (
	stripeTestKey    = "sk_test_123"
	stripeTestSecret = "whsec_test"
)

// stripeMockURL is stripe-mock's address; the test is skipped without one.
func stripeMockURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_STRIPE_MOCK_URL")
	if u == "" {
		t.Skip("TEST_STRIPE_MOCK_URL is empty: start stripe-mock to run the Stripe tests")
	}
	return u
}

// newStripeEnv is a server whose payment provider is Stripe (stripe-mock).
func newStripeEnv(t testing.TB) *testEnv {
	t.Helper()
	mock := stripeMockURL(t)
	return newTestEnv(t, func(c *Config) {
		c.PaymentProvider = "stripe"
		c.StripeSecretKey = stripeTestKey
		c.StripeWebhookSecret = stripeTestSecret
		c.StripeAPIBase = mock
	})
}

// stripeEvent is a webhook event of the API version stripe-go expects.
func stripeEvent(id, typ string, object map[string]any) []byte {
	return stripeEventOf(id, typ, stripe.APIVersion, object)
}

func stripeEventOf(id, typ, version string, object map[string]any) []byte {
	raw, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": version, "type": typ, "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return raw
}

// stripeSign returns the Stripe-Signature header of payload.
func stripeSign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// stripeDeliver posts an event signed with secret at the given time.
func (e *testEnv) stripeDeliver(payload []byte, secret string, at time.Time) response {
	e.t.Helper()
	return e.do(req{Method: "POST", Path: "/api/v1/payments/stripe/webhook", Body: string(payload),
		Header: map[string]string{"Stripe-Signature": stripeSign(payload, secret, at)}})
}

// stripeWebhookRequest is a signed delivery for a rush.
func stripeWebhookRequest(payload []byte) *http.Request {
	hr := httptest.NewRequest("POST", "/api/v1/payments/stripe/webhook", strings.NewReader(string(payload)))
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Stripe-Signature", stripeSign(payload, stripeTestSecret, time.Now()))
	return hr
}

// stripeIntentID is the PaymentIntent Stripe made for a payment's Checkout
// Session in these tests: the one recorded, else one named after the payment.
func stripeIntentID(p orders.Payment) string {
	if p.ProviderIntent != "" {
		return p.ProviderIntent
	}
	return "pi_test_" + strings.ToLower(p.ID)
}

// stripeIntent is the PaymentIntent of a payment as Stripe would describe it
// in an event: the intent behind its session and the metadata we set.
func stripeIntent(t testing.TB, e *testEnv, paymentID, status string) map[string]any {
	t.Helper()
	p := readPayment(t, e, paymentID)
	return map[string]any{
		"id": stripeIntentID(p), "object": "payment_intent", "amount": p.Amount, "amount_received": p.Amount,
		"currency": "cny", "status": status, "metadata": map[string]any{"payment_id": p.ID},
	}
}

// stripeSession is a payment's Checkout Session as Stripe describes it in
// an event: its id, the payment id we set and, once the buyer confirmed,
// its PaymentIntent.
func stripeSession(t testing.TB, e *testEnv, paymentID, status, paymentStatus string) map[string]any {
	t.Helper()
	p := readPayment(t, e, paymentID)
	cs := map[string]any{
		"id": p.ProviderRef, "object": "checkout.session", "mode": "payment", "status": status, "payment_status": paymentStatus,
		"amount_total": p.Amount, "currency": "cny", "client_reference_id": p.ID, "url": nil,
		"metadata": map[string]any{"payment_id": p.ID}, "payment_intent": nil,
	}
	if status == "complete" {
		cs["payment_intent"] = stripeIntentID(p)
	}
	return cs
}

// stripeCharge is the charge of a PaymentIntent with the refunds listed;
// payment_intent is the intent's id, as Stripe sends it (not expanded).
func stripeCharge(paymentRef string, refunds ...map[string]any) map[string]any {
	var amount int64
	data := []any{}
	for _, r := range refunds {
		if r["status"] == "succeeded" {
			amount += r["amount"].(int64)
		}
		data = append(data, r)
	}
	return map[string]any{
		"id": "ch_" + paymentRef, "object": "charge", "payment_intent": paymentRef, "currency": "cny",
		"refunded": false, "amount_refunded": amount,
		"refunds": map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/charges/ch_" + paymentRef + "/refunds"},
	}
}

// stripeRefundObject is a refund in a charge's list, carrying our refund id.
func stripeRefundObject(refundID string, amount int64, status string) map[string]any {
	return map[string]any{"id": "re_" + refundID, "object": "refund", "amount": amount, "currency": "cny", "status": status,
		"metadata": map[string]any{"refund_id": refundID}}
}

// stripeUniqueRef gives a payment a Checkout Session (stripeSessionRef) and a
// PaymentIntent of its own, and returns the intent: stripe-mock may hand
// every session the same fixture id, where Stripe never would, and charge
// events find their payment by its intent.
func stripeUniqueRef(t testing.TB, e *testEnv, paymentID string) string {
	t.Helper()
	ref := "pi_test_" + strings.ToLower(paymentID)
	if _, err := e.srv.DB.NewUpdate().Table("payments").Set("provider_ref = ?, provider_intent = ?", stripeSessionRef(paymentID), ref).
		Where("id = ?", paymentID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ref
}

// stripeSessionRef is the Checkout Session stripeUniqueRef gives a payment.
func stripeSessionRef(paymentID string) string { return "cs_test_" + strings.ToLower(paymentID) }

// stripePendingRefund records a refund the way RefundOrder does before asking
// Stripe (the money reserved on the order, the refund pending), as it stands
// when Stripe's answer is lost and only its charge.refunded event tells.
func stripePendingRefund(t testing.TB, e *testEnv, orderID string, amount int64) *orders.Refund {
	t.Helper()
	o := readOrder(t, e, orderID)
	now := e.clock.Now()
	r := &orders.Refund{ID: catalog.NewID(), OrderID: o.ID, PaymentID: o.PaymentID, Amount: amount, Reason: "退款",
		Status: orders.RefundPending, CreatedBy: "test", CreatedAt: now, UpdatedAt: now}
	err := e.srv.DB.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Table("orders").Set("refund_pending = refund_pending + ?", amount).Where("id = ?", o.ID).Exec(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stripeCheckout has a new shopper buy a lantern (stall A) and a paper cut
// (stall B); it returns the shopper, the checkout and the two order ids.
func stripeCheckout(t testing.TB, w *world) (registered, orders.Checkout, string, string) {
	t.Helper()
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 2)
	w.cart(t, buyer.Token, w.paperCut, 1)
	c := w.checkout(t, buyer.Token, nil)
	var a, b string
	for _, o := range c.Orders {
		if o.StallID == w.stallA {
			a = o.ID
		} else {
			b = o.ID
		}
	}
	return buyer, c, a, b
}

func TestStripeWebhookOffWithSandbox(t *testing.T) {
	e := newTestEnv(t)
	payload := stripeEvent("evt_sandbox", "payment_intent.succeeded", map[string]any{"id": "pi_1", "object": "payment_intent"})
	wantProblem(t, e.stripeDeliver(payload, "", time.Now()), http.StatusNotFound, "not_found")
}

func TestStripeCheckout(t *testing.T) {
	e := newStripeEnv(t)
	w := newShopWorld(t, e, "stripe-checkout")
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 1)
	res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "pickup"}})
	wantStatus(t, res, http.StatusCreated)
	c := decodeCheckout(t, res)
	if c.Payment.Provider != "stripe" || c.Payment.Status != "pending" || !strings.HasPrefix(c.Payment.CheckoutURL, "https://") {
		t.Errorf("payment %s, want a pending stripe payment with a checkout_url", res.Body)
	}
	p := readPayment(t, e, c.Payment.ID)
	if !strings.HasPrefix(p.ProviderRef, "cs_") || p.CheckoutURL != c.Payment.CheckoutURL || p.Provider != "stripe" {
		t.Errorf("stored payment: session %q, checkout URL %q, provider %s", p.ProviderRef, p.CheckoutURL, p.Provider)
	}
	// The sandbox cannot settle a Stripe payment.
	res = e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + c.Payment.ID + "/complete", Token: buyer.Token, Body: map[string]any{"outcome": "succeeded"}})
	wantProblem(t, res, http.StatusNotFound, "not_found")
	wantOrderStatus(t, e, orders.StatusPendingPayment, c.Orders[0].ID)
	// Reconciliation asks Stripe (stripe-mock's intent is never paid): nothing settles.
	if n, err := e.srv.Orders.Reconcile(context.Background(), 0); err != nil || n != 0 {
		t.Errorf("reconcile: settled %d, %v; want 0", n, err)
	}
	wantOrderStatus(t, e, orders.StatusPendingPayment, c.Orders[0].ID)
}

func TestStripeWebhook(t *testing.T) {
	// setup is a fresh Stripe server where a shopper checked out two orders,
	// and the signed event of their payment's success, delivered if paid.
	setup := func(t *testing.T, paid bool) (e *testEnv, w *world, c orders.Checkout, orderA, orderB string, succeeded []byte) {
		t.Helper()
		e = newStripeEnv(t)
		w = newShopWorld(t, e, "stripe-webhook")
		_, c, orderA, orderB = stripeCheckout(t, w)
		succeeded = stripeEvent("evt_succeeded_"+c.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
		if paid {
			wantStatus(t, e.stripeDeliver(succeeded, stripeTestSecret, time.Now()), http.StatusOK)
		}
		return e, w, c, orderA, orderB, succeeded
	}
	unchanged := func(t *testing.T, e *testEnv, c orders.Checkout, orderA, orderB string) {
		t.Helper()
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentPending {
			t.Errorf("payment %s, want pending", p.Status)
		}
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
		if n := countRows(t, e, "payment_events", "1 = 1"); n != 0 {
			t.Errorf("%d events recorded", n)
		}
	}

	t.Run("ForgedSignature", func(t *testing.T) {
		e, _, c, orderA, orderB, succeeded := setup(t, false)
		wantProblem(t, e.stripeDeliver(succeeded, "whsec_forged", time.Now()), http.StatusBadRequest, "invalid_signature")
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("NoSignature", func(t *testing.T) {
		e, _, c, orderA, orderB, succeeded := setup(t, false)
		res := e.do(req{Method: "POST", Path: "/api/v1/payments/stripe/webhook", Body: string(succeeded)})
		wantProblem(t, res, http.StatusBadRequest, "invalid_signature")
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("TamperedBody", func(t *testing.T) {
		e, _, c, orderA, orderB, succeeded := setup(t, false)
		other := stripeEvent("evt_other", "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
		res := e.do(req{Method: "POST", Path: "/api/v1/payments/stripe/webhook", Body: string(other),
			Header: map[string]string{"Stripe-Signature": stripeSign(succeeded, stripeTestSecret, time.Now())}})
		wantProblem(t, res, http.StatusBadRequest, "invalid_signature")
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("StaleTimestamp", func(t *testing.T) {
		e, _, c, orderA, orderB, succeeded := setup(t, false)
		res := e.stripeDeliver(succeeded, stripeTestSecret, time.Now().Add(-6*time.Minute))
		wantStatus(t, res, http.StatusBadRequest)
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("WrongAPIVersion", func(t *testing.T) {
		e, _, c, orderA, orderB, _ := setup(t, false)
		old := stripeEventOf("evt_old_"+c.Payment.ID, "payment_intent.succeeded", "2020-08-27", stripeIntent(t, e, c.Payment.ID, "succeeded"))
		wantStatus(t, e.stripeDeliver(old, stripeTestSecret, time.Now()), http.StatusBadRequest)
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("UnknownType", func(t *testing.T) {
		e, _, c, orderA, orderB, _ := setup(t, false)
		ev := stripeEvent("evt_customer", "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
		res := e.stripeDeliver(ev, stripeTestSecret, time.Now())
		wantStatus(t, res, http.StatusOK)
		if res.JSON(t)["received"] != true {
			t.Errorf("answer %s", res.Body)
		}
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("NotOurPayment", func(t *testing.T) {
		e, _, c, orderA, orderB, _ := setup(t, false)
		ev := stripeEvent("evt_stranger", "payment_intent.succeeded", map[string]any{"id": "pi_stranger", "object": "payment_intent", "status": "succeeded",
			"metadata": map[string]any{"payment_id": "not-ours"}})
		wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
		unchanged(t, e, c, orderA, orderB)
	})

	t.Run("Succeeded", func(t *testing.T) {
		e, _, c, orderA, orderB, succeeded := setup(t, false)
		res := e.stripeDeliver(succeeded, stripeTestSecret, time.Now())
		wantStatus(t, res, http.StatusOK)
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentSucceeded {
			t.Errorf("payment %s, want succeeded", p.Status)
		}
		for _, id := range []string{orderA, orderB} {
			if o := readOrder(t, e, id); o.Status != orders.StatusPaid || o.PaidAt == nil {
				t.Errorf("order %s %s paid at %v", id, o.Status, o.PaidAt)
			}
		}
		if n := countRows(t, e, "payment_events", "id = ?", "evt_succeeded_"+c.Payment.ID); n != 1 {
			t.Errorf("%d rows of the event, want 1", n)
		}
	})

	t.Run("LateFailure", func(t *testing.T) {
		e, _, c, orderA, orderB, _ := setup(t, true)
		ev := stripeEvent("evt_failed_"+c.Payment.ID, "payment_intent.payment_failed", stripeIntent(t, e, c.Payment.ID, "requires_payment_method"))
		wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentSucceeded {
			t.Errorf("payment %s after a late failure event, want succeeded", p.Status)
		}
		wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
	})

	t.Run("Failed", func(t *testing.T) {
		e, w, _, _, _, _ := setup(t, false)
		_, c2, a2, _ := stripeCheckout(t, w)
		ev := stripeEvent("evt_failed_"+c2.Payment.ID, "payment_intent.payment_failed", stripeIntent(t, e, c2.Payment.ID, "requires_payment_method"))
		wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
		if p := readPayment(t, e, c2.Payment.ID); p.Status != orders.PaymentFailed {
			t.Errorf("payment %s, want failed", p.Status)
		}
		wantOrderStatus(t, e, orders.StatusPendingPayment, a2)
		// The payer retries and succeeds.
		ok := stripeEvent("evt_ok_"+c2.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c2.Payment.ID, "succeeded"))
		wantStatus(t, e.stripeDeliver(ok, stripeTestSecret, time.Now()), http.StatusOK)
		wantOrderStatus(t, e, orders.StatusPaid, a2)
	})
}

func TestStripeWebhookDuplicates(t *testing.T) {
	e := newStripeEnv(t)
	w := newShopWorld(t, e, "stripe-dupes")
	_, c, orderA, orderB := stripeCheckout(t, w)
	eventID := "evt_dup_" + c.Payment.ID
	payload := stripeEvent(eventID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
	reqs := []*http.Request{stripeWebhookRequest(payload), stripeWebhookRequest(payload), stripeWebhookRequest(payload)}
	for i, r := range e.rush(t, time.Minute, reqs) {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("delivery %d: %d %v %s", i, r.status, r.err, r.body)
		}
	}
	if n := countRows(t, e, "payment_events", "1 = 1"); n != 1 {
		t.Errorf("%d payment_events rows, want 1", n)
	}
	paidAt := map[string]time.Time{}
	for _, id := range []string{orderA, orderB} {
		o := readOrder(t, e, id)
		if o.Status != orders.StatusPaid || o.PaidAt == nil {
			t.Fatalf("order %s %s", id, o.Status)
		}
		paidAt[id] = *o.PaidAt
	}
	// One receipt per order, and no payout: payment releases nothing.
	ins := asynq.NewInspectorFromRedisClient(e.redis.Client)
	payouts, receipts := map[string]int{}, map[string]int{}
	for _, q := range []string{jobs.QueueDefault, jobs.QueueLow} {
		tasks, err := ins.ListPendingTasks(q, asynq.PageSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			var p struct {
				ID      string
				OrderID string `json:"order_id"`
				Event   string
			}
			_ = json.Unmarshal(task.Payload, &p)
			switch {
			case task.Type == jobs.TypeOrderPayout:
				payouts[p.ID]++
			case task.Type == jobs.TypeOrderNotify && p.Event == "paid":
				receipts[p.OrderID]++
			}
		}
	}
	if len(payouts) != 0 {
		t.Errorf("payout tasks %v at payment, want none", payouts)
	}
	if len(receipts) != 2 || receipts[orderA] != 1 || receipts[orderB] != 1 {
		t.Errorf("receipt tasks %v, want one for each of %s and %s", receipts, orderA, orderB)
	}

	// A redelivery later changes nothing either.
	e.clock.Advance(time.Minute)
	wantStatus(t, e.stripeDeliver(payload, stripeTestSecret, time.Now()), http.StatusOK)
	for id, at := range paidAt {
		if o := readOrder(t, e, id); o.PaidAt == nil || !o.PaidAt.Equal(at) || o.Status != orders.StatusPaid {
			t.Errorf("order %s after a redelivery: %s paid at %v, want paid at %v", id, o.Status, o.PaidAt, at)
		}
	}
	if n := countRows(t, e, "payment_events", "1 = 1"); n != 1 {
		t.Errorf("%d payment_events rows after a redelivery, want 1", n)
	}
}

func TestStripeRefundEvents(t *testing.T) {
	e := newStripeEnv(t)
	w := newShopWorld(t, e, "stripe-refunds")
	_, c, orderA, orderB := stripeCheckout(t, w)
	ref := stripeUniqueRef(t, e, c.Payment.ID)
	ok := stripeEvent("evt_ok_"+c.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
	wantStatus(t, e.stripeDeliver(ok, stripeTestSecret, time.Now()), http.StatusOK)

	// A refund made through the API is booked when Stripe answers; its
	// charge.refunded event later does not book it twice.
	res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderA + "/refunds", Token: w.merchA.Token, Body: map[string]any{"amount": 500, "reason": "破损"}})
	wantStatus(t, res, http.StatusCreated)
	apiRefund := res.JSON(t)["id"].(string)
	if r, err := e.srv.Orders.RefundByID(context.Background(), apiRefund); err != nil || r.Status != orders.RefundSucceeded || !strings.HasPrefix(r.ProviderRef, "re_") {
		t.Fatalf("refund %+v %v, want succeeded with Stripe's reference", r, err)
	}

	// A refund whose answer from Stripe was lost is settled by the event.
	total := readOrder(t, e, orderB).Total
	pending := stripePendingRefund(t, e, orderB, total)
	ev := stripeEvent("evt_refunded_"+c.Payment.ID, "charge.refunded", stripeCharge(ref,
		stripeRefundObject(apiRefund, 500, "succeeded"),
		stripeRefundObject(pending.ID, total, "succeeded"),
		stripeRefundObject(catalog.NewID(), 100, "succeeded"), // not ours
	))
	wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
	if r, _ := e.srv.Orders.RefundByID(context.Background(), pending.ID); r == nil || r.Status != orders.RefundSucceeded {
		t.Errorf("pending refund %+v, want succeeded", r)
	}
	b := readOrder(t, e, orderB)
	if b.Status != orders.StatusRefunded || b.Refunded != total || b.RefundPending != 0 {
		t.Errorf("order B %s refunded %d (pending %d), want refunded %d", b.Status, b.Refunded, b.RefundPending, total)
	}
	a := readOrder(t, e, orderA)
	if a.Status != orders.StatusPartiallyRefunded || a.Refunded != 500 || a.RefundPending != 0 {
		t.Errorf("order A %s refunded %d (pending %d), want partially_refunded 500", a.Status, a.Refunded, a.RefundPending)
	}
	// The same event again: nothing more.
	wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
	if b := readOrder(t, e, orderB); b.Refunded != total {
		t.Errorf("order B refunded %d after a redelivery, want %d", b.Refunded, total)
	}

	t.Run("FailedRefundNotBooked", func(t *testing.T) {
		r := stripePendingRefund(t, e, orderA, 300)
		ev := stripeEvent("evt_refund_failed_"+r.ID, "charge.refunded", stripeCharge(ref, stripeRefundObject(r.ID, 300, "failed")))
		wantStatus(t, e.stripeDeliver(ev, stripeTestSecret, time.Now()), http.StatusOK)
		if got, _ := e.srv.Orders.RefundByID(context.Background(), r.ID); got == nil || got.Status == orders.RefundSucceeded {
			t.Errorf("refund Stripe reports failed is %+v", got)
		}
		if a := readOrder(t, e, orderA); a.Refunded != 500 {
			t.Errorf("order A refunded %d, want 500", a.Refunded)
		}
	})
}

func TestStripeEventOrderings(t *testing.T) {
	// payment_intent.succeeded and charge.refunded may arrive in any order,
	// more than once, or at once: the end state is the same.
	e := newStripeEnv(t)
	w := newShopWorld(t, e, "stripe-orderings")
	for _, order := range [][]string{
		{"succeeded", "refunded"},
		{"refunded", "succeeded"},
		{"refunded", "refunded", "succeeded", "succeeded"},
		{"succeeded", "refunded", "succeeded", "refunded"},
		{"together"},
	} {
		t.Run(strings.Join(order, "-"), func(t *testing.T) {
			_, c, orderA, orderB := stripeCheckout(t, w)
			ref := stripeUniqueRef(t, e, c.Payment.ID)
			totalB := readOrder(t, e, orderB).Total
			partial := stripePendingRefund(t, e, orderA, 1000)
			full := stripePendingRefund(t, e, orderB, totalB)
			events := map[string][]byte{
				"succeeded": stripeEvent("evt_s_"+c.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded")),
				"refunded": stripeEvent("evt_r_"+c.Payment.ID, "charge.refunded", stripeCharge(ref,
					stripeRefundObject(partial.ID, 1000, "succeeded"), stripeRefundObject(full.ID, totalB, "succeeded"))),
			}
			for _, name := range order {
				if name == "together" {
					reqs := []*http.Request{stripeWebhookRequest(events["refunded"]), stripeWebhookRequest(events["succeeded"]),
						stripeWebhookRequest(events["refunded"]), stripeWebhookRequest(events["succeeded"])}
					for i, r := range e.rush(t, time.Minute, reqs) {
						if r.err != nil || r.status != http.StatusOK {
							t.Errorf("delivery %d: %d %v %s", i, r.status, r.err, r.body)
						}
					}
					continue
				}
				wantStatus(t, e.stripeDeliver(events[name], stripeTestSecret, time.Now()), http.StatusOK)
			}
			if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentSucceeded {
				t.Errorf("payment %s, want succeeded", p.Status)
			}
			a, b := readOrder(t, e, orderA), readOrder(t, e, orderB)
			if a.Status != orders.StatusPartiallyRefunded || a.Refunded != 1000 || a.RefundPending != 0 || a.PaidAt == nil {
				t.Errorf("order A %s refunded %d (pending %d) paid at %v; want partially_refunded 1000", a.Status, a.Refunded, a.RefundPending, a.PaidAt)
			}
			if b.Status != orders.StatusRefunded || b.Refunded != totalB || b.RefundPending != 0 || b.PaidAt == nil {
				t.Errorf("order B %s refunded %d (pending %d) paid at %v; want refunded %d", b.Status, b.Refunded, b.RefundPending, b.PaidAt, totalB)
			}
			for _, r := range []*orders.Refund{partial, full} {
				if got, _ := e.srv.Orders.RefundByID(context.Background(), r.ID); got == nil || got.Status != orders.RefundSucceeded {
					t.Errorf("refund %s: %+v, want succeeded", r.ID, got)
				}
			}
			if n := countRows(t, e, "payment_events", "id IN (?)", bun.In([]string{"evt_s_" + c.Payment.ID, "evt_r_" + c.Payment.ID})); n != 2 {
				t.Errorf("%d payment_events rows, want 2", n)
			}
			if n := countRows(t, e, "refunds", "payment_id = ?", c.Payment.ID); n != 2 {
				t.Errorf("%d refunds, want the 2 made", n)
			}
		})
	}
}

func TestStripeLateCapture(t *testing.T) {
	// The window closed and the payment was cancelled, then Stripe reports
	// the money captured after all: the stock is already back on sale, so the
	// money goes back to the buyer in full and the orders stay cancelled.
	e := newStripeEnv(t)
	w := newShopWorld(t, e, "stripe-late")
	lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
	_, c, orderA, orderB := stripeCheckout(t, w)
	e.clock.Advance(e.cfg.PaymentWindow + time.Second)
	if _, err := e.srv.Orders.SweepExpired(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	wantOrderStatus(t, e, orders.StatusCancelled, orderA, orderB)
	ev := stripeEvent("evt_late_"+c.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
	res := e.stripeDeliver(ev, stripeTestSecret, time.Now())
	if res.StatusCode != http.StatusOK {
		e.logErrors(t)
		t.Errorf("late capture event: status %d, want 200: %s", res.StatusCode, res.Body)
	}
	for _, id := range []string{orderA, orderB} {
		o := readOrder(t, e, id)
		if o.Status != orders.StatusCancelled || o.Refunded != o.Total || o.RefundPending != 0 {
			t.Errorf("order %s after a late capture: %s, refunded %d (pending %d) of %d; want cancelled and refunded in full",
				id, o.Status, o.Refunded, o.RefundPending, o.Total)
		}
	}
	var refunds []orders.Refund
	if err := e.srv.DB.NewSelect().Model(&refunds).Where("payment_id = ?", c.Payment.ID).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(refunds) != 2 {
		t.Errorf("%d refunds, want one per order", len(refunds))
	}
	for _, r := range refunds {
		if r.Status != orders.RefundSucceeded || !strings.HasPrefix(r.ProviderRef, "re_") {
			t.Errorf("refund of %d for order %s: %s (Stripe ref %q), want succeeded", r.Amount, r.OrderID, r.Status, r.ProviderRef)
		}
	}
	wantStock(t, e, w.lantern, lanterns)
	wantStock(t, e, w.paperCut, cuts)
}

// stripeFailingProxy stands between the app and stripe-mock and answers
// Stripe's error for the calls fail picks ("METHOD /path").
func stripeFailingProxy(t testing.TB, mock string, fail func(call string) bool) string {
	t.Helper()
	target, err := url.Parse(mock)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail(r.Method + " " + r.URL.Path) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state",`+
				`"message":"You cannot cancel this PaymentIntent because it has a status of processing."}}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStripeSweepSkipsFailures(t *testing.T) {
	// The sweep is the safety net for lost expiry tasks: one payment Stripe
	// will not cancel (yet) must not keep every later one open.
	var failing sync.Map
	proxy := stripeFailingProxy(t, stripeMockURL(t), func(call string) bool { _, ok := failing.Load(call); return ok })
	e := newTestEnv(t, func(c *Config) {
		c.PaymentProvider, c.StripeSecretKey, c.StripeWebhookSecret, c.StripeAPIBase = "stripe", stripeTestKey, stripeTestSecret, proxy
	})
	w := newShopWorld(t, e, "stripe-sweep")
	_, stuck, stuckA, _ := stripeCheckout(t, w)
	e.clock.Advance(time.Second)
	_, due, dueA, dueB := stripeCheckout(t, w)
	stripeUniqueRef(t, e, stuck.Payment.ID)
	stripeUniqueRef(t, e, due.Payment.ID)
	stuckSession := "POST /v1/checkout/sessions/" + stripeSessionRef(stuck.Payment.ID) + "/expire"
	failing.Store(stuckSession, true)
	e.clock.Advance(e.cfg.PaymentWindow + time.Second)

	n, err := e.srv.Orders.SweepExpired(context.Background(), 100)
	t.Logf("sweep closed %d: %v", n, err)
	wantOrderStatus(t, e, orders.StatusPendingPayment, stuckA)
	wantOrderStatus(t, e, orders.StatusCancelled, dueA, dueB)
	// Once Stripe lets go, the next sweep closes the other one.
	failing.Delete(stuckSession)
	if _, err := e.srv.Orders.SweepExpired(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	wantOrderStatus(t, e, orders.StatusCancelled, stuckA)
}

func TestStripeProviderCalls(t *testing.T) {
	// Every call the app makes to Stripe, against stripe-mock: PaymentIntents
	// (create, cancel, retrieve), Refunds, Transfers, TransferReversals,
	// Accounts and AccountLinks.
	ctx := context.Background()
	// setup is a fresh Stripe server with workers, where stall A has a
	// connected account and a shopper has paid order A (stall A) and order B.
	setup := func(t *testing.T) (e *testEnv, w *world, orderA, orderB string, a orders.Order) {
		t.Helper()
		e = newStripeEnv(t)
		w = newShopWorld(t, e, "stripe-calls")
		if _, err := e.srv.DB.NewUpdate().Table("stalls").Set("stripe_account_id = ?", "acct_1TestLanterns").Where("id = ?", w.stallA).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		e.runWorkers()
		_, c, orderA, orderB := stripeCheckout(t, w)
		ok := stripeEvent("evt_ok_"+c.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
		wantStatus(t, e.stripeDeliver(ok, stripeTestSecret, time.Now()), http.StatusOK)
		// Both are picked up at the booth, which releases their payouts.
		e.redeemOrder(t, w.merchA.Token, orderA)
		e.redeemOrder(t, w.merchB.Token, orderB)
		return e, w, orderA, orderB, readOrder(t, e, orderA)
	}
	// paidOut waits for the transfer of stall A's share of order A.
	paidOut := func(t *testing.T, e *testEnv, w *world, orderA string, a orders.Order) {
		t.Helper()
		eventually(t, 20*time.Second, func() error {
			var tr orders.Transfer
			if err := e.srv.DB.NewSelect().Model(&tr).Where("order_id = ?", orderA).Scan(ctx); err != nil {
				return err
			}
			if !strings.HasPrefix(tr.ProviderRef, "tr_") || tr.Amount != a.MerchantShare || tr.StallID != w.stallA {
				return fmt.Errorf("transfer %+v, want %d to stall A with Stripe's reference", tr, a.MerchantShare)
			}
			return nil
		})
	}

	t.Run("Payout", func(t *testing.T) {
		e, w, orderA, orderB, a := setup(t)
		paidOut(t, e, w, orderA, a)
		// Stall B has no connected account yet: nothing is paid out.
		if err := e.srv.Orders.Payout(ctx, orderB); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, e, "transfers", "order_id = ?", orderB); n != 0 {
			t.Errorf("%d transfers to a stall without an account", n)
		}
	})

	t.Run("RefundAndReversal", func(t *testing.T) {
		e, w, orderA, _, a := setup(t)
		paidOut(t, e, w, orderA, a)
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderA + "/refunds", Token: w.merchA.Token, Body: map[string]any{"amount": 1000, "reason": "破损"}})
		wantStatus(t, res, http.StatusCreated)
		r, err := e.srv.Orders.RefundByID(ctx, res.JSON(t)["id"].(string))
		if err != nil || r.Status != orders.RefundSucceeded || !strings.HasPrefix(r.ProviderRef, "re_") {
			t.Fatalf("refund %+v %v", r, err)
		}
		want := orders.Split(1000, []int64{a.MerchantShare, a.PlatformFee})[0]
		eventually(t, 20*time.Second, func() error {
			var tr orders.Transfer
			if err := e.srv.DB.NewSelect().Model(&tr).Where("order_id = ?", orderA).Scan(ctx); err != nil {
				return err
			}
			if tr.Reversed != want {
				return fmt.Errorf("reversed %d, want %d", tr.Reversed, want)
			}
			return nil
		})
	})

	t.Run("OnboardingLink", func(t *testing.T) {
		e, w, _, orderB, _ := setup(t)
		merchB := catalog.Actor{UserID: w.merchB.ID, Role: catalog.RoleMerchant}
		url, err := e.srv.Orders.PayoutAccountLink(ctx, merchB, w.stallB, "https://miaohui.example/merchant")
		if err != nil || url == "" {
			t.Fatalf("onboarding link %q, %v", url, err)
		}
		var acct string
		if err := e.srv.DB.NewSelect().Table("stalls").Column("stripe_account_id").Where("id = ?", w.stallB).Scan(ctx, &acct); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(acct, "acct_") {
			t.Fatalf("stall B's account %q", acct)
		}
		// The account is created once; the API gives a new link to it.
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallB + "/payout-account", Token: w.merchB.Token, Body: map[string]any{"return_url": "https://miaohui.example/merchant"}})
		wantStatus(t, res, http.StatusOK)
		if res.JSON(t)["url"] == "" {
			t.Errorf("no url: %s", res.Body)
		}
		var again string
		if err := e.srv.DB.NewSelect().Table("stalls").Column("stripe_account_id").Where("id = ?", w.stallB).Scan(ctx, &again); err != nil {
			t.Fatal(err)
		}
		if again != acct {
			t.Errorf("account changed from %s to %s", acct, again)
		}
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallB + "/payout-account", Token: w.merchA.Token, Body: map[string]any{"return_url": "https://miaohui.example/merchant"}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
		// Stall B's redeemed order, owed since, is paid out now that it
		// has an account: connecting it queued the payout.
		eventually(t, 20*time.Second, func() error {
			var tr orders.Transfer
			if err := e.srv.DB.NewSelect().Model(&tr).Where("order_id = ?", orderB).Scan(ctx); err != nil || !strings.HasPrefix(tr.ProviderRef, "tr_") {
				return fmt.Errorf("transfer to stall B %+v %v", tr, err)
			}
			return nil
		})
	})

	t.Run("Cancel", func(t *testing.T) {
		e, w, _, _, _ := setup(t)
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 1)
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + c.Orders[0].ID + "/cancel", Token: buyer.Token})
		wantStatus(t, res, http.StatusOK)
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentCancelled {
			t.Errorf("payment %s, want cancelled", p.Status)
		}
		wantStock(t, e, w.lantern, lanterns)
	})

	t.Run("Expiry", func(t *testing.T) {
		e, w, _, _, _ := setup(t)
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 2)
		e.clock.Advance(e.cfg.PaymentWindow + time.Second)
		if _, err := e.srv.Orders.SweepExpired(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentCancelled {
			t.Errorf("payment %s, want cancelled", p.Status)
		}
		wantOrderStatus(t, e, orders.StatusCancelled, c.Orders[0].ID)
		wantStock(t, e, w.lantern, lanterns)
	})
}

// stripeRecorder records the requests sent to Stripe and passes them on.
type stripeRecorder struct {
	mu    sync.Mutex
	calls []stripeCall
}

type stripeCall struct {
	method, path, key string
	status            int
	form              url.Values // the parameters sent
}

func (r *stripeRecorder) RoundTrip(hr *http.Request) (*http.Response, error) {
	call := stripeCall{method: hr.Method, path: hr.URL.Path, key: hr.Header.Get("Idempotency-Key"), form: hr.URL.Query()}
	if hr.Body != nil {
		raw, err := io.ReadAll(hr.Body)
		if err != nil {
			return nil, err
		}
		hr.Body = io.NopCloser(strings.NewReader(string(raw)))
		if form, err := url.ParseQuery(string(raw)); err == nil && len(form) > 0 {
			call.form = form
		}
	}
	res, err := http.DefaultTransport.RoundTrip(hr)
	if err == nil {
		call.status = res.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	return res, err
}

// take returns the calls recorded since the last take.
func (r *stripeRecorder) take() []stripeCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func TestStripeIdempotencyKeys(t *testing.T) {
	// A retry of any money movement (after a crash, a timeout) sends Stripe
	// the same Idempotency-Key, derived from our own row's id; another row
	// gets another key.
	mock := stripeMockURL(t)
	rec := &stripeRecorder{}
	// A fixed clock: a session's key names the 5-minute period it is opened in.
	clock := func() time.Time { return time.Date(2026, 12, 3, 12, 2, 0, 0, time.UTC) }
	p := orders.NewStripe(orders.StripeConfig{SecretKey: stripeTestKey, APIBase: mock, HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second}, Now: clock})
	ctx := context.Background()
	// keys runs call twice (a retry) and once for another row and checks the keys.
	keys := func(t *testing.T, method, pathPrefix, id, otherID string, call func(id string) error) {
		t.Helper()
		for _, x := range []string{id, id, otherID} {
			if err := call(x); err != nil {
				t.Fatalf("call for %s: %v", x, err)
			}
		}
		calls := rec.take()
		if len(calls) != 3 {
			t.Fatalf("%d requests to Stripe, want 3: %+v", len(calls), calls)
		}
		for _, c := range calls {
			if c.method != method || !strings.HasPrefix(c.path, pathPrefix) || c.status != http.StatusOK {
				t.Errorf("request %s %s → %d, want %s %s… → 200", c.method, c.path, c.status, method, pathPrefix)
			}
		}
		k1, k2, k3 := calls[0].key, calls[1].key, calls[2].key
		if k1 == "" || k1 != k2 {
			t.Errorf("retry keys %q and %q, want the same", k1, k2)
		}
		if !strings.Contains(k1, id) || !strings.Contains(k3, otherID) {
			t.Errorf("keys %q and %q are not derived from the ids %s and %s", k1, k3, id, otherID)
		}
		if k3 == k1 {
			t.Errorf("two rows share the key %q", k1)
		}
	}
	pay := func(id string) *orders.Payment {
		return &orders.Payment{ID: id, Amount: 2500, Currency: "CNY", Provider: "stripe", Status: orders.PaymentPending}
	}
	payID, otherPayID := catalog.NewID(), catalog.NewID()
	// sessionOf starts payID's Checkout Session and returns its reference.
	sessionOf := func(t *testing.T) string {
		t.Helper()
		op, err := p.Start(ctx, pay(payID))
		if err != nil {
			t.Fatal(err)
		}
		rec.take()
		return op.Ref
	}
	// transferOf pays out an order and returns the transfer's reference.
	transferOf := func(t *testing.T) string {
		t.Helper()
		ref, err := p.Payout(ctx, &orders.Order{ID: catalog.NewID(), PaymentID: payID, MerchantShare: 2375}, 2375, "acct_1TestLanterns")
		if err != nil {
			t.Fatal(err)
		}
		rec.take()
		return ref
	}

	t.Run("CheckoutSession", func(t *testing.T) {
		keys(t, "POST", "/v1/checkout/sessions", payID, otherPayID, func(id string) error {
			op, err := p.Start(ctx, pay(id))
			if err == nil && (!strings.HasPrefix(op.Ref, "cs_") || op.CheckoutURL == "") {
				err = fmt.Errorf("session %q, checkout URL %q", op.Ref, op.CheckoutURL)
			}
			return err
		})
		// A session that replaces an expired one has a key of its own.
		again := pay(payID)
		again.ProviderAttempt = 1
		if _, err := p.Start(ctx, again); err != nil {
			t.Fatal(err)
		}
		calls := rec.take()
		if len(calls) != 1 || calls[0].key != "cs-"+payID+"-1-20261203T1200" {
			t.Errorf("a second session's requests %+v, want one with the key cs-%s-1-20261203T1200", calls, payID)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		session := sessionOf(t)
		keys(t, "POST", "/v1/checkout/sessions/", payID, otherPayID, func(id string) error {
			pp := pay(id)
			pp.ProviderRef = session
			return p.Cancel(ctx, pp)
		})
	})

	t.Run("Refund", func(t *testing.T) {
		pp := pay(payID)
		pp.ProviderRef, pp.ProviderIntent = sessionOf(t), "pi_test_"+strings.ToLower(payID)
		refundID, otherRefundID := catalog.NewID(), catalog.NewID()
		keys(t, "POST", "/v1/refunds", refundID, otherRefundID, func(id string) error {
			ref, err := p.Refund(ctx, pp, &orders.Refund{ID: id, OrderID: "order-1", PaymentID: payID, Amount: 500})
			if err == nil && !strings.HasPrefix(ref, "re_") {
				err = fmt.Errorf("refund reference %q", ref)
			}
			return err
		})
	})

	t.Run("Payout", func(t *testing.T) {
		orderID, otherOrderID := catalog.NewID(), catalog.NewID()
		keys(t, "POST", "/v1/transfers", orderID, otherOrderID, func(id string) error {
			ref, err := p.Payout(ctx, &orders.Order{ID: id, PaymentID: payID, MerchantShare: 2375}, 2375, "acct_1TestLanterns")
			if err == nil && !strings.HasPrefix(ref, "tr_") {
				err = fmt.Errorf("transfer reference %q", ref)
			}
			return err
		})
	})

	t.Run("ReversePayout", func(t *testing.T) {
		// The service names a reversal by the order and the total reversed
		// after it, so a retry repeats the key and the next reversal does not.
		transfer := transferOf(t)
		orderID := catalog.NewID()
		keys(t, "POST", "/v1/transfers/", orderID+"-475", orderID+"-950", func(key string) error {
			return p.ReversePayout(ctx, &orders.Transfer{OrderID: orderID, ProviderRef: transfer, Amount: 2375}, 475, key)
		})
	})
}
