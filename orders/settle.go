package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Settlement: every way a payment's fate becomes known — the sandbox page,
// a Stripe webhook, reconciliation, the end of the payment window — goes
// through these functions. State only moves forward, and an event from the
// provider is applied once: its id is stored in the transaction that applies it.

// recordEvent stores a provider event id; false means it was applied before.
func recordEvent(ctx context.Context, tx bun.Tx, id, typ string, now any) (bool, error) {
	if id == "" {
		return true, nil
	}
	row := map[string]any{"id": id, "type": typ, "received_at": now}
	res, err := tx.NewInsert().Model(&row).TableExpr("payment_events").On("CONFLICT (id) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s *Service) lockPayment(ctx context.Context, tx bun.Tx, id string) (*Payment, error) {
	p := new(Payment)
	if err := catalog.ForUpdate(tx.NewSelect().Model(p).Where("id = ?", id)).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "payment")
	}
	return p, nil
}

// PaymentByRef finds a payment by the provider's reference.
func (s *Service) PaymentByRef(ctx context.Context, ref string) (*Payment, error) {
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("provider_ref = ?", ref).Limit(1).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "payment")
	}
	return p, nil
}

// Payment returns a payment to its payer. A payment not yet opened at the
// provider (a flash sale's orders are written without; a Stripe Checkout
// Session that expired or failed is forgotten) is opened now, when its payer
// comes to pay. If the provider fails, the error wraps ErrProvider: nothing
// changed, and the payer tries again.
func (s *Service) Payment(ctx context.Context, a catalog.Actor, id string) (*Payment, []Order, error) {
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ? AND buyer_id = ?", id, a.UserID).Scan(ctx); err != nil {
		return nil, nil, catalog.NotFound(err, "payment")
	}
	if (p.Status == PaymentPending || p.Status == PaymentFailed) && s.now().Before(p.ExpiresAt) {
		// Not opened, nor left open, for orders nobody may pay for any more.
		if err := s.checkPayable(ctx, p); err != nil {
			return nil, nil, err
		}
		if p.ProviderRef == "" {
			if err := s.openAtProvider(ctx, p); err != nil {
				return nil, nil, err
			}
		}
	}
	var orders []Order
	if err := s.db.NewSelect().Model(&orders).Where("payment_id = ?", id).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, nil, err
	}
	if err := s.attachItems(ctx, orders); err != nil {
		return nil, nil, err
	}
	return p, orders, nil
}

// openAtProvider opens a payment at the provider and stores its reference.
// Two pages opening it at once get the same reference: the provider is asked
// with an idempotency key from the payment id and its attempt (the sandbox's
// reference is made from the id); the first to store it wins, and the other
// reads what was stored.
func (s *Service) openAtProvider(ctx context.Context, p *Payment) error {
	op, err := s.provider.Start(ctx, p)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	res, err := s.db.NewUpdate().Model((*Payment)(nil)).
		Set("provider_ref = ?, client_secret = ?, checkout_url = ?", op.Ref, op.ClientSecret, op.CheckoutURL).
		Where("id = ? AND provider_ref = '' AND provider_attempt = ?", p.ID, p.ProviderAttempt).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return s.db.NewSelect().Model(p).WherePK().Scan(ctx)
	}
	p.ProviderRef, p.ClientSecret, p.CheckoutURL = op.Ref, op.ClientSecret, op.CheckoutURL
	return nil
}

