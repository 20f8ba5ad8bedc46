package orders

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Claims admitted by Redis are written to the database together: one
// goroutine per admission engine takes every claim waiting, and writes each
// campaign's share in one transaction (the campaign's row locked once, the
// buyers' counts read once, the coupons inserted in one statement). At the
// release moment thousands of claims a second then cost a few transactions
// a second, where one transaction per claim would queue them all on the
// campaign's row. A claim still answers only once its coupon is committed.

// claimBatchMax bounds the claims written in one transaction.
const claimBatchMax = 512

// claimReq is an admitted claim waiting to be written.
type claimReq struct {
	campaignID, userID string
	at                 time.Time
	done               chan claimResult
}

type claimResult struct {
	coupon *Coupon
	err    error
}

// record writes an admitted claim with the others waiting, and returns its
// coupon or why the database refused it.
func (a *Admission) record(userID, campaignID string, at time.Time) (*Coupon, error) {
	r := claimReq{campaignID: campaignID, userID: userID, at: at, done: make(chan claimResult, 1)}
	a.claims <- r
	res := <-r.done
	return res.coupon, res.err
}

// writeClaims is the goroutine that writes the waiting claims, batch after
// batch: while one batch commits, the next gathers.
func (a *Admission) writeClaims() {
	for first := range a.claims {
		batch := []claimReq{first}
	gather:
		for len(batch) < claimBatchMax {
			select {
			case r := <-a.claims:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		var order []string
		byCampaign := map[string][]claimReq{}
		for _, r := range batch {
			if _, ok := byCampaign[r.campaignID]; !ok {
				order = append(order, r.campaignID)
			}
			byCampaign[r.campaignID] = append(byCampaign[r.campaignID], r)
		}
		for _, id := range order {
			a.svc.recordClaims(context.Background(), id, byCampaign[id])
		}
	}
}

// recordClaims writes one campaign's admitted claims in one transaction, in
// the order they came: each while the campaign has coupons left and its
// buyer holds fewer than the limit. If the transaction fails, each claim is
// tried on its own, so one bad claim fails only itself.
func (s *Service) recordClaims(ctx context.Context, campaignID string, reqs []claimReq) {
	results := make([]claimResult, len(reqs))
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c := new(Campaign)
		if err := catalog.ForUpdate(tx.NewSelect().Model(c).Where("id = ?", campaignID)).Scan(ctx); err != nil {
			return catalog.NotFound(err, "coupon campaign")
		}
		var users []string
		seen := map[string]bool{}
		for _, r := range reqs {
			if !seen[r.userID] {
				seen[r.userID] = true
				users = append(users, r.userID)
			}
		}
		var counts []struct {
			UserID string
			N      int
		}
		err := tx.NewSelect().Model((*Coupon)(nil)).ColumnExpr("user_id, COUNT(*) AS n").
			Where("campaign_id = ? AND user_id IN (?)", campaignID, bun.In(users)).GroupExpr("user_id").Scan(ctx, &counts)
		if err != nil {
			return err
		}
		held := map[string]int{}
		for _, n := range counts {
			held[n.UserID] = n.N
		}
		left := c.Quantity - c.Claimed
		var rows []Coupon
		var of []int // the request each row answers
		for i, r := range reqs {
			switch {
			case left <= 0:
				results[i].err = ErrCouponsGone
			case held[r.userID] >= c.PerUserLimit:
				results[i].err = ErrCouponLimit
			default:
				held[r.userID]++
				left--
				rows = append(rows, Coupon{ID: catalog.NewID(), CampaignID: c.ID, FairID: c.FairID, StallID: c.StallID, UserID: r.userID,
					N: held[r.userID], Discount: c.Discount, MinSpend: c.MinSpend, ValidUntil: c.ValidUntil, Status: CouponUnused,
					ClaimedAt: r.at, Title: c.Title, FundedBy: c.FundedBy})
				of = append(of, i)
			}
		}
		if len(rows) == 0 {
			return nil
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*Campaign)(nil)).Set("claimed = claimed + ?", len(rows)).Where("id = ?", campaignID).Exec(ctx); err != nil {
			return err
		}
		for k, i := range of {
			results[i].coupon = &rows[k]
		}
		return nil
	})
	if err != nil {
		// One at a time, each in its own transaction.
		for i, r := range reqs {
			c, err := s.recordClaim(ctx, r.userID, r.campaignID, r.at)
			results[i] = claimResult{coupon: c, err: err}
		}
	}
	for i, r := range reqs {
		r.done <- results[i]
	}
}
