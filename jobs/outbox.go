package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/orders"
)

// Task types of the outbox and the payouts.
const (
	// TypeOutboxRelay hands the outbox's waiting messages to the queue (the
	// periodic backstop of the relay's own loop).
	TypeOutboxRelay = "outbox:relay"
	// TypePayoutsDue queues the payouts of the orders released and not yet
	// paid out: shipped orders past the hold, stalls that connected their
	// payout account since, payouts whose task was lost.
	TypePayoutsDue = "payout:due"
)

// Relay timing: a relay holds the messages it claimed for relayLease (a
// relay that died lets them go then); a message delivered but whose task has
// not run after relayReoffer is offered again (a task lost with Redis is
// queued again; one still queued keeps its TaskID, so nothing doubles).
const (
	relayBatch   = 200
	relayLease   = time.Minute
	relayReoffer = 5 * time.Minute
	// relayKeep is how long messages whose task ran are kept.
	relayKeep = 7 * 24 * time.Hour
)

// Relay hands the orders' outbox to the queue: each message becomes its
// task, with a TaskID derived from the row it concerns ("payout:"+order...),
// and is marked delivered once the queue has it; its task marks it done
// when it has run. Several relays (workers) may run at once: each claims its
// rows first.
type Relay struct {
	db     bun.IDB
	enq    *Enqueuer
	now    catalog.Clock
	logger *slog.Logger
	wake   chan struct{}
}

// NewRelay returns a relay over the outbox in db.
func NewRelay(db bun.IDB, enq *Enqueuer, now catalog.Clock, logger *slog.Logger) *Relay {
	if now == nil {
		now = catalog.SystemClock
	}
	return &Relay{db: db, enq: enq, now: now, logger: logger, wake: make(chan struct{}, 1)}
}

// Run delivers every message waiting, batch by batch; it returns how many
// it delivered and stops at the first batch that cannot be (the rest wait
// for the next run).
func (r *Relay) Run(ctx context.Context) (int, error) {
	total := 0
	for {
		n, claimed, err := r.deliver(ctx, nil)
		total += n
		if err != nil || claimed < relayBatch {
			return total, err
		}
	}
}

// Deliver hands the messages ids to the queue now, unless another relay
// holds them: the nudge after a commit.
func (r *Relay) Deliver(ctx context.Context, ids []string) (int, error) {
	n, _, err := r.deliver(ctx, ids)
	return n, err
}

// deliver claims one batch (among ids, if given), enqueues it and marks what
// the queue took. An enqueue failure gives that message and the rest of the
// batch back, for the next run.
func (r *Relay) deliver(ctx context.Context, ids []string) (delivered, claimed int, err error) {
	now := r.now()
	claim := catalog.NewID()
	msgs, err := orders.ClaimOutbox(ctx, r.db, claim, now, now.Add(-relayReoffer), relayLease, ids, relayBatch)
	if err != nil {
		return 0, 0, err
	}
	var done []string
	for i, m := range msgs {
		task, opts, terr := outboxTask(m)
		if terr == nil {
			terr = r.enq.Enqueue(ctx, task, opts...)
		}
		if terr != nil {
			err = fmt.Errorf("outbox %s (%s): %w", m.ID, m.Kind, terr)
			for _, rest := range msgs[i:] {
				if ferr := orders.OutboxFailed(context.WithoutCancel(ctx), r.db, claim, rest.ID, terr.Error()); ferr != nil {
					err = errors.Join(err, ferr)
				}
			}
			break
		}
		done = append(done, m.ID)
	}
	if derr := orders.OutboxDelivered(context.WithoutCancel(ctx), r.db, claim, done, r.now()); derr != nil {
		err = errors.Join(err, derr)
	}
	return len(done), len(msgs), err
}

