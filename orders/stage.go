package orders

import (
	"context"

	"miaohui/catalog"
)

// The stages of a buyer's orders, as the tabs of their order list group
// them: to pay, to collect (paid and neither redeemed nor finished), done.
const (
	StageUnpaid    = "unpaid"
	StageToCollect = "to_collect"
	StageDone      = "done"
)

// Stages are the buyer's order stages, in the order the tabs show them.
var Stages = []string{StageUnpaid, StageToCollect, StageDone}

// BuyerOrdersAt lists the actor's orders at a stage, newest first; an
// unknown or empty stage lists them all.
func (s *Service) BuyerOrdersAt(ctx context.Context, a catalog.Actor, stage string, p catalog.Page) ([]Order, *string, error) {
	q := s.db.NewSelect().Where("o.buyer_id = ?", a.UserID)
	switch stage {
	case StageUnpaid:
		q = q.Where("o.status = ?", StatusPendingPayment)
	case StageToCollect:
		q = q.Where("o.status IN (?, ?, ?) AND o.redeemed_at IS NULL", StatusPaid, StatusShipped, StatusPartiallyRefunded)
	case StageDone:
		q = q.Where("(o.status IN (?, ?) OR (o.status = ? AND o.redeemed_at IS NOT NULL))", StatusRedeemed, StatusCompleted, StatusPartiallyRefunded)
	}
	return s.listOrders(ctx, q, p, true)
}
