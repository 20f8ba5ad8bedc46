package orders_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// sale is a flash sale of the kit's fair with its product and merchant.
type sale struct {
	*catalog.FlashSale
	Product *catalog.Product
	Shop    shop
}

// flashSale offers units of a new product (stock 10, price 1000) at a flash
// price; the sale opens a minute from now and lasts an hour.
func (k *kit) flashSale(in catalogtest.FlashSale) sale {
	k.t.Helper()
	s := k.shop("秒杀")
	p := k.goods(s, catalogtest.Product{Price: 1000, Stock: 10})
	f := k.NewFlashSale(k.t, s.Merchant, p.ID, in)
	return sale{f, p, s}
}

// open moves the clock to the sale's start.
func (k *kit) open(f sale) { k.Clock.Set(f.StartsAt) }

// admit purchases for a new buyer and fails the test unless admitted.
func (k *kit) admit(adm *orders.Admission, f sale, quantity int) (catalog.Actor, *orders.Ticket) {
	k.t.Helper()
	b := k.buyer()
	tk, err := adm.Purchase(k.ctx, b.UserID, f.ID, quantity)
	if err != nil {
		k.t.Fatalf("Purchase: %v", err)
	}
	return b, tk
}

// process turns tickets into orders and fails the test on error.
func (k *kit) process(tickets ...orders.Ticket) {
	k.t.Helper()
	if err := k.Orders.ProcessTickets(k.ctx, tickets); err != nil {
		k.t.Fatalf("ProcessTickets: %v", err)
	}
}

// flashOrders lists a buyer's live orders of a sale.
func (k *kit) flashOrders(a catalog.Actor, saleID string) []orders.Order {
	k.t.Helper()
	list, err := k.Orders.FlashOrders(k.ctx, a, saleID, 10)
	if err != nil {
		k.t.Fatal(err)
	}
	return list
}

