package orders_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

func money(m orders.Money) *orders.Money { return &m }

func TestRefund(t *testing.T) {
	t.Run("PartialThenRest", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 2, true) // 2000

		r, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(500), " broken lantern ")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != orders.RefundSucceeded || r.Amount != 500 || r.Reason != "broken lantern" {
			t.Errorf("refund = %+v, want 500 succeeded, reason trimmed", r)
		}
		got := k.order(b, o.ID)
		if got.Status != orders.StatusPartiallyRefunded || got.Refunded != 500 || got.Refundable() != 1500 {
			t.Errorf("order = %s, refunded %d, refundable %d; want partially_refunded, 500, 1500", got.Status, got.Refunded, got.Refundable())
		}
		if tot := k.totals(); tot.GMV != 1500 || tot.Refunded != 500 || tot.PaidOrders != 1 {
			t.Errorf("totals = gmv %d, refunded %d, %d orders; want 1500, 500, 1", tot.GMV, tot.Refunded, tot.PaidOrders)
		}

		// nil refunds what is left.
		r2, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "rest")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r2.Amount, orders.Money(1500); got != want {
			t.Errorf("second refund = %d, want %d", got, want)
		}
		got = k.order(b, o.ID)
		if got.Status != orders.StatusRefunded || got.Refunded != 2000 {
			t.Errorf("order = %s, refunded %d; want refunded, 2000", got.Status, got.Refunded)
		}
		if tot := k.totals(); tot.GMV != 0 || tot.Refunded != 2000 {
			t.Errorf("totals = gmv %d, refunded %d; want 0, 2000", tot.GMV, tot.Refunded)
		}
		ids := []string{r.ID, r2.ID}
		if got := k.Events.Refunds(); !slices.Equal(got, ids) {
			t.Errorf("Refunded = %v, want %v", got, ids)
		}
		for _, id := range ids {
			if got, err := k.Orders.RefundByID(k.ctx, id); err != nil || got.Status != orders.RefundSucceeded {
				t.Errorf("RefundByID(%s) = %+v, %v; want succeeded", id, got, err)
			}
		}
		// Nothing is left.
		_, err = k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "again")
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})

	t.Run("OrganizerRefunds", func(t *testing.T) {
		k := newKit(t)
		_, o := k.buy(k.goods(k.shop("甲"), catalogtest.Product{Price: 300}), 1, true)
		r, err := k.Orders.RefundOrder(k.ctx, k.Organizer, o.ID, nil, "fair closed early")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.Amount, orders.Money(300); got != want {
			t.Errorf("refund = %d, want %d", got, want)
		}
	})

	cases := []struct {
		name   string
		actor  func(k *kit, s shop, buyer catalog.Actor) catalog.Actor
		paid   bool
		amount *orders.Money
		reason string
		want   error
		field  string
	}{
		{"MoreThanPaid", merchantOf, true, money(2001), "x", nil, "amount"},
		{"Zero", merchantOf, true, money(0), "x", nil, "amount"},
		{"NoReason", merchantOf, true, nil, "  ", nil, "reason"},
		{"Unpaid", merchantOf, false, nil, "x", catalog.ErrConflict, ""},
		{"Buyer", func(_ *kit, _ shop, b catalog.Actor) catalog.Actor { return b }, true, nil, "x", catalog.ErrForbidden, ""},
		{"OtherMerchant", func(k *kit, _ shop, _ catalog.Actor) catalog.Actor { return k.shop("乙").Merchant }, true, nil, "x", catalog.ErrNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKit(t)
			s := k.shop("甲")
			b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 2, c.paid)
			_, err := k.Orders.RefundOrder(k.ctx, c.actor(k, s, b), o.ID, c.amount, c.reason)
			if c.field != "" {
				catalogtest.WantInvalid(t, err, c.field)
			} else {
				catalogtest.WantErr(t, err, c.want)
			}
			if got := k.order(b, o.ID); got.Refunded != 0 || got.Refundable() != got.Total {
				t.Errorf("order refunded %d, refundable %d after a refusal", got.Refunded, got.Refundable())
			}
		})
	}

	t.Run("ProviderFailsReleasesAmount", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 1, true)
		k.Provider.RefundFunc = func(context.Context, *orders.Payment, *orders.Refund) (string, error) {
			return "", errors.New("card network down")
		}
		_, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(400), "x")
		catalogtest.WantErr(t, err, orders.ErrProvider)
		got := k.order(b, o.ID)
		if got.Status != orders.StatusPaid || got.Refunded != 0 || got.Refundable() != 1000 {
			t.Errorf("order = %s, refunded %d, refundable %d; want paid, 0, 1000", got.Status, got.Refunded, got.Refundable())
		}
		if len(k.Events.Refunds()) != 0 {
			t.Errorf("Refunded = %v after a failure", k.Events.Refunds())
		}
		k.Provider.RefundFunc = nil
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(1000), "x"); err != nil {
			t.Fatalf("refund after the failure: %v", err)
		}
	})

	t.Run("FullVoucherRefundGoesBackOnSale", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("售楼处")
		v := k.Voucher(t, s.Merchant, s.Stall.ID, catalogtest.Product{Price: 5000, Stock: 3})
		b, o := k.buy(v, 1, true)
		if got, want := k.stock(v.ID), int64(2); got != want {
			t.Fatalf("stock = %d, want %d", got, want)
		}
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "changed mind"); err != nil {
			t.Fatal(err)
		}
		if got, want := k.stock(v.ID), int64(3); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
		// The buyer's voucher place is free again.
		k.put(b, v.ID, 1)
		k.checkout(b, orders.CheckoutInput{})
	})

	t.Run("RedeemedVoucherRefused", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("售楼处")
		_, o := k.buy(k.Voucher(t, s.Merchant, s.Stall.ID, catalogtest.Product{}), 1, true)
		if _, err := k.Orders.Redeem(k.ctx, s.Merchant, o.ID, o.PickupCode); err != nil {
			t.Fatal(err)
		}
		_, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "x")
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})
}

