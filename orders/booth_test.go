package orders_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// paidTwice has one buyer buy and pay for p in two checkouts.
func (k *kit) paidTwice(p *catalog.Product) (catalog.Actor, [2]*orders.Order) {
	k.t.Helper()
	b := k.buyer()
	var out [2]*orders.Order
	for i := range out {
		k.put(b, p.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{})
		k.pay(b, c)
		out[i] = k.order(b, c.Orders[0].ID)
	}
	return b, out
}

func TestRedeemCode(t *testing.T) {
	t.Run("PickupCodeRedeemsItsOrderOnly", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, os := k.paidTwice(k.goods(s, catalogtest.Product{Price: 500}))
		got, err := k.Orders.RedeemCode(k.ctx, s.Merchant, s.Stall.ID, strings.ToLower(os[1].PickupCode))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].OrderID != os[1].ID || len(got[0].Items) != 1 {
			t.Fatalf("redeemed %+v, want %s only", got, os[1].ID)
		}
		if ev := k.Events.Changed(); len(ev) != 1 || ev[0] != os[1].ID+":"+orders.StatusRedeemed {
			t.Errorf("notices %v, want the one redemption", ev)
		}
		for _, f := range k.totals().ByFulfillment {
			if f.Fulfillment == catalog.ShipPickup && f.Redeemed != 1 {
				t.Errorf("totals: %d redeemed, want 1", f.Redeemed)
			}
		}
		// The same code again has nothing left; the buyer's other order stays
		// for its own code, which redeems it.
		_, err = k.Orders.RedeemCode(k.ctx, s.Merchant, s.Stall.ID, os[1].PickupCode)
		catalogtest.WantErr(t, err, orders.ErrNothingToRedeem)
		if o := k.order(b, os[0].ID); o.Status != orders.StatusPaid {
			t.Fatalf("the other order is %s, want paid", o.Status)
		}
		// Redeeming by the order's card finds it redeemed: one path.
		_, err = k.Orders.Redeem(k.ctx, s.Merchant, os[1].ID, os[1].PickupCode)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if _, err := k.Orders.RedeemCode(k.ctx, s.Merchant, s.Stall.ID, os[0].PickupCode); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("UnknownCodeAndOthers", func(t *testing.T) {
		k := newKit(t)
		s, other := k.shop("甲"), k.shop("乙")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 500}), 1, true)
		_, err := k.Orders.RedeemCode(k.ctx, s.Merchant, s.Stall.ID, "ZZZZZZZZ")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		_, err = k.Orders.RedeemCode(k.ctx, other.Merchant, s.Stall.ID, o.PickupCode)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.RedeemCode(k.ctx, k.buyer(), s.Stall.ID, o.PickupCode)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		if got := k.order(s.Merchant, o.ID); got.Status != orders.StatusPaid || got.PickupCode != "" {
			t.Errorf("the merchant reads %s with code %q, want paid and no code", got.Status, got.PickupCode)
		}
	})
	t.Run("PassOncePerBuyerAndFair", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, os := k.paidTwice(k.goods(s, catalogtest.Product{Price: 500}))
		p1, err := k.Orders.Pass(k.ctx, b, k.Fair.Slug)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := k.Orders.Pass(k.ctx, b, k.Fair.Slug)
		if err != nil {
			t.Fatal(err)
		}
		if p1.Code != p2.Code || len(p1.Code) != 10 || p1.Code[0] != 'P' || len(p1.Pickups) != 2 || p1.Pickups[0].StallName != "甲" {
			t.Fatalf("passes %+v and %+v", p1, p2)
		}
		other, err := k.Orders.Pass(k.ctx, k.buyer(), k.Fair.Slug)
		if err != nil || other.Code == p1.Code || len(other.Pickups) != 0 {
			t.Fatalf("another buyer's pass %+v, %v", other, err)
		}
		if _, err := k.Orders.RedeemCode(k.ctx, s.Merchant, s.Stall.ID, p1.Code); err != nil {
			t.Fatal(err)
		}
		p3, _ := k.Orders.Pass(k.ctx, b, k.Fair.Slug)
		for _, pk := range p3.Pickups {
			if pk.Status != orders.StatusRedeemed {
				t.Errorf("pickup %s is %s after redemption", pk.OrderID, pk.Status)
			}
		}
		_ = os
	})
	t.Run("TwentyScannersRedeemOnce", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, os := k.paidTwice(k.goods(s, catalogtest.Product{Price: 500}))
		pass, err := k.Orders.Pass(k.ctx, b, k.Fair.Slug)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, nothing := 0, 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := k.Orders.RedeemCode(k.ctx, s.Merchant, s.Stall.ID, pass.Code)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && len(got) == 2:
					wins++
				case errors.Is(err, orders.ErrNothingToRedeem):
					nothing++
				default:
					t.Errorf("RedeemCode: %v, %+v", err, got)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || nothing != 19 {
			t.Fatalf("%d redemptions and %d refusals, want 1 and 19", wins, nothing)
		}
		if ev := k.Events.Changed(); len(ev) != 2 {
			t.Errorf("notices %v, want 2", ev)
		}
		for _, o := range os {
			if got := k.order(b, o.ID); got.Status != orders.StatusRedeemed {
				t.Errorf("order %s is %s", o.ID, got.Status)
			}
		}
	})
}
