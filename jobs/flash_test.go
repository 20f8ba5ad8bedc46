package jobs_test

import (
	"encoding/json"
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

// sale is an open flash sale of a new stall's product (stock 10).
func (k *kit) sale(in catalogtest.FlashSale) (shop, *catalog.FlashSale) {
	k.t.Helper()
	s := k.shop("秒杀", catalogtest.Product{Price: 1000, Stock: 10})
	f := k.NewFlashSale(k.t, s.Merchant, s.Product.ID, in)
	return s, f
}

// win admits a new buyer to the sale and waits until the admission has
// queued the ticket's task.
func (k *kit) win(f *catalog.FlashSale) (catalog.Actor, *orders.Ticket) {
	k.t.Helper()
	b := k.User(k.t, catalog.RoleShopper)
	tk, err := k.Admission.Purchase(k.ctx, b.UserID, f.ID, 1)
	if err != nil {
		k.t.Fatalf("Purchase: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.ContainsFunc(k.queued(jobs.TypeFlashTicket), func(t *asynq.Task) bool { return ticketOf(t).ID == tk.ID }) {
		if time.Now().After(deadline) {
			k.t.Fatalf("ticket %s was not queued", tk.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b, tk
}

func ticketOf(t *asynq.Task) orders.Ticket {
	var tk orders.Ticket
	_ = json.Unmarshal(t.Payload(), &tk)
	return tk
}

func (k *kit) flashOrders(b catalog.Actor, saleID string) []orders.Order {
	k.t.Helper()
	list, err := k.Orders.FlashOrders(k.ctx, b, saleID, 10)
	if err != nil {
		k.t.Fatal(err)
	}
	return list
}

func TestFlashTasks(t *testing.T) {
	t.Run("TicketBecomesOneOrder", func(t *testing.T) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{Price: 88})
		k.Clock.Set(f.StartsAt)
		b, _ := k.win(f)
		task := k.one(jobs.TypeFlashTicket)
		k.mustRun(task)
		k.mustRun(task)
		list := k.flashOrders(b, f.ID)
		if len(list) != 1 || list[0].Total != 88 {
			t.Fatalf("orders = %+v, want one of 88", list)
		}
		// Its payment window is scheduled to close.
		if got := len(k.queued(jobs.TypePaymentExpire)); got != 1 {
			t.Errorf("expiry tasks = %d, want 1", got)
		}
	})

	t.Run("BatchOfTickets", func(t *testing.T) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{Quantity: 3})
		k.Clock.Set(f.StartsAt)
		var batch []orders.Ticket
		var buyers []catalog.Actor
		for range 3 {
			b, tk := k.win(f)
			buyers = append(buyers, b)
			batch = append(batch, *tk)
		}
		payload, err := json.Marshal(append(batch, batch[0])) // a ticket twice
		if err != nil {
			t.Fatal(err)
		}
		k.mustRun(asynq.NewTask(jobs.TypeFlashTickets, payload))
		for _, b := range buyers {
			if got := len(k.flashOrders(b, f.ID)); got != 1 {
				t.Errorf("buyer %s has %d orders, want 1", b.UserID, got)
			}
		}
		// The batch's payments close together: one task for all of them.
		expire := k.one(jobs.TypePaymentsExpire)
		k.one(jobs.TypePaymentsRemind)
		k.Clock.Advance(window)
		k.mustRun(expire)
		for _, b := range buyers {
			if got := k.flashOrders(b, f.ID); len(got) != 0 {
				t.Errorf("live orders of %s = %d after the window, want 0", b.UserID, len(got))
			}
		}
	})

	t.Run("CancelledOrderRestocked", func(t *testing.T) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{Quantity: 1})
		k.Clock.Set(f.StartsAt)
		b, _ := k.win(f)
		k.mustRun(k.one(jobs.TypeFlashTicket))
		o := k.flashOrders(b, f.ID)[0]
		if _, err := k.Orders.CancelOrder(k.ctx, b, o.ID); err != nil {
			t.Fatal(err)
		}
		restock := k.one(jobs.TypeFlashRestock)
		k.mustRun(restock)
		k.mustRun(restock)
		live, err := k.Catalog.FlashSaleByID(k.ctx, k.DB, catalog.Actor{}, f.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := k.Admission.Remaining(k.ctx, live), 1; got != want {
			t.Errorf("remaining = %d, want %d", got, want)
		}
	})

	t.Run("RecoverRequeuesLostTickets", func(t *testing.T) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{})
		k.Clock.Set(f.StartsAt)
		b, tk := k.win(f)
		// The ticket's task is lost (Redis kept the ticket itself).
		if _, err := k.inspector.DeleteAllAggregatingTasks(jobs.QueueCritical, groupOf(t, k)); err != nil {
			t.Fatal(err)
		}
		if got := len(k.queued(jobs.TypeFlashTicket)); got != 0 {
			t.Fatalf("ticket tasks = %d after the loss, want 0", got)
		}
		k.mustRun(asynq.NewTask(jobs.TypeFlashRecover, nil))
		task := k.one(jobs.TypeFlashTicket)
		if got := ticketOf(task).ID; got != tk.ID {
			t.Errorf("recovered ticket %s, want %s", got, tk.ID)
		}
		k.mustRun(task)
		if got := len(k.flashOrders(b, f.ID)); got != 1 {
			t.Errorf("orders = %d, want 1", got)
		}
	})

	t.Run("SettleReturnsUnsold", func(t *testing.T) {
		k := newKit(t, false)
		s, f := k.sale(catalogtest.FlashSale{Quantity: 4}) // stock 10 → 6
		k.Clock.Set(f.StartsAt)
		k.win(f)
		k.mustRun(k.one(jobs.TypeFlashTicket))
		k.Clock.Set(f.EndsAt)
		settle := asynq.NewTask(jobs.TypeFlashSettle, nil)
		k.mustRun(settle)
		k.mustRun(settle)
		if got, want := k.Stock(t, s.Product.ID), int64(9); got != want {
			t.Errorf("stock = %d, want %d (3 unsold back)", got, want)
		}
	})

	t.Run("RemindSubscribers", func(t *testing.T) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{})
		fans := []catalog.Actor{k.User(t, catalog.RoleShopper), k.User(t, catalog.RoleShopper)}
		for _, u := range fans {
			if err := k.Catalog.Remind(k.ctx, u, f.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.Events.FlashSaleScheduled(k.ctx, f.ID, f.StartsAt); err != nil {
			t.Fatal(err)
		}
		remind := k.one(jobs.TypeFlashRemind)
		k.mustRun(remind) // too early: the start may still move
		if got := len(k.queued(jobs.TypeNotify)); got != 0 {
			t.Fatalf("notices = %d before the start, want 0", got)
		}
		k.Clock.Set(f.StartsAt)
		k.mustRun(remind)
		if got := k.runQueued(jobs.TypeNotify); got != len(fans) {
			t.Errorf("notices = %d, want %d", got, len(fans))
		}
		for _, u := range fans {
			if got := kinds(k.inbox(u.UserID)); !slices.Equal(got, []string{"flash_start"}) {
				t.Errorf("inbox of %s = %v, want [flash_start]", u.UserID, got)
			}
		}
	})

	// A reminder set before a restart that emptied the queue (the in-process
	// Redis) is queued again from the database when a worker starts; a sale
	// nobody waits for, or one withdrawn, gets none; and a buyer hears once
	// however often it is rebuilt.
	t.Run("RemindersRebuiltAfterLoss", func(t *testing.T) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{})
		_, quiet := k.sale(catalogtest.FlashSale{})
		fan := k.User(t, catalog.RoleShopper)
		if err := k.Catalog.Remind(k.ctx, fan, f.ID); err != nil {
			t.Fatal(err)
		}
		if err := k.Events.FlashSaleScheduled(k.ctx, f.ID, f.StartsAt); err != nil {
			t.Fatal(err)
		}
		if _, err := k.inspector.DeleteAllScheduledTasks(jobs.QueueLow); err != nil {
			t.Fatal(err)
		}
		if got := len(k.queued(jobs.TypeFlashRemind)); got != 0 {
			t.Fatalf("reminders = %d after the loss, want 0", got)
		}
		rebuild := asynq.NewTask(jobs.TypeRemindersRebuild, nil)
		k.mustRun(rebuild)
		k.mustRun(rebuild) // a second worker starting: still one task
		remind := k.one(jobs.TypeFlashRemind)
		if id := string(remind.Payload()); !strings.Contains(id, f.ID) || strings.Contains(id, quiet.ID) {
			t.Fatalf("reminder payload %s, want sale %s", id, f.ID)
		}
		k.Clock.Set(f.StartsAt.Add(time.Minute)) // the worker came back after the start
		k.mustRun(remind)
		k.mustRun(remind)
		k.runQueued(jobs.TypeNotify)
		if got := kinds(k.inbox(fan.UserID)); !slices.Equal(got, []string{"flash_start"}) {
			t.Errorf("inbox = %v, want one flash_start", got)
		}
		// Once the sale is over nothing is rebuilt.
		if _, err := k.inspector.DeleteAllScheduledTasks(jobs.QueueLow); err != nil {
			t.Fatal(err)
		}
		if _, err := k.inspector.DeleteAllPendingTasks(jobs.QueueLow); err != nil {
			t.Fatal(err)
		}
		k.Clock.Set(f.EndsAt)
		k.mustRun(rebuild)
		if got := len(k.queued(jobs.TypeFlashRemind)); got != 0 {
			t.Errorf("reminders = %d after the end, want 0", got)
		}
	})
}

// groupOf is the one group of the critical queue.
func groupOf(t *testing.T, k *kit) string {
	t.Helper()
	groups, err := k.inspector.Groups(jobs.QueueCritical)
	if err != nil || len(groups) != 1 {
		t.Fatalf("groups = %v, %v; want one", groups, err)
	}
	return groups[0].Group
}
