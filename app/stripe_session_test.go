package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"miaohui/orders"
)

// Stripe Checkout: the payment is a Checkout Session whose page the buyer is
// sent to; its events settle the payment. Run against stripe-mock
// (TEST_STRIPE_MOCK_URL) through stripeProxy, which records what the app
// asks Stripe and can answer for Stripe.

// stripeProxy stands between the app and stripe-mock: it records every call
// and answers itself for the calls its answer func picks.
type stripeProxy struct {
	URL string

	mu     sync.Mutex
	calls  []stripeProxyCall
	answer func(call string) (status int, body string) // status 0: pass the call on
}

// stripeProxyCall is one request to Stripe: "METHOD /path", its
// Idempotency-Key and its parameters.
type stripeProxyCall struct {
	call, key string
	form      url.Values
}

func newStripeProxy(t testing.TB, mock string) *stripeProxy {
	t.Helper()
	target, err := url.Parse(mock)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	px := &stripeProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(raw)))
		form, _ := url.ParseQuery(string(raw))
		call := r.Method + " " + r.URL.Path
		px.mu.Lock()
		px.calls = append(px.calls, stripeProxyCall{call: call, key: r.Header.Get("Idempotency-Key"), form: form})
		answer := px.answer
		px.mu.Unlock()
		if answer != nil {
			if status, body := answer(call); status != 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	px.URL = srv.URL
	return px
}

// answerWith makes the proxy answer the calls fn picks (0: pass on).
func (px *stripeProxy) answerWith(fn func(call string) (int, string)) {
	px.mu.Lock()
	px.answer = fn
	px.mu.Unlock()
}

// take returns the calls recorded since the last take that start with prefix.
func (px *stripeProxy) take(prefix string) []stripeProxyCall {
	px.mu.Lock()
	defer px.mu.Unlock()
	var out []stripeProxyCall
	for _, c := range px.calls {
		if strings.HasPrefix(c.call, prefix) {
			out = append(out, c)
		}
	}
	px.calls = nil
	return out
}

// stripeErrorBody is an error as Stripe answers it, with words of its own
// that must never reach a client.
const stripeErrorBody = `{"error":{"type":"api_error","code":"resource_missing",` +
	`"message":"Stripe internal: sk_live_SECRET account acct_1Internal could not create the Checkout Session."}}`

// newStripeSessionEnv is a Stripe server talking to stripe-mock through a
// recording proxy, known to buyers as https://fair.example.com.
func newStripeSessionEnv(t testing.TB) (*testEnv, *stripeProxy) {
	t.Helper()
	px := newStripeProxy(t, stripeMockURL(t))
	e := newTestEnv(t, func(c *Config) {
		c.PaymentProvider, c.StripeSecretKey, c.StripeWebhookSecret, c.StripeAPIBase = "stripe", stripeTestKey, stripeTestSecret, px.URL
		c.PublicURL = "https://fair.example.com"
	})
	return e, px
}

// wantNoProviderText fails when a client's answer shows anything of the
// provider's own: its message, its address, the network's errors.
func wantNoProviderText(t testing.TB, res response, extra ...string) {
	t.Helper()
	body := strings.ToLower(string(res.Body))
	for _, s := range append([]string{"stripe", "sk_live", "acct_", "checkout session", "/v1/", "127.0.0.1", "connection refused", "dial tcp"}, extra...) {
		if strings.Contains(body, strings.ToLower(s)) {
			t.Errorf("the answer shows %q: %s", s, res.Body)
		}
	}
}