func TestAdmission(t *testing.T) {
	t.Run("NotStarted", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{})
		adm, _ := k.admission()
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
		catalogtest.WantErr(t, err, orders.ErrNotStarted)
		// The same admission serves the sale once it opens.
		k.open(f)
		k.admit(adm, f, 1)
	})

	t.Run("Ended", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{})
		adm, _ := k.admission()
		k.Clock.Set(f.EndsAt)
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
		catalogtest.WantErr(t, err, orders.ErrEnded)
		catalogtest.WantErr(t, err, catalog.ErrGone)
	})

	t.Run("UnknownSale", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, catalog.NewID(), 1)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})

	t.Run("BadQuantity", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{})
		adm, _ := k.admission()
		k.open(f)
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 0)
		catalogtest.WantInvalid(t, err, "quantity")
	})

	t.Run("PerUserLimit", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 5, PerUserLimit: 2})
		adm, _ := k.admission()
		k.open(f)
		b, _ := k.admit(adm, f, 1)
		if _, err := adm.Purchase(k.ctx, b.UserID, f.ID, 1); err != nil {
			t.Fatalf("second unit: %v", err)
		}
		_, err := adm.Purchase(k.ctx, b.UserID, f.ID, 1)
		catalogtest.WantErr(t, err, orders.ErrLimitReached)
		// More than the limit at once is refused before Redis.
		_, err = adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 3)
		catalogtest.WantErr(t, err, orders.ErrLimitReached)
		if got, want := adm.Remaining(k.ctx, liveSale(k, f)), 3; got != want {
			t.Errorf("remaining = %d, want %d", got, want)
		}
	})

	t.Run("SoldOut", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 2})
		adm, _ := k.admission()
		k.open(f)
		k.admit(adm, f, 1)
		k.admit(adm, f, 1)
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
		catalogtest.WantErr(t, err, orders.ErrSoldOut)
		if got, want := adm.Remaining(k.ctx, liveSale(k, f)), 0; got != want {
			t.Errorf("remaining = %d, want %d", got, want)
		}
	})

	t.Run("FewerLeftThanAsked", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 3, PerUserLimit: 3})
		adm, _ := k.admission()
		k.open(f)
		k.admit(adm, f, 2)
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 2)
		catalogtest.WantErr(t, err, orders.ErrFlashShort)
		k.admit(adm, f, 1)
	})

	t.Run("WinnersQueued", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{})
		adm, _ := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 1)
		if tk.SaleID != f.ID || tk.UserID != b.UserID || tk.Quantity != 1 || !tk.AdmittedAt.Equal(k.Clock.Now()) {
			t.Errorf("ticket = %+v", tk)
		}
		// The ticket reaches the workers once the burst is over.
		deadline := time.Now().Add(5 * time.Second)
		for {
			k.Events.mu.Lock()
			n := len(k.Events.tickets)
			k.Events.mu.Unlock()
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("tickets queued = %d, want 1", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		row, err := adm.TicketStatus(k.ctx, b.UserID, f.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := row.Status, orders.TicketQueued; got != want {
			t.Errorf("ticket = %s, want %s", got, want)
		}
		pending, err := adm.PendingTickets(k.ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 || pending[0].ID != tk.ID {
			t.Errorf("pending = %+v, want %s", pending, tk.ID)
		}
		// Another user cannot read it.
		_, err = adm.TicketStatus(k.ctx, k.buyer().UserID, f.ID, tk.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)

		k.process(*tk)
		row, err = adm.TicketStatus(k.ctx, b.UserID, f.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Status != orders.TicketOrdered || row.OrderID == nil {
			t.Errorf("ticket = %+v, want ordered", row)
		}
		if pending, _ := adm.PendingTickets(k.ctx, f.ID); len(pending) != 0 {
			t.Errorf("pending = %+v, want none", pending)
		}
	})

	t.Run("RebuiltAfterRedisLost", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 3, PerUserLimit: 1})
		adm, r := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 1)
		k.process(*tk)
		if err := r.Client.FlushDB(k.ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// The database still knows who bought what.
		_, err := adm.Purchase(k.ctx, b.UserID, f.ID, 1)
		catalogtest.WantErr(t, err, orders.ErrLimitReached)
		k.admit(adm, f, 1)
		if got, want := adm.Remaining(k.ctx, liveSale(k, f)), 1; got != want {
			t.Errorf("remaining = %d, want %d", got, want)
		}
	})

	t.Run("ResetFromDatabase", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 4})
		adm, _ := k.admission()
		k.open(f)
		_, tk := k.admit(adm, f, 1)
		k.admit(adm, f, 1) // admitted but never made an order
		k.process(*tk)
		if err := adm.Reset(k.ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := adm.Remaining(k.ctx, liveSale(k, f)), 3; got != want {
			t.Errorf("remaining = %d, want %d (the database's count)", got, want)
		}
	})

	t.Run("CancelledOrderRestocked", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 1})
		adm, _ := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 1)
		k.process(*tk)
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
		catalogtest.WantErr(t, err, orders.ErrSoldOut)

		o := k.flashOrders(b, f.ID)[0]
		if _, err := k.Orders.CancelOrder(k.ctx, b, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := k.Events.Returned(); len(got) != 1 || got[0] != o.ID {
			t.Fatalf("restocks in the outbox = %v, want %s", got, o.ID)
		}
		for range 2 { // once per order, however often
			if err := adm.Restock(k.ctx, f.ID, o.ID, b.UserID, 1); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := adm.Remaining(k.ctx, liveSale(k, f)), 1; got != want {
			t.Errorf("remaining = %d, want %d", got, want)
		}
		// The buyer's place is back too.
		if _, err := adm.Purchase(k.ctx, b.UserID, f.ID, 1); err != nil {
			t.Fatalf("buying again: %v", err)
		}
	})
}

// liveSale reads an offer as the catalog has it now.
func liveSale(k *kit, f sale) *catalog.FlashSale {
	k.t.Helper()
	got, err := k.Catalog.FlashSaleByID(k.ctx, k.DB, catalog.Actor{}, f.ID, true)
	if err != nil {
		k.t.Fatal(err)
	}
	return got
}

