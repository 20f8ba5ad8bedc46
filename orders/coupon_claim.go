package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Claiming coupons at their release moment is a flash event: the claim goes
// through the flash sales' admission engine. One Redis round trip (the
// claim script) decides whether the buyer may have one more coupon; each
// admitted claim is then written to the database before it is answered,
// with the claims admitted at the same moment (coupon_batch.go), and the
// database stays the source of truth: `claimed` never passes the quantity,
// and the buyer's coupons are numbered within the per-person limit under a
// unique key. A claim the database refuses or fails gives its
// unit back in Redis.

// Redis keys of a campaign; the {id} hash tag keeps them on one cluster slot.
func couponLeftKey(id string) string  { return "cp:{" + id + "}:left" }
func couponUsersKey(id string) string { return "cp:{" + id + "}:users" }

// CouponKeys names a campaign's Redis state: what is left to claim and the
// hash of each buyer's count (benchmarks and operators read them).
func CouponKeys(campaignID string) (left, users string) {
	return couponLeftKey(campaignID), couponUsersKey(campaignID)
}

// ClaimLua is the claim script's source. KEYS[1] is what is left, KEYS[2]
// the hash of each buyer's count; ARGV[1] the buyer, ARGV[2] the
// per-person limit. It answers {code, left, n}: 1 admitted (n: the buyer's
// count with this claim, the coupon's number), -3 limit reached, -4 none
// left, -5 the state is missing (rebuild it from the database).
const ClaimLua = `
local left = redis.call('GET', KEYS[1])
if not left then return {-5, 0} end
left = tonumber(left)
local had = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if had >= tonumber(ARGV[2]) then return {-3, left} end
if left <= 0 then return {-4, 0} end
redis.call('DECR', KEYS[1])
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return {1, left - 1, n}
`

var claimScript = redis.NewScript(ClaimLua)

