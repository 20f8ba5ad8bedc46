package jobs_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/jobs"
	"miaohui/orders"
)

func TestPaymentExpire(t *testing.T) {
	t.Run("CancelsUnpaidAndReturnsStock", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("甲", catalogtest.Product{Stock: 5})
		b, c := k.checkout(s.Product.ID, 2)
		expire := k.one(jobs.TypePaymentExpire)

		// Run early (a clock ahead on the worker), it leaves the payment open.
		k.mustRun(expire)
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusPendingPayment; got != want {
			t.Fatalf("order = %s, want %s", got, want)
		}
		k.Clock.Advance(window)
		k.mustRun(expire)
		k.mustRun(expire) // a retry changes nothing
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusCancelled; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
		if got, want := k.Stock(t, s.Product.ID), int64(5); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
	})

	t.Run("PaidIsKept", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("甲", catalogtest.Product{Stock: 5})
		b, o := k.paid(s.Product.ID, 1)
		k.Clock.Advance(window)
		k.mustRun(k.one(jobs.TypePaymentExpire))
		if got, want := k.order(b, o.ID).Status, orders.StatusPaid; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
	})

	t.Run("Sweep", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("甲", catalogtest.Product{Stock: 5})
		b, c := k.checkout(s.Product.ID, 1)
		k.Clock.Advance(window)
		k.mustRun(asynq.NewTask(jobs.TypePaymentSweep, nil))
		if got, want := k.order(b, c.Orders[0].ID).Status, orders.StatusCancelled; got != want {
			t.Errorf("order = %s, want %s", got, want)
		}
	})

	t.Run("ReminderWhileOpen", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("甲", catalogtest.Product{Price: 1250})
		b, _ := k.checkout(s.Product.ID, 1)
		remind := k.one(jobs.TypePaymentRemind)
		k.Clock.Advance(window - 4*time.Minute)
		k.mustRun(remind)
		k.mustRun(remind)
		list := k.inbox(b.UserID)
		if len(list) != 1 || list[0].Kind != "payment_closing" || !containsAll(list[0].Body, "¥12.50", "5 minutes") {
			t.Errorf("inbox = %+v, want one payment_closing notice of ¥12.50 in about 5 minutes", list)
		}
	})

	t.Run("NoReminderOncePaid", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("甲", catalogtest.Product{})
		b, _ := k.paid(s.Product.ID, 1)
		k.mustRun(k.one(jobs.TypePaymentRemind))
		if got := kinds(k.inbox(b.UserID)); slices.Contains(got, "payment_closing") {
			t.Errorf("inbox = %v, want no payment reminder", got)
		}
	})
}

func TestOrderFollowUps(t *testing.T) {
	t.Run("PaidNotifiesRedeemedPaysOutOnce", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("糖葫芦", catalogtest.Product{Price: 10000})
		b, o := k.paid(s.Product.ID, 1)
		if got := k.queued(jobs.TypeOrderPayout); len(got) != 0 {
			t.Fatalf("queued payouts at payment = %d, want none (held until redemption)", len(got))
		}

		notice := k.one(jobs.TypeOrderNotify)
		k.mustRun(notice)
		k.mustRun(notice)
		buyer := k.inbox(b.UserID)
		if len(buyer) != 1 || buyer[0].Kind != "order_paid" || buyer[0].Title != "Payment received: 糖葫芦 ¥100.00" {
			t.Errorf("buyer's inbox = %+v, want one order_paid of ¥100.00", buyer)
		}
		if got := kinds(k.inbox(s.Merchant.UserID)); !slices.Equal(got, []string{"new_order"}) {
			t.Errorf("merchant's inbox = %v, want [new_order]", got)
		}

		if _, err := k.Orders.Redeem(k.ctx, s.Merchant, o.ID, o.PickupCode); err != nil {
			t.Fatal(err)
		}
		payout := k.one(jobs.TypeOrderPayout)
		k.mustRun(payout)
		k.mustRun(payout)
		if got, want := k.Provider.Payouts(), []orders.Money{9500}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
	})

	t.Run("ShippedRedeemedRefunded", func(t *testing.T) {
		k := newKit(t, false)
		ship := k.shop("风筝", catalogtest.Product{Price: 3000, Fulfillment: catalog.ShipDelivery})
		b := k.User(t, catalog.RoleShopper)
		if _, err := k.Orders.SetCartItem(k.ctx, b, ship.Product.ID, 1); err != nil {
			t.Fatal(err)
		}
		c, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{ShippingAddress: "Beijing"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded); err != nil {
			t.Fatal(err)
		}
		o := c.Orders[0]
		if _, err := k.Orders.Ship(k.ctx, ship.Merchant, o.ID, "SF100"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.RefundOrder(k.ctx, ship.Merchant, o.ID, nil, "lost in the post"); err != nil {
			t.Fatal(err)
		}
		pick := k.shop("面人", catalogtest.Product{})
		b2, o2 := k.paid(pick.Product.ID, 1)
		if _, err := k.Orders.Redeem(k.ctx, pick.Merchant, o2.ID, o2.PickupCode); err != nil {
			t.Fatal(err)
		}

		if got, want := k.runQueued(jobs.TypeOrderNotify), 5; got != want { // paid ×2, shipped, refunded, redeemed
			t.Errorf("order notices = %d, want %d", got, want)
		}
		got := kinds(k.inbox(b.UserID))
		slices.Sort(got)
		if want := []string{"order_paid", "order_refunded", "order_shipped"}; !slices.Equal(got, want) {
			t.Errorf("buyer's inbox = %v, want %v", got, want)
		}
		if got := kinds(k.inbox(b2.UserID)); !slices.Contains(got, "order_redeemed") {
			t.Errorf("second buyer's inbox = %v, want order_redeemed", got)
		}

		// The shipped order was refunded before its release: nothing was paid
		// out, and its reversal takes nothing back; the redeemed one is paid.
		if got := k.runQueued(jobs.TypeOrderPayout); got != 1 {
			t.Errorf("payout tasks = %d, want 1 (the redeemed order)", got)
		}
		if got := k.runQueued(jobs.TypeRefundReverse); got != 1 {
			t.Errorf("reversal tasks = %d, want 1", got)
		}
		if got, want := k.Provider.Payouts(), []orders.Money{o2.MerchantShare}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
