package orders

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Payout statuses of an order's merchant share, as statements show them.
const (
	// PayoutHeld: paid, but not yet released (not redeemed, or shipped less
	// than the hold ago, or not yet shipped).
	PayoutHeld = "held"
	// PayoutDue: released and owed to the stall, not yet transferred (in
	// flight, or the stall has no payout account yet).
	PayoutDue = "due"
	// PayoutPaid: transferred to the stall.
	PayoutPaid = "paid"
	// PayoutNone: nothing to pay (never paid, or all of it refunded before release).
	PayoutNone = "none"
)

// DefaultPayoutHold is how long a shipped order's merchant share is held
// before it is released, unless FAIR_PAYOUT_HOLD says otherwise.
const DefaultPayoutHold = 72 * time.Hour

// WithPayoutHold sets how long a shipped order's share is held before release.
func (s *Service) WithPayoutHold(d time.Duration) *Service {
	s.hold = d
	return s
}

// PayoutHold is how long a shipped order's share is held before release.
func (s *Service) PayoutHold() time.Duration { return s.hold }

// PayoutReleased tells whether an order's merchant share may be paid out at
// now: the order was redeemed at the booth, or shipped at least hold ago.
// Payment alone releases nothing: a refund before release reduces the payout
// instead of reversing a transfer.
func PayoutReleased(o *Order, now time.Time, hold time.Duration) bool {
	if o.PaidAt == nil || o.Status == StatusCancelled || o.Status == StatusRefunded {
		return false
	}
	if o.RedeemedAt != nil {
		return true
	}
	return o.ShippedAt != nil && !now.Before(o.ShippedAt.Add(hold))
}

// PayoutStatusOf is the payout status of an order given its transfer (nil
// when none was made).
func PayoutStatusOf(o *Order, t *Transfer, now time.Time, hold time.Duration) string {
	switch {
	case t != nil && t.ProviderRef != "":
		return PayoutPaid
	case o.PaidAt == nil || o.MerchantShare-merchantPart(o, o.Refunded) <= 0:
		return PayoutNone
	case t != nil || PayoutReleased(o, now, hold):
		return PayoutDue
	}
	return PayoutHeld
}

// releasedWhere is the SQL of PayoutReleased over orders aliased o, with
// the shipped-before cutoff (now minus the hold) as its one argument.
const releasedWhere = "o.paid_at IS NOT NULL AND o.status NOT IN ('cancelled', 'refunded') " +
	"AND (o.redeemed_at IS NOT NULL OR o.shipped_at <= ?)"

// dueQuery selects the ids of the orders released at now whose payout is not
// complete (no transfer, or one still in flight) and whose stall can be paid
// (it has a payout account, or the provider is the sandbox), oldest paid first.
func (s *Service) dueQuery(db bun.IDB, now time.Time) *bun.SelectQuery {
	q := db.NewSelect().TableExpr("orders AS o").Column("o.id").
		Where(releasedWhere, now.Add(-s.hold)).
		Where("NOT EXISTS (SELECT 1 FROM transfers AS t WHERE t.order_id = o.id AND t.provider_ref <> '')").
		OrderExpr("o.paid_at ASC, o.id ASC")
	if s.provider.Name() != "sandbox" {
		// The stall's payout account is the catalog's: read, never written, here.
		q.Where("o.stall_id IN (SELECT id FROM stalls WHERE stripe_account_id <> '')")
	}
	return q
}

// PayoutsDue lists up to limit orders whose merchant share is released but
// not yet paid out to a stall that can be paid: the sweep that queues their
// payouts (shipped orders past the hold, stalls that connected an account
// since, payouts whose task was lost).
func (s *Service) PayoutsDue(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	err := s.dueQuery(s.db, s.now()).Limit(int64(limit)).Scan(ctx, &ids)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return ids, err
}

// PayoutEventConnected marks the payouts a stall is owed when it connects its
// payout account (their task is queued apart from the order's other payout
// task).
const PayoutEventConnected = "connected"

// connectPayoutAccount stores a stall's payout account and, in the same
// transaction, writes the payouts it is owed by then into the outbox, so that
// they follow at once (the payouts-due sweep would find them too).
func (s *Service) connectPayoutAccount(ctx context.Context, a catalog.Actor, fairID, stallID, account string) error {
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		follow = nil
		if err := s.catalog.SetPayoutAccount(ctx, tx, stallID, account); err != nil {
			return err
		}
		if err := catalog.Audit(ctx, tx, s.now(), a, fairID, "payout.connect", stallID, map[string]string{"account": account}); err != nil {
			return err
		}
		if account == "" {
			return nil
		}
		now := s.now()
		var ids []string
		err := s.dueQuery(tx, now).Where("o.stall_id = ?", stallID).Scan(ctx, &ids)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		msgs := make([]OutboxMessage, len(ids))
		for i, id := range ids {
			// Its own task: a payout task of the order's that is running
			// now read the stall before it had an account, and found
			// nothing to pay.
			msgs[i] = OutboxMessage{Kind: OutboxPayout, OrderID: id, Event: PayoutEventConnected}
		}
		follow, err = writeOutbox(ctx, tx, now, msgs...)
		return err
	})
	if err != nil {
		return err
	}
	s.nudge(ctx, follow)
	return nil
}
