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

// After-sales (售后): a buyer who paid asks the stall's merchant for money
// back (kind "refund") or to take goods back for money (kind "return"). The
// merchant accepts (the amount is refunded through the one refund path) or
// rejects; after a rejection, or once the merchant let reply_by pass, the
// buyer escalates to the fair's organizer, whose decision is final.
//
//	open ──accept──▶ accepted
//	  │  └─reject──▶ rejected ──escalate──▶ escalated ──decide──▶ decided
//	  └──(past reply_by) escalate ─────────────┘
//
// An order has at most one unresolved request (open, rejected, escalated).

// After-sales request statuses.
const (
	AfterSaleOpen      = "open"
	AfterSaleAccepted  = "accepted"
	AfterSaleRejected  = "rejected"
	AfterSaleEscalated = "escalated"
	AfterSaleDecided   = "decided"
)

// After-sales request kinds.
const (
	AfterSaleRefund = "refund" // money back, nothing comes back to the stall
	AfterSaleReturn = "return" // the goods go back to the stall for money back
)

// unresolvedAfterSale are the statuses of a request still waiting for an
// answer: an order has one of them at most.
var unresolvedAfterSale = []string{AfterSaleOpen, AfterSaleRejected, AfterSaleEscalated}

// DefaultAfterSalesReply is how long a merchant has to answer an after-sales
// request before its buyer may escalate it (FAIR_AFTER_SALES_REPLY).
const DefaultAfterSalesReply = 48 * time.Hour

// WithAfterSalesReply sets how long a merchant has to answer an after-sales
// request before its buyer may escalate it.
func (s *Service) WithAfterSalesReply(d time.Duration) *Service {
	s.reply = d
	return s
}

// AfterSalesReply is how long a merchant has to answer an after-sales request.
func (s *Service) AfterSalesReply() time.Duration { return s.reply }

// AfterSale is a buyer's after-sales request on one paid order.
type AfterSale struct {
	bun.BaseModel `bun:"table:after_sales"`

	ID       string   `bun:",pk" json:"id"`
	OrderID  string   `json:"order_id"`
	FairID   string   `json:"fair_id"`
	StallID  string   `json:"stall_id"`
	BuyerID  string   `json:"buyer_id"`
	Kind     string   `json:"kind" enum:"refund,return"`
	Amount   Money    `json:"amount" doc:"what the buyer asks for, in fen"`
	Currency string   `json:"currency"`
	Reason   string   `json:"reason"`
	Photos   []string `bun:",type:text" json:"photos" doc:"addresses of photos the buyer attached"`
	Status   string   `json:"status" enum:"open,accepted,rejected,escalated,decided" doc:"open: waiting for the merchant; accepted: refunded; rejected: the merchant said no (the buyer may escalate); escalated: waiting for the fair's organizer; decided: the organizer's final answer"`
	// ReplyBy is when the merchant's time to answer ends: past it, the buyer
	// may escalate an open request.
	ReplyBy        time.Time  `json:"reply_by"`
	ReplyReason    string     `json:"reply_reason,omitempty" doc:"the merchant's words with its answer"`
	DecisionReason string     `json:"decision_reason,omitempty" doc:"the organizer's words with the decision"`
	RefundAmount   Money      `json:"refund_amount" doc:"what was refunded through this request, in fen"`
	RefundID       *string    `json:"refund_id,omitempty"`
	Restocked      bool       `json:"restocked" doc:"the returned goods were put back in stock"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	RepliedAt      *time.Time `json:"replied_at,omitempty"`
	EscalatedAt    *time.Time `json:"escalated_at,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	// CanEscalate tells its buyer that escalating is possible now.
	CanEscalate bool `bun:"-" json:"can_escalate"`
}

// ready fills what is computed on reading.
func (as *AfterSale) ready(now time.Time) {
	if as.Photos == nil {
		as.Photos = []string{}
	}
	as.CanEscalate = as.escalatable(now)
}

// escalatable reports whether the buyer may escalate the request at now.
func (as *AfterSale) escalatable(now time.Time) bool {
	return as.Status == AfterSaleRejected || as.Status == AfterSaleOpen && now.After(as.ReplyBy)
}

// AfterSaleInput is a buyer's request.
type AfterSaleInput struct {
	Kind   string
	Amount Money
	Reason string
	Photos []string
}

