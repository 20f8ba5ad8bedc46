package orders_test

import (
	"errors"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

func TestCart(t *testing.T) {
	t.Run("PutPricesFromProduct", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("糖葫芦")
		p := k.goods(s, catalogtest.Product{Price: 850, Stock: 5})
		b := k.buyer()

		c := k.put(b, p.ID, 3)
		if got, want := len(c.Items), 1; got != want {
			t.Fatalf("items = %d, want %d", got, want)
		}
		line := c.Items[0]
		if line.Quantity != 3 || line.UnitPrice != 850 || line.LineTotal != 2550 || !line.Available || line.StallID != s.Stall.ID {
			t.Errorf("line = %+v, want 3 × 850 = 2550 of stall %s, available", line, s.Stall.ID)
		}
		if got, want := c.Total, orders.Money(2550); got != want {
			t.Errorf("total = %d, want %d", got, want)
		}
		if got, want := c.FairID, k.Fair.ID; got != want {
			t.Errorf("fair = %s, want %s", got, want)
		}
	})

	t.Run("PutAgainSetsQuantity", func(t *testing.T) {
		k := newKit(t)
		p := k.goods(k.shop("面人"), catalogtest.Product{Price: 100})
		b := k.buyer()
		k.put(b, p.ID, 2)
		c := k.put(b, p.ID, 5)
		if got, want := c.Items[0].Quantity, 5; got != want {
			t.Errorf("quantity = %d, want %d", got, want)
		}
	})

	t.Run("ZeroRemoves", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("兔儿爷")
		p1, p2 := k.goods(s, catalogtest.Product{Price: 100}), k.goods(s, catalogtest.Product{Price: 200})
		b := k.buyer()
		k.put(b, p1.ID, 1)
		k.put(b, p2.ID, 1)
		c := k.put(b, p1.ID, 0)
		if got, want := len(c.Items), 1; got != want {
			t.Fatalf("items = %d, want %d", got, want)
		}
		if got, want := c.Items[0].ProductID, p2.ID; got != want {
			t.Errorf("left = %s, want %s", got, want)
		}
		if got, want := c.Total, orders.Money(200); got != want {
			t.Errorf("total = %d, want %d", got, want)
		}
	})

	t.Run("ClearCart", func(t *testing.T) {
		k := newKit(t)
		p := k.goods(k.shop("风筝"), catalogtest.Product{})
		b := k.buyer()
		k.put(b, p.ID, 1)
		if err := k.Orders.ClearCart(k.ctx, b); err != nil {
			t.Fatal(err)
		}
		c, err := k.Orders.Cart(k.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Items) != 0 || c.Total != 0 {
			t.Errorf("cart = %+v, want empty", c)
		}
	})

	t.Run("QuantityBounds", func(t *testing.T) {
		k := newKit(t)
		p := k.goods(k.shop("灯笼"), catalogtest.Product{Stock: 5})
		b := k.buyer()
		for _, q := range []int{-1, orders.MaxLineQuantity + 1} {
			_, err := k.Orders.SetCartItem(k.ctx, b, p.ID, q)
			catalogtest.WantInvalid(t, err, "quantity")
		}
	})

	t.Run("MoreThanStock", func(t *testing.T) {
		k := newKit(t)
		p := k.goods(k.shop("春联"), catalogtest.Product{Stock: 2})
		b := k.buyer()
		_, err := k.Orders.SetCartItem(k.ctx, b, p.ID, 3)
		catalogtest.WantErr(t, err, orders.ErrInsufficientStock)
		c, err := k.Orders.Cart(k.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(c.Items); got != 0 {
			t.Errorf("items = %d, want 0", got)
		}
	})

	t.Run("OneFairPerCart", func(t *testing.T) {
		k := newKit(t)
		p1 := k.goods(k.shop("地坛"), catalogtest.Product{})
		other := k.NewFair(t, catalogtest.FairInput{})
		m, st := k.Stall(t, other, "龙潭")
		p2 := k.Goods(t, m, st.ID, catalogtest.Product{})
		b := k.buyer()
		k.put(b, p1.ID, 1)
		_, err := k.Orders.SetCartItem(k.ctx, b, p2.ID, 1)
		catalogtest.WantErr(t, err, catalog.ErrConflict)

		// Once the cart is empty, the other fair's products go in.
		k.put(b, p1.ID, 0)
		c := k.put(b, p2.ID, 1)
		if got, want := c.FairID, other.ID; got != want {
			t.Errorf("fair = %s, want %s", got, want)
		}
	})

	t.Run("NotOnSale", func(t *testing.T) {
		cases := []struct {
			name  string
			setup func(k *kit, s shop, p *catalog.Product)
		}{
			{"InactiveProduct", func(k *kit, s shop, p *catalog.Product) {
				off := false
				if _, err := k.Catalog.UpdateProduct(k.ctx, s.Merchant, p.ID, catalog.ProductInput{Active: &off}); err != nil {
					k.t.Fatal(err)
				}
			}},
			{"SuspendedStall", func(k *kit, s shop, _ *catalog.Product) {
				if _, err := k.Catalog.SetStallStatus(k.ctx, k.Organizer, s.Stall.ID, catalog.StallSuspended, "违规经营"); err != nil {
					k.t.Fatal(err)
				}
			}},
			{"FairEnded", func(k *kit, _ shop, _ *catalog.Product) {
				k.Clock.Advance(catalogtest.FairDuration + time.Hour)
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := newKit(t)
				s := k.shop("庙会小吃")
				p := k.goods(s, catalogtest.Product{})
				c.setup(k, s, p)
				_, err := k.Orders.SetCartItem(k.ctx, k.buyer(), p.ID, 1)
				if !errors.Is(err, catalog.ErrConflict) && !errors.Is(err, catalog.ErrNotFound) {
					t.Fatalf("err = %v, want a conflict or not found", err)
				}
			})
		}
	})

	t.Run("OneVoucherPerLine", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("售楼处")
		v := k.Voucher(t, s.Merchant, s.Stall.ID, catalogtest.Product{Price: 5000})
		_, err := k.Orders.SetCartItem(k.ctx, k.buyer(), v.ID, 2)
		catalogtest.WantInvalid(t, err, "quantity")
	})

	t.Run("PriceFollowsProduct", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("茶馆")
		p := k.goods(s, catalogtest.Product{Price: 1000})
		b := k.buyer()
		k.put(b, p.ID, 2)
		price := int64(1200)
		if _, err := k.Catalog.UpdateProduct(k.ctx, s.Merchant, p.ID, catalog.ProductInput{Price: &price}); err != nil {
			t.Fatal(err)
		}
		c, err := k.Orders.Cart(k.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Total, orders.Money(2400); got != want {
			t.Errorf("total = %d, want %d (the current price)", got, want)
		}
	})

	t.Run("LineUnavailableWhenStockFalls", func(t *testing.T) {
		k := newKit(t)
		p := k.goods(k.shop("年画"), catalogtest.Product{Stock: 3})
		b := k.buyer()
		k.put(b, p.ID, 3)
		k.buy(p, 1, false) // another buyer takes one
		c, err := k.Orders.Cart(k.ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if c.Items[0].Available {
			t.Errorf("line %+v is available with 2 left for 3", c.Items[0])
		}
	})
}