func TestStripeCheckoutSession(t *testing.T) {
	// From the cart to Stripe Checkout: two stalls, two orders, one payment
	// opened as one Checkout Session; its completion pays every order.
	e, px := newStripeSessionEnv(t)
	w := newShopWorld(t, e, "stripe-session")
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 2)
	w.cart(t, buyer.Token, w.paperCut, 1)
	px.take("")
	before := time.Now()
	res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "pickup"}})
	wantStatus(t, res, http.StatusCreated)
	c := decodeCheckout(t, res)
	payID := c.Payment.ID
	if len(c.Orders) != 2 || c.Orders[0].StallID == c.Orders[1].StallID {
		t.Fatalf("%d orders, want one for each of two stalls: %s", len(c.Orders), res.Body)
	}
	payment, _ := res.JSON(t)["payment"].(map[string]any)
	checkoutURL, _ := payment["checkout_url"].(string)
	if !strings.HasPrefix(checkoutURL, "https://") || payment["provider"] != "stripe" || payment["status"] != "pending" {
		t.Errorf("payment %v, want a pending stripe payment with a checkout_url", payment)
	}
	if _, has := payment["client_secret"]; has {
		t.Errorf("payment %v has a client_secret; a Checkout Session needs none", payment)
	}
	stored := readPayment(t, e, payID)
	if !strings.HasPrefix(stored.ProviderRef, "cs_") || stored.CheckoutURL != checkoutURL || stored.ProviderAttempt != 0 {
		t.Errorf("stored payment: session %q, checkout URL %q (answered %q), attempt %d", stored.ProviderRef, stored.CheckoutURL, checkoutURL, stored.ProviderAttempt)
	}

	// What Stripe was asked.
	calls := px.take("POST /v1/checkout/sessions")
	if len(calls) != 1 {
		t.Fatalf("%d session requests, want 1: %+v", len(calls), calls)
	}
	// The key: the payment, and the 5-minute period the session is opened in.
	keyAt := func(at time.Time) string {
		return "cs-" + payID + "-" + at.UTC().Truncate(5*time.Minute).Format("20060102T1504")
	}
	if k := calls[0].key; k != keyAt(before) && k != keyAt(time.Now()) {
		t.Errorf("Idempotency-Key %q, want %s", k, keyAt(before))
	}
	f := calls[0].form
	for k, want := range map[string]string{
		"mode":                                          "payment",
		"line_items[0][quantity]":                       "1",
		"line_items[0][price_data][currency]":           "cny",
		"line_items[0][price_data][unit_amount]":        strconv.FormatInt(c.Total, 10),
		"line_items[0][price_data][product_data][name]": "庙会订单 " + payID,
		"payment_method_types[0]":                       "card",
		"payment_method_types[1]":                       "alipay",
		"payment_method_types[2]":                       "wechat_pay",
		"payment_method_options[wechat_pay][client]":    "web",
		"client_reference_id":                           payID,
		"metadata[payment_id]":                          payID,
		"payment_intent_data[transfer_group]":           payID,
		"payment_intent_data[metadata][payment_id]":     payID,
		"success_url":                                   "https://fair.example.com/orders?paid=" + payID,
		"cancel_url":                                    "https://fair.example.com/pay/" + payID + "?back=1",
		// Separate charges and transfers: no destination charge.
		"payment_intent_data[application_fee_amount]":     "",
		"payment_intent_data[transfer_data][destination]": "",
		"payment_method_types[3]":                         "",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The window is 15 minutes; Stripe wants at least 30: the session
	// lives a little over 30 minutes, and the payment's expiry closes it.
	exp, err := strconv.ParseInt(f.Get("expires_at"), 10, 64)
	if at := time.Unix(exp, 0); err != nil || at.Before(time.Now().Add(31*time.Minute)) || at.After(before.Add(38*time.Minute)) {
		t.Errorf("expires_at %q, want 31 to 38 minutes from now", f.Get("expires_at"))
	}

	// The payer's payment endpoint gives the same page.
	res = e.do(req{Method: "GET", Path: "/api/v1/payments/" + payID, Token: buyer.Token})
	wantStatus(t, res, http.StatusOK)
	if got := res.JSON(t)["payment"].(map[string]any)["checkout_url"]; got != checkoutURL {
		t.Errorf("GET payment: checkout_url %v, want %s", got, checkoutURL)
	}
	if n := len(px.take("POST /v1/checkout/sessions")); n != 0 {
		t.Errorf("reading the payment opened %d more sessions", n)
	}

	// Stripe says the session was completed and paid: every order is paid.
	done := stripeEvent("evt_cs_done_"+payID, "checkout.session.completed", stripeSession(t, e, payID, "complete", "paid"))
	wantStatus(t, e.stripeDeliver(done, stripeTestSecret, time.Now()), http.StatusOK)
	p := readPayment(t, e, payID)
	if p.Status != orders.PaymentSucceeded || p.ProviderIntent != "pi_test_"+strings.ToLower(payID) {
		t.Errorf("payment %s, intent %q; want succeeded with the session's intent", p.Status, p.ProviderIntent)
	}
	paidAt := map[string]time.Time{}
	for _, o := range c.Orders {
		got := readOrder(t, e, o.ID)
		if got.Status != orders.StatusPaid || got.PaidAt == nil {
			t.Fatalf("order %s: %s paid at %v, want paid", o.ID, got.Status, got.PaidAt)
		}
		paidAt[o.ID] = *got.PaidAt
	}
	if n := countRows(t, e, "payment_events", "id = ?", "evt_cs_done_"+payID); n != 1 {
		t.Errorf("%d rows of the event, want 1", n)
	}

	// A redelivery, later, changes nothing.
	e.clock.Advance(time.Minute)
	wantStatus(t, e.stripeDeliver(done, stripeTestSecret, time.Now()), http.StatusOK)
	for id, at := range paidAt {
		if o := readOrder(t, e, id); o.Status != orders.StatusPaid || o.PaidAt == nil || !o.PaidAt.Equal(at) {
			t.Errorf("order %s after a redelivery: %s paid at %v, want paid at %v", id, o.Status, o.PaidAt, at)
		}
	}
	if n := countRows(t, e, "payment_events", "1 = 1"); n != 1 {
		t.Errorf("%d payment_events rows after a redelivery, want 1", n)
	}

	// A refund goes to the session's PaymentIntent.
	orderA := c.Orders[0].ID
	if c.Orders[0].StallID != w.stallA {
		orderA = c.Orders[1].ID
	}
	px.take("")
	res = e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderA + "/refunds", Token: w.merchA.Token, Body: map[string]any{"amount": 500, "reason": "破损"}})
	wantStatus(t, res, http.StatusCreated)
	if r, err := e.srv.Orders.RefundByID(context.Background(), res.JSON(t)["id"].(string)); err != nil || r.Status != orders.RefundSucceeded {
		t.Errorf("refund %+v %v, want succeeded", r, err)
	}
	refunds := px.take("POST /v1/refunds")
	if len(refunds) != 1 || refunds[0].form.Get("payment_intent") != p.ProviderIntent || refunds[0].form.Get("amount") != "500" {
		t.Errorf("refund requests %+v, want one of 500 against %s", refunds, p.ProviderIntent)
	}
}

