package orders_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// outbox lists the kinds (kind or kind:event) of an order's outbox messages,
// oldest first.
func (k *kit) outbox(orderID string) []string {
	k.t.Helper()
	var msgs []orders.OutboxMessage
	if err := k.DB.NewSelect().Model(&msgs).Where("order_id = ?", orderID).OrderExpr("created_at ASC, kind ASC").Scan(k.ctx); err != nil {
		k.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Event != "" {
			out = append(out, m.Kind+":"+m.Event)
		} else {
			out = append(out, m.Kind)
		}
	}
	return out
}

func (k *kit) due() []string {
	k.t.Helper()
	ids, err := k.Orders.PayoutsDue(k.ctx, 100)
	if err != nil {
		k.t.Fatal(err)
	}
	return ids
}

func TestPayoutRelease(t *testing.T) {
	t.Run("RedeemedWritesPayout", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 1280}), 1, true)
		if got, want := k.outbox(o.ID), []string{"notice:paid"}; !slices.Equal(got, want) {
			t.Errorf("outbox after payment = %v, want %v (no payout at payment)", got, want)
		}
		if got := k.due(); len(got) != 0 {
			t.Errorf("payouts due after payment = %v, want none", got)
		}
		k.redeem(s, o)
		got := k.outbox(o.ID)
		slices.Sort(got)
		if want := []string{"notice:paid", "notice:redeemed", "payout"}; !slices.Equal(got, want) {
			t.Errorf("outbox after redemption = %v, want %v", got, want)
		}
		if got := k.due(); !slices.Equal(got, []string{o.ID}) {
			t.Errorf("payouts due after redemption = %v, want [%s]", got, o.ID)
		}
		for range 2 {
			if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := k.Provider.Payouts(), []orders.Money{1216}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
		if got := k.due(); len(got) != 0 {
			t.Errorf("payouts due once paid = %v, want none", got)
		}
	})

	t.Run("ShippedAfterHold", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 10000, Fulfillment: catalog.ShipDelivery}), 1, true)
		if _, err := k.Orders.Ship(k.ctx, s.Merchant, o.ID, "SF1"); err != nil {
			t.Fatal(err)
		}
		if got, want := k.outbox(o.ID), []string{"notice:paid", "notice:shipped"}; !slices.Equal(got, want) {
			t.Errorf("outbox after shipping = %v, want %v", got, want)
		}
		k.Clock.Advance(orders.DefaultPayoutHold - time.Minute)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := k.Provider.Payouts(); len(got) != 0 || len(k.due()) != 0 {
			t.Fatalf("within the hold: payouts %v, due %v; want none", got, k.due())
		}
		k.Clock.Advance(2 * time.Minute)
		if got := k.due(); !slices.Equal(got, []string{o.ID}) {
			t.Fatalf("payouts due past the hold = %v, want [%s]", got, o.ID)
		}
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.Provider.Payouts(), []orders.Money{9500}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
	})

	t.Run("RefundBeforeReleaseReducesIt", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 10000}), 1, true)
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(2000), "x"); err != nil {
			t.Fatal(err)
		}
		got := k.outbox(o.ID)
		slices.Sort(got)
		if want := []string{"notice:paid", "notice:refunded", "reverse"}; !slices.Equal(got, want) {
			t.Errorf("outbox after the refund = %v, want %v", got, want)
		}
		k.redeem(s, o)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.Provider.Payouts(), []orders.Money{9500 - 1900}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v", got, want)
		}
	})

	t.Run("FullyRefundedNeverDue", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Price: 10000, Fulfillment: catalog.ShipDelivery}), 1, true)
		if _, err := k.Orders.Ship(k.ctx, s.Merchant, o.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "lost"); err != nil {
			t.Fatal(err)
		}
		k.Clock.Advance(orders.DefaultPayoutHold + time.Hour)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got := k.Provider.Payouts(); len(got) != 0 || len(k.due()) != 0 {
			t.Errorf("refunded order: payouts %v, due %v; want none", got, k.due())
		}
	})

	t.Run("NoHold", func(t *testing.T) {
		k := newKit(t)
		k.Orders.WithPayoutHold(0)
		s := k.shop("甲")
		_, o := k.buy(k.goods(s, catalogtest.Product{Fulfillment: catalog.ShipDelivery}), 1, true)
		if _, err := k.Orders.Ship(k.ctx, s.Merchant, o.ID, ""); err != nil {
			t.Fatal(err)
		}
		if got := k.due(); !slices.Equal(got, []string{o.ID}) {
			t.Errorf("payouts due with no hold = %v, want [%s]", got, o.ID)
		}
	})
}

