package orders

import "time"

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
