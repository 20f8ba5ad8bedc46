package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Claiming coupons at their release moment is a flash event: the claim goes
// through the flash sales' admission engine and costs one Redis round trip.
// The claim script decides whether the buyer may have one more coupon and,
// when they may, keeps the admitted coupon (its id, buyer, number and time)
// in the campaign's pending hash; the claim is answered at once with the
// coupon, and its row is written behind, with the claims admitted at the
// same moment (coupon_batch.go). A coupon whose process dies before writing
// it is still pending in Redis, where the recovery sweep writes it
// (RecoverClaims). The database stays the source of truth: `claimed` never
// passes the quantity, and the buyer's coupons are numbered within the
// per-person limit under a unique key, so a Redis that drifted from it
// cannot make a coupon the database does not hold.

// Redis keys of a campaign; the {id} hash tag keeps them on one cluster slot.
func couponLeftKey(id string) string    { return "cp:{" + id + "}:left" }
func couponUsersKey(id string) string   { return "cp:{" + id + "}:users" }
func couponPendingKey(id string) string { return "cp:{" + id + "}:pending" }

// ClaimLua is the claim script's source. KEYS[1] is what is left, KEYS[2]
// the hash of each buyer's count, KEYS[3] the hash of admitted coupons not
// yet written; ARGV[1] the buyer, ARGV[2] the per-person limit, ARGV[3] the
// new coupon's id and ARGV[4] the time in milliseconds. It answers
// {code, left, n}: 1 admitted (n: the buyer's count with this claim, the
// coupon's number), -3 limit reached, -4 none left, -5 the state is missing
// (rebuild it from the database).
const ClaimLua = `
local left = redis.call('GET', KEYS[1])
if not left then return {-5, 0} end
left = tonumber(left)
local had = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if had >= tonumber(ARGV[2]) then return {-3, left} end
if left <= 0 then return {-4, 0} end
redis.call('DECR', KEYS[1])
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1] .. '|' .. n .. '|' .. ARGV[4])
return {1, left - 1, n}
`

var claimScript = redis.NewScript(ClaimLua)

