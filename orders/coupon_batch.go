package orders

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"miaohui/catalog"
)

// Coupons admitted by Redis are written to the database behind their
// answer, together: once the burst of claims is over, a few goroutines per
// admission engine write each campaign's share in transactions of up to
// claimBatchMax coupons: the coupons in one statement, each numbered as
// Redis counted the buyer's claims (the unique key of campaign, buyer and
// number turns a miscount into a refusal), and the campaign's count raised
// once, only if it stays within the quantity. At the release moment
// thousands of claims a second then cost a few transactions, where one
// transaction per claim would queue them all on the campaign's row. A
// batch the database refuses is written coupon by coupon; a coupon it
// refuses is undone in Redis, and one it cannot write now stays pending
// for the recovery sweep.

// claimBatchMax bounds the coupons written in one transaction.
const claimBatchMax = 512

// claimWriters is how many batches are written at once.
const claimWriters = 4

// claimsInFlight counts, per buyer, the coupons this process answered and
// has not written yet, so that the buyer's own next read can wait for them.
type claimsInFlight struct {
	mu   sync.Mutex
	n    map[string]int
	wake chan struct{} // a buyer waits: write the burst gathered so far
}

func (f *claimsInFlight) woken() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wake == nil {
		f.wake = make(chan struct{}, 1)
	}
	return f.wake
}

func (f *claimsInFlight) add(userID string, d int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	if f.n[userID] += d; f.n[userID] <= 0 {
		delete(f.n, userID)
	}
}

func (f *claimsInFlight) has(userID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[userID] > 0
}

// claimWaitMax bounds how long a buyer's read waits for their coupons.
const claimWaitMax = 3 * time.Second

// AwaitClaims returns once the coupons this process answered to the buyer
// are written (or after a few seconds: a coupon the database cannot take
// now is left to the recovery sweep). A buyer's reads of their coupons and
// a checkout with coupons call it, so a coupon just claimed is there; the
// burst gathered so far is written at once rather than at its end.
func (s *Service) AwaitClaims(ctx context.Context, userID string) {
	deadline := time.Now().Add(claimWaitMax)
	wake := s.inFlight.woken()
	for s.inFlight.has(userID) && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case wake <- struct{}{}:
		default:
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// writeBehind hands an answered coupon to the writers.
func (a *Admission) writeBehind(c Coupon) {
	a.svc.inFlight.add(c.UserID, 1)
	a.claims <- c
}

// The coupons of a burst are written once it is over, as the flash
// sales' winners are queued: while a campaign is being grabbed, Redis serves
// the claims alone (on a small machine the database's writes would take
// the claims' CPU). The coupons gathered go to the writers when no claim
// came for claimBurstGap, when the oldest has waited claimBurstMaxWait,
// when they are many, or when a buyer waits for theirs (AwaitClaims).
const (
	claimBurstGap     = 30 * time.Millisecond
	claimBurstMaxWait = 5 * time.Second
	claimBurstMax     = 50000
)

// gatherClaims collects the answered coupons into bursts and hands each
// burst to the writers, a campaign's share in batches of claimBatchMax.
func (a *Admission) gatherClaims() {
	var burst []Coupon
	var oldest time.Time
	timer := time.NewTimer(time.Hour)
	wake := a.svc.inFlight.woken()
	flush := func() {
		var order []string
		byCampaign := map[string][]Coupon{}
		for _, c := range burst {
			if _, ok := byCampaign[c.CampaignID]; !ok {
				order = append(order, c.CampaignID)
			}
			byCampaign[c.CampaignID] = append(byCampaign[c.CampaignID], c)
		}
		for _, id := range order {
			for cs := range slices.Chunk(byCampaign[id], claimBatchMax) {
				a.writes <- cs
			}
		}
		burst = nil
	}
	for {
		select {
		case c := <-a.claims:
			if len(burst) == 0 {
				oldest = time.Now()
			}
			burst = append(burst, c)
			if len(burst) >= claimBurstMax || time.Since(oldest) >= claimBurstMaxWait {
				flush()
				continue
			}
			timer.Reset(claimBurstGap)
		case <-timer.C:
			if len(burst) > 0 {
				flush()
			}
		case <-wake:
			if len(burst) > 0 {
				flush()
			}
		}
	}
}

// writeClaims is one of the goroutines that write the bursts' batches.
func (a *Admission) writeClaims() {
	for cs := range a.writes {
		a.writeBatch(context.Background(), cs[0].CampaignID, cs)
		for _, c := range cs {
			a.svc.inFlight.add(c.UserID, -1)
		}
	}
}

// writeBatch writes one campaign's admitted coupons in one transaction
// and forgets them in Redis's pending hash. If the transaction fails (Redis
// miscounted, the campaign would pass its quantity, a row cannot be
// written), each coupon is written on its own, so a bad one fails only
// itself.
func (a *Admission) writeBatch(ctx context.Context, campaignID string, cs []Coupon) {
	if err := a.svc.writeCoupons(ctx, campaignID, cs); err != nil {
		for _, c := range cs {
			a.writeOne(ctx, c)
		}
		return
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	a.Calls.Add(1)
	_ = a.rdb.HDel(ctx, couponPendingKey(campaignID), ids...).Err()
}

// writeOne writes one admitted coupon and settles its pending entry: gone
// once written, undone once refused; kept, for the recovery sweep, when the
// database could not be reached. It reports whether the entry is settled.
func (a *Admission) writeOne(ctx context.Context, c Coupon) bool {
	err := a.svc.writeCoupons(ctx, c.CampaignID, []Coupon{c})
	switch {
	case err == nil:
		a.Calls.Add(1)
		_ = a.rdb.HDel(ctx, couponPendingKey(c.CampaignID), c.ID).Err()
		return true
	case errors.Is(err, ErrCouponsGone), errors.Is(err, ErrCouponLimit), errors.Is(err, catalog.ErrNotFound):
		a.refused(c, err)
		return true
	}
	return false
}

// claimSweepAge is how long a pending coupon is left to the process that
// answered it before the recovery sweep writes it; claimGiveUp is how long
// the sweep keeps trying a coupon the database will not write.
const (
	claimSweepAge = 10 * time.Second
	claimGiveUp   = 10 * time.Minute
)

// RecoverClaims writes the coupons admitted in Redis that no process wrote
// (the process that answered them stopped first): it is part of the
// workers' recovery sweep. A coupon the database keeps failing is undone
// after claimGiveUp.
func (a *Admission) RecoverClaims(ctx context.Context) error {
	now := a.now()
	var ids []string
	err := a.svc.db.NewSelect().Model((*Campaign)(nil)).Column("id").
		Where("releases_at <= ? AND valid_until > ?", now, now.Add(-24*time.Hour)).Scan(ctx, &ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		pending, err := a.pendingClaims(ctx, id)
		if err != nil {
			return err
		}
		for _, c := range pending {
			if now.Sub(c.ClaimedAt) < claimSweepAge {
				continue
			}
			if !a.writeOne(ctx, c) && now.Sub(c.ClaimedAt) > claimGiveUp {
				a.refused(c, errors.New("not written in time"))
			}
		}
	}
	return nil
}