// maxPhotos bounds the photos of one request.
const maxPhotos = 6

func checkReason(c *catalog.Check, reason string, required bool) {
	n := utf8.RuneCountInString(reason)
	c.That(n <= 500 && (n > 0 || !required), "reason", "must be 1 to 500 characters")
}

func (in *AfterSaleInput) check() error {
	in.Kind, in.Reason = strings.TrimSpace(in.Kind), strings.TrimSpace(in.Reason)
	var c catalog.Check
	c.That(in.Kind == AfterSaleRefund || in.Kind == AfterSaleReturn, "kind", "must be refund or return")
	c.That(in.Amount > 0, "amount", "must be at least 1 fen")
	checkReason(&c, in.Reason, true)
	c.That(len(in.Photos) <= maxPhotos, "photos", fmt.Sprintf("at most %d photos", maxPhotos))
	photos := make([]string, 0, len(in.Photos))
	for _, p := range in.Photos {
		p = strings.TrimSpace(p)
		ok := len(p) <= 500 && (strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "/media/"))
		c.That(ok, "photos", "each must be an http(s) address or a /media/ path, at most 500 characters")
		photos = append(photos, p)
	}
	in.Photos = photos
	return c.Err()
}

// OpenAfterSale opens an after-sales request on an order, for its buyer,
// once the order is paid: the amount asked may not exceed what is left to
// refund, and an order has one unresolved request at a time. The merchant is
// told.
func (s *Service) OpenAfterSale(ctx context.Context, a catalog.Actor, orderID string, in AfterSaleInput) (*AfterSale, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	var as *AfterSale
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		o, acc, err := s.loadOrder(ctx, tx, a, orderID, true)
		if err != nil {
			return err
		}
		if !acc.buyer {
			return catalog.Fail(catalog.ErrForbidden, "only the order's buyer asks for after-sales")
		}
		if !refundableStatuses[o.Status] {
			return catalog.Failf(catalog.ErrConflict, "a %s order has no after-sales", o.Status)
		}
		if o.RedeemedAt != nil && hasVoucher(o) {
			return catalog.Fail(catalog.ErrConflict, "a redeemed voucher cannot be refunded")
		}
		if in.Amount > o.Refundable() {
			return catalog.Invalid("amount", fmt.Sprintf("must be from 1 to %d fen (what is left to refund)", o.Refundable()))
		}
		busy, err := tx.NewSelect().Model((*AfterSale)(nil)).Where("order_id = ? AND status IN (?)", o.ID, bun.In(unresolvedAfterSale)).Exists(ctx)
		if err != nil {
			return err
		}
		if busy {
			return errAfterSaleBusy
		}
		now := s.now()
		as = &AfterSale{ID: catalog.NewID(), OrderID: o.ID, FairID: o.FairID, StallID: o.StallID, BuyerID: o.BuyerID,
			Kind: in.Kind, Amount: in.Amount, Currency: o.Currency, Reason: in.Reason, Photos: in.Photos,
			Status: AfterSaleOpen, ReplyBy: now.Add(s.reply), CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(as).Exec(ctx); err != nil {
			if catalog.IsUniqueViolation(err) {
				return errAfterSaleBusy
			}
			return err
		}
		follow, err = afterSaleNotice(ctx, tx, now, as, "after_sale_opened")
		return err
	})
	if err != nil {
		return nil, err
	}
	s.nudge(ctx, follow)
	as.ready(s.now())
	return as, nil
}

var errAfterSaleBusy = catalog.Fail(catalog.ErrConflict, "this order already has an after-sales request waiting for an answer")

// afterSaleNotice writes the notice of an after-sales event in tx.
func afterSaleNotice(ctx context.Context, tx bun.IDB, now time.Time, as *AfterSale, event string) ([]OutboxMessage, error) {
	return writeOutbox(ctx, tx, now, OutboxMessage{Kind: OutboxNotice, OrderID: as.OrderID, AfterSaleID: as.ID, Event: event})
}

