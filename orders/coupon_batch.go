package orders

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Claims admitted by Redis are written to the database together: one
// goroutine per admission engine takes every claim waiting, and writes each
// campaign's share in one transaction: the coupons in one statement, each
// numbered as Redis counted the buyer's claims (the unique key of campaign,
// buyer and number turns a miscount into a refusal), and the campaign's
// count raised once, only if it stays within the quantity. At the release
// moment thousands of claims a second then cost a few transactions a
// second, where one transaction per claim would queue them all on the
// campaign's row. A claim still answers only once its coupon is committed;
// a batch the database refuses is written claim by claim, counting afresh.

// claimBatchMax bounds the claims written in one transaction.
const claimBatchMax = 512

// errClaimMiscounted refuses a batch whose numbering from Redis is out of
// the limit: its claims are then counted afresh one by one.
var errClaimMiscounted = errors.New("coupon claim numbered out of the limit")

// claimReq is an admitted claim waiting to be written.
type claimReq struct {
	campaignID, userID string
	at                 time.Time
	n                  int // the coupon's number among the buyer's, as Redis counted
	done               chan claimResult
}

type claimResult struct {
	coupon *Coupon
	err    error
}

// record writes an admitted claim with the others waiting, and returns its
// coupon or why the database refused it.
func (a *Admission) record(userID, campaignID string, at time.Time, n int) (*Coupon, error) {
	r := claimReq{campaignID: campaignID, userID: userID, at: at, n: n, done: make(chan claimResult, 1)}
	a.claims <- r
	res := <-r.done
	return res.coupon, res.err
}

// claimWriters is how many batches are written at once.
const claimWriters = 4

// writeClaims is one of the goroutines that write the waiting claims, batch
// after batch: while batches commit, the next ones gather.
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

// recordClaims writes one campaign's admitted claims in one transaction.
// If it fails (Redis miscounted, or the campaign would pass its quantity),
// each claim is tried on its own, so a bad claim fails only itself.
func (s *Service) recordClaims(ctx context.Context, campaignID string, reqs []claimReq) {
	results := make([]claimResult, len(reqs))
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c := new(Campaign)
		if err := tx.NewSelect().Model(c).Where("id = ?", campaignID).Scan(ctx); err != nil {
			return catalog.NotFound(err, "coupon campaign")
		}
		rows := make([]Coupon, 0, len(reqs))
		for _, r := range reqs {
			if r.n < 1 || r.n > c.PerUserLimit {
				return errClaimMiscounted
			}
			rows = append(rows, Coupon{ID: catalog.NewID(), CampaignID: c.ID, FairID: c.FairID, StallID: c.StallID, UserID: r.userID,
				N: r.n, Discount: c.Discount, MinSpend: c.MinSpend, ValidUntil: c.ValidUntil, Status: CouponUnused,
				ClaimedAt: r.at, Title: c.Title, FundedBy: c.FundedBy})
		}
		// The coupons first, the campaign's row last: its lock is then held
		// only for the commit, so the writers' batches overlap.
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*Campaign)(nil)).Set("claimed = claimed + ?", len(rows)).
			Where("id = ? AND claimed + ? <= quantity", campaignID, len(rows)).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrCouponsGone
		}
		for i := range rows {
			results[i].coupon = &rows[i]
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
