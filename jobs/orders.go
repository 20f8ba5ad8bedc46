package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"miaohui/orders"
)

// Task types of the order flow.
const (
	// TypePaymentExpire closes a payment when its window ends.
	TypePaymentExpire = "payment:expire"
	// TypePaymentSweep closes every payment past its window (the safety net
	// for expiry tasks lost with Redis).
	TypePaymentSweep = "payment:sweep"
	// TypePaymentReconcile asks the provider about long-pending payments.
	TypePaymentReconcile = "payment:reconcile"
	// TypeOrderPayout pays a paid order's merchant share out to its stall.
	TypeOrderPayout = "order:payout"
	// TypeRefundReverse takes the merchant's part of a refund back from its payout.
	TypeRefundReverse = "refund:reverse"
	// TypePaymentsExpire closes the payments of a batch of flash orders when
	// their window ends; TypePaymentsRemind tells their buyers before.
	TypePaymentsExpire = "payments:expire"
	TypePaymentsRemind = "payments:remind"
)

type idPayload struct {
	ID string `json:"id"`
	// Outbox names the outbox message the task came from, if any.
	Outbox string `json:"outbox,omitempty"`
}

type idsPayload struct {
	IDs []string `json:"ids"`
}

func decodeIDs(t *asynq.Task) ([]string, error) {
	var p idsPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || len(p.IDs) == 0 {
		return nil, fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	return p.IDs, nil
}

// batchKey names a batch of ids for its TaskID.
func batchKey(ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func idTask(typ, id string) *asynq.Task {
	b, _ := json.Marshal(idPayload{ID: id})
	return asynq.NewTask(typ, b)
}

func decodeID(t *asynq.Task) (string, error) {
	var p idPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
		return "", fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	return p.ID, nil
}

// OrderEvents implements orders.Events and catalog.Events by queueing tasks,
// each with a TaskID derived from its row so it is queued once.
type OrderEvents struct {
	enq *Enqueuer
	db  bun.IDB
	adm *orders.Admission // optional: see UseAdmission
	rel *Relay
}

// NewOrderEvents returns the queue side of the order flow.
func NewOrderEvents(enq *Enqueuer, db bun.IDB) *OrderEvents {
	return &OrderEvents{enq: enq, db: db, rel: NewRelay(db, enq, nil, enq.logger)}
}

var _ orders.Events = (*OrderEvents)(nil)

// PaymentsOpened schedules the end of payments' windows, all closing at
// expiresAt, and the reminder before: a checkout's one payment gets tasks of
// its own (TaskID from the payment); a batch of flash orders gets one pair
// for all of them instead of a pair each.
func (e *OrderEvents) PaymentsOpened(ctx context.Context, paymentIDs []string, expiresAt time.Time) error {
	var expire, remind *asynq.Task
	var expireID, remindID string
	switch len(paymentIDs) {
	case 0:
		return nil
	case 1:
		id := paymentIDs[0]
		expire, expireID = idTask(TypePaymentExpire, id), "expire:"+id
		remind, remindID = idTask(TypePaymentRemind, id), "pay-remind:"+id
	default:
		payload, _ := json.Marshal(idsPayload{IDs: paymentIDs})
		key := batchKey(paymentIDs)
		expire, expireID = asynq.NewTask(TypePaymentsExpire, payload), "expire-batch:"+key
		remind, remindID = asynq.NewTask(TypePaymentsRemind, payload), "pay-remind-batch:"+key
	}
	if err := e.enq.Enqueue(ctx, expire, asynq.TaskID(expireID), asynq.ProcessAt(expiresAt), asynq.Queue(QueueDefault), asynq.MaxRetry(20)); err != nil {
		return err
	}
	remindAt := expiresAt.Add(-paymentReminderLead)
	if time.Until(remindAt) < paymentReminderLead {
		return nil // a short window needs no reminder
	}
	return e.enq.Enqueue(ctx, remind, asynq.TaskID(remindID), asynq.ProcessAt(remindAt), asynq.Queue(QueueLow))
}

func (w *Worker) handlePaymentExpire(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	return w.deps.Orders.ExpirePayment(ctx, id)
}

func (w *Worker) handlePaymentsExpire(ctx context.Context, t *asynq.Task) error {
	ids, err := decodeIDs(t)
	if err != nil {
		return err
	}
	for _, id := range ids { // each is closed once; a retry skips those done
		if err := w.deps.Orders.ExpirePayment(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (w *Worker) handlePaymentSweep(ctx context.Context, _ *asynq.Task) error {
	n, err := w.deps.Orders.SweepExpired(ctx, 500)
	if n > 0 {
		w.deps.Logger.Info("closed expired payments", "count", n)
	}
	return err
}

func (w *Worker) handlePaymentReconcile(ctx context.Context, _ *asynq.Task) error {
	n, err := w.deps.Orders.Reconcile(ctx, 600)
	if n > 0 {
		w.deps.Logger.Info("reconciled payments", "count", n)
	}
	return err
}

func (w *Worker) handleOrderPayout(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	return w.deps.Orders.Payout(ctx, id)
}

func (w *Worker) handleRefundReverse(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	return w.deps.Orders.ReversePayout(ctx, id)
}