// loadAfterSale reads a request, and its order locked when lock, for the
// actor: its buyer, its stall's merchant or its fair's organizer. Anyone
// else gets ErrNotFound.
func (s *Service) loadAfterSale(ctx context.Context, db bun.IDB, a catalog.Actor, id string, lock bool) (*AfterSale, *Order, orderAccess, error) {
	as := new(AfterSale)
	if err := db.NewSelect().Model(as).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, nil, orderAccess{}, catalog.NotFound(err, "after-sales request")
	}
	o, acc, err := s.loadOrder(ctx, db, a, as.OrderID, lock)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil, orderAccess{}, catalog.Fail(catalog.ErrNotFound, "after-sales request")
	}
	if err != nil {
		return nil, nil, orderAccess{}, err
	}
	if lock { // read again under the order's lock: the request may have moved meanwhile
		if err := db.NewSelect().Model(as).WherePK().Scan(ctx); err != nil {
			return nil, nil, orderAccess{}, err
		}
	}
	return as, o, acc, nil
}

// AfterSale returns one request to its buyer, its stall's merchant or its
// fair's organizer.
func (s *Service) AfterSale(ctx context.Context, a catalog.Actor, id string) (*AfterSale, error) {
	as, _, _, err := s.loadAfterSale(ctx, s.db, a, id, false)
	if err != nil {
		return nil, err
	}
	as.ready(s.now())
	return as, nil
}

// AfterSaleAnswer is a merchant's acceptance or an organizer's decision.
type AfterSaleAnswer struct {
	// RefundAmount is what the organizer decides to refund (0: nothing);
	// an acceptance refunds the amount asked.
	RefundAmount Money
	Reason       string
	// Restock puts a return's goods back in stock.
	Restock bool
}

// AcceptAfterSale has the stall's merchant accept an open request: the
// amount asked is refunded (through the refund path, its payout reversal
// and notice included) and, for a return with Restock, the order's goods go
// back in stock. Accepting again changes nothing, except that a refund the
// provider refused is tried anew.
func (s *Service) AcceptAfterSale(ctx context.Context, a catalog.Actor, id string, ans AfterSaleAnswer) (*AfterSale, error) {
	ans.Reason = strings.TrimSpace(ans.Reason)
	var c catalog.Check
	checkReason(&c, ans.Reason, false)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s.answer(ctx, a, id, func(ctx context.Context, tx bun.Tx, as *AfterSale, o *Order, acc orderAccess) (*Refund, []OutboxMessage, error) {
		if !acc.merchant {
			return nil, nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant answers after-sales requests")
		}
		if as.Status == AfterSaleAccepted {
			r, err := s.refundAgain(ctx, tx, a, as, o)
			return r, nil, err
		}
		if as.Status != AfterSaleOpen {
			return nil, nil, catalog.Failf(catalog.ErrConflict, "an %s request cannot be accepted", as.Status)
		}
		if ans.Restock && as.Kind != AfterSaleReturn {
			return nil, nil, catalog.Invalid("restock", "only a return puts goods back in stock")
		}
		if err := refundableNow(o, as.Amount); err != nil {
			return nil, nil, err
		}
		now := s.now()
		r, err := s.reserveRefund(ctx, tx, a, o, as.Amount, afterSaleRefundReason(as, ans.Reason))
		if err != nil {
			return nil, nil, err
		}
		if ans.Restock {
			if err := s.restockReturn(ctx, tx, as, o); err != nil {
				return nil, nil, err
			}
		}
		as.Status, as.ReplyReason, as.RefundAmount, as.RefundID, as.RepliedAt, as.UpdatedAt = AfterSaleAccepted, ans.Reason, as.Amount, &r.ID, &now, now
		if _, err := tx.NewUpdate().Model(as).Column("status", "reply_reason", "refund_amount", "refund_id", "restocked", "replied_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return nil, nil, err
		}
		err = catalog.Audit(ctx, tx, now, a, as.FairID, "after_sale.accept", as.ID,
			map[string]any{"order_id": as.OrderID, "amount": as.Amount, "refund_id": r.ID, "restock": ans.Restock, "reason": ans.Reason})
		if err != nil {
			return nil, nil, err
		}
		follow, err := afterSaleNotice(ctx, tx, now, as, "after_sale_accepted")
		return r, follow, err
	})
}

