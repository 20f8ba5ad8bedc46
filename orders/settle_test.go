package orders_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// twoStallCheckout checks out one product of each of two stalls for a new
// buyer: stock 5 each, 1000 and 500 fen, two units of each.
func twoStallCheckout(k *kit) (catalog.Actor, *orders.Checkout, [2]*catalog.Product) {
	k.t.Helper()
	p1 := k.goods(k.shop("甲"), catalogtest.Product{Price: 1000, Stock: 5})
	p2 := k.goods(k.shop("乙"), catalogtest.Product{Price: 500, Stock: 5})
	b := k.buyer()
	k.put(b, p1.ID, 2)
	k.put(b, p2.ID, 2)
	return b, k.checkout(b, orders.CheckoutInput{}), [2]*catalog.Product{p1, p2}
}

func orderIDs(c *orders.Checkout) []string {
	var ids []string
	for _, o := range c.Orders {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestCancelOrder(t *testing.T) {
	t.Run("UnpaidReturnsStock", func(t *testing.T) {
		k := newKit(t)
		b, c, ps := twoStallCheckout(k)
		o, err := k.Orders.CancelOrder(k.ctx, b, c.Orders[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := o.Status, orders.StatusCancelled; got != want {
			t.Errorf("status = %s, want %s", got, want)
		}
		// The checkout is one payment: both of its orders go.
		if got, want := k.order(b, c.Orders[1].ID).Status, orders.StatusCancelled; got != want {
			t.Errorf("the other order = %s, want %s", got, want)
		}
		if got, want := k.payment(b, c.Payment.ID).Status, orders.PaymentCancelled; got != want {
			t.Errorf("payment = %s, want %s", got, want)
		}
		for _, p := range ps {
			if got, want := k.stock(p.ID), int64(5); got != want {
				t.Errorf("stock = %d, want %d", got, want)
			}
		}
		// A cancelled payment cannot be paid any more.
		_, err = k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded)
		catalogtest.WantErr(t, err, orders.ErrNotPayable)
	})

	t.Run("PaidRefused", func(t *testing.T) {
		k := newKit(t)
		b, c, ps := twoStallCheckout(k)
		k.pay(b, c)
		_, err := k.Orders.CancelOrder(k.ctx, b, c.Orders[0].ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if got, want := k.stock(ps[0].ID), int64(3); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
	})

	t.Run("OnlyTheBuyer", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{}), 1, false)
		_, err := k.Orders.CancelOrder(k.ctx, s.Merchant, o.ID)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.CancelOrder(k.ctx, k.buyer(), o.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})

	t.Run("PaidMeanwhileAtProvider", func(t *testing.T) {
		k := newKit(t)
		b, c, _ := twoStallCheckout(k)
		k.Provider.CancelFunc = func(context.Context, *orders.Payment) error { return orders.ErrAlreadyPaid }
		_, err := k.Orders.CancelOrder(k.ctx, b, c.Orders[0].ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusPaid; got != want {
			t.Errorf("status = %s, want %s", got, want)
		}
	})
}

func TestSandboxPayment(t *testing.T) {
	t.Run("Succeeded", func(t *testing.T) {
		k := newKit(t)
		b, c, _ := twoStallCheckout(k)
		k.Clock.Advance(time.Minute)
		p, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Status, orders.PaymentSucceeded; got != want {
			t.Errorf("payment = %s, want %s", got, want)
		}
		for _, id := range orderIDs(c) {
			o := k.order(b, id)
			if o.Status != orders.StatusPaid || o.PaidAt == nil || !o.PaidAt.Equal(k.Clock.Now()) {
				t.Errorf("order %s = %s paid at %v, want paid at %v", id, o.Status, o.PaidAt, k.Clock.Now())
			}
		}
		got := k.Events.Paid()
		slices.Sort(got)
		if want := orderIDs(c); !slices.Equal(got, want) {
			t.Errorf("receipts in the outbox = %v, want %v", got, want)
		}
		tot := k.totals()
		if tot.GMV != 3000 || tot.PaidOrders != 2 || tot.Participants != 1 {
			t.Errorf("totals = gmv %d, %d orders, %d participants; want 3000, 2, 1", tot.GMV, tot.PaidOrders, tot.Participants)
		}
	})

	t.Run("FailedThenSucceeded", func(t *testing.T) {
		k := newKit(t)
		b, c, _ := twoStallCheckout(k)
		p, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentFailed)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Status, orders.PaymentFailed; got != want {
			t.Errorf("payment = %s, want %s", got, want)
		}
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusPendingPayment; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
		if len(k.Events.Paid()) != 0 {
			t.Errorf("receipts in the outbox = %v after a failure", k.Events.Paid())
		}
		k.pay(b, c)
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusPaid; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
	})

	t.Run("SettledTwice", func(t *testing.T) {
		k := newKit(t)
		b, c, _ := twoStallCheckout(k)
		// The same provider event twice, then the sandbox and a reconciliation.
		for _, ev := range []string{"evt_1", "evt_1", "", ""} {
			if err := k.Orders.MarkPaid(k.ctx, c.Payment.ID, ev, "payment_intent.succeeded"); err != nil {
				t.Fatal(err)
			}
		}
		_, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded)
		catalogtest.WantErr(t, err, orders.ErrNotPayable)
		if got, want := len(k.Events.Paid()), 2; got != want {
			t.Errorf("orders announced paid = %d, want %d", got, want)
		}
		tot := k.totals()
		if tot.GMV != 3000 || tot.PaidOrders != 2 {
			t.Errorf("totals = gmv %d, %d orders; want 3000, 2 (counted once)", tot.GMV, tot.PaidOrders)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		cases := []struct {
			name    string
			buyer   func(k *kit, b catalog.Actor) string
			outcome string
			want    func(t *testing.T, err error)
		}{
			{"OtherBuyer", func(k *kit, _ catalog.Actor) string { return k.buyer().UserID }, orders.PaymentSucceeded,
				func(t *testing.T, err error) { catalogtest.WantErr(t, err, catalog.ErrNotFound) }},
			{"BadOutcome", func(_ *kit, b catalog.Actor) string { return b.UserID }, "maybe",
				func(t *testing.T, err error) { catalogtest.WantInvalid(t, err, "outcome") }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := newKit(t)
				b, co, _ := twoStallCheckout(k)
				_, err := k.Orders.CompleteSandbox(k.ctx, c.buyer(k, b), co.Payment.ID, c.outcome)
				c.want(t, err)
				if got, want := k.order(b, co.Orders[0].ID).Status, orders.StatusPendingPayment; got != want {
					t.Errorf("order = %s, want %s", got, want)
				}
			})
		}
	})

	t.Run("AfterWindowCancels", func(t *testing.T) {
		k := newKit(t)
		b, c, ps := twoStallCheckout(k)
		k.Clock.Advance(window)
		_, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded)
		catalogtest.WantErr(t, err, orders.ErrNotPayable)
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusCancelled; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
		if got, want := k.stock(ps[0].ID), int64(5); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
	})
}