// MarkPaid records that a payment's money was captured. Its pending orders
// become paid. If the payment had been cancelled meanwhile (the window closed
// first), the money is refunded in full, since the stock went back on sale.
// So it is if the orders can no longer be paid for (their fair closed or a
// stall was suspended while the payer paid): they are cancelled, their stock
// returned, and the money refunded with the reason recorded.
func (s *Service) MarkPaid(ctx context.Context, paymentID, eventID, eventType string) error {
	var lateRefunds []*Refund
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		lateRefunds, follow = nil, nil
		now := s.now()
		fresh, err := recordEvent(ctx, tx, eventID, eventType, now)
		if err != nil || !fresh {
			return err
		}
		p, err := s.lockPayment(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		why := ""
		switch p.Status {
		case PaymentSucceeded:
			return nil
		case PaymentCancelled:
			why = "payment captured after the order was cancelled"
		default:
			reason, err := s.unpayable(ctx, tx, p)
			if err != nil {
				return err
			}
			if reason != "" {
				if follow, err = s.cancelPaymentIn(ctx, tx, p, now); err != nil {
					return err
				}
				why = "payment captured after the order could no longer be paid: " + reason
			}
		}
		if why != "" {
			// Captured after we gave up on it: give the money back.
			var orders []Order
			if err := tx.NewSelect().Model(&orders).Where("payment_id = ?", p.ID).Scan(ctx); err != nil {
				return err
			}
			for i := range orders {
				o := &orders[i]
				amount := o.Total - o.Refunded - o.RefundPending
				if amount <= 0 {
					continue
				}
				r := &Refund{ID: catalog.NewID(), OrderID: o.ID, PaymentID: p.ID, Amount: amount, Reason: why,
					Status: RefundPending, CreatedBy: "system", CreatedAt: now, UpdatedAt: now}
				if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
					return err
				}
				if _, err := tx.NewUpdate().Model((*Order)(nil)).Set("refund_pending = refund_pending + ?", amount).Where("id = ?", o.ID).Exec(ctx); err != nil {
					return err
				}
				lateRefunds = append(lateRefunds, r)
			}
		}
		p.Status, p.UpdatedAt = PaymentSucceeded, now
		if _, err := tx.NewUpdate().Model(p).Column("status", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		var ids []string
		err = tx.NewUpdate().Model((*Order)(nil)).Set("status = ?", StatusPaid).Set("paid_at = ?", now).
			Where("payment_id = ? AND status = ?", p.ID, StatusPendingPayment).Returning("id").Scan(ctx, &ids)
		if err != nil && !errors.Is(err, errNoRows) {
			return err
		}
		// The receipts and the merchants' notices follow the commit; the
		// payouts wait for release (PayoutReleased), not payment.
		notices := make([]OutboxMessage, len(ids))
		for i, id := range ids {
			notices[i] = OutboxMessage{Kind: OutboxNotice, OrderID: id, Event: "paid"}
		}
		notices, err = writeOutbox(ctx, tx, now, notices...)
		if err != nil {
			return err
		}
		follow = append(follow, notices...)
		return rollupPaid(ctx, tx, ids)
	})
	if err != nil {
		return err
	}
	s.nudge(ctx, follow)
	for _, r := range lateRefunds {
		if err := s.executeRefund(context.WithoutCancel(ctx), r); err != nil {
			return err
		}
	}
	return nil
}

// MarkFailed records a failed payment attempt. The orders stay unpaid: the
// payer may try again until the payment window closes.
func (s *Service) MarkFailed(ctx context.Context, paymentID, eventID, eventType string) error {
	return s.markFailed(ctx, paymentID, eventID, eventType, "")
}

// markFailed is MarkFailed; when the attempt that failed was the provider
// session closedRef, which cannot be paid again (a Stripe Checkout Session
// whose asynchronous payment failed), the payment also forgets it, so the
// pay page opens a new one.
func (s *Service) markFailed(ctx context.Context, paymentID, eventID, eventType, closedRef string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		fresh, err := recordEvent(ctx, tx, eventID, eventType, s.now())
		if err != nil || !fresh {
			return err
		}
		p, err := s.lockPayment(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		if p.Status != PaymentPending && p.Status != PaymentFailed {
			return nil
		}
		if closedRef != "" && p.ProviderRef == closedRef {
			if err := forgetSession(ctx, tx, p); err != nil {
				return err
			}
		}
		if p.Status != PaymentPending {
			return nil
		}
		p.Status, p.UpdatedAt = PaymentFailed, s.now()
		_, err = tx.NewUpdate().Model(p).Column("status", "updated_at").WherePK().Exec(ctx)
		return err
	})
}

// forgetSession drops the locked payment's provider session, which can no
// longer be paid, so the next visit of its pay page opens a new one (under a
// new idempotency key: the attempt counts up).
func forgetSession(ctx context.Context, tx bun.Tx, p *Payment) error {
	p.ProviderRef, p.ClientSecret, p.CheckoutURL = "", "", ""
	p.ProviderAttempt++
	_, err := tx.NewUpdate().Model(p).Column("provider_ref", "client_secret", "checkout_url", "provider_attempt").WherePK().Exec(ctx)
	return err
}

// cancelPayment cancels a payment that is still open and every unpaid order
// of it, returning their stock exactly once (only the transaction that moves
// the payment out of pending returns it). onlyIfDue keeps payments whose
// window has not closed.
func (s *Service) cancelPayment(ctx context.Context, paymentID string, onlyIfDue bool) (bool, error) {
	cancelled := false
	var backOnSale []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		p, err := s.lockPayment(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		if p.Status != PaymentPending && p.Status != PaymentFailed {
			return nil
		}
		now := s.now()
		if onlyIfDue && now.Before(p.ExpiresAt) {
			return nil
		}
		if backOnSale, err = s.cancelPaymentIn(ctx, tx, p, now); err != nil {
			return err
		}
		cancelled = true
		return nil
	})
	if err != nil {
		return false, err
	}
	s.nudge(ctx, backOnSale)
	return cancelled, nil
}