func TestOutbox(t *testing.T) {
	t.Run("WrittenOnceWithTheEvent", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b := k.buyer()
		k.put(b, k.goods(s, catalogtest.Product{}).ID, 1)
		c := k.checkout(b, orders.CheckoutInput{})
		for range 2 { // a redelivered webhook
			if err := k.Orders.MarkPaid(k.ctx, c.Payment.ID, "evt_paid_1", "payment_intent.succeeded"); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := k.outbox(c.Orders[0].ID), []string{"notice:paid"}; !slices.Equal(got, want) {
			t.Errorf("outbox = %v, want %v", got, want)
		}
		if got := k.Events.Paid(); !slices.Equal(got, []string{c.Orders[0].ID}) {
			t.Errorf("relay nudged for %v, want the order once", got)
		}
	})

	// put writes n messages straight into the outbox.
	put := func(k *kit, n int) []string {
		var ids []string
		for i := range n {
			m := &orders.OutboxMessage{ID: catalog.NewID(), Kind: orders.OutboxNotice, OrderID: fmt.Sprintf("o%02d", i), Event: "paid",
				CreatedAt: k.Clock.Now().Add(time.Duration(i) * time.Millisecond)}
			if _, err := k.DB.NewInsert().Model(m).Exec(k.ctx); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		return ids
	}
	const lease = time.Minute

	t.Run("ConcurrentClaimsDisjoint", func(t *testing.T) {
		k := newKit(t)
		put(k, 20)
		now := k.Clock.Now()
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				for {
					msgs, err := orders.ClaimOutbox(k.ctx, k.DB, catalog.NewID(), now, now.Add(-time.Hour), lease, nil, 3)
					if err != nil {
						errs <- err
						return
					}
					if len(msgs) == 0 {
						return
					}
					mu.Lock()
					for _, m := range msgs {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if len(seen) != 20 {
			t.Errorf("claimed %d messages, want 20", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("message %s claimed %d times", id, n)
			}
		}
	})

	t.Run("DeliveredThenDone", func(t *testing.T) {
		k := newKit(t)
		ids := put(k, 2)
		now := k.Clock.Now()
		msgs, err := orders.ClaimOutbox(k.ctx, k.DB, "c1", now, now.Add(-5*time.Minute), lease, nil, 10)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("claimed %d, %v; want 2", len(msgs), err)
		}
		if err := orders.OutboxDelivered(k.ctx, k.DB, "c1", ids, now); err != nil {
			t.Fatal(err)
		}
		if err := orders.OutboxDone(k.ctx, k.DB, ids[0], now); err != nil {
			t.Fatal(err)
		}
		// Delivered and not yet stale: no relay takes them again.
		later := now.Add(2 * time.Minute)
		if msgs, _ := orders.ClaimOutbox(k.ctx, k.DB, "c2", later, later.Add(-5*time.Minute), lease, nil, 10); len(msgs) != 0 {
			t.Errorf("claimed %d delivered messages, want none", len(msgs))
		}
		// Delivered long ago and its task never ran (lost with Redis): offered again.
		later = now.Add(6 * time.Minute)
		msgs, err = orders.ClaimOutbox(k.ctx, k.DB, "c3", later, later.Add(-5*time.Minute), lease, nil, 10)
		if err != nil || len(msgs) != 1 || msgs[0].ID != ids[1] || msgs[0].Attempts != 2 {
			t.Errorf("re-offered %+v, %v; want the one not done, second attempt", msgs, err)
		}
	})

	t.Run("FailedGoesBack", func(t *testing.T) {
		k := newKit(t)
		ids := put(k, 1)
		now := k.Clock.Now()
		if msgs, _ := orders.ClaimOutbox(k.ctx, k.DB, "c1", now, now, lease, nil, 10); len(msgs) != 1 {
			t.Fatalf("claimed %d, want 1", len(msgs))
		}
		// Held by c1: nobody else takes it until its lease ends.
		if msgs, _ := orders.ClaimOutbox(k.ctx, k.DB, "c2", now, now, lease, nil, 10); len(msgs) != 0 {
			t.Fatalf("claimed %d held messages, want none", len(msgs))
		}
		if err := orders.OutboxFailed(k.ctx, k.DB, "c1", ids[0], "redis down"); err != nil {
			t.Fatal(err)
		}
		msgs, err := orders.ClaimOutbox(k.ctx, k.DB, "c3", now, now, lease, nil, 10)
		if err != nil || len(msgs) != 1 || msgs[0].LastError != "redis down" {
			t.Errorf("after a failure claimed %+v, %v; want it again with its error", msgs, err)
		}
		// A lease that ran out (its relay died) lets it go too.
		later := now.Add(lease + time.Second)
		if msgs, _ := orders.ClaimOutbox(k.ctx, k.DB, "c4", later, later, lease, nil, 10); len(msgs) != 1 {
			t.Errorf("after the lease claimed %d, want 1", len(msgs))
		}
		n, oldest, err := orders.OutboxBacklog(k.ctx, k.DB, later)
		if err != nil || n != 1 || oldest.IsZero() {
			t.Errorf("backlog = %d, %v, %v; want 1", n, oldest, err)
		}
	})
}