func TestAdmissionRush(t *testing.T) {
	const units, buyers = 7, 40
	k := newKit(t)
	f := k.flashSale(catalogtest.FlashSale{Quantity: units, PerUserLimit: 1})
	adm, _ := k.admission()
	k.open(f)
	users := make([]catalog.Actor, buyers)
	for i := range users {
		users[i] = k.buyer()
	}

	var mu sync.Mutex
	var won []orders.Ticket
	refused := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tk, err := adm.Purchase(k.ctx, u.UserID, f.ID, 1)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, *tk)
			case errors.Is(err, orders.ErrSoldOut):
				refused["sold_out"]++
			default:
				refused[err.Error()]++
			}
		}()
	}
	close(start)
	wg.Wait()

	if got, want := len(won), units; got != want {
		t.Fatalf("admitted = %d, want %d (refused %v)", got, want, refused)
	}
	if got, want := refused["sold_out"], buyers-units; got != want {
		t.Errorf("sold out = %d, want %d (refused %v)", got, want, refused)
	}
	k.process(won...)
	if got := liveSale(k, f); got.Remaining != 0 {
		t.Errorf("sale = %d sold of %d, want sold out", got.Quantity-got.Remaining, got.Quantity)
	}
}

func TestFlashTickets(t *testing.T) {
	t.Run("OneOrderPerTicket", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Price: 99, Quantity: 5, PerUserLimit: 2})
		adm, _ := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 2)
		k.process(*tk, *tk) // twice in one batch
		k.process(*tk)      // and again
		list := k.flashOrders(b, f.ID)
		if got, want := len(list), 1; got != want {
			t.Fatalf("orders = %d, want %d", got, want)
		}
		o := list[0]
		if o.Total != 198 || o.Status != orders.StatusPendingPayment || o.TicketID == nil || *o.TicketID != tk.ID || o.PickupCode == "" {
			t.Errorf("order = %+v, want 2 × 99 pending, from ticket %s", o, tk.ID)
		}
		if got, want := len(o.Items), 1; got != want || o.Items[0].UnitPrice != 99 || o.Items[0].ProductID != f.Product.ID {
			t.Errorf("items = %+v, want one line at 99", o.Items)
		}
		if got := liveSale(k, f); got.Remaining != 3 {
			t.Errorf("remaining = %d, want 3", got.Remaining)
		}
		if got := k.Events.Opened(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != o.PaymentID {
			t.Errorf("PaymentsOpened = %v, want [[%s]]", got, o.PaymentID)
		}
	})

	t.Run("PaidLikeAnyOrder", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Price: 99})
		adm, _ := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 1)
		k.process(*tk)
		o := k.flashOrders(b, f.ID)[0]
		// The payment is opened at the provider when its payer comes to pay.
		if p := k.payment(b, o.PaymentID); p.ProviderRef == "" {
			t.Error("the payment was not opened at the provider")
		}
		if _, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, o.PaymentID, orders.PaymentSucceeded); err != nil {
			t.Fatal(err)
		}
		tot := k.totals()
		if len(tot.FlashSales) != 1 || tot.FlashSales[0].PaidOrders != 1 || tot.FlashSales[0].GMV != 99 || tot.FlashSales[0].Ordered != 1 {
			t.Errorf("flash sales = %+v, want one paid order of 99", tot.FlashSales)
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		cases := []struct {
			name   string
			ticket func(k *kit, f sale, b catalog.Actor) orders.Ticket
			reason string
		}{
			{"MoreThanLeft", func(k *kit, f sale, b catalog.Actor) orders.Ticket {
				// Redis admitted wrongly (after losing its state): the database refuses.
				return orders.Ticket{ID: catalog.NewID(), SaleID: f.ID, UserID: b.UserID, Quantity: f.Quantity + 1, AdmittedAt: k.Clock.Now()}
			}, "sold_out"},
			{"BeforeStart", func(k *kit, f sale, b catalog.Actor) orders.Ticket {
				return orders.Ticket{ID: catalog.NewID(), SaleID: f.ID, UserID: b.UserID, Quantity: 1, AdmittedAt: f.StartsAt.Add(-time.Second)}
			}, "outside_window"},
			{"AfterEnd", func(k *kit, f sale, b catalog.Actor) orders.Ticket {
				return orders.Ticket{ID: catalog.NewID(), SaleID: f.ID, UserID: b.UserID, Quantity: 1, AdmittedAt: f.EndsAt}
			}, "outside_window"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := newKit(t)
				f := k.flashSale(catalogtest.FlashSale{Quantity: 2})
				adm, _ := k.admission()
				k.open(f)
				b := k.buyer()
				tk := c.ticket(k, f, b)
				k.process(tk)
				row, err := adm.TicketStatus(k.ctx, b.UserID, f.ID, tk.ID)
				if err != nil {
					t.Fatal(err)
				}
				if row.Status != orders.TicketRejected || row.Reason != c.reason || row.OrderID != nil {
					t.Errorf("ticket = %s (%s), order %v; want rejected (%s)", row.Status, row.Reason, row.OrderID, c.reason)
				}
				if got := k.flashOrders(b, f.ID); len(got) != 0 {
					t.Errorf("orders = %d, want none", len(got))
				}
			})
		}
	})

	t.Run("WithdrawnSale", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{})
		if _, err := k.Catalog.WithdrawFlashSale(k.ctx, f.Shop.Merchant, f.ID); err != nil {
			t.Fatal(err)
		}
		adm, _ := k.admission()
		k.open(f)
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		b := k.buyer()
		tk := orders.Ticket{ID: catalog.NewID(), SaleID: f.ID, UserID: b.UserID, Quantity: 1, AdmittedAt: k.Clock.Now()}
		k.process(tk)
		row, err := adm.TicketStatus(k.ctx, b.UserID, f.ID, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Status != orders.TicketRejected || row.Reason != "withdrawn" {
			t.Errorf("ticket = %s (%s), want rejected (withdrawn)", row.Status, row.Reason)
		}
	})

	t.Run("SettleReturnsUnsold", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 5}) // stock 10 → 5
		adm, _ := k.admission()
		k.open(f)
		_, tk := k.admit(adm, f, 1)
		_, waiting := k.admit(adm, f, 1)
		k.process(*tk)
		k.Clock.Set(f.EndsAt)

		ids, err := k.Orders.UnsettledFlashSales(k.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != f.ID {
			t.Errorf("unsettled = %v, want [%s]", ids, f.ID)
		}
		// A ticket still waiting for its order holds the settlement.
		if err := k.Orders.SettleFlashSale(k.ctx, adm, f.ID); err == nil {
			t.Fatal("settled with a ticket waiting")
		}
		k.process(*waiting)
		for range 2 {
			if err := k.Orders.SettleFlashSale(k.ctx, adm, f.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := k.stock(f.Product.ID), int64(8); got != want {
			t.Errorf("stock = %d, want %d (the 3 unsold back)", got, want)
		}
		if got := liveSale(k, f); got.Quantity != 2 || !got.Settled {
			t.Errorf("sale = quantity %d, settled %v; want 2, settled", got.Quantity, got.Settled)
		}
		if ids, _ := k.Orders.UnsettledFlashSales(k.ctx); len(ids) != 0 {
			t.Errorf("unsettled = %v, want none", ids)
		}
	})

	t.Run("CancelAfterSettleBackToStock", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 5})
		adm, _ := k.admission()
		k.open(f)
		b, tk := k.admit(adm, f, 1)
		k.process(*tk)
		k.Clock.Set(f.EndsAt)
		if err := k.Orders.SettleFlashSale(k.ctx, adm, f.ID); err != nil {
			t.Fatal(err)
		}
		o := k.flashOrders(b, f.ID)[0]
		if _, err := k.Orders.CancelOrder(k.ctx, b, o.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.stock(f.Product.ID), int64(10); got != want {
			t.Errorf("stock = %d, want %d", got, want)
		}
		if got := k.Events.Returned(); len(got) != 0 {
			t.Errorf("restocks in the outbox = %v, want none (the sale is over)", got)
		}
	})

	t.Run("LiveSales", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{})
		ids, err := k.Orders.LiveFlashSales(k.ctx)
		if err != nil || len(ids) != 0 {
			t.Fatalf("before the start: %v, %v; want none", ids, err)
		}
		k.open(f)
		ids, err = k.Orders.LiveFlashSales(k.ctx)
		if err != nil || len(ids) != 1 || ids[0] != f.ID {
			t.Errorf("live = %v, %v; want [%s]", ids, err, f.ID)
		}
	})
}
