package orders_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

func TestCheckout(t *testing.T) {
	t.Run("TwoStallsOnePayment", func(t *testing.T) {
		k := newKit(t)
		a, b := k.shop("小吃"), k.shop("手作")
		pa := k.goods(a, catalogtest.Product{Price: 1000, Stock: 10, Category: "food"})
		pb1 := k.goods(b, catalogtest.Product{Price: 250, Stock: 4, Fulfillment: catalog.ShipDelivery, Category: "crafts"})
		pb2 := k.goods(b, catalogtest.Product{Price: 99, Stock: 1})
		buyer := k.buyer()
		k.put(buyer, pa.ID, 2)
		k.put(buyer, pb1.ID, 3)
		k.put(buyer, pb2.ID, 1)

		c := k.checkout(buyer, orders.CheckoutInput{ShippingAddress: "  2 Ditan Park, Beijing  "})

		if got, want := len(c.Orders), 2; got != want {
			t.Fatalf("orders = %d, want %d (one per stall)", got, want)
		}
		if got, want := c.Total, orders.Money(2000+750+99); got != want {
			t.Errorf("total = %d, want %d", got, want)
		}
		if got, want := c.Payment.Amount, c.Total; got != want {
			t.Errorf("payment = %d, want %d", got, want)
		}
		if got, want := c.Payment.Status, orders.PaymentPending; got != want {
			t.Errorf("payment status = %s, want %s", got, want)
		}
		if got, want := c.Payment.ExpiresAt, k.Clock.Now().Add(window); !got.Equal(want) {
			t.Errorf("expires = %v, want %v", got, want)
		}
		byStall := map[string]orders.Order{}
		for _, o := range c.Orders {
			byStall[o.StallID] = o
			if o.PaymentID != c.Payment.ID || o.Status != orders.StatusPendingPayment || o.BuyerID != buyer.UserID {
				t.Errorf("order %+v: want pending on payment %s of %s", o, c.Payment.ID, buyer.UserID)
			}
			if o.PlatformFee+o.MerchantShare != o.Total {
				t.Errorf("order %s: fee %d + share %d != total %d", o.ID, o.PlatformFee, o.MerchantShare, o.Total)
			}
		}
		oa, ob := byStall[a.Stall.ID], byStall[b.Stall.ID]
		if oa.Total != 2000 || oa.PlatformFee != 100 || oa.Fulfillment != catalog.ShipPickup || oa.PickupCode == "" {
			t.Errorf("stall A's order = %+v, want 2000 (fee 100), picked up with a code", oa)
		}
		if ob.Total != 849 || ob.Fulfillment != catalog.ShipDelivery || ob.ShippingAddress != "2 Ditan Park, Beijing" || ob.PickupCode != "" {
			t.Errorf("stall B's order = %+v, want 849 shipped to the trimmed address", ob)
		}
		for id, want := range map[string]int64{pa.ID: 8, pb1.ID: 1, pb2.ID: 0} {
			if got := k.stock(id); got != want {
				t.Errorf("stock of %s = %d, want %d", id, got, want)
			}
		}
		cart, err := k.Orders.Cart(k.ctx, buyer)
		if err != nil {
			t.Fatal(err)
		}
		if len(cart.Items) != 0 {
			t.Errorf("cart after checkout = %+v, want empty", cart.Items)
		}
		if got := k.payment(buyer, c.Payment.ID).ProviderRef; got == "" {
			t.Error("the payment was not opened at the provider")
		}
		if got := k.Events.Opened(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != c.Payment.ID {
			t.Errorf("PaymentsOpened = %v, want [[%s]]", got, c.Payment.ID)
		}
	})

	t.Run("PricesFromServer", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("茶馆")
		p := k.goods(s, catalogtest.Product{Price: 1000})
		buyer := k.buyer()
		k.put(buyer, p.ID, 2)
		price := int64(1500)
		if _, err := k.Catalog.UpdateProduct(k.ctx, s.Merchant, p.ID, catalog.ProductInput{Price: &price}); err != nil {
			t.Fatal(err)
		}
		c := k.checkout(buyer, orders.CheckoutInput{})
		if got, want := c.Total, orders.Money(3000); got != want {
			t.Errorf("total = %d, want %d", got, want)
		}
		// The order keeps its price whatever the product's later.
		price = 1
		if _, err := k.Catalog.UpdateProduct(k.ctx, s.Merchant, p.ID, catalog.ProductInput{Price: &price}); err != nil {
			t.Fatal(err)
		}
		o := k.order(buyer, c.Orders[0].ID)
		if got, want := o.Items[0].UnitPrice, orders.Money(1500); got != want {
			t.Errorf("unit price = %d, want %d", got, want)
		}
	})

	t.Run("PickupOverridesShipping", func(t *testing.T) {
		k := newKit(t)
		p := k.goods(k.shop("风筝"), catalogtest.Product{Fulfillment: catalog.ShipDelivery})
		buyer := k.buyer()
		k.put(buyer, p.ID, 1)
		c := k.checkout(buyer, orders.CheckoutInput{Fulfillment: catalog.ShipPickup})
		if o := c.Orders[0]; o.Fulfillment != catalog.ShipPickup || o.PickupCode == "" {
			t.Errorf("order = %+v, want picked up with a code", o)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		cases := []struct {
			name  string
			setup func(k *kit, buyer catalog.Actor) orders.CheckoutInput
			check func(t *testing.T, err error)
		}{
			{"EmptyCart", func(*kit, catalog.Actor) orders.CheckoutInput { return orders.CheckoutInput{} },
				func(t *testing.T, err error) { catalogtest.WantErr(t, err, orders.ErrEmptyCart) }},
			{"BadFulfillment", func(k *kit, b catalog.Actor) orders.CheckoutInput {
				k.put(b, k.goods(k.shop("灯"), catalogtest.Product{}).ID, 1)
				return orders.CheckoutInput{Fulfillment: "drone"}
			}, func(t *testing.T, err error) { catalogtest.WantInvalid(t, err, "fulfillment") }},
			{"AddressTooLong", func(k *kit, b catalog.Actor) orders.CheckoutInput {
				k.put(b, k.goods(k.shop("灯"), catalogtest.Product{}).ID, 1)
				return orders.CheckoutInput{ShippingAddress: strings.Repeat("路", 301)}
			}, func(t *testing.T, err error) { catalogtest.WantInvalid(t, err, "shipping_address") }},
			{"ShippingAddressRequired", func(k *kit, b catalog.Actor) orders.CheckoutInput {
				k.put(b, k.goods(k.shop("灯"), catalogtest.Product{Fulfillment: catalog.ShipDelivery}).ID, 1)
				return orders.CheckoutInput{Fulfillment: catalog.ShipDelivery}
			}, func(t *testing.T, err error) { catalogtest.WantInvalid(t, err, "shipping_address") }},
			{"StockGoneSinceCart", func(k *kit, b catalog.Actor) orders.CheckoutInput {
				p := k.goods(k.shop("灯"), catalogtest.Product{Stock: 2})
				k.put(b, p.ID, 2)
				k.buy(p, 1, false)
				return orders.CheckoutInput{}
			}, func(t *testing.T, err error) { catalogtest.WantErr(t, err, orders.ErrInsufficientStock) }},
			{"FairClosed", func(k *kit, b catalog.Actor) orders.CheckoutInput {
				k.put(b, k.goods(k.shop("灯"), catalogtest.Product{}).ID, 1)
				k.Clock.Advance(catalogtest.FairDuration)
				return orders.CheckoutInput{}
			}, func(t *testing.T, err error) { catalogtest.WantErr(t, err, catalog.ErrConflict) }},
			{"StallSuspendedSinceCart", func(k *kit, b catalog.Actor) orders.CheckoutInput {
				s := k.shop("灯")
				k.put(b, k.goods(s, catalogtest.Product{}).ID, 1)
				if _, err := k.Catalog.SetStallStatus(k.ctx, k.Organizer, s.Stall.ID, catalog.StallSuspended, "违规经营"); err != nil {
					k.t.Fatal(err)
				}
				return orders.CheckoutInput{}
			}, func(t *testing.T, err error) { catalogtest.WantErr(t, err, catalog.ErrConflict) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := newKit(t)
				buyer := k.buyer()
				in := c.setup(k, buyer)
				before, _, err := k.Orders.BuyerOrders(k.ctx, buyer, catalog.Page{})
				if err != nil {
					t.Fatal(err)
				}
				_, err = k.Orders.Checkout(k.ctx, buyer, in)
				c.check(t, err)
				after, _, err := k.Orders.BuyerOrders(k.ctx, buyer, catalog.Page{})
				if err != nil {
					t.Fatal(err)
				}
				if len(after) != len(before) {
					t.Errorf("orders = %d after a refused checkout, want %d", len(after), len(before))
				}
			})
		}
	})

	t.Run("Unauthorized", func(t *testing.T) {
		k := newKit(t)
		_, err := k.Orders.Checkout(k.ctx, catalog.Actor{}, orders.CheckoutInput{})
		catalogtest.WantErr(t, err, catalog.ErrUnauthorized)
	})

	t.Run("StockKeptWhenRefused", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("灯")
		plenty := k.goods(s, catalogtest.Product{Stock: 10})
		scarce := k.goods(s, catalogtest.Product{Stock: 1})
		buyer := k.buyer()
		k.put(buyer, plenty.ID, 4)
		k.put(buyer, scarce.ID, 1)
		k.buy(scarce, 1, false)
		_, err := k.Orders.Checkout(k.ctx, buyer, orders.CheckoutInput{})
		catalogtest.WantErr(t, err, orders.ErrInsufficientStock)
		if got, want := k.stock(plenty.ID), int64(10); got != want {
			t.Errorf("stock = %d, want %d (the transaction rolled back)", got, want)
		}
		cart, err := k.Orders.Cart(k.ctx, buyer)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(cart.Items), 2; got != want {
			t.Errorf("cart lines = %d, want %d", got, want)
		}
	})

	t.Run("OneVoucherPerBuyer", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("售楼处")
		v := k.Voucher(t, s.Merchant, s.Stall.ID, catalogtest.Product{Price: 2000, Stock: 5})
		buyer := k.buyer()
		k.put(buyer, v.ID, 1)
		c := k.checkout(buyer, orders.CheckoutInput{})
		if got := c.Orders[0].PickupCode; got == "" {
			t.Error("a voucher order has no code")
		}
		k.put(buyer, v.ID, 1)
		_, err := k.Orders.Checkout(k.ctx, buyer, orders.CheckoutInput{})
		catalogtest.WantErr(t, err, orders.ErrVoucherHeld)

		// Cancelling the first frees the buyer's place.
		if _, err := k.Orders.CancelOrder(k.ctx, buyer, c.Orders[0].ID); err != nil {
			t.Fatal(err)
		}
		k.checkout(buyer, orders.CheckoutInput{})
	})

	t.Run("ProviderDownUndoesCheckout", func(t *testing.T) {
		k := newKit(t)
		k.Provider.StartFunc = func(context.Context, *orders.Payment) (orders.Opening, error) {
			return orders.Opening{}, errors.New("connection refused")
		}
		p := k.goods(k.shop("灯"), catalogtest.Product{Stock: 3})
		buyer := k.buyer()
		k.put(buyer, p.ID, 2)
		_, err := k.Orders.Checkout(k.ctx, buyer, orders.CheckoutInput{})
		catalogtest.WantErr(t, err, orders.ErrProvider)
		if got, want := k.stock(p.ID), int64(3); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
		list, _, err := k.Orders.BuyerOrders(k.ctx, buyer, catalog.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Status != orders.StatusCancelled {
			t.Errorf("orders = %+v, want one cancelled", list)
		}
		// The cart is back as it was, and paying works once the provider does.
		cart, err := k.Orders.Cart(k.ctx, buyer)
		if err != nil {
			t.Fatal(err)
		}
		if len(cart.Items) != 1 || cart.Items[0].ProductID != p.ID || cart.Items[0].Quantity != 2 {
			t.Fatalf("cart after the undone checkout = %+v, want %s × 2", cart.Items, p.ID)
		}
		k.Provider.StartFunc = nil
		if c := k.checkout(buyer, orders.CheckoutInput{}); len(c.Orders) != 1 {
			t.Fatalf("checkout after the provider is back: %+v", c)
		}
	})
}