// Nudge wakes the relay's loop (it never blocks).
func (r *Relay) Nudge() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Loop runs the relay every interval, and when nudged, until ctx ends.
func (r *Relay) Loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := r.Run(ctx); err != nil && ctx.Err() == nil {
			r.logger.Warn("outbox relay", "delivered", n, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// outboxTask is the task a message becomes; its payload names the message
// (outbox) so that the task marks it done.
func outboxTask(m orders.OutboxMessage) (*asynq.Task, []asynq.Option, error) {
	switch m.Kind {
	case orders.OutboxPayout:
		b, _ := json.Marshal(idPayload{ID: m.OrderID, Outbox: m.ID})
		id := "payout:" + m.OrderID
		if m.Event != "" { // the payouts of a stall that connected its account
			id += ":" + m.Event
		}
		return asynq.NewTask(TypeOrderPayout, b), []asynq.Option{asynq.TaskID(id), asynq.Queue(QueueDefault), asynq.MaxRetry(20)}, nil
	case orders.OutboxReverse:
		b, _ := json.Marshal(idPayload{ID: m.RefundID, Outbox: m.ID})
		return asynq.NewTask(TypeRefundReverse, b), []asynq.Option{asynq.TaskID("reverse:" + m.RefundID), asynq.Queue(QueueDefault), asynq.MaxRetry(20)}, nil
	case orders.OutboxNotice:
		n := orderNotice{OrderID: m.OrderID, Event: m.Event, RefundID: m.RefundID, AfterSaleID: m.AfterSaleID, Outbox: m.ID}
		b, _ := json.Marshal(n)
		return asynq.NewTask(TypeOrderNotify, b), []asynq.Option{asynq.TaskID("order-notify:" + n.key()), asynq.Queue(QueueLow), asynq.MaxRetry(10)}, nil
	case orders.OutboxRestock:
		b, _ := json.Marshal(restockPayload{SaleID: m.SaleID, OrderID: m.OrderID, UserID: m.BuyerID, Quantity: m.Units, Outbox: m.ID})
		return asynq.NewTask(TypeFlashRestock, b), []asynq.Option{asynq.TaskID("restock:" + m.OrderID), asynq.Queue(QueueCritical), asynq.MaxRetry(25)}, nil
	}
	return nil, nil, fmt.Errorf("unknown outbox kind %q", m.Kind)
}

// outboxed wraps the handler of a task the relay queues: once it has run,
// the message it came from is done.
func (w *Worker) outboxed(h asynq.HandlerFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		if err := h(ctx, t); err != nil {
			return err
		}
		var p struct {
			Outbox string `json:"outbox"`
		}
		if json.Unmarshal(t.Payload(), &p) != nil || p.Outbox == "" {
			return nil
		}
		return orders.OutboxDone(ctx, w.deps.DB, p.Outbox, w.deps.Now())
	}
}

// Outboxed delivers messages just committed to the outbox at once (see
// orders.Events); what it cannot deliver waits for the relay's next run.
func (e *OrderEvents) Outboxed(ctx context.Context, msgs []orders.OutboxMessage) error {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	_, err := e.rel.Deliver(ctx, ids)
	return err
}

// UseRelay makes r the relay that Outboxed delivers through (by default one
// on the wall clock).
func (e *OrderEvents) UseRelay(r *Relay) *OrderEvents {
	e.rel = r
	return e
}

func (w *Worker) handleOutboxRelay(ctx context.Context, _ *asynq.Task) error {
	n, err := w.relay.Run(ctx)
	if n > 0 {
		w.deps.Logger.Info("outbox delivered", "count", n)
	}
	if _, perr := orders.PurgeOutbox(ctx, w.deps.DB, w.deps.Now().Add(-relayKeep)); perr != nil {
		err = errors.Join(err, perr)
	}
	return err
}

// handlePayoutsDue queues the payout of every order released and not yet
// paid out (TaskID "payout:"+order: one already queued is not queued twice).
func (w *Worker) handlePayoutsDue(ctx context.Context, _ *asynq.Task) error {
	ids, err := w.deps.Orders.PayoutsDue(ctx, 500)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.enq.Enqueue(ctx, idTask(TypeOrderPayout, id), asynq.TaskID("payout:"+id), asynq.Queue(QueueDefault), asynq.MaxRetry(20)); err != nil {
			return err
		}
	}
	return nil
}
