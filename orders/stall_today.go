package orders

import (
	"context"
	"time"

	"miaohui/catalog"
)

// StallDay is a stall's day at a glance, what its console opens on: the
// orders paid today (in the fair's time zone) and their sales, and the
// orders waiting for the merchant: paid pickups and vouchers not yet
// redeemed (待核销), and paid deliveries not yet shipped (待发货).
type StallDay struct {
	Orders   int64
	GMV      Money
	ToRedeem int64
	ToShip   int64
}

// StallToday reads a stall's day for its merchant and booth staff.
func (s *Service) StallToday(ctx context.Context, a catalog.Actor, stallID string) (StallDay, error) {
	sa, err := s.catalog.BoothStall(ctx, s.db, a, stallID)
	if err != nil {
		return StallDay{}, err
	}
	if !sa.CanWorkBooth() {
		return StallDay{}, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant and staff see its day")
	}
	now := s.now().In(catalog.FairZone)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, catalog.FairZone)
	var d StallDay
	err = s.db.NewSelect().TableExpr("orders AS o").
		ColumnExpr("COUNT(*)").ColumnExpr("COALESCE(SUM(o.total), 0)").
		Where("o.stall_id = ? AND o.paid_at >= ? AND o.paid_at < ?", stallID, start.UTC(), start.AddDate(0, 0, 1).UTC()).
		Scan(ctx, &d.Orders, &d.GMV)
	if err != nil {
		return StallDay{}, err
	}
	if d.ToRedeem, err = s.db.NewSelect().TableExpr("orders AS o").
		Where("o.stall_id = ? AND o.status IN (?, ?) AND o.pickup_code <> '' AND o.redeemed_at IS NULL", stallID, StatusPaid, StatusPartiallyRefunded).
		Count(ctx); err != nil {
		return StallDay{}, err
	}
	if d.ToShip, err = s.db.NewSelect().TableExpr("orders AS o").
		Where("o.stall_id = ? AND o.status = ? AND o.fulfillment = ?", stallID, StatusPaid, catalog.ShipDelivery).
		Count(ctx); err != nil {
		return StallDay{}, err
	}
	return d, nil
}