func TestOrderAccess(t *testing.T) {
	k := newKit(t)
	a, b := k.shop("甲"), k.shop("乙")
	pa := k.goods(a, catalogtest.Product{})
	pb := k.goods(b, catalogtest.Product{})
	buyer := k.buyer()
	k.put(buyer, pa.ID, 1)
	k.put(buyer, pb.ID, 1)
	c := k.checkout(buyer, orders.CheckoutInput{})
	var orderA string
	for _, o := range c.Orders {
		if o.StallID == a.Stall.ID {
			orderA = o.ID
		}
	}

	cases := []struct {
		name  string
		actor catalog.Actor
		want  error
	}{
		{"Buyer", buyer, nil},
		{"Merchant", a.Merchant, nil},
		{"Organizer", k.Organizer, nil},
		{"OtherStallsMerchant", b.Merchant, catalog.ErrNotFound},
		{"Stranger", k.buyer(), catalog.ErrNotFound},
		{"Anonymous", catalog.Actor{}, catalog.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := k.Orders.Order(k.ctx, c.actor, orderA)
			if c.want != nil {
				catalogtest.WantErr(t, err, c.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(o.Items), 1; got != want {
				t.Errorf("items = %d, want %d", got, want)
			}
		})
	}

	t.Run("Lists", func(t *testing.T) {
		mine, _, err := k.Orders.BuyerOrders(k.ctx, buyer, catalog.Page{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(mine), 1; got != want {
			t.Fatalf("first page = %d, want %d", got, want)
		}
		stall, _, err := k.Orders.StallOrders(k.ctx, a.Merchant, a.Stall.ID, orders.StatusPendingPayment, catalog.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(stall) != 1 || stall[0].ID != orderA || len(stall[0].Items) != 1 {
			t.Errorf("stall orders = %+v, want %s with its item", stall, orderA)
		}
		_, _, err = k.Orders.StallOrders(k.ctx, b.Merchant, a.Stall.ID, "", catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
}