func TestStripeSessionEvents(t *testing.T) {
	// setup is a fresh Stripe server where a shopper checked out two orders
	// (stalls A and B) as one payment, opened as a Checkout Session.
	setup := func(t *testing.T) (*testEnv, *stripeProxy, *world, orders.Checkout, string, string) {
		t.Helper()
		e, px := newStripeSessionEnv(t)
		w := newShopWorld(t, e, "stripe-session-events")
		buyer, c, orderA, orderB := stripeCheckout(t, w)
		_ = buyer
		px.take("")
		return e, px, w, c, orderA, orderB
	}
	deliver := func(t *testing.T, e *testEnv, id, typ string, session map[string]any) {
		t.Helper()
		wantStatus(t, e.stripeDeliver(stripeEvent(id, typ, session), stripeTestSecret, time.Now()), http.StatusOK)
	}
	wantPayment := func(t *testing.T, e *testEnv, id, status string) orders.Payment {
		t.Helper()
		p := readPayment(t, e, id)
		if p.Status != status {
			t.Errorf("payment %s, want %s", p.Status, status)
		}
		return p
	}
	// reopen has the payer come back to the payment and checks that a new
	// session was opened under the next attempt's key.
	reopen := func(t *testing.T, e *testEnv, px *stripeProxy, c orders.Checkout, buyerToken string, attempt int) {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/payments/" + c.Payment.ID, Token: buyerToken})
		wantStatus(t, res, http.StatusOK)
		url, _ := res.JSON(t)["payment"].(map[string]any)["checkout_url"].(string)
		p := readPayment(t, e, c.Payment.ID)
		if url == "" || p.CheckoutURL != url || !strings.HasPrefix(p.ProviderRef, "cs_") || p.ProviderAttempt != attempt {
			t.Errorf("after coming back: checkout_url %q, stored %q, session %q, attempt %d (want %d)", url, p.CheckoutURL, p.ProviderRef, p.ProviderAttempt, attempt)
		}
		calls := px.take("POST /v1/checkout/sessions")
		if want := fmt.Sprintf("cs-%s-%d-", c.Payment.ID, attempt); len(calls) != 1 || !strings.HasPrefix(calls[0].key, want) {
			t.Errorf("session requests %+v, want one with a key %s…", calls, want)
		}
	}
	buyerOf := func(t *testing.T, e *testEnv, c orders.Checkout) string {
		t.Helper()
		var email string
		if err := e.srv.DB.NewSelect().Table("users").Column("email").Where("id = (SELECT buyer_id FROM payments WHERE id = ?)", c.Payment.ID).
			Scan(context.Background(), &email); err != nil {
			t.Fatal(err)
		}
		return e.login(t, email)
	}

	t.Run("AsyncSucceeded", func(t *testing.T) {
		e, _, _, c, orderA, orderB := setup(t)
		// Completed but not yet paid: the orders wait.
		deliver(t, e, "evt_unpaid_"+c.Payment.ID, "checkout.session.completed", stripeSession(t, e, c.Payment.ID, "complete", "unpaid"))
		wantPayment(t, e, c.Payment.ID, orders.PaymentPending)
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
		deliver(t, e, "evt_async_ok_"+c.Payment.ID, "checkout.session.async_payment_succeeded", stripeSession(t, e, c.Payment.ID, "complete", "paid"))
		wantPayment(t, e, c.Payment.ID, orders.PaymentSucceeded)
		wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
	})

	t.Run("AsyncFailed", func(t *testing.T) {
		e, px, _, c, orderA, orderB := setup(t)
		session := stripeSessionRef(c.Payment.ID)
		stripeUniqueRef(t, e, c.Payment.ID)
		deliver(t, e, "evt_unpaid_"+c.Payment.ID, "checkout.session.completed", stripeSession(t, e, c.Payment.ID, "complete", "unpaid"))
		failed := stripeSession(t, e, c.Payment.ID, "complete", "unpaid")
		deliver(t, e, "evt_async_failed_"+c.Payment.ID, "checkout.session.async_payment_failed", failed)
		p := wantPayment(t, e, c.Payment.ID, orders.PaymentFailed)
		if p.ProviderRef != "" || p.CheckoutURL != "" || p.ProviderAttempt != 1 {
			t.Errorf("after the failure: session %q, checkout URL %q, attempt %d; want the session forgotten", p.ProviderRef, p.CheckoutURL, p.ProviderAttempt)
		}
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
		// The payer comes back: a new session, under a new key.
		reopen(t, e, px, c, buyerOf(t, e, c), 1)
		// The failure again (a redelivery) leaves the new session alone.
		deliver(t, e, "evt_async_failed_"+c.Payment.ID, "checkout.session.async_payment_failed", failed)
		if p := readPayment(t, e, c.Payment.ID); p.ProviderRef == "" || p.ProviderRef == session || p.ProviderAttempt != 1 {
			t.Errorf("after a redelivery: session %q, attempt %d", p.ProviderRef, p.ProviderAttempt)
		}
		// The new session is paid.
		deliver(t, e, "evt_done_"+c.Payment.ID, "checkout.session.completed", stripeSession(t, e, c.Payment.ID, "complete", "paid"))
		wantPayment(t, e, c.Payment.ID, orders.PaymentSucceeded)
		wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
	})

	t.Run("ExpiredWhileTheWindowLasts", func(t *testing.T) {
		e, px, _, c, orderA, orderB := setup(t)
		stripeUniqueRef(t, e, c.Payment.ID)
		expired := stripeSession(t, e, c.Payment.ID, "expired", "unpaid")
		deliver(t, e, "evt_expired_"+c.Payment.ID, "checkout.session.expired", expired)
		p := wantPayment(t, e, c.Payment.ID, orders.PaymentPending)
		if p.ProviderRef != "" || p.CheckoutURL != "" || p.ProviderAttempt != 1 {
			t.Errorf("after the expiry: session %q, checkout URL %q, attempt %d; want the session forgotten", p.ProviderRef, p.CheckoutURL, p.ProviderAttempt)
		}
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
		reopen(t, e, px, c, buyerOf(t, e, c), 1)
		// The old session's expiry, told again under another event id,
		// leaves the new session alone.
		deliver(t, e, "evt_expired_again_"+c.Payment.ID, "checkout.session.expired", expired)
		if p := readPayment(t, e, c.Payment.ID); p.ProviderRef == "" || p.ProviderAttempt != 1 || p.Status != orders.PaymentPending {
			t.Errorf("after the old session's expiry again: %s, session %q, attempt %d", p.Status, p.ProviderRef, p.ProviderAttempt)
		}
	})

	t.Run("ExpiredAfterTheWindow", func(t *testing.T) {
		e, _, w, c, orderA, orderB := setup(t)
		lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
		e.clock.Advance(e.cfg.PaymentWindow + time.Second)
		deliver(t, e, "evt_expired_"+c.Payment.ID, "checkout.session.expired", stripeSession(t, e, c.Payment.ID, "expired", "unpaid"))
		wantPayment(t, e, c.Payment.ID, orders.PaymentCancelled)
		wantOrderStatus(t, e, orders.StatusCancelled, orderA, orderB)
		wantStock(t, e, w.lantern, lanterns+2)
		wantStock(t, e, w.paperCut, cuts+1)
		// Told twice, the stock comes back once.
		deliver(t, e, "evt_expired_"+c.Payment.ID, "checkout.session.expired", stripeSession(t, e, c.Payment.ID, "expired", "unpaid"))
		wantStock(t, e, w.lantern, lanterns+2)
	})

	t.Run("ExpiredAfterPaid", func(t *testing.T) {
		e, _, _, c, orderA, orderB := setup(t)
		deliver(t, e, "evt_done_"+c.Payment.ID, "checkout.session.completed", stripeSession(t, e, c.Payment.ID, "complete", "paid"))
		deliver(t, e, "evt_expired_"+c.Payment.ID, "checkout.session.expired", stripeSession(t, e, c.Payment.ID, "expired", "unpaid"))
		p := wantPayment(t, e, c.Payment.ID, orders.PaymentSucceeded)
		if p.ProviderRef == "" {
			t.Error("a paid payment forgot its session")
		}
		wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
	})

	t.Run("NotOurs", func(t *testing.T) {
		e, _, _, c, orderA, orderB := setup(t)
		stranger := map[string]any{"id": "cs_test_stranger", "object": "checkout.session", "mode": "payment", "status": "complete",
			"payment_status": "paid", "client_reference_id": "not-ours", "metadata": map[string]any{"payment_id": "not-ours"}, "payment_intent": "pi_stranger"}
		for _, typ := range []string{"checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed", "checkout.session.expired"} {
			deliver(t, e, "evt_stranger_"+typ, typ, stranger)
		}
		wantPayment(t, e, c.Payment.ID, orders.PaymentPending)
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
		if n := countRows(t, e, "payment_events", "1 = 1"); n != 0 {
			t.Errorf("%d events recorded for a stranger's session", n)
		}
	})

	t.Run("PaymentIntentEventsStillSettle", func(t *testing.T) {
		e, _, _, c, orderA, orderB := setup(t)
		deliver(t, e, "evt_pi_ok_"+c.Payment.ID, "payment_intent.succeeded", stripeIntent(t, e, c.Payment.ID, "succeeded"))
		p := wantPayment(t, e, c.Payment.ID, orders.PaymentSucceeded)
		if p.ProviderIntent != "pi_test_"+strings.ToLower(c.Payment.ID) {
			t.Errorf("intent %q, want the event's", p.ProviderIntent)
		}
		wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
		// The session's completion after it changes nothing.
		deliver(t, e, "evt_done_"+c.Payment.ID, "checkout.session.completed", stripeSession(t, e, c.Payment.ID, "complete", "paid"))
		wantOrderStatus(t, e, orders.StatusPaid, orderA, orderB)
	})

	t.Run("RefundFindsTheIntentFromTheSession", func(t *testing.T) {
		// Paid by an event that did not name the intent (a reconciliation):
		// the refund asks Stripe for the session's PaymentIntent.
		e, px, w, c, orderA, _ := setup(t)
		if err := e.srv.Orders.MarkPaid(context.Background(), c.Payment.ID, "", "reconcile"); err != nil {
			t.Fatal(err)
		}
		px.take("")
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderA + "/refunds", Token: w.merchA.Token, Body: map[string]any{"amount": 300, "reason": "少件"}})
		wantStatus(t, res, http.StatusCreated)
		ref := readPayment(t, e, c.Payment.ID).ProviderRef
		if got := px.take("GET /v1/checkout/sessions/" + ref); len(got) != 1 {
			t.Errorf("%d reads of the session, want 1", len(got))
		}
		if r, err := e.srv.Orders.RefundByID(context.Background(), res.JSON(t)["id"].(string)); err != nil || r.Status != orders.RefundSucceeded {
			t.Errorf("refund %+v %v, want succeeded", r, err)
		}
	})
}