// RejectAfterSale has the stall's merchant turn down an open request, with
// a reason the buyer reads if one is given; the buyer may then escalate it.
func (s *Service) RejectAfterSale(ctx context.Context, a catalog.Actor, id, reason string) (*AfterSale, error) {
	reason = strings.TrimSpace(reason)
	var c catalog.Check
	checkReason(&c, reason, false)
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s.answer(ctx, a, id, func(ctx context.Context, tx bun.Tx, as *AfterSale, _ *Order, acc orderAccess) (*Refund, []OutboxMessage, error) {
		if !acc.merchant {
			return nil, nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant answers after-sales requests")
		}
		if as.Status != AfterSaleOpen {
			return nil, nil, catalog.Failf(catalog.ErrConflict, "an %s request cannot be rejected", as.Status)
		}
		now := s.now()
		as.Status, as.ReplyReason, as.RepliedAt, as.UpdatedAt = AfterSaleRejected, reason, &now, now
		if _, err := tx.NewUpdate().Model(as).Column("status", "reply_reason", "replied_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return nil, nil, err
		}
		if err := catalog.Audit(ctx, tx, now, a, as.FairID, "after_sale.reject", as.ID, map[string]any{"order_id": as.OrderID, "reason": reason}); err != nil {
			return nil, nil, err
		}
		follow, err := afterSaleNotice(ctx, tx, now, as, "after_sale_rejected")
		return nil, follow, err
	})
}

// EscalateAfterSale has the buyer take a request to the fair's organizer:
// after the merchant rejected it, or once reply_by has passed without an
// answer. Before that it is a conflict.
func (s *Service) EscalateAfterSale(ctx context.Context, a catalog.Actor, id string) (*AfterSale, error) {
	return s.answer(ctx, a, id, func(ctx context.Context, tx bun.Tx, as *AfterSale, _ *Order, acc orderAccess) (*Refund, []OutboxMessage, error) {
		if !acc.buyer {
			return nil, nil, catalog.Fail(catalog.ErrForbidden, "only the request's buyer escalates it")
		}
		now := s.now()
		if !as.escalatable(now) {
			if as.Status == AfterSaleOpen {
				return nil, nil, catalog.Failf(catalog.ErrConflict, "the merchant may answer until %s", as.ReplyBy.Format(time.RFC3339))
			}
			return nil, nil, catalog.Failf(catalog.ErrConflict, "an %s request cannot be escalated", as.Status)
		}
		as.Status, as.EscalatedAt, as.UpdatedAt = AfterSaleEscalated, &now, now
		if _, err := tx.NewUpdate().Model(as).Column("status", "escalated_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return nil, nil, err
		}
		follow, err := afterSaleNotice(ctx, tx, now, as, "after_sale_escalated")
		return nil, follow, err
	})
}

// DecideAfterSale has the fair's organizer settle an escalated request:
// RefundAmount (0: nothing, at most what is left to refund) is refunded,
// and a return's goods go back in stock when Restock. The decision is final.
// Deciding again changes nothing, except that a refund the provider refused
// is tried anew.
func (s *Service) DecideAfterSale(ctx context.Context, a catalog.Actor, id string, ans AfterSaleAnswer) (*AfterSale, error) {
	ans.Reason = strings.TrimSpace(ans.Reason)
	var c catalog.Check
	checkReason(&c, ans.Reason, true)
	c.That(ans.RefundAmount >= 0, "refund_amount", "must be 0 (no refund) or more")
	if err := c.Err(); err != nil {
		return nil, err
	}
	return s.answer(ctx, a, id, func(ctx context.Context, tx bun.Tx, as *AfterSale, o *Order, acc orderAccess) (*Refund, []OutboxMessage, error) {
		if !acc.organizer {
			return nil, nil, catalog.Fail(catalog.ErrForbidden, "only the fair's organizer decides after-sales requests")
		}
		if as.Status == AfterSaleDecided {
			r, err := s.refundAgain(ctx, tx, a, as, o)
			return r, nil, err
		}
		if as.Status != AfterSaleEscalated {
			return nil, nil, catalog.Failf(catalog.ErrConflict, "an %s request is not the organizer's to decide", as.Status)
		}
		if ans.Restock && as.Kind != AfterSaleReturn {
			return nil, nil, catalog.Invalid("restock", "only a return puts goods back in stock")
		}
		if ans.RefundAmount > o.Refundable() {
			return nil, nil, catalog.Invalid("refund_amount", fmt.Sprintf("must be from 0 to %d fen (what is left to refund)", o.Refundable()))
		}
		now := s.now()
		var r *Refund
		if ans.RefundAmount > 0 {
			if err := refundableNow(o, ans.RefundAmount); err != nil {
				return nil, nil, err
			}
			var err error
			if r, err = s.reserveRefund(ctx, tx, a, o, ans.RefundAmount, afterSaleRefundReason(as, ans.Reason)); err != nil {
				return nil, nil, err
			}
			as.RefundID = &r.ID
		}
		if ans.Restock {
			if err := s.restockReturn(ctx, tx, as, o); err != nil {
				return nil, nil, err
			}
		}
		as.Status, as.DecisionReason, as.RefundAmount, as.DecidedAt, as.UpdatedAt = AfterSaleDecided, ans.Reason, ans.RefundAmount, &now, now
		if _, err := tx.NewUpdate().Model(as).Column("status", "decision_reason", "refund_amount", "refund_id", "restocked", "decided_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return nil, nil, err
		}
		detail := map[string]any{"order_id": as.OrderID, "refund_amount": ans.RefundAmount, "restock": ans.Restock, "reason": ans.Reason}
		if r != nil {
			detail["refund_id"] = r.ID
		}
		if err := catalog.Audit(ctx, tx, now, a, as.FairID, "after_sale.decide", as.ID, detail); err != nil {
			return nil, nil, err
		}
		follow, err := afterSaleNotice(ctx, tx, now, as, "after_sale_decided")
		return r, follow, err
	})
}