// unclaimScript gives back a unit the database did not take (when the
// state still exists) and forgets the pending coupon ARGV[2].
var unclaimScript = redis.NewScript(`
redis.call('HDEL', KEYS[3], ARGV[2])
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
	coupon                 Coupon // the campaign's coupon, for a claim to copy
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
		m.coupon = c.coupon()
	}
	a.campaigns.Store(id, m)
	if m.missing {
		return nil, catalog.Fail(catalog.ErrNotFound, "coupon campaign")
	}
	return m, nil
}

// coupon is an unused coupon of the campaign, with no holder yet.
func (c *Campaign) coupon() Coupon {
	return Coupon{CampaignID: c.ID, FairID: c.FairID, StallID: c.StallID, Discount: c.Discount, MinSpend: c.MinSpend,
		ValidUntil: c.ValidUntil, Status: CouponUnused, Title: c.Title, FundedBy: c.FundedBy}
}

// heldAs is the campaign's coupon t as admitted: its id, holder, number
// among the holder's and time, as the admission gave them in p.
func (t Coupon) heldAs(p Coupon) Coupon {
	t.ID, t.UserID, t.N, t.ClaimedAt = p.ID, p.UserID, p.N, p.ClaimedAt
	return t
}

// ClaimCoupon claims one coupon of a campaign for a buyer: 409 not_started
// before its release, 410 ended once it is no longer valid, 409 sold_out
// when none is left and limit_reached when the buyer holds as many as one
// person may. It costs one Redis round trip; the coupon's row is written
// behind (the buyer's own reads wait for it: AwaitClaims).
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
	keys := []string{couponLeftKey(campaignID), couponUsersKey(campaignID), couponPendingKey(campaignID)}
	at := now.Truncate(time.Millisecond)
	id := catalog.NewID()
	for attempt := 0; ; attempt++ {
		a.Calls.Add(1)
		res, err := claimScript.Run(ctx, a.admit, keys, userID, m.limit, id, at.UnixMilli()).Int64Slice()
		if err != nil {
			return nil, err
		}
		switch res[0] {
		case 1:
			c := m.coupon.heldAs(Coupon{ID: id, UserID: userID, N: int(res[2]), ClaimedAt: at})
			a.writeBehind(c)
			return &c, nil
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

// refused undoes the admission of a coupon the database will not take.
// When it refused because Redis had drifted from it (no coupons left, or
// the buyer at the limit), the counts are dropped and the next claim
// rebuilds them from the database; otherwise the unit goes back.
func (a *Admission) refused(c Coupon, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys := []string{couponLeftKey(c.CampaignID), couponUsersKey(c.CampaignID), couponPendingKey(c.CampaignID)}
	a.Calls.Add(1)
	slog.Warn("coupon claim refused by the database", "campaign_id", c.CampaignID, "coupon_id", c.ID, "user_id", c.UserID, "err", cause)
	if errors.Is(cause, ErrCouponsGone) || errors.Is(cause, ErrCouponLimit) {
		_ = a.rdb.HDel(ctx, keys[2], c.ID).Err()
		_ = a.rdb.Del(ctx, keys[0], keys[1]).Err()
		return
	}
	_ = unclaimScript.Run(ctx, a.rdb, keys, c.UserID, c.ID).Err()
}

// pendingClaims reads a campaign's admitted coupons not yet written.
func (a *Admission) pendingClaims(ctx context.Context, campaignID string) ([]Coupon, error) {
	all, err := a.rdb.HGetAll(ctx, couponPendingKey(campaignID)).Result()
	if err != nil || len(all) == 0 {
		return nil, err
	}
	out := make([]Coupon, 0, len(all))
	for id, raw := range all {
		parts := strings.Split(raw, "|")
		if len(parts) != 3 {
			continue
		}
		n, err1 := strconv.Atoi(parts[1])
		ms, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Coupon{ID: id, CampaignID: campaignID, UserID: parts[0], N: n, ClaimedAt: time.UnixMilli(ms).UTC()})
	}
	return out, nil
}

// unwritten keeps the coupons of cs that have no row yet.
func (s *Service) unwritten(ctx context.Context, cs []Coupon) ([]Coupon, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	var known []string
	if err := s.db.NewSelect().Model((*Coupon)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).Scan(ctx, &known); err != nil {
		return nil, err
	}
	written := make(map[string]bool, len(known))
	for _, id := range known {
		written[id] = true
	}
	out := cs[:0]
	for _, c := range cs {
		if !written[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

// RebuildCampaign sets a campaign's Redis state from the database: what is
// left is the quantity less the coupons claimed, and each buyer's count is
// theirs, both counting the admitted coupons still pending. It changes
// nothing if the state exists.
func (a *Admission) RebuildCampaign(ctx context.Context, campaignID string) error {
	// The pending coupons are read first: one written meanwhile is then in
	// the database's counts and left out of the pending ones.
	pending, err := a.pendingClaims(ctx, campaignID)
	if err != nil {
		return err
	}
	c := new(Campaign)
	if err := a.svc.db.NewSelect().Model(c).Where("id = ?", campaignID).Scan(ctx); err != nil {
		return catalog.NotFound(err, "coupon campaign")
	}
	var counts []struct {
		UserID string
		N      int
	}
	err = a.svc.db.NewSelect().Model((*Coupon)(nil)).ColumnExpr("user_id, COUNT(*) AS n").
		Where("campaign_id = ?", campaignID).GroupExpr("user_id").Scan(ctx, &counts)
	if err != nil {
		return err
	}
	if pending, err = a.svc.unwritten(ctx, pending); err != nil {
		return err
	}
	held := map[string]int{}
	for _, n := range counts {
		held[n.UserID] = n.N
	}
	for _, p := range pending {
		held[p.UserID]++
	}
	args := []any{max(c.Quantity-c.Claimed-len(pending), 0)}
	for u, n := range held {
		args = append(args, u, n)
	}
	a.Calls.Add(1)
	return couponInitScript.Run(ctx, a.rdb, []string{couponLeftKey(campaignID), couponUsersKey(campaignID)}, args...).Err()
}

// writeCoupons writes admitted coupons of one campaign in one transaction:
// the coupons in one statement, and the campaign's count raised by those
// new, only if it stays within the quantity (ErrCouponsGone otherwise). A
// coupon numbered out of the per-person limit, or under a number the buyer
// already holds, fails it with ErrCouponLimit. Coupons already written (by
// the recovery sweep, or another batch) are left as they are.
func (s *Service) writeCoupons(ctx context.Context, campaignID string, cs []Coupon) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c := new(Campaign)
		if err := tx.NewSelect().Model(c).Where("id = ?", campaignID).Scan(ctx); err != nil {
			return catalog.NotFound(err, "coupon campaign")
		}
		tmpl := c.coupon()
		rows := make([]Coupon, len(cs))
		for i, p := range cs {
			if p.N < 1 || p.N > c.PerUserLimit {
				return ErrCouponLimit
			}
			rows[i] = tmpl.heldAs(p)
		}
		// The coupons first, the campaign's row last: its lock is then held
		// only for the commit, so the writers' batches overlap.
		res, err := tx.NewInsert().Model(&rows).On("CONFLICT (id) DO NOTHING").Exec(ctx)
		if err != nil {
			if catalog.IsUniqueViolation(err) {
				return ErrCouponLimit
			}
			return err
		}
		added, _ := res.RowsAffected()
		if added == 0 {
			return nil
		}
		res, err = tx.NewUpdate().Model((*Campaign)(nil)).Set("claimed = claimed + ?", added).
			Where("id = ? AND claimed + ? <= quantity", campaignID, added).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrCouponsGone
		}
		return nil
	})
}

// PrimeCampaign sets a new campaign's Redis state so that the first claims
// at its release need no rebuild (best effort: a claim rebuilds it anyway).
func (a *Admission) PrimeCampaign(ctx context.Context, campaignID string) {
	_ = a.RebuildCampaign(ctx, campaignID)
}