func TestStripeSessionCancel(t *testing.T) {
	t.Run("ExpiresTheSession", func(t *testing.T) {
		e, px := newStripeSessionEnv(t)
		w := newShopWorld(t, e, "stripe-session-cancel")
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 1)
		ref := readPayment(t, e, c.Payment.ID).ProviderRef
		px.take("")
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + c.Orders[0].ID + "/cancel", Token: buyer.Token})
		wantStatus(t, res, http.StatusOK)
		calls := px.take("POST /v1/checkout/sessions/" + ref + "/expire")
		if len(calls) != 1 || calls[0].key != "cs-expire-"+c.Payment.ID {
			t.Errorf("expire requests %+v, want one with the key cs-expire-%s", calls, c.Payment.ID)
		}
		wantPayment := readPayment(t, e, c.Payment.ID)
		if wantPayment.Status != orders.PaymentCancelled {
			t.Errorf("payment %s, want cancelled", wantPayment.Status)
		}
		wantStock(t, e, w.lantern, lanterns)
	})

	t.Run("AlreadyPaid", func(t *testing.T) {
		// The buyer paid on Stripe's page and cancels before the event came:
		// the session cannot be expired, Stripe says it is paid, and the
		// order is paid rather than cancelled.
		e, px := newStripeSessionEnv(t)
		w := newShopWorld(t, e, "stripe-session-paid")
		buyer := w.shopper(t)
		c := w.buy(t, buyer.Token, w.lantern, 1)
		stripeUniqueRef(t, e, c.Payment.ID)
		ref := stripeSessionRef(c.Payment.ID)
		px.answerWith(func(call string) (int, string) {
			switch call {
			case "POST /v1/checkout/sessions/" + ref + "/expire":
				return http.StatusBadRequest, `{"error":{"type":"invalid_request_error","message":"Only Checkout Sessions with a status in [\"open\"] can be expired."}}`
			case "GET /v1/checkout/sessions/" + ref:
				return http.StatusOK, `{"id":"` + ref + `","object":"checkout.session","mode":"payment","status":"complete","payment_status":"paid","payment_intent":"pi_test_paid"}`
			}
			return 0, ""
		})
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + c.Orders[0].ID + "/cancel", Token: buyer.Token})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentSucceeded {
			t.Errorf("payment %s, want succeeded", p.Status)
		}
		wantOrderStatus(t, e, orders.StatusPaid, c.Orders[0].ID)
	})

	t.Run("WindowClosed", func(t *testing.T) {
		e, px := newStripeSessionEnv(t)
		w := newShopWorld(t, e, "stripe-session-window")
		buyer := w.shopper(t)
		c := w.buy(t, buyer.Token, w.lantern, 1)
		ref := readPayment(t, e, c.Payment.ID).ProviderRef
		px.take("")
		e.clock.Advance(e.cfg.PaymentWindow + time.Second)
		if _, err := e.srv.Orders.SweepExpired(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
		if n := len(px.take("POST /v1/checkout/sessions/" + ref + "/expire")); n != 1 {
			t.Errorf("%d expire requests, want 1", n)
		}
		wantOrderStatus(t, e, orders.StatusCancelled, c.Orders[0].ID)
	})
}