// unclaimScript gives back a unit the database did not take (when the
// state still exists).
var unclaimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('INCR', KEYS[1])
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`)

// couponInitScript sets a campaign's state unless another process did:
// ARGV[1] what is left, then buyer/count pairs.
var couponInitScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i+1]) end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// campaignMeta is what a claim needs of a campaign, kept in memory.
type campaignMeta struct {
	releasesAt, validUntil time.Time
	limit                  int
	loaded                 time.Time
	missing                bool
}

// couponMetaTTL bounds how long a copy is kept (campaigns do not change once
// created; the copy only has to notice one being deleted).
const couponMetaTTL = 10 * time.Second

func (a *Admission) campaignMeta(ctx context.Context, id string, now time.Time) (*campaignMeta, error) {
	if v, ok := a.campaigns.Load(id); ok {
		m := v.(*campaignMeta)
		if now.Sub(m.loaded) < couponMetaTTL {
			if m.missing {
				return nil, catalog.Fail(catalog.ErrNotFound, "coupon campaign")
			}
			return m, nil
		}
	}
	v, err, _ := a.loads.Do("campaign:"+id, func() (any, error) {
		return a.svc.campaignByID(context.WithoutCancel(ctx), a.svc.db, catalog.Actor{}, id)
	})
	m := &campaignMeta{loaded: now}
	if err != nil {
		if !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
		m.missing = true
	} else {
		c := v.(*Campaign)
		m.releasesAt, m.validUntil, m.limit = c.ReleasesAt, c.ValidUntil, c.PerUserLimit
	}
	a.campaigns.Store(id, m)
	if m.missing {
		return nil, catalog.Fail(catalog.ErrNotFound, "coupon campaign")
	}
	return m, nil
}

// ClaimCoupon claims one coupon of a campaign for a buyer: 409 not_started
// before its release, 410 ended once it is no longer valid, 409 sold_out
// when none is left and limit_reached when the buyer holds as many as one
// person may. It costs one Redis round trip and, when admitted, one
// database transaction.
func (a *Admission) ClaimCoupon(ctx context.Context, userID, campaignID string) (*Coupon, error) {
	if userID == "" {
		return nil, catalog.ErrUnauthorized
	}
	now := a.now()
	m, err := a.campaignMeta(ctx, campaignID, now)
	if err != nil {
		return nil, err
	}
	switch {
	case now.Before(m.releasesAt):
		return nil, ErrCouponNotReleased
	case !now.Before(m.validUntil):
		return nil, ErrCouponEnded
	}
	hint := "cp:" + campaignID
	if until, ok := a.soldOut.Load(hint); ok && now.UnixNano() < until.(int64) {
		return nil, ErrCouponsGone
	}
	keys := []string{couponLeftKey(campaignID), couponUsersKey(campaignID)}
	for attempt := 0; ; attempt++ {
		a.Calls.Add(1)
		res, err := claimScript.Run(ctx, a.admit, keys, userID, m.limit).Int64Slice()
		if err != nil {
			return nil, err
		}
		switch res[0] {
		case 1:
			c, err := a.record(userID, campaignID, now, int(res[2]))
			if err != nil {
				a.giveBack(campaignID, userID, err)
				return nil, err
			}
			return c, nil
		case -3:
			return nil, ErrCouponLimit
		case -4:
			a.soldOut.Store(hint, now.Add(soldOutHold).UnixNano())
			return nil, ErrCouponsGone
		case -5:
			if attempt > 0 {
				return nil, fmt.Errorf("coupon campaign %s: state could not be rebuilt", campaignID)
			}
			if _, err, _ := a.loads.Do("rebuild-campaign:"+campaignID, func() (any, error) {
				return nil, a.RebuildCampaign(context.WithoutCancel(ctx), campaignID)
			}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("coupon claim: unexpected answer %v", res)
		}
	}
}

// giveBack undoes an admission the database did not follow. When the
// database refused it (Redis had drifted from it), the state is dropped and
// rebuilt from the database by the next claim.
func (a *Admission) giveBack(campaignID, userID string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys := []string{couponLeftKey(campaignID), couponUsersKey(campaignID)}
	a.Calls.Add(1)
	if errors.Is(cause, ErrCouponsGone) || errors.Is(cause, ErrCouponLimit) {
		_ = a.rdb.Del(ctx, keys...).Err()
		return
	}
	_ = unclaimScript.Run(ctx, a.rdb, keys, userID).Err()
}

// RebuildCampaign sets a campaign's Redis state from the database: what is
// left is the quantity less the coupons claimed, and each buyer's count is
// theirs. It changes nothing if the state exists.
func (a *Admission) RebuildCampaign(ctx context.Context, campaignID string) error {
	c := new(Campaign)
	if err := a.svc.db.NewSelect().Model(c).Where("id = ?", campaignID).Scan(ctx); err != nil {
		return catalog.NotFound(err, "coupon campaign")
	}
	var counts []struct {
		UserID string
		N      int
	}
	err := a.svc.db.NewSelect().Model((*Coupon)(nil)).ColumnExpr("user_id, COUNT(*) AS n").
		Where("campaign_id = ?", campaignID).GroupExpr("user_id").Scan(ctx, &counts)
	if err != nil {
		return err
	}
	args := []any{max(c.Quantity-c.Claimed, 0)}
	for _, n := range counts {
		args = append(args, n.UserID, n.N)
	}
	a.Calls.Add(1)
	return couponInitScript.Run(ctx, a.rdb, []string{couponLeftKey(campaignID), couponUsersKey(campaignID)}, args...).Err()
}

// recordClaim writes an admitted claim: the campaign's count goes up unless
// it is used up, and the buyer's next coupon number is taken unless they
// hold as many as allowed.
func (s *Service) recordClaim(ctx context.Context, userID, campaignID string, now time.Time) (*Coupon, error) {
	var out *Coupon
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Campaign)(nil)).Set("claimed = claimed + 1").
			Where("id = ? AND claimed < quantity", campaignID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrCouponsGone
		}
		c := new(Campaign)
		if err := tx.NewSelect().Model(c).Where("id = ?", campaignID).Scan(ctx); err != nil {
			return err
		}
		held, err := tx.NewSelect().Model((*Coupon)(nil)).Where("campaign_id = ? AND user_id = ?", campaignID, userID).Count(ctx)
		if err != nil {
			return err
		}
		if held >= int64(c.PerUserLimit) {
			return ErrCouponLimit
		}
		out = &Coupon{ID: catalog.NewID(), CampaignID: c.ID, FairID: c.FairID, StallID: c.StallID, UserID: userID, N: int(held) + 1,
			Discount: c.Discount, MinSpend: c.MinSpend, ValidUntil: c.ValidUntil, Status: CouponUnused, ClaimedAt: now,
			Title: c.Title, FundedBy: c.FundedBy}
		if _, err := tx.NewInsert().Model(out).Exec(ctx); err != nil {
			if catalog.IsUniqueViolation(err) {
				return ErrCouponLimit
			}
			return err
		}
		return nil
	})
	return out, err
}

// PrimeCampaign sets a new campaign's Redis state so that the first claims
// at its release need no rebuild (best effort: a claim rebuilds it anyway).
func (a *Admission) PrimeCampaign(ctx context.Context, campaignID string) {
	_ = a.RebuildCampaign(ctx, campaignID)
}