func TestPaymentExpiry(t *testing.T) {
	t.Run("NotBeforeItsWindow", func(t *testing.T) {
		k := newKit(t)
		b, c, ps := twoStallCheckout(k)
		k.Clock.Advance(window - time.Second)
		if err := k.Orders.ExpirePayment(k.ctx, c.Payment.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusPendingPayment; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
		if got, want := k.stock(ps[0].ID), int64(3); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
	})

	t.Run("CancelsOnceAndReturnsStock", func(t *testing.T) {
		k := newKit(t)
		b, c, ps := twoStallCheckout(k)
		k.Clock.Advance(window)
		for range 2 {
			if err := k.Orders.ExpirePayment(k.ctx, c.Payment.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := k.payment(b, c.Payment.ID).Status, orders.PaymentCancelled; got != want {
			t.Errorf("payment = %s, want %s", got, want)
		}
		for _, id := range orderIDs(c) {
			o := k.order(b, id)
			if o.Status != orders.StatusCancelled || o.CancelledAt == nil {
				t.Errorf("order %s = %s (cancelled at %v), want cancelled", id, o.Status, o.CancelledAt)
			}
		}
		for _, p := range ps {
			if got, want := k.stock(p.ID), int64(5); got != want {
				t.Errorf("stock = %d, want %d (returned once)", got, want)
			}
		}
	})

	t.Run("FairsOwnWindow", func(t *testing.T) {
		k := newKit(t)
		fair := k.NewFair(t, catalogtest.FairInput{PaymentWindowSeconds: 120})
		m, st := k.Stall(t, fair, "甲")
		p := k.Goods(t, m, st.ID, catalogtest.Product{})
		b := k.buyer()
		k.put(b, p.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{})
		if got, want := c.Payment.ExpiresAt, k.Clock.Now().Add(2*time.Minute); !got.Equal(want) {
			t.Errorf("expires = %v, want %v", got, want)
		}
		k.Clock.Advance(2 * time.Minute)
		n, err := k.Orders.SweepExpired(k.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, 1; got != want {
			t.Errorf("swept = %d, want %d", got, want)
		}
	})

	t.Run("SweepLeavesOpenWindows", func(t *testing.T) {
		k := newKit(t)
		b1, c1, _ := twoStallCheckout(k)
		k.Clock.Advance(10 * time.Minute)
		b2, c2, _ := twoStallCheckout(k)
		k.Clock.Advance(5 * time.Minute) // c1's window has closed, c2's has not
		n, err := k.Orders.SweepExpired(k.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, 1; got != want {
			t.Errorf("swept = %d, want %d", got, want)
		}
		if got, want := k.payment(b1, c1.Payment.ID).Status, orders.PaymentCancelled; got != want {
			t.Errorf("first payment = %s, want %s", got, want)
		}
		if got, want := k.payment(b2, c2.Payment.ID).Status, orders.PaymentPending; got != want {
			t.Errorf("second payment = %s, want %s", got, want)
		}
	})

	t.Run("CapturedAtTheLastMoment", func(t *testing.T) {
		k := newKit(t)
		b, c, _ := twoStallCheckout(k)
		k.Clock.Advance(window)
		k.Provider.CancelFunc = func(context.Context, *orders.Payment) error { return orders.ErrAlreadyPaid }
		if err := k.Orders.ExpirePayment(k.ctx, c.Payment.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusPaid; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
	})

	t.Run("CapturedAfterCancelIsRefunded", func(t *testing.T) {
		k := newKit(t)
		b, c, ps := twoStallCheckout(k)
		k.Clock.Advance(window)
		if err := k.Orders.ExpirePayment(k.ctx, c.Payment.ID); err != nil {
			t.Fatal(err)
		}
		// The provider's webhook arrives after the window closed.
		if err := k.Orders.MarkPaid(k.ctx, c.Payment.ID, "evt_late", "payment_intent.succeeded"); err != nil {
			t.Fatal(err)
		}
		for _, id := range orderIDs(c) {
			o := k.order(b, id)
			if o.Status != orders.StatusCancelled || o.Refunded != o.Total {
				t.Errorf("order %s = %s, refunded %d of %d; want cancelled and refunded in full", id, o.Status, o.Refunded, o.Total)
			}
		}
		if got, want := len(k.Events.Refunds()), 2; got != want {
			t.Errorf("refunds = %d, want %d", got, want)
		}
		if got, want := k.stock(ps[0].ID), int64(5); got != want {
			t.Errorf("stock = %d, want %d (returned once, not again)", got, want)
		}
		if tot := k.totals(); tot.PaidOrders != 0 || tot.GMV != 0 {
			t.Errorf("totals = %d orders, gmv %d; want none", tot.PaidOrders, tot.GMV)
		}
	})
}

func TestReconcile(t *testing.T) {
	cases := []struct {
		name       string
		provider   string
		wantStatus string
		wantOrder  string
	}{
		{"Succeeded", orders.PaymentSucceeded, orders.PaymentSucceeded, orders.StatusPaid},
		{"Cancelled", orders.PaymentCancelled, orders.PaymentCancelled, orders.StatusCancelled},
		{"StillPending", orders.PaymentPending, orders.PaymentPending, orders.StatusPendingPayment},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKit(t)
			b, co, _ := twoStallCheckout(k)
			k.Provider.LookupFunc = func(context.Context, *orders.Payment) (string, error) { return c.provider, nil }
			// Too young to be asked about.
			if n, err := k.Orders.Reconcile(k.ctx, 600); err != nil || n != 0 {
				t.Fatalf("Reconcile = %d, %v; want 0", n, err)
			}
			k.Clock.Advance(10 * time.Minute)
			n, err := k.Orders.Reconcile(k.ctx, 600)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 0, false: 1}[c.provider == orders.PaymentPending]; n != want {
				t.Errorf("settled = %d, want %d", n, want)
			}
			if got := k.payment(b, co.Payment.ID).Status; got != c.wantStatus {
				t.Errorf("payment = %s, want %s", got, c.wantStatus)
			}
			if got := k.order(b, co.Orders[0].ID).Status; got != c.wantOrder {
				t.Errorf("order = %s, want %s", got, c.wantOrder)
			}
		})
	}
}
