package orders

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// The outbox: what must follow a committed payment, refund, cancellation,
// shipping or redemption is written as outbox rows in the same transaction,
// and a relay (the jobs package) hands them to the queue afterwards. A
// crash, or Redis down, between the commit and the enqueue loses nothing: the
// rows wait for the next relay run. After a commit the service nudges the
// relay (Events.Outboxed) for low latency; correctness never depends on it.

// Outbox message kinds.
const (
	// OutboxPayout pays an order's merchant share out (OrderID), once released.
	OutboxPayout = "payout"
	// OutboxReverse takes a refund's merchant part back from its payout (RefundID).
	OutboxReverse = "reverse"
	// OutboxNotice tells the people concerned what happened to an order
	// (OrderID, Event: paid, shipped, redeemed, refunded with RefundID, or
	// one of the after-sales events with AfterSaleID).
	OutboxNotice = "notice"
	// OutboxRestock puts a cancelled flash order's units back on sale in
	// Redis (SaleID, OrderID, BuyerID, Units).
	OutboxRestock = "restock"
)

// OutboxMessage is one piece of follow-up work waiting for the queue.
type OutboxMessage struct {
	bun.BaseModel `bun:"table:outbox"`

	ID       string `bun:",pk"`
	Kind     string
	OrderID  string
	RefundID string
	Event    string
	SaleID   string
	BuyerID  string
	Units    int
	// AfterSaleID names the after-sales request of an after-sales notice.
	AfterSaleID string

	CreatedAt    time.Time
	Claim        string
	ClaimedUntil *time.Time
	Attempts     int
	LastError    string
	DeliveredAt  *time.Time
	DoneAt       *time.Time
}

// writeOutbox stores msgs in tx, the transaction whose commit they follow.
func writeOutbox(ctx context.Context, tx bun.IDB, now time.Time, msgs ...OutboxMessage) ([]OutboxMessage, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	for i := range msgs {
		msgs[i].ID, msgs[i].CreatedAt = catalog.NewID(), now
	}
	if _, err := tx.NewInsert().Model(&msgs).Exec(ctx); err != nil {
		return nil, err
	}
	return msgs, nil
}

// nudge asks the relay to hand msgs, just committed, to the queue now. A
// failure is left to the relay's next run.
func (s *Service) nudge(ctx context.Context, msgs []OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	_ = s.events.Outboxed(context.WithoutCancel(ctx), msgs)
}

// ClaimOutbox claims for lease up to limit messages whose task has not run
// (among ids when ids is not empty), not delivered or delivered before
// reoffer (a task lost with Redis is queued again; one still queued keeps
// its TaskID and is not), that no relay holds, oldest first, and returns them.
// claim is the caller's own token, new for each call: one UPDATE takes the rows, and a row
// another relay took meanwhile no longer matches its WHERE (PostgreSQL
// re-checks it after the other's commit; SQLite has one writer), so each
// row is claimed by one relay at a time.
func ClaimOutbox(ctx context.Context, db bun.IDB, claim string, now, reoffer time.Time, lease time.Duration, ids []string, limit int) ([]OutboxMessage, error) {
	const free = "done_at IS NULL AND (delivered_at IS NULL OR delivered_at <= ?) AND (claimed_until IS NULL OR claimed_until <= ?)"
	pick := db.NewSelect().Model((*OutboxMessage)(nil)).Column("id").Where(free, reoffer, now)
	if len(ids) > 0 {
		pick.Where("id IN (?)", bun.In(ids))
	}
	pick.OrderExpr("created_at ASC, id ASC").Limit(int64(limit))
	up := db.NewUpdate().Model((*OutboxMessage)(nil)).
		Set("claim = ?", claim).Set("claimed_until = ?", now.Add(lease)).Set("attempts = attempts + 1").
		Where("id IN (?)", pick).Where(free, reoffer, now)
	if _, err := up.Exec(ctx); err != nil {
		return nil, err
	}
	var msgs []OutboxMessage
	err := db.NewSelect().Model(&msgs).Where("claim = ? AND done_at IS NULL", claim).OrderExpr("created_at ASC, id ASC").Scan(ctx)
	return msgs, err
}

// OutboxDelivered marks messages the queue has taken; only the claim holding
// them may.
func OutboxDelivered(ctx context.Context, db bun.IDB, claim string, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.NewUpdate().Model((*OutboxMessage)(nil)).Set("delivered_at = ?", now).Set("claimed_until = NULL").Set("last_error = ''").
		Where("id IN (?) AND claim = ?", bun.In(ids), claim).Exec(ctx)
	return err
}

// OutboxFailed gives a message its relay could not deliver back, with the
// reason, for the next run.
func OutboxFailed(ctx context.Context, db bun.IDB, claim, id, reason string) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	_, err := db.NewUpdate().Model((*OutboxMessage)(nil)).Set("claimed_until = NULL").Set("last_error = ?", reason).
		Where("id = ? AND claim = ?", id, claim).Exec(ctx)
	return err
}

// OutboxDone records that a message's task has run.
func OutboxDone(ctx context.Context, db bun.IDB, id string, now time.Time) error {
	_, err := db.NewUpdate().Model((*OutboxMessage)(nil)).Set("done_at = ?", now).Where("id = ? AND done_at IS NULL", id).Exec(ctx)
	return err
}

// PurgeOutbox deletes the messages whose task ran before before; it returns
// how many.
func PurgeOutbox(ctx context.Context, db bun.IDB, before time.Time) (int64, error) {
	res, err := db.NewDelete().Model((*OutboxMessage)(nil)).Where("done_at IS NOT NULL AND done_at < ?", before).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OutboxBacklog counts the messages written before before whose task has
// not run, and gives the oldest one's time (zero when none).
func OutboxBacklog(ctx context.Context, db bun.IDB, before time.Time) (int, time.Time, error) {
	q := db.NewSelect().Model((*OutboxMessage)(nil)).Where("done_at IS NULL AND created_at < ?", before)
	n, err := q.Count(ctx)
	if err != nil || n == 0 {
		return 0, time.Time{}, err
	}
	var oldest OutboxMessage
	err = db.NewSelect().Model(&oldest).Column("created_at").Where("done_at IS NULL").OrderExpr("created_at ASC").Limit(1).Scan(ctx)
	return int(n), oldest.CreatedAt, err
}
