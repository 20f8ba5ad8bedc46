package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/jobs"
	"miaohui/orders"
)

// quietOrders is an orders service over the kit's database whose commits do
// not nudge the relay: their outbox messages wait, as after a crash.
func (k *kit) quietOrders() *orders.Service {
	return orders.NewService(k.DB, k.Catalog, k.Provider, orders.NoEvents{}, k.Clock.Now, window)
}

func (k *kit) outboxRows() []orders.OutboxMessage {
	k.t.Helper()
	var rows []orders.OutboxMessage
	if err := k.DB.NewSelect().Model(&rows).OrderExpr("created_at ASC, id ASC").Scan(k.ctx); err != nil {
		k.t.Fatal(err)
	}
	return rows
}

func (k *kit) relay() *jobs.Relay {
	return jobs.NewRelay(k.DB, jobs.NewEnqueuer(k.Redis.Client, discard), k.Clock.Now, discard)
}

func TestRelay(t *testing.T) {
	// paidQuietly pays n orders whose receipts wait in the outbox.
	paidQuietly := func(k *kit, n int) {
		svc := k.quietOrders()
		s := k.shop("糖人", catalogtest.Product{Price: 800, Stock: 100})
		for range n {
			b, c := k.checkout(s.Product.ID, 1)
			if _, err := svc.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded); err != nil {
				t.Fatal(err)
			}
		}
		if got := k.queued(jobs.TypeOrderNotify); len(got) != 0 {
			t.Fatalf("queued notices before the relay = %d, want none", len(got))
		}
	}

	t.Run("OnceWhenRunTwiceAndConcurrently", func(t *testing.T) {
		k := newKit(t, false)
		paidQuietly(k, 7)
		var mu sync.Mutex
		delivered := 0
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				n, err := k.relay().Run(k.ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				delivered += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if n, err := k.relay().Run(k.ctx); err != nil || n != 0 {
			t.Errorf("a second run delivered %d, %v; want 0", n, err)
		}
		if delivered != 7 {
			t.Errorf("delivered %d messages in all, want 7", delivered)
		}
		for _, m := range k.outboxRows() {
			if m.DeliveredAt == nil || m.Attempts != 1 {
				t.Errorf("message %s: delivered %v after %d attempts, want delivered at the first", m.ID, m.DeliveredAt, m.Attempts)
			}
		}
		notices := k.queued(jobs.TypeOrderNotify)
		if len(notices) != 7 {
			t.Fatalf("queued notices = %d, want 7", len(notices))
		}
		// Their tasks run (twice: a retry): one receipt each, and the messages are done.
		for _, task := range notices {
			k.mustRun(task)
			k.mustRun(task)
		}
		for _, m := range k.outboxRows() {
			if m.DoneAt == nil {
				t.Errorf("message %s not done after its task ran", m.ID)
			}
		}
		var receipts int
		if err := k.DB.NewSelect().TableExpr("notifications").ColumnExpr("count(*)").Where("kind = ?", "order_paid").Scan(k.ctx, &receipts); err != nil {
			t.Fatal(err)
		}
		if receipts != 7 {
			t.Errorf("receipts = %d, want 7", receipts)
		}
	})

	t.Run("EnqueueFailureLeavesTheRow", func(t *testing.T) {
		k := newKit(t, false)
		paidQuietly(k, 2)
		dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { dead.Close() })
		broken := jobs.NewRelay(k.DB, jobs.NewEnqueuer(dead, discard), k.Clock.Now, discard)
		if n, err := broken.Run(k.ctx); err == nil || n != 0 {
			t.Fatalf("run with Redis unreachable: %d, %v; want an error and nothing delivered", n, err)
		}
		for _, m := range k.outboxRows() {
			if m.DeliveredAt != nil || m.LastError == "" || m.ClaimedUntil != nil {
				t.Errorf("message %s after a failed enqueue: delivered %v, error %q, claimed until %v; want it waiting with the error",
					m.ID, m.DeliveredAt, m.LastError, m.ClaimedUntil)
			}
		}
		if n, err := k.relay().Run(k.ctx); err != nil || n != 2 {
			t.Errorf("the next run delivered %d, %v; want 2", n, err)
		}
		if got := k.queued(jobs.TypeOrderNotify); len(got) != 2 {
			t.Errorf("queued notices = %d, want 2", len(got))
		}
	})

	t.Run("TaskLostWithRedisOfferedAgain", func(t *testing.T) {
		k := newKit(t, false)
		paidQuietly(k, 1)
		if n, err := k.relay().Run(k.ctx); err != nil || n != 1 {
			t.Fatalf("delivered %d, %v; want 1", n, err)
		}
		// Still queued: offered again later, it keeps its TaskID and one task.
		k.Clock.Advance(6 * time.Minute)
		if _, err := k.relay().Run(k.ctx); err != nil {
			t.Fatal(err)
		}
		if got := k.queued(jobs.TypeOrderNotify); len(got) != 1 {
			t.Fatalf("queued notices = %d, want 1", len(got))
		}
		// Redis loses it: the next offer queues it again.
		if err := k.Redis.Client.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		k.Clock.Advance(6 * time.Minute)
		if n, err := k.relay().Run(k.ctx); err != nil || n != 1 {
			t.Fatalf("after Redis lost it, delivered %d, %v; want 1", n, err)
		}
		k.mustRun(k.one(jobs.TypeOrderNotify))
		// Done: never offered again.
		k.Clock.Advance(6 * time.Minute)
		if n, err := k.relay().Run(k.ctx); err != nil || n != 0 {
			t.Errorf("once done, delivered %d, %v; want 0", n, err)
		}
	})

	t.Run("PayoutsDueSweep", func(t *testing.T) {
		k := newKit(t, false)
		s := k.shop("风筝", catalogtest.Product{Price: 3000, Fulfillment: catalog.ShipDelivery})
		b := k.User(t, catalog.RoleShopper)
		if _, err := k.Orders.SetCartItem(k.ctx, b, s.Product.ID, 1); err != nil {
			t.Fatal(err)
		}
		c, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{ShippingAddress: "Beijing"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.Ship(k.ctx, s.Merchant, c.Orders[0].ID, "SF1"); err != nil {
			t.Fatal(err)
		}
		// The sweep is periodic: run it as the scheduler would.
		if err := k.run(asynqTask(jobs.TypePayoutsDue)); err != nil {
			t.Fatal(err)
		}
		if got := k.queued(jobs.TypeOrderPayout); len(got) != 0 {
			t.Fatalf("payouts queued within the hold = %d, want none", len(got))
		}
		k.Clock.Advance(orders.DefaultPayoutHold + time.Minute)
		for range 2 {
			if err := k.run(asynqTask(jobs.TypePayoutsDue)); err != nil {
				t.Fatal(err)
			}
		}
		k.runQueued(jobs.TypeOrderPayout)
		if got, want := k.Provider.Payouts(), []orders.Money{2850}; len(got) != 1 || got[0] != want[0] {
			t.Errorf("payouts = %v, want %v", got, want)
		}
		if due, err := k.Orders.PayoutsDue(k.ctx, 10); err != nil || len(due) != 0 {
			t.Errorf("payouts due once paid = %v, %v; want none", due, err)
		}
	})
}

func asynqTask(typ string) *asynq.Task { return asynq.NewTask(typ, nil) }
