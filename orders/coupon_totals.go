package orders

import (
	"context"

	"github.com/uptrace/bun"
)

// CouponTotal is one coupon campaign's effect on a fair: how many coupons
// were claimed and used on paid orders, the discount they gave and the
// sales (paid less refunded) of the orders they were used on.
type CouponTotal struct {
	CampaignID string  `json:"campaign_id"`
	Title      string  `json:"title"`
	FundedBy   string  `json:"funded_by" enum:"organizer,merchant"`
	StallID    *string `json:"stall_id,omitempty"`
	Quantity   int     `json:"quantity"`
	Claimed    int64   `json:"claimed"`
	Used       int64   `json:"used" doc:"coupons used on paid orders"`
	Discount   Money   `json:"discount" doc:"taken off paid orders, in fen"`
	GMV        Money   `json:"gmv" doc:"paid less refunded of the orders the coupons were used on, in fen"`
}

// couponTotals sums each campaign of a fair, in the order they were created.
func (s *Service) couponTotals(ctx context.Context, fairID string) ([]CouponTotal, error) {
	var camps []Campaign
	if err := s.db.NewSelect().Model(&camps).Where("fair_id = ?", fairID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	out := []CouponTotal{}
	if len(camps) == 0 {
		return out, nil
	}
	figures, err := s.CampaignFigures(ctx, fairID)
	if err != nil {
		return nil, err
	}
	for _, c := range camps {
		f := figures[c.ID]
		out = append(out, CouponTotal{CampaignID: c.ID, Title: c.Title, FundedBy: c.FundedBy, StallID: c.StallID,
			Quantity: c.Quantity, Claimed: int64(c.Claimed), Used: f.Used, Discount: f.Discount, GMV: f.GMV})
	}
	return out, nil
}

// CampaignFigure is what a campaign's coupons did on paid orders.
type CampaignFigure struct {
	Used     int64
	Discount Money
	GMV      Money
}

// CampaignFigures sums the uses of each campaign of a fair on paid orders:
// the coupons used, the discount they gave and the orders' sales (paid less
// refunded), by campaign id. Campaigns without uses are absent.
func (s *Service) CampaignFigures(ctx context.Context, fairID string) (map[string]CampaignFigure, error) {
	// An order uses at most one coupon of a campaign (one fair coupon per
	// checkout, one shop coupon per stall), so summing over the uses counts
	// each order once per campaign.
	var sums []struct {
		CampaignID string
		Used       int64
		Discount   Money
		GMV        Money
	}
	err := s.db.NewSelect().TableExpr("coupon_uses AS u").
		Join("JOIN coupons AS c ON c.id = u.coupon_id").
		Join("JOIN orders AS o ON o.id = u.order_id").
		ColumnExpr("c.campaign_id, COUNT(DISTINCT c.id) AS used, SUM(u.amount) AS discount, SUM(o.total - o.refunded) AS gmv").
		Where("c.fair_id = ? AND o.status IN (?)", fairID, bun.In(PaidStatuses)).
		GroupExpr("c.campaign_id").Scan(ctx, &sums)
	if err != nil {
		return nil, err
	}
	out := make(map[string]CampaignFigure, len(sums))
	for _, r := range sums {
		out[r.CampaignID] = CampaignFigure{Used: r.Used, Discount: r.Discount, GMV: r.GMV}
	}
	return out, nil
}
