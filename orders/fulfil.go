package orders

import (
	"context"
	"crypto/subtle"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Ship marks a paid order shipped, with an optional tracking number; only the
// stall's merchant may, and only orders that ship.
func (s *Service) Ship(ctx context.Context, a catalog.Actor, orderID, tracking string) (*Order, error) {
	tracking = strings.TrimSpace(tracking)
	if utf8.RuneCountInString(tracking) > 100 {
		return nil, catalog.Invalid("tracking", "must be at most 100 characters")
	}
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		o, acc, err := s.loadOrder(ctx, tx, a, orderID, true)
		if err != nil {
			return err
		}
		if !acc.merchant {
			return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant ships")
		}
		if o.Fulfillment != catalog.ShipDelivery {
			return catalog.Fail(catalog.ErrConflict, "this order is picked up, not shipped")
		}
		if o.Status != StatusPaid && !(o.Status == StatusPartiallyRefunded && o.ShippedAt == nil) {
			return catalog.Failf(catalog.ErrConflict, "a %s order cannot be shipped", o.Status)
		}
		now := s.now()
		_, err = tx.NewUpdate().Model((*Order)(nil)).Set("status = ?", StatusShipped).Set("shipped_at = ?", now).Set("tracking = ?", tracking).
			Where("id = ?", o.ID).Exec(ctx)
		if err != nil {
			return err
		}
		// The payout follows the hold (the payouts-due sweep); the notice now.
		if err := catalog.Audit(ctx, tx, now, a, o.FairID, "order.ship", o.ID, map[string]string{"tracking": tracking}); err != nil {
			return err
		}
		follow, err = writeOutbox(ctx, tx, now, OutboxMessage{Kind: OutboxNotice, OrderID: o.ID, Event: StatusShipped})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.nudge(ctx, follow)
	return s.Order(ctx, a, orderID)
}

// ErrWrongCode is a pickup or voucher code that does not match.
var ErrWrongCode = catalog.Invalid("code", "does not match this order's code")

// Redeem checks the code the buyer shows at the booth or sales office and
// marks the order redeemed: a wrong code is rejected, a second redemption and
// an expired voucher are conflicts.
func (s *Service) Redeem(ctx context.Context, a catalog.Actor, orderID, code string) (*Order, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		o, acc, err := s.loadOrder(ctx, tx, a, orderID, true)
		if err != nil {
			return err
		}
		if !acc.merchant {
			return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant redeems")
		}
		if o.PickupCode == "" {
			return catalog.Fail(catalog.ErrConflict, "this order is shipped, not picked up")
		}
		if subtle.ConstantTimeCompare([]byte(code), []byte(o.PickupCode)) != 1 {
			return ErrWrongCode
		}
		follow, err = s.redeemInTx(ctx, tx, a, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.nudge(ctx, follow)
	return s.Order(ctx, a, orderID)
}

// errAlreadyRedeemed is a code redeemed before.
var errAlreadyRedeemed = catalog.Fail(catalog.ErrConflict, "this code was already redeemed")

// redeemInTx marks one paid pickup order or voucher redeemed inside the
// caller's transaction; every redemption (by an order's card, by a code at
// the booth) goes through it. The update is conditional, so of two
// redemptions racing for the same order only one changes it; the other is
// told it was already redeemed.
//
// Redemption releases the merchant's share: its payout and the buyer's
// notice are written to the outbox in the same transaction, and returned
// for the caller to hand on once it commits.
func (s *Service) redeemInTx(ctx context.Context, tx bun.Tx, a catalog.Actor, o *Order) ([]OutboxMessage, error) {
	if o.RedeemedAt != nil {
		return nil, errAlreadyRedeemed
	}
	switch o.Status {
	case StatusPaid, StatusPartiallyRefunded:
	case StatusRedeemed:
		return nil, errAlreadyRedeemed
	default:
		return nil, catalog.Failf(catalog.ErrConflict, "a %s order cannot be redeemed", o.Status)
	}
	now := s.now()
	for _, it := range o.Items {
		if it.ValidUntil != nil && now.After(*it.ValidUntil) {
			return nil, catalog.Fail(catalog.ErrConflict, "this voucher expired")
		}
	}
	res, err := tx.NewUpdate().Model((*Order)(nil)).Set("status = ?", StatusRedeemed).Set("redeemed_at = ?", now).
		Where("id = ? AND redeemed_at IS NULL AND status IN (?)", o.ID, bun.In([]string{StatusPaid, StatusPartiallyRefunded})).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, errAlreadyRedeemed
	}
	o.Status, o.RedeemedAt = StatusRedeemed, &now
	if err := catalog.Audit(ctx, tx, now, a, o.FairID, "order.redeem", o.ID, nil); err != nil {
		return nil, err
	}
	follow, err := writeOutbox(ctx, tx, now,
		OutboxMessage{Kind: OutboxPayout, OrderID: o.ID},
		OutboxMessage{Kind: OutboxNotice, OrderID: o.ID, Event: StatusRedeemed})
	if err != nil {
		return nil, err
	}
	return follow, rollupOne(ctx, tx, o.ID, (*rollup).redeemed)
}