func merchantOf(_ *kit, s shop, _ catalog.Actor) catalog.Actor { return s.Merchant }

func TestPayout(t *testing.T) {
	t.Run("MerchantShareOnce", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 1280}), 1, true)
		if o.PlatformFee != 64 || o.MerchantShare != 1216 {
			t.Fatalf("split = %d + %d, want 64 + 1216 (5%%)", o.PlatformFee, o.MerchantShare)
		}
		// Payment releases nothing: the payout waits for redemption.
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := k.Provider.Payouts(); len(got) != 0 {
			t.Fatalf("payouts before redemption = %v, want none", got)
		}
		k.redeem(s, o)
		for range 2 {
			if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := k.Provider.Payouts(), []orders.Money{1216}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
	})

	t.Run("UnpaidNothing", func(t *testing.T) {
		k := newKit(t)
		_, o := k.buy(k.goods(k.shop("甲"), catalogtest.Product{}), 1, false)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := k.Provider.Payouts(); len(got) != 0 {
			t.Errorf("payouts = %v, want none", got)
		}
	})

	t.Run("RefundBeforePayoutLeftOut", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 10000}), 1, true) // fee 500, share 9500
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(2000), "x"); err != nil {
			t.Fatal(err)
		}
		k.redeem(s, o)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		// The merchant bears 95% of the refund.
		if got, want := k.Provider.Payouts(), []orders.Money{9500 - 1900}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
		if err := k.Orders.ReversePayout(k.ctx, k.Events.Refunds()[0]); err != nil {
			t.Fatal(err)
		}
		if got := k.Provider.Reversals(); len(got) != 0 {
			t.Errorf("reversals = %v, want none (the payout left the refund out)", got)
		}
	})

	t.Run("RefundAfterPayoutReversed", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 10000}), 1, true)
		k.redeem(s, o)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		r1, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(2000), "x")
		if err != nil {
			t.Fatal(err)
		}
		r2, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "rest")
		if err != nil {
			t.Fatal(err)
		}
		// Run out of order and twice: nothing is taken back twice.
		for _, id := range []string{r2.ID, r1.ID, r2.ID} {
			if err := k.Orders.ReversePayout(k.ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		var sum orders.Money
		for _, m := range k.Provider.Reversals() {
			sum += m
		}
		if got, want := sum, orders.Money(9500); got != want {
			t.Errorf("taken back = %d (%v), want %d", got, k.Provider.Reversals(), want)
		}
	})
}