// cancelPaymentIn cancels the locked payment p, still open, and its unpaid
// orders in tx, returning their stock (a flash order's units to its sale,
// and, by the outbox messages it returns, to the sale's Redis side once the
// cancellation has committed).
func (s *Service) cancelPaymentIn(ctx context.Context, tx bun.Tx, p *Payment, now time.Time) ([]OutboxMessage, error) {
	var backOnSale []OutboxMessage
	p.Status, p.UpdatedAt = PaymentCancelled, now
	if _, err := tx.NewUpdate().Model(p).Column("status", "updated_at").WherePK().Exec(ctx); err != nil {
		return nil, err
	}
	var orders []Order
	if err := tx.NewSelect().Model(&orders).Where("payment_id = ? AND status = ?", p.ID, StatusPendingPayment).Scan(ctx); err != nil {
		return nil, err
	}
	orderIDs := make([]string, len(orders))
	for i, o := range orders {
		orderIDs[i] = o.ID
	}
	if err := returnCoupons(ctx, tx, p.ID, orderIDs); err != nil {
		return nil, err
	}
	for _, o := range orders {
		if _, err := tx.NewUpdate().Model((*Order)(nil)).Set("status = ?", StatusCancelled).Set("cancelled_at = ?", now).
			Where("id = ?", o.ID).Exec(ctx); err != nil {
			return nil, err
		}
		var items []Item
		if err := tx.NewSelect().Model(&items).Where("order_id = ?", o.ID).Scan(ctx); err != nil {
			return nil, err
		}
		if o.FlashSaleID != nil {
			units := 0
			for _, it := range items {
				units += it.Quantity
			}
			onSale, err := s.catalog.ReturnFlashUnits(ctx, tx, *o.FlashSaleID, units)
			if err != nil {
				return nil, err
			}
			if onSale {
				msgs, err := writeOutbox(ctx, tx, now, OutboxMessage{Kind: OutboxRestock, SaleID: *o.FlashSaleID, OrderID: o.ID, BuyerID: o.BuyerID, Units: units})
				if err != nil {
					return nil, err
				}
				backOnSale = append(backOnSale, msgs...)
			}
			continue
		}
		for _, it := range items {
			if err := s.catalog.ReturnStock(ctx, tx, it.ProductID, int64(it.Quantity)); err != nil {
				return nil, err
			}
		}
		if _, err := tx.NewDelete().TableExpr("voucher_holds").Where("order_id = ?", o.ID).Exec(ctx); err != nil {
			return nil, err
		}
	}
	return backOnSale, nil
}

// unpayable tells why a payment's unpaid orders can no longer be paid for:
// their fair is not open (over, closed or moved to later) or a stall of
// theirs is suspended. It is "" when they can, or when none is unpaid.
func (s *Service) unpayable(ctx context.Context, db bun.IDB, p *Payment) (string, error) {
	var stallIDs []string
	err := db.NewSelect().Model((*Order)(nil)).ColumnExpr("DISTINCT stall_id").
		Where("payment_id = ? AND status = ?", p.ID, StatusPendingPayment).Scan(ctx, &stallIDs)
	if err != nil && !errors.Is(err, errNoRows) {
		return "", err
	}
	if len(stallIDs) == 0 {
		return "", nil
	}
	fair, err := s.catalog.FairByID(ctx, db, p.FairID)
	if err != nil {
		return "", err
	}
	switch fair.Status {
	case catalog.FairOpen:
	case catalog.FairUpcoming:
		return "the fair has not opened", nil
	default:
		return "the fair is closed", nil
	}
	stalls, err := s.catalog.StallsByID(ctx, db, stallIDs)
	if err != nil {
		return "", err
	}
	for _, id := range stallIDs {
		if st := stalls[id]; st == nil || st.Status != catalog.StallActive {
			return "the stall is suspended", nil
		}
	}
	return "", nil
}

