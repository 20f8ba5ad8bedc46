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
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.events.OrderChanged(ctx, orderID, StatusShipped); err != nil {
		_ = err // the notice is best effort; the order is shipped
	}
	return s.Order(ctx, a, orderID)
}

// ErrWrongCode is a pickup or voucher code that does not match.
var ErrWrongCode = catalog.Invalid("code", "does not match this order's code")

// Redeem checks the code the buyer shows at the booth or sales office and
// marks the order redeemed: a wrong code is rejected, a second redemption and
// an expired voucher are conflicts.
func (s *Service) Redeem(ctx context.Context, a catalog.Actor, orderID, code string) (*Order, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
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
		if o.RedeemedAt != nil {
			return catalog.Fail(catalog.ErrConflict, "this code was already redeemed")
		}
		switch o.Status {
		case StatusPaid, StatusPartiallyRefunded:
		case StatusRedeemed:
			return catalog.Fail(catalog.ErrConflict, "this code was already redeemed")
		default:
			return catalog.Failf(catalog.ErrConflict, "a %s order cannot be redeemed", o.Status)
		}
		now := s.now()
		for _, it := range o.Items {
			if it.ValidUntil != nil && now.After(*it.ValidUntil) {
				return catalog.Fail(catalog.ErrConflict, "this voucher expired")
			}
		}
		_, err = tx.NewUpdate().Model((*Order)(nil)).Set("status = ?", StatusRedeemed).Set("redeemed_at = ?", now).
			Where("id = ?", o.ID).Exec(ctx)
		if err != nil {
			return err
		}
		return rollupOne(ctx, tx, o.ID, (*rollup).redeemed)
	})
	if err != nil {
		return nil, err
	}
	if err := s.events.OrderChanged(ctx, orderID, StatusRedeemed); err != nil {
		_ = err
	}
	return s.Order(ctx, a, orderID)
}