// answerFunc moves one request inside answer's transaction; it returns the
// refund it reserved (to execute after the commit) and the outbox messages
// it wrote.
type answerFunc func(ctx context.Context, tx bun.Tx, as *AfterSale, o *Order, acc orderAccess) (*Refund, []OutboxMessage, error)

// answer runs step on a request read with its order locked, then hands the
// outbox on and executes the refund step reserved, once committed.
func (s *Service) answer(ctx context.Context, a catalog.Actor, id string, step answerFunc) (*AfterSale, error) {
	var as *AfterSale
	var r *Refund
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var o *Order
		var acc orderAccess
		var err error
		if as, o, acc, err = s.loadAfterSale(ctx, tx, a, id, true); err != nil {
			return err
		}
		r, follow, err = step(ctx, tx, as, o, acc)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.nudge(ctx, follow)
	if r != nil && r.Status == RefundPending {
		if err := s.executeRefund(context.WithoutCancel(ctx), r); err != nil {
			return nil, err
		}
	}
	return s.AfterSale(ctx, a, id)
}

// refundAgain is a repeated acceptance or decision: it changes nothing,
// unless the provider refused the request's refund, which is reserved anew
// (or still pending, which is executed again).
func (s *Service) refundAgain(ctx context.Context, tx bun.Tx, a catalog.Actor, as *AfterSale, o *Order) (*Refund, error) {
	if as.RefundID == nil {
		return nil, nil
	}
	prev, err := FindRefund(ctx, tx, *as.RefundID)
	if err != nil {
		return nil, err
	}
	if prev.Status != RefundFailed {
		return prev, nil // pending: executed again after the commit; succeeded: nothing to do
	}
	if err := refundableNow(o, prev.Amount); err != nil {
		return nil, err
	}
	r, err := s.reserveRefund(ctx, tx, a, o, prev.Amount, prev.Reason)
	if err != nil {
		return nil, err
	}
	as.RefundID, as.UpdatedAt = &r.ID, s.now()
	_, err = tx.NewUpdate().Model(as).Column("refund_id", "updated_at").WherePK().Exec(ctx)
	return r, err
}

// refundableNow checks that amt may still be refunded from o.
func refundableNow(o *Order, amt Money) error {
	if !refundableStatuses[o.Status] {
		return catalog.Failf(catalog.ErrConflict, "a %s order cannot be refunded", o.Status)
	}
	if amt > o.Refundable() {
		return catalog.Failf(catalog.ErrConflict, "only %d fen is left to refund on this order", o.Refundable())
	}
	return nil
}

func afterSaleRefundReason(as *AfterSale, reason string) string {
	out := "售后 " + as.ID
	if reason != "" {
		out += ": " + reason
	}
	if utf8.RuneCountInString(out) > 500 {
		out = string([]rune(out)[:500])
	}
	return out
}

