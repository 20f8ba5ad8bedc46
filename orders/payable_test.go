package orders_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// Orders whose fair closed, was moved to later, or whose stall was
// suspended are not paid for: the payer is refused and the orders cancelled
// before any money is taken, and money the provider captured anyway is
// refunded with the reason recorded.

func TestPaymentRefusedWhenUnpayable(t *testing.T) {
	cases := []struct {
		name   string
		change func(k *kit, s shop)
		why    string
	}{
		{"FairEnded", func(k *kit, _ shop) { k.Clock.Advance(catalogtest.FairDuration + time.Hour) }, "closed"},
		{"FairClosed", func(k *kit, _ shop) { k.closeFair() }, "closed"},
		{"FairPostponed", func(k *kit, _ shop) { k.postponeFair() }, "not opened"},
		{"StallSuspended", func(k *kit, s shop) { k.suspend(s) }, "suspended"},
	}
	for _, c := range cases {
		t.Run("Sandbox"+c.name, func(t *testing.T) {
			k := newKit(t)
			s := k.shop("灯笼")
			p := k.goods(s, catalogtest.Product{Price: 500, Stock: 10})
			b, o := k.buy(p, 2, false)
			// A long payment window: the fair's end, not the window's, stops it.
			if _, err := k.DB.NewUpdate().Table("payments").Set("expires_at = ?", k.Clock.Now().Add(30*24*time.Hour)).Where("id = ?", o.PaymentID).Exec(k.ctx); err != nil {
				t.Fatal(err)
			}
			c.change(k, s)
			_, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, o.PaymentID, orders.PaymentSucceeded)
			catalogtest.WantErr(t, err, catalog.ErrConflict)
			if err == nil || !strings.Contains(err.Error(), c.why) {
				t.Errorf("error %v, want it to say %q", err, c.why)
			}
			got := k.order(b, o.ID)
			if got.Status != orders.StatusCancelled {
				t.Errorf("order %s, want cancelled", got.Status)
			}
			if n := k.stock(p.ID); n != 10 {
				t.Errorf("stock %d, want 10 (returned)", n)
			}
			if len(k.Events.Paid()) != 0 {
				t.Errorf("orders announced paid: %v", k.Events.Paid())
			}
		})
	}

	t.Run("FlashPaymentNotOpened", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 3})
		adm, _ := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 1)
		k.process(*tk)
		o := k.flashOrders(b, f.ID)[0]
		opened := 0
		k.Provider.StartFunc = func(ctx context.Context, p *orders.Payment) (orders.Opening, error) {
			opened++
			return orders.Sandbox{}.Start(ctx, p)
		}
		k.closeFair()
		_, _, err := k.Orders.Payment(k.ctx, b, o.PaymentID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if opened != 0 {
			t.Errorf("the payment was opened at the provider %d times, want never", opened)
		}
		if got := k.order(b, o.ID); got.Status != orders.StatusCancelled {
			t.Errorf("order %s, want cancelled", got.Status)
		}
		if got := k.Events.Returned(); len(got) != 1 || got[0] != o.ID {
			t.Errorf("units put back on sale for %v, want the order %s", got, o.ID)
		}
		// Read again, the payment is plainly cancelled.
		if p := k.payment(b, o.PaymentID); p.Status != orders.PaymentCancelled {
			t.Errorf("payment %s, want cancelled", p.Status)
		}
	})

	t.Run("CapturedLateRefunded", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("灯笼")
		p := k.goods(s, catalogtest.Product{Price: 500, Stock: 10})
		b, o := k.buy(p, 2, false)
		k.suspend(s)
		// The provider says the money was captured (a webhook), once and again.
		for range 2 {
			if err := k.Orders.MarkPaid(k.ctx, o.PaymentID, "evt_late", "payment_intent.succeeded"); err != nil {
				t.Fatal(err)
			}
		}
		got := k.order(b, o.ID)
		if got.Status != orders.StatusCancelled && got.Status != orders.StatusRefunded {
			t.Errorf("order %s, want cancelled (refunded)", got.Status)
		}
		if got.Refunded != 1000 {
			t.Errorf("refunded %d, want 1000", got.Refunded)
		}
		var refunds []orders.Refund
		if err := k.DB.NewSelect().Model(&refunds).Where("order_id = ?", o.ID).Scan(k.ctx); err != nil {
			t.Fatal(err)
		}
		if len(refunds) != 1 || refunds[0].Status != orders.RefundSucceeded || !strings.Contains(refunds[0].Reason, "suspended") {
			t.Errorf("refunds = %+v, want one succeeded refund saying the stall was suspended", refunds)
		}
		if pay := k.payment(b, o.PaymentID); pay.Status != orders.PaymentSucceeded {
			t.Errorf("payment %s, want succeeded (the money was taken, then refunded)", pay.Status)
		}
		if n := k.stock(p.ID); n != 10 {
			t.Errorf("stock %d, want 10 (returned)", n)
		}
		if len(k.Events.Paid()) != 0 {
			t.Errorf("orders announced paid: %v", k.Events.Paid())
		}
	})

	t.Run("OpenFairPaid", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("灯笼")
		p := k.goods(s, catalogtest.Product{Price: 500, Stock: 10})
		b, o := k.buy(p, 1, true)
		if got := k.order(b, o.ID); got.Status != orders.StatusPaid {
			t.Errorf("order %s, want paid", got.Status)
		}
	})
}