// refuseUnpayable closes a payment whose orders can no longer be paid for
// (why says what stops them) before any money is taken: the provider's side
// is cancelled, then the orders, their stock returned. It returns the
// conflict to answer the payer. Money the provider captured meanwhile is
// settled by MarkPaid, which refunds it.
func (s *Service) refuseUnpayable(ctx context.Context, p *Payment, why string) error {
	refused := catalog.Failf(catalog.ErrConflict, "this order can no longer be paid for: %s; it has been cancelled", why)
	if err := s.provider.Cancel(ctx, p); err != nil {
		if errors.Is(err, ErrAlreadyPaid) {
			if err := s.MarkPaid(ctx, p.ID, "", "reconcile"); err != nil {
				return err
			}
			return refused
		}
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	if _, err := s.cancelPayment(ctx, p.ID, false); err != nil {
		return err
	}
	return refused
}

// checkPayable refuses (and closes) an open payment whose orders can no
// longer be paid for; nil when they can.
func (s *Service) checkPayable(ctx context.Context, p *Payment) error {
	why, err := s.unpayable(ctx, s.db, p)
	if err != nil || why == "" {
		return err
	}
	return s.refuseUnpayable(ctx, p, why)
}

// ExpirePayment closes a payment whose window has passed: the provider's side
// is cancelled first; if the provider says the money was captured meanwhile,
// the orders are settled as paid instead. Running it again does nothing.
func (s *Service) ExpirePayment(ctx context.Context, paymentID string) error {
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ?", paymentID).Scan(ctx); err != nil {
		return catalog.NotFound(err, "payment")
	}
	if p.Status != PaymentPending && p.Status != PaymentFailed || s.now().Before(p.ExpiresAt) {
		return nil
	}
	if err := s.provider.Cancel(ctx, p); err != nil {
		if errors.Is(err, ErrAlreadyPaid) {
			return s.MarkPaid(ctx, p.ID, "", "reconcile")
		}
		return fmt.Errorf("%w: %v", ErrProvider, err)
	}
	_, err := s.cancelPayment(ctx, p.ID, true)
	return err
}

// CancelOrder lets a buyer cancel an unpaid order. Its checkout has one
// payment for all its orders, so the whole checkout is cancelled and all its
// stock returned.
func (s *Service) CancelOrder(ctx context.Context, a catalog.Actor, orderID string) (*Order, error) {
	o, acc, err := s.loadOrder(ctx, s.db, a, orderID, false)
	if err != nil {
		return nil, err
	}
	if !acc.buyer {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the buyer cancels an unpaid order")
	}
	if o.Status != StatusPendingPayment {
		return nil, catalog.Failf(catalog.ErrConflict, "only unpaid orders can be cancelled; this one is %s", o.Status)
	}
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ?", o.PaymentID).Scan(ctx); err != nil {
		return nil, err
	}
	if err := s.provider.Cancel(ctx, p); err != nil {
		if errors.Is(err, ErrAlreadyPaid) {
			if err := s.MarkPaid(ctx, p.ID, "", "reconcile"); err != nil {
				return nil, err
			}
			return nil, catalog.Fail(catalog.ErrConflict, "the order was paid meanwhile")
		}
		return nil, fmt.Errorf("%w: %v", ErrProvider, err)
	}
	if _, err := s.cancelPayment(ctx, p.ID, false); err != nil {
		return nil, err
	}
	return s.Order(ctx, a, orderID)
}

// SweepExpired cancels every payment whose window closed: the safety net for
// expiry tasks lost with a restarted Redis. It returns how many it closed.
func (s *Service) SweepExpired(ctx context.Context, limit int) (int, error) {
	var ids []string
	err := s.db.NewSelect().Model((*Payment)(nil)).Column("id").
		Where("status IN (?) AND expires_at <= ?", bun.In([]string{PaymentPending, PaymentFailed}), s.now()).
		OrderExpr("expires_at ASC").Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return 0, err
	}
	// One payment the provider will not close yet must not hold up the rest.
	done := 0
	var errs []error
	for _, id := range ids {
		if err := s.ExpirePayment(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("payment %s: %w", id, err))
			continue
		}
		done++
	}
	return done, errors.Join(errs...)
}

// Reconcile asks the provider about payments still pending past age and
// settles what the webhooks missed. It returns how many it settled.
func (s *Service) Reconcile(ctx context.Context, olderThanSeconds int) (int, error) {
	var rows []Payment
	cutoff := s.now().Add(-secondsDur(olderThanSeconds))
	err := s.db.NewSelect().Model(&rows).
		Where("status IN (?) AND created_at <= ? AND provider_ref <> ''", bun.In([]string{PaymentPending, PaymentFailed}), cutoff).
		OrderExpr("created_at ASC").Limit(200).Scan(ctx)
	if err != nil {
		return 0, err
	}
	settled := 0
	for i := range rows {
		st, err := s.provider.Lookup(ctx, &rows[i])
		if err != nil {
			return settled, fmt.Errorf("%w: %v", ErrProvider, err)
		}
		switch st {
		case PaymentSucceeded:
			if err := s.MarkPaid(ctx, rows[i].ID, "", "reconcile"); err != nil {
				return settled, err
			}
			settled++
		case PaymentCancelled:
			if _, err := s.cancelPayment(ctx, rows[i].ID, false); err != nil {
				return settled, err
			}
			settled++
		}
	}
	return settled, nil
}
