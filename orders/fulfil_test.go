package orders_test

import (
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

func TestShip(t *testing.T) {
	t.Run("MerchantShipsPaidOrder", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
		k.Clock.Advance(time.Hour)
		got, err := k.Orders.Ship(k.ctx, s.Merchant, o.ID, "  SF1234567  ")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != orders.StatusShipped || got.Tracking != "SF1234567" || got.ShippedAt == nil || !got.ShippedAt.Equal(k.Clock.Now()) {
			t.Errorf("order = %s, tracking %q, shipped at %v; want shipped SF1234567 now", got.Status, got.Tracking, got.ShippedAt)
		}
		if got, want := k.order(b, o.ID).Status, orders.StatusShipped; got != want {
			t.Errorf("the buyer sees %s, want %s", got, want)
		}
		if got, want := k.Events.Changed(), []string{o.ID + ":" + orders.StatusShipped}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("notices in the outbox = %v, want %v", got, want)
		}
	})

	cases := []struct {
		name  string
		setup func(k *kit, s shop) (actor catalog.Actor, orderID, tracking string)
		want  error
		field string
	}{
		{"Buyer", func(k *kit, s shop) (catalog.Actor, string, string) {
			b, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
			return b, o.ID, ""
		}, catalog.ErrForbidden, ""},
		{"OtherMerchant", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
			return k.shop("乙").Merchant, o.ID, ""
		}, catalog.ErrNotFound, ""},
		{"PickupOrder", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipPickup}), 1, true)
			return s.Merchant, o.ID, ""
		}, catalog.ErrConflict, ""},
		{"Unpaid", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, false)
			return s.Merchant, o.ID, ""
		}, catalog.ErrConflict, ""},
		{"ShippedTwice", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
			if _, err := k.Orders.Ship(k.ctx, s.Merchant, o.ID, ""); err != nil {
				k.t.Fatal(err)
			}
			return s.Merchant, o.ID, ""
		}, catalog.ErrConflict, ""},
		{"TrackingTooLong", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
			return s.Merchant, o.ID, strings.Repeat("9", 101)
		}, nil, "tracking"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKit(t)
			a, id, tracking := c.setup(k, k.shop("甲"))
			_, err := k.Orders.Ship(k.ctx, a, id, tracking)
			if c.field != "" {
				catalogtest.WantInvalid(t, err, c.field)
			} else {
				catalogtest.WantErr(t, err, c.want)
			}
		})
	}
}

func TestRedeem(t *testing.T) {
	t.Run("RightCode", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 800}), 1, true)
		// Codes are read back case-blind, spaces trimmed.
		got, err := k.Orders.Redeem(k.ctx, s.Merchant, o.ID, " "+strings.ToLower(o.PickupCode)+" ")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != orders.StatusRedeemed || got.RedeemedAt == nil {
			t.Errorf("order = %s (redeemed at %v), want redeemed", got.Status, got.RedeemedAt)
		}
		if got, want := k.order(b, o.ID).Status, orders.StatusRedeemed; got != want {
			t.Errorf("the buyer sees %s, want %s", got, want)
		}
		if got := k.Events.Changed(); len(got) != 1 || got[0] != o.ID+":"+orders.StatusRedeemed {
			t.Errorf("notices in the outbox = %v, want the redemption", got)
		}
		tot := k.totals()
		if len(tot.ByFulfillment) != 1 || tot.ByFulfillment[0].Redeemed != 1 || tot.ByFulfillment[0].GMV != 800 {
			t.Errorf("by fulfilment = %+v, want one pickup of 800, redeemed", tot.ByFulfillment)
		}
	})

	cases := []struct {
		name  string
		setup func(k *kit, s shop) (actor catalog.Actor, orderID, code string)
		want  error
	}{
		{"WrongCode", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{}), 1, true)
			return s.Merchant, o.ID, "WRONG234"
		}, orders.ErrWrongCode},
		{"WrongMerchant", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{}), 1, true)
			return k.shop("乙").Merchant, o.ID, o.PickupCode
		}, catalog.ErrNotFound},
		{"Buyer", func(k *kit, s shop) (catalog.Actor, string, string) {
			b, o := k.buy(k.goods(s, catalogtest.Product{}), 1, true)
			return b, o.ID, o.PickupCode
		}, catalog.ErrForbidden},
		{"Organizer", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{}), 1, true)
			return k.Organizer, o.ID, o.PickupCode
		}, catalog.ErrForbidden},
		{"Unpaid", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{}), 1, false)
			return s.Merchant, o.ID, o.PickupCode
		}, catalog.ErrConflict},
		{"Twice", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{}), 1, true)
			if _, err := k.Orders.Redeem(k.ctx, s.Merchant, o.ID, o.PickupCode); err != nil {
				k.t.Fatal(err)
			}
			return s.Merchant, o.ID, o.PickupCode
		}, catalog.ErrConflict},
		{"ShippedOrder", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
			return s.Merchant, o.ID, "ANYCODE2"
		}, catalog.ErrConflict},
		{"ExpiredVoucher", func(k *kit, s shop) (catalog.Actor, string, string) {
			_, o := k.buy(k.Voucher(k.t, s.Merchant, s.Stall.ID, catalogtest.Product{}), 1, true)
			k.Clock.Advance(31 * 24 * time.Hour)
			return s.Merchant, o.ID, o.PickupCode
		}, catalog.ErrConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKit(t)
			s := k.shop("甲")
			a, id, code := c.setup(k, s)
			_, err := k.Orders.Redeem(k.ctx, a, id, code)
			catalogtest.WantErr(t, err, c.want)
			if c.name != "Twice" {
				if got := k.order(s.Merchant, id).RedeemedAt; got != nil {
					t.Errorf("redeemed at %v after a refusal", got)
				}
			}
		})
	}
}