func TestStripeProviderUnavailable(t *testing.T) {
	// Whatever Stripe answers, or if nothing answers, the client gets a 502
	// with a detail of ours; Stripe's words go to the log only.
	t.Run("CheckoutRefused", func(t *testing.T) {
		e, px := newStripeSessionEnv(t)
		w := newShopWorld(t, e, "stripe-down-checkout")
		buyer := w.shopper(t)
		w.cart(t, buyer.Token, w.lantern, 2)
		lanterns := readStock(t, e, w.lantern)
		px.answerWith(func(call string) (int, string) {
			if call == "POST /v1/checkout/sessions" {
				return http.StatusBadRequest, stripeErrorBody
			}
			return 0, ""
		})
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{}})
		p := wantProblem(t, res, http.StatusBadGateway, "payment_provider_error")
		if p["detail"] == "" {
			t.Errorf("no detail: %s", res.Body)
		}
		wantNoProviderText(t, res, px.URL, "resource_missing", "api_error")
		// Nothing changed: the stock is back on sale and the cart is as it was.
		wantStock(t, e, w.lantern, lanterns)
		cart := e.do(req{Method: "GET", Path: "/api/v1/cart", Token: buyer.Token})
		if items, _ := cart.JSON(t)["items"].([]any); len(items) != 1 {
			t.Errorf("cart %s, want the lantern back", cart.Body)
		}
	})

	t.Run("NobodyAnswers", func(t *testing.T) {
		ln := httptest.NewServer(http.NotFoundHandler())
		dead := ln.URL
		ln.Close()
		e := newTestEnv(t, func(c *Config) {
			c.PaymentProvider, c.StripeSecretKey, c.StripeWebhookSecret, c.StripeAPIBase = "stripe", stripeTestKey, stripeTestSecret, dead
		})
		w := newShopWorld(t, e, "stripe-down-network")
		buyer := w.shopper(t)
		w.cart(t, buyer.Token, w.lantern, 1)
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{}})
		wantProblem(t, res, http.StatusBadGateway, "payment_provider_error")
		wantNoProviderText(t, res, strings.TrimPrefix(dead, "http://"))
	})

	t.Run("FlashPaymentPage", func(t *testing.T) {
		// A flash order's payment is opened when its payer comes: if Stripe
		// fails then, the API answers 502 and the page says so and offers to
		// try again; nothing is stored, and the next visit opens it.
		e, px := newStripeSessionEnv(t)
		w := newFlashWorld(t, e, "stripe-down-flash")
		buyer := w.shopper(t)
		id := w.liveSale(t, 1200, 5, 1)
		e.runWorkers()
		orderID := w.waitOrdered(t, buyer.Token, id, w.win(t, buyer.Token, id, 1))
		payID := readOrder(t, e, orderID).PaymentID
		px.answerWith(func(call string) (int, string) {
			if call == "POST /v1/checkout/sessions" {
				return http.StatusInternalServerError, stripeErrorBody
			}
			return 0, ""
		})
		res := e.do(req{Method: "GET", Path: "/api/v1/payments/" + payID, Token: buyer.Token})
		wantProblem(t, res, http.StatusBadGateway, "payment_provider_error")
		wantNoProviderText(t, res, px.URL)

		page := e.do(req{Method: "GET", Path: "/pay/" + payID, Token: buyer.Token, Header: map[string]string{"Accept-Language": "zh-CN"}})
		wantStatus(t, page, http.StatusBadGateway)
		body := string(page.Body)
		for _, want := range []string{`data-testid="pay-error"`, "支付服务暂时不可用", `data-testid="pay-retry"`, `href="/pay/` + payID + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the pay page lacks %q", want)
			}
		}
		for _, leak := range []string{px.URL, "sk_live", "acct_1Internal", "could not create", "resource_missing"} {
			if strings.Contains(body, leak) {
				t.Errorf("the pay page shows %q", leak)
			}
		}
		if p := readPayment(t, e, payID); p.ProviderRef != "" || p.CheckoutURL != "" || p.Status != orders.PaymentPending {
			t.Errorf("after the failure: %s, session %q, checkout URL %q", p.Status, p.ProviderRef, p.CheckoutURL)
		}

		// Stripe is back: the page sends the payer to the Checkout page.
		px.answerWith(nil)
		page = e.do(req{Method: "GET", Path: "/pay/" + payID, Token: buyer.Token, Header: map[string]string{"Accept-Language": "zh-CN"}})
		wantStatus(t, page, http.StatusOK)
		p := readPayment(t, e, payID)
		if !strings.HasPrefix(p.ProviderRef, "cs_") || p.CheckoutURL == "" {
			t.Fatalf("the page did not open the payment: session %q, checkout URL %q", p.ProviderRef, p.CheckoutURL)
		}
		body = string(page.Body)
		for _, want := range []string{`data-testid="pay-stripe"`, `href="` + p.CheckoutURL + `"`, "data-redirect", "去支付"} {
			if !strings.Contains(body, want) {
				t.Errorf("the pay page lacks %q", want)
			}
		}
		// Back from Stripe's page (its cancel_url), the payer is not sent
		// there again on their own; the button still is.
		page = e.do(req{Method: "GET", Path: "/pay/" + payID + "?back=1", Token: buyer.Token})
		wantStatus(t, page, http.StatusOK)
		if body := string(page.Body); strings.Contains(body, "data-redirect") || !strings.Contains(body, `href="`+p.CheckoutURL+`"`) {
			t.Errorf("the page after coming back: redirect %v, link %v", strings.Contains(body, "data-redirect"), strings.Contains(body, p.CheckoutURL))
		}
	})
}