// restockReturn puts the goods of a returned order back in stock: once per
// order, whatever the number of its requests, and goods only (a voucher's
// place comes back with its full refund).
func (s *Service) restockReturn(ctx context.Context, tx bun.Tx, as *AfterSale, o *Order) error {
	done, err := tx.NewSelect().Model((*AfterSale)(nil)).Where("order_id = ? AND restocked", o.ID).Exists(ctx)
	if err != nil {
		return err
	}
	if done {
		return catalog.Fail(catalog.ErrConflict, "this order's goods were already put back in stock")
	}
	n := 0
	for _, it := range o.Items {
		if it.Kind != catalog.KindGoods {
			continue
		}
		if err := s.catalog.ReturnStock(ctx, tx, it.ProductID, int64(it.Quantity)); err != nil {
			return err
		}
		n++
	}
	as.Restocked = n > 0
	return nil
}

// AfterSaleFilter narrows a list of requests.
type AfterSaleFilter struct {
	Status string
}

// BuyerAfterSales lists the actor's own requests, newest first.
func (s *Service) BuyerAfterSales(ctx context.Context, a catalog.Actor, f AfterSaleFilter, p catalog.Page) ([]AfterSale, *string, error) {
	return s.listAfterSales(ctx, s.db.NewSelect().Where("buyer_id = ?", a.UserID), f, p)
}

// StallAfterSales lists a stall's requests for its merchant, newest first.
func (s *Service) StallAfterSales(ctx context.Context, a catalog.Actor, stallID string, f AfterSaleFilter, p catalog.Page) ([]AfterSale, *string, error) {
	sa, err := s.catalog.StallIn(ctx, s.db, a, stallID)
	if err != nil {
		return nil, nil, err
	}
	if !sa.Merchant {
		return nil, nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant sees its after-sales requests")
	}
	return s.listAfterSales(ctx, s.db.NewSelect().Where("stall_id = ?", stallID), f, p)
}

// FairAfterSales lists a fair's requests for its organizer, newest first.
func (s *Service) FairAfterSales(ctx context.Context, a catalog.Actor, slug string, f AfterSaleFilter, p catalog.Page) ([]AfterSale, *string, error) {
	fair, err := s.organizedFair(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	return s.listAfterSales(ctx, s.db.NewSelect().Where("fair_id = ?", fair.ID), f, p)
}

// OrderAfterSales lists one order's requests, newest first, for whoever may
// read the order.
func (s *Service) OrderAfterSales(ctx context.Context, a catalog.Actor, orderID string, p catalog.Page) ([]AfterSale, *string, error) {
	if _, _, err := s.loadOrder(ctx, s.db, a, orderID, false); err != nil {
		return nil, nil, err
	}
	return s.listAfterSales(ctx, s.db.NewSelect().Where("order_id = ?", orderID), AfterSaleFilter{}, p)
}

func (s *Service) listAfterSales(ctx context.Context, q *bun.SelectQuery, f AfterSaleFilter, p catalog.Page) ([]AfterSale, *string, error) {
	rows := []AfterSale{}
	q = q.Model(&rows).OrderExpr("id DESC").Limit(p.Size() + 1)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if p.Cursor != "" {
		q = q.Where("id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := catalog.NextCursor(p, rows, func(as AfterSale) string { return as.ID })
	now := s.now()
	for i := range rows {
		rows[i].ready(now)
	}
	return rows, next, nil
}

// organizedFair reads a fair for its organizer: another organizer is
// forbidden, a draft does not exist for others.
func (s *Service) organizedFair(ctx context.Context, a catalog.Actor, slug string) (*catalog.Fair, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the fair's organizer may do this")
	}
	return f, nil
}

// AfterSaleByID reads a request, whoever asks (for workers).
func (s *Service) AfterSaleByID(ctx context.Context, id string) (*AfterSale, error) {
	as := new(AfterSale)
	if err := s.db.NewSelect().Model(as).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "after-sales request")
	}
	as.ready(s.now())
	return as, nil
}

// BuyerAfterSalesOf returns the actor's own requests on the orders ids,
// newest first, by order (one query for a page of orders).
func (s *Service) BuyerAfterSalesOf(ctx context.Context, a catalog.Actor, ids []string) (map[string][]AfterSale, error) {
	out := map[string][]AfterSale{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []AfterSale
	err := s.db.NewSelect().Model(&rows).Where("buyer_id = ? AND order_id IN (?)", a.UserID, bun.In(ids)).OrderExpr("id DESC").Scan(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range rows {
		rows[i].ready(now)
		out[rows[i].OrderID] = append(out[rows[i].OrderID], rows[i])
	}
	return out, nil
}
