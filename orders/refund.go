package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Refund statuses.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// Refund returns part or all of an order's money to its buyer.
type Refund struct {
	bun.BaseModel `bun:"table:refunds"`

	ID          string    `bun:",pk" json:"id"`
	OrderID     string    `json:"order_id"`
	PaymentID   string    `json:"-"`
	Amount      Money     `json:"amount" doc:"in fen"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status" enum:"pending,succeeded,failed"`
	ProviderRef string    `json:"-"`
	CreatedBy   string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"-"`
}

// Transfer is the payout of a paid order's merchant share to its stall.
type Transfer struct {
	bun.BaseModel `bun:"table:transfers"`

	OrderID     string `bun:",pk"`
	StallID     string
	Amount      Money
	Reversed    Money
	ProviderRef string
	CreatedAt   time.Time
}

// refundableStatuses are the order statuses a refund may start from.
var refundableStatuses = map[string]bool{StatusPaid: true, StatusShipped: true, StatusRedeemed: true, StatusCompleted: true, StatusPartiallyRefunded: true}

// RefundOrder refunds amount (nil: all that is left) of an order, for the
// stall's merchant or the fair's organizer. A refund never exceeds what was
// captured and not yet refunded; a redeemed voucher cannot be refunded. The
// amount is reserved on the order before the provider is asked, so two
// refunds at once cannot both take the same money.
func (s *Service) RefundOrder(ctx context.Context, a catalog.Actor, orderID string, amount *Money, reason string) (*Refund, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return nil, catalog.Invalid("reason", "must be 1 to 500 characters")
	}
	var r *Refund
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		o, acc, err := s.loadOrder(ctx, tx, a, orderID, true)
		if err != nil {
			return err
		}
		if !acc.merchant && !acc.organizer {
			return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant or the fair's organizer refunds")
		}
		if !refundableStatuses[o.Status] {
			return catalog.Failf(catalog.ErrConflict, "a %s order cannot be refunded", o.Status)
		}
		if o.RedeemedAt != nil && hasVoucher(o) {
			return catalog.Fail(catalog.ErrConflict, "a redeemed voucher cannot be refunded")
		}
		amt := o.Refundable()
		if amount != nil {
			amt = *amount
		}
		if amt <= 0 || amt > o.Refundable() {
			return catalog.Invalid("amount", fmt.Sprintf("must be from 1 to %d fen (what is left to refund)", o.Refundable()))
		}
		res, err := tx.NewUpdate().Model((*Order)(nil)).Set("refund_pending = refund_pending + ?", amt).
			Where("id = ? AND refunded + refund_pending + ? <= total", o.ID, amt).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return catalog.Fail(catalog.ErrConflict, "another refund took this money")
		}
		now := s.now()
		r = &Refund{ID: catalog.NewID(), OrderID: o.ID, PaymentID: o.PaymentID, Amount: amt, Reason: reason, Status: RefundPending,
			CreatedBy: a.UserID, CreatedAt: now, UpdatedAt: now}
		if _, err = tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return err
		}
		return catalog.Audit(ctx, tx, now, a, o.FairID, "order.refund", o.ID, map[string]any{"refund_id": r.ID, "amount": amt, "reason": reason})
	})
	if err != nil {
		return nil, err
	}
	if err := s.executeRefund(context.WithoutCancel(ctx), r); err != nil {
		return nil, err
	}
	return r, nil
}

func hasVoucher(o *Order) bool {
	for _, it := range o.Items {
		if it.Kind == catalog.KindVoucher {
			return true
		}
	}
	return false
}

// executeRefund asks the provider to return the money of a pending refund
// (idempotent by the refund id) and books the outcome.
func (s *Service) executeRefund(ctx context.Context, r *Refund) error {
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ?", r.PaymentID).Scan(ctx); err != nil {
		return err
	}
	ref, perr := s.provider.Refund(ctx, p, r)
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		follow = nil
		cur := new(Refund)
		if err := catalog.ForUpdate(tx.NewSelect().Model(cur).Where("id = ?", r.ID)).Scan(ctx); err != nil {
			return err
		}
		if cur.Status != RefundPending {
			*r = *cur
			return nil
		}
		now := s.now()
		if perr != nil {
			r.Status, r.UpdatedAt = RefundFailed, now
			if _, err := tx.NewUpdate().Model(r).Column("status", "updated_at").WherePK().Exec(ctx); err != nil {
				return err
			}
			_, err := tx.NewUpdate().Model((*Order)(nil)).Set("refund_pending = refund_pending - ?", r.Amount).Where("id = ?", r.OrderID).Exec(ctx)
			return err
		}
		r.Status, r.ProviderRef, r.UpdatedAt = RefundSucceeded, ref, now
		if _, err := tx.NewUpdate().Model(r).Column("status", "provider_ref", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if err := s.bookRefund(ctx, tx, r.OrderID, r.Amount, true); err != nil {
			return err
		}
		var err error
		follow, err = refundedOutbox(ctx, tx, now, r)
		return err
	})
	if err != nil {
		return err
	}
	if perr != nil {
		return fmt.Errorf("%w: %v", ErrProvider, perr)
	}
	s.nudge(ctx, follow)
	return nil
}

// refundedOutbox writes what follows a refund booked in tx: the reversal of
// its merchant part from the payout (if one was made by then) and the
// buyer's notice.
func refundedOutbox(ctx context.Context, tx bun.IDB, now time.Time, r *Refund) ([]OutboxMessage, error) {
	return writeOutbox(ctx, tx, now,
		OutboxMessage{Kind: OutboxReverse, OrderID: r.OrderID, RefundID: r.ID},
		OutboxMessage{Kind: OutboxNotice, OrderID: r.OrderID, RefundID: r.ID, Event: "refunded"})
}

// bookRefund adds a refunded amount to an order and moves its status. A fully
// refunded voucher frees the buyer's voucher place and goes back on sale.
func (s *Service) bookRefund(ctx context.Context, tx bun.Tx, orderID string, amount Money, wasPending bool) error {
	o := new(Order)
	if err := catalog.ForUpdate(tx.NewSelect().Model(o).Where("id = ?", orderID)).Scan(ctx); err != nil {
		return err
	}
	counted := o.PaidAt != nil && o.Status != StatusCancelled // among the rollups' paid orders
	before := o.Refunded
	o.Refunded += amount
	if wasPending {
		o.RefundPending -= amount
	}
	status := StatusPartiallyRefunded
	if o.Refunded >= o.Total {
		status = StatusRefunded
	}
	// A cancelled order refunded after a late capture stays cancelled.
	if o.Status != StatusCancelled {
		o.Status = status
	}
	if _, err := tx.NewUpdate().Model(o).Column("refunded", "refund_pending", "status").WherePK().Exec(ctx); err != nil {
		return err
	}
	if counted {
		err := rollupOne(ctx, tx, o.ID, func(r *rollup, ro *rollupOrder) { r.refunded(ro, before, o.Refunded) })
		if err != nil {
			return err
		}
	}
	if o.Refunded >= o.Total && o.Status != StatusCancelled {
		var items []Item
		if err := tx.NewSelect().Model(&items).Where("order_id = ? AND kind = ?", o.ID, catalog.KindVoucher).Scan(ctx); err != nil {
			return err
		}
		for _, it := range items {
			if err := s.catalog.ReturnStock(ctx, tx, it.ProductID, int64(it.Quantity)); err != nil {
				return err
			}
		}
		if len(items) > 0 {
			if _, err := tx.NewDelete().TableExpr("voucher_holds").Where("order_id = ?", o.ID).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// RefundByID returns a refund (for workers).
func (s *Service) RefundByID(ctx context.Context, id string) (*Refund, error) {
	return FindRefund(ctx, s.db, id)
}

// FindRefund reads a refund through db (for the workers' events, which have
// no service).
func FindRefund(ctx context.Context, db bun.IDB, id string) (*Refund, error) {
	r := new(Refund)
	if err := db.NewSelect().Model(r).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "refund")
	}
	return r, nil
}

// Payout sends a paid order's merchant share to its stall's payout account,
// once per order, once it is released (PayoutReleased): before, it does
// nothing, and refunds made meanwhile simply reduce it. A stall without an
// account is paid when it connects one (the payouts-due sweep finds it). A
// payout begun (its transfer row written) is finished whatever happened to
// the order since: the provider call is idempotent by the order id.
func (s *Service) Payout(ctx context.Context, orderID string) error {
	o := new(Order)
	if err := s.db.NewSelect().Model(o).Where("id = ?", orderID).Scan(ctx); err != nil {
		return err
	}
	t := new(Transfer)
	begun := s.db.NewSelect().Model(t).Where("order_id = ?", o.ID).Scan(ctx) == nil
	switch {
	case begun && t.ProviderRef != "":
		return nil
	case !begun && !PayoutReleased(o, s.now(), s.hold):
		return nil
	}
	account, err := s.catalog.PayoutAccount(ctx, s.db, o.StallID)
	if err != nil {
		return err
	}
	if account == "" && s.provider.Name() != "sandbox" {
		return nil // paid out once the merchant has connected a payout account
	}
	if !begun {
		// Refunds made before the payout are left out of it.
		t = &Transfer{OrderID: o.ID, StallID: o.StallID, Amount: payoutTarget(o), CreatedAt: s.now()}
		if t.Amount < 0 {
			t.Amount = 0
		}
		res, err := s.db.NewInsert().Model(t).On("CONFLICT (order_id) DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if err := s.db.NewSelect().Model(t).WherePK().Scan(ctx); err != nil {
				return err
			}
			if t.ProviderRef != "" {
				return nil
			}
		}
	}
	if t.Amount <= 0 {
		_, err = s.db.NewUpdate().Model(t).Set("provider_ref = ?", "none").WherePK().Where("provider_ref = ''").Exec(ctx)
		return err
	}
	ref, err := s.provider.Payout(ctx, o, t.Amount, account)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	_, err = s.db.NewUpdate().Model(t).Set("provider_ref = ?", ref).WherePK().Exec(ctx)
	return err
}

// payoutTarget is what the stall is paid for an order: its share less its
// part of the refunds, plus the organizer's subsidy (the statement's net).
func payoutTarget(o *Order) Money {
	return o.MerchantShare - merchantPart(o, o.Refunded) + o.Subsidy
}

// merchantPart is the merchant's share of refunded: refunds are split between
// merchant and platform in proportion to the order's shares.
func merchantPart(o *Order, refunded Money) Money {
	return Split(refunded, []Money{o.MerchantShare, o.PlatformFee})[0]
}

// ErrPayoutInFlight is a reversal that must wait for its payout to finish.
var ErrPayoutInFlight = errors.New("the payout is still being made; retry")

// ReversePayout brings an order's payout in line with its refunds: the
// merchant keeps its share of what was not refunded. It works from the
// order's totals, not from one refund, so running it twice or out of order
// takes back nothing twice.
func (s *Service) ReversePayout(ctx context.Context, refundID string) error {
	r, err := s.RefundByID(ctx, refundID)
	if err != nil || r.Status != RefundSucceeded {
		return err
	}
	t := new(Transfer)
	if err := s.db.NewSelect().Model(t).Where("order_id = ?", r.OrderID).Scan(ctx); err != nil {
		return nil // not paid out yet: the payout leaves refunds out
	}
	o := new(Order)
	if err := s.db.NewSelect().Model(o).Where("id = ?", r.OrderID).Scan(ctx); err != nil {
		return err
	}
	take := (t.Amount - t.Reversed) - payoutTarget(o)
	if take <= 0 {
		return nil
	}
	if t.ProviderRef == "" {
		return ErrPayoutInFlight
	}
	key := fmt.Sprintf("%s-%d", o.ID, t.Reversed+take)
	if err := s.provider.ReversePayout(ctx, t, take, key); err != nil {
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	_, err = s.db.NewUpdate().Model(t).Set("reversed = reversed + ?", take).WherePK().Where("reversed = ?", t.Reversed).Exec(ctx)
	return err
}
