package orders_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// campaignIn is a valid campaign released now, valid for a day.
func (k *kit) campaignIn(discount, minSpend orders.Money, quantity, limit int) orders.CampaignInput {
	now := k.Clock.Now()
	return orders.CampaignInput{Title: "满100减20", Discount: discount, MinSpend: minSpend, Quantity: quantity, PerUserLimit: limit,
		ReleasesAt: now, ValidUntil: now.Add(24 * time.Hour)}
}

// fairCampaign creates an organizer-funded campaign of the kit's fair.
func (k *kit) fairCampaign(in orders.CampaignInput) *orders.Campaign {
	k.t.Helper()
	c, err := k.Orders.CreateFairCampaign(k.ctx, k.Organizer, k.Fair.Slug, in)
	if err != nil {
		k.t.Fatalf("CreateFairCampaign: %v", err)
	}
	return c
}

// shopCampaign creates a shop coupon campaign of s.
func (k *kit) shopCampaign(s shop, in orders.CampaignInput) *orders.Campaign {
	k.t.Helper()
	c, err := k.Orders.CreateStallCampaign(k.ctx, s.Merchant, s.Stall.ID, in)
	if err != nil {
		k.t.Fatalf("CreateStallCampaign: %v", err)
	}
	return c
}

// claim claims a coupon of c for b and fails the test on error.
func (k *kit) claim(adm *orders.Admission, b catalog.Actor, c *orders.Campaign) *orders.Coupon {
	k.t.Helper()
	cp, err := adm.ClaimCoupon(k.ctx, b.UserID, c.ID)
	if err != nil {
		k.t.Fatalf("ClaimCoupon(%s): %v", c.Title, err)
	}
	k.Orders.AwaitClaims(k.ctx, b.UserID)
	return cp
}

// coupons lists b's coupons of one status ("" for all).
func (k *kit) coupons(b catalog.Actor, status string) []orders.Coupon {
	k.t.Helper()
	rows, _, err := k.Orders.MyCoupons(k.ctx, b, status, catalog.Page{Limit: 100})
	if err != nil {
		k.t.Fatalf("MyCoupons: %v", err)
	}
	return rows
}

func TestCampaignCreate(t *testing.T) {
	t.Run("Validation", func(t *testing.T) {
		k := newKit(t)
		now := k.Clock.Now()
		cases := []struct {
			name, field string
			edit        func(in *orders.CampaignInput)
		}{
			{"NoTitle", "title", func(in *orders.CampaignInput) { in.Title = "  " }},
			{"ZeroDiscount", "discount", func(in *orders.CampaignInput) { in.Discount = 0 }},
			{"DiscountNotBelowMinSpend", "discount", func(in *orders.CampaignInput) { in.Discount, in.MinSpend = 5000, 5000 }},
			{"NegativeMinSpend", "min_spend", func(in *orders.CampaignInput) { in.MinSpend = -1 }},
			{"ZeroQuantity", "quantity", func(in *orders.CampaignInput) { in.Quantity = 0 }},
			{"ZeroLimit", "per_user_limit", func(in *orders.CampaignInput) { in.PerUserLimit = 0 }},
			{"LimitAboveQuantity", "per_user_limit", func(in *orders.CampaignInput) { in.Quantity, in.PerUserLimit = 2, 3 }},
			{"ValidBeforeRelease", "valid_until", func(in *orders.CampaignInput) { in.ValidUntil = in.ReleasesAt.Add(-time.Minute) }},
			{"ValidInThePast", "valid_until", func(in *orders.CampaignInput) {
				in.ReleasesAt, in.ValidUntil = now.Add(-2*time.Hour), now.Add(-time.Hour)
			}},
			{"UnknownCategory", "categories[0]", func(in *orders.CampaignInput) { in.Categories = []string{"nope"} }},
			{"CategoryTwice", "categories[1]", func(in *orders.CampaignInput) { in.Categories = []string{"food", "food"} }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in := k.campaignIn(2000, 10000, 10, 1)
				c.edit(&in)
				_, err := k.Orders.CreateFairCampaign(k.ctx, k.Organizer, k.Fair.Slug, in)
				catalogtest.WantInvalid(t, err, c.field)
			})
		}
		t.Run("MerchantCategories", func(t *testing.T) {
			s := k.shop("甲")
			in := k.campaignIn(500, 3000, 10, 1)
			in.Categories = []string{"food"}
			_, err := k.Orders.CreateStallCampaign(k.ctx, s.Merchant, s.Stall.ID, in)
			catalogtest.WantInvalid(t, err, "categories")
		})
		var n int
		if err := k.DB.NewSelect().TableExpr("coupon_campaigns").ColumnExpr("COUNT(*)").Scan(k.ctx, &n); err != nil || n != 0 {
			t.Fatalf("campaigns after refusals = %d (%v), want 0", n, err)
		}
	})

	t.Run("WhoMay", func(t *testing.T) {
		k := newKit(t)
		s, other := k.shop("甲"), k.shop("乙")
		in := k.campaignIn(2000, 10000, 10, 1)
		_, err := k.Orders.CreateFairCampaign(k.ctx, s.Merchant, k.Fair.Slug, in)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.CreateStallCampaign(k.ctx, other.Merchant, s.Stall.ID, in)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.CreateStallCampaign(k.ctx, k.Organizer, s.Stall.ID, in)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})

	t.Run("AuditedAndListed", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		in := k.campaignIn(2000, 10000, 10, 1)
		in.Categories = []string{"food", "crafts"}
		fc := k.fairCampaign(in)
		sc := k.shopCampaign(s, k.campaignIn(500, 3000, 5, 2))
		if fc.FundedBy != orders.FundedByOrganizer || fc.StallID != nil || !slices.Equal(fc.Categories, []string{"food", "crafts"}) {
			t.Errorf("fair campaign = %+v", fc)
		}
		if sc.FundedBy != orders.FundedByMerchant || sc.StallID == nil || *sc.StallID != s.Stall.ID || sc.Remaining != 5 || sc.Status != orders.CampaignActive {
			t.Errorf("shop campaign = %+v", sc)
		}
		var entries []catalog.AuditEntry
		if err := k.DB.NewSelect().Model(&entries).Where("action = ?", "coupon_campaign.create").OrderExpr("id ASC").Scan(k.ctx); err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].Subject != fc.ID || entries[1].Subject != sc.ID || entries[1].ActorID != s.Merchant.UserID {
			t.Errorf("audit entries = %+v", entries)
		}
		rows, next, err := k.Orders.Campaigns(k.ctx, catalog.Actor{}, k.Fair.Slug, "", catalog.Page{Limit: 1})
		if err != nil || len(rows) != 1 || rows[0].ID != fc.ID || next == nil {
			t.Fatalf("page 1 = %v %v %v", rows, next, err)
		}
		rows, next, err = k.Orders.Campaigns(k.ctx, catalog.Actor{}, k.Fair.Slug, "", catalog.Page{Limit: 1, Cursor: *next})
		if err != nil || len(rows) != 1 || rows[0].ID != sc.ID || next != nil {
			t.Fatalf("page 2 = %v %v %v", rows, next, err)
		}
	})
}

func TestCouponClaim(t *testing.T) {
	t.Run("Race", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		c := k.fairCampaign(k.campaignIn(1000, 5000, 25, 2))
		const buyers, tries = 20, 4
		users := make([]catalog.Actor, buyers)
		for i := range users {
			users[i] = k.buyer()
		}
		var mu sync.Mutex
		won := map[string]int{}
		codes := map[string]int{}
		var wg sync.WaitGroup
		for _, u := range users {
			for range tries {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := adm.ClaimCoupon(k.ctx, u.UserID, c.ID)
					mu.Lock()
					defer mu.Unlock()
					var ce *catalog.CodedError
					switch {
					case err == nil:
						won[u.UserID]++
					case errors.As(err, &ce):
						codes[ce.Code()]++
					default:
						t.Errorf("claim: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		for _, u := range users {
			k.Orders.AwaitClaims(k.ctx, u.UserID)
		}
		total := 0
		for u, n := range won {
			total += n
			if n > 2 {
				t.Errorf("buyer %s won %d, limit 2", u, n)
			}
		}
		if total != 25 {
			t.Errorf("won %d, want the quantity 25 (refusals %v)", total, codes)
		}
		var rows []orders.Coupon
		if err := k.DB.NewSelect().Model(&rows).Where("campaign_id = ?", c.ID).Scan(k.ctx); err != nil {
			t.Fatal(err)
		}
		perUser := map[string]int{}
		for _, r := range rows {
			perUser[r.UserID]++
		}
		if len(rows) != 25 {
			t.Errorf("coupons in the database = %d, want 25", len(rows))
		}
		for u, n := range perUser {
			if n > 2 || n != won[u] {
				t.Errorf("buyer %s holds %d in the database, won %d", u, n, won[u])
			}
		}
		got, err := k.Orders.Campaign(k.ctx, catalog.Actor{}, c.ID)
		if err != nil || got.Claimed != 25 || got.Remaining != 0 || got.Status != orders.CampaignSoldOut {
			t.Errorf("campaign after = %+v (%v)", got, err)
		}
		_, err = adm.ClaimCoupon(k.ctx, k.buyer().UserID, c.ID)
		catalogtest.WantCode(t, err, "sold_out")
	})

	t.Run("Window", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		in := k.campaignIn(1000, 5000, 5, 1)
		in.ReleasesAt, in.ValidUntil = in.ReleasesAt.Add(time.Hour), in.ReleasesAt.Add(2*time.Hour)
		c := k.fairCampaign(in)
		if c.Status != orders.CampaignScheduled {
			t.Errorf("status = %s, want scheduled", c.Status)
		}
		b := k.buyer()
		_, err := adm.ClaimCoupon(k.ctx, b.UserID, c.ID)
		catalogtest.WantCode(t, err, "not_started")
		k.Clock.Advance(time.Hour)
		cp := k.claim(adm, b, c)
		if cp.Status != orders.CouponUnused || cp.Discount != 1000 || cp.MinSpend != 5000 || cp.CampaignID != c.ID {
			t.Errorf("coupon = %+v", cp)
		}
		_, err = adm.ClaimCoupon(k.ctx, b.UserID, c.ID)
		catalogtest.WantCode(t, err, "limit_reached")
		k.Clock.Advance(time.Hour)
		_, err = adm.ClaimCoupon(k.ctx, k.buyer().UserID, c.ID)
		catalogtest.WantCode(t, err, "ended")
		catalogtest.WantErr(t, err, catalog.ErrGone)
		if got := k.coupons(b, orders.CouponExpired); len(got) != 1 {
			t.Errorf("expired coupons = %v, want the one claimed", got)
		}
		_, err = adm.ClaimCoupon(k.ctx, b.UserID, "nope")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})

	t.Run("RedisLostRebuiltFromDatabase", func(t *testing.T) {
		k := newKit(t)
		adm, r := k.admission()
		c := k.fairCampaign(k.campaignIn(1000, 5000, 3, 2))
		b := k.buyer()
		k.claim(adm, b, c)
		k.claim(adm, b, c)
		if err := r.Client.Del(k.ctx, "cp:{"+c.ID+"}:left", "cp:{"+c.ID+"}:users").Err(); err != nil {
			t.Fatal(err)
		}
		_, err := adm.ClaimCoupon(k.ctx, b.UserID, c.ID)
		catalogtest.WantCode(t, err, "limit_reached")
		k.claim(adm, k.buyer(), c)
		_, err = adm.ClaimCoupon(k.ctx, k.buyer().UserID, c.ID)
		catalogtest.WantCode(t, err, "sold_out")
	})

	// A coupon the database cannot write now stays pending in Redis: the
	// recovery sweep tries it again, and gives its unit back only once it
	// has kept failing for long.
	t.Run("DatabaseFailureKeepsTheClaimForTheSweep", func(t *testing.T) {
		k := newKit(t)
		adm, r := k.admission()
		c := k.fairCampaign(k.campaignIn(1000, 5000, 1, 1))
		// No such user: the coupon's row cannot be written.
		if _, err := adm.ClaimCoupon(k.ctx, "no-such-user", c.ID); err != nil {
			t.Fatalf("claim: %v", err)
		}
		k.Orders.AwaitClaims(k.ctx, "no-such-user")
		pending := "cp:{" + c.ID + "}:pending"
		if n, err := r.Client.HLen(k.ctx, pending).Result(); err != nil || n != 1 {
			t.Fatalf("pending coupons = %d (%v), want the one not written", n, err)
		}
		_, err := adm.ClaimCoupon(k.ctx, k.buyer().UserID, c.ID)
		catalogtest.WantCode(t, err, "sold_out")
		k.Clock.Advance(time.Minute)
		if err := adm.RecoverClaims(k.ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := r.Client.HLen(k.ctx, pending).Result(); n != 1 {
			t.Fatalf("pending after a failed retry = %d, want it kept", n)
		}
		k.Clock.Advance(10 * time.Minute)
		if err := adm.RecoverClaims(k.ctx); err != nil {
			t.Fatal(err)
		}
		left, err := r.Client.Get(k.ctx, "cp:{"+c.ID+"}:left").Int()
		if err != nil || left != 1 {
			t.Fatalf("left in Redis = %d (%v), want the unit back", left, err)
		}
		if n, _ := r.Client.HLen(k.ctx, pending).Result(); n != 0 {
			t.Errorf("pending after giving up = %d", n)
		}
		k.Clock.Advance(2 * time.Second) // past the sold-out hint
		k.claim(adm, k.buyer(), c)
	})

	// A process that answered a claim and stopped before writing it leaves
	// the coupon pending in Redis: a rebuild counts it, and the recovery
	// sweep writes it, once.
	t.Run("AnsweredButNotWrittenIsRecovered", func(t *testing.T) {
		k := newKit(t)
		adm, r := k.admission()
		c := k.fairCampaign(k.campaignIn(1000, 5000, 2, 1))
		lost := k.buyer()
		keys := []string{"cp:{" + c.ID + "}:left", "cp:{" + c.ID + "}:users", "cp:{" + c.ID + "}:pending"}
		lostID := catalog.NewID()
		adm.PrimeCampaign(k.ctx, c.ID)
		// What the stopped process did: the claim script, and no more.
		res, err := redis.NewScript(orders.ClaimLua).Run(k.ctx, r.Client, keys, lost.UserID, 1, lostID, k.Clock.Now().UnixMilli()).Int64Slice()
		if err != nil || res[0] != 1 {
			t.Fatalf("claim script = %v (%v)", res, err)
		}
		// Redis loses the counts; the rebuild counts the pending coupon.
		if err := r.Client.Del(k.ctx, keys[0], keys[1]).Err(); err != nil {
			t.Fatal(err)
		}
		_, err = adm.ClaimCoupon(k.ctx, lost.UserID, c.ID)
		catalogtest.WantCode(t, err, "limit_reached")
		k.claim(adm, k.buyer(), c)
		_, err = adm.ClaimCoupon(k.ctx, k.buyer().UserID, c.ID)
		catalogtest.WantCode(t, err, "sold_out")

		if err := adm.RecoverClaims(k.ctx); err != nil {
			t.Fatal(err)
		}
		if got := k.coupons(lost, ""); len(got) != 0 {
			t.Fatalf("a fresh pending coupon was written by the sweep: %v", got)
		}
		k.Clock.Advance(11 * time.Second)
		for range 2 { // a second sweep finds nothing more to do
			if err := adm.RecoverClaims(k.ctx); err != nil {
				t.Fatal(err)
			}
		}
		got := k.coupons(lost, "")
		if len(got) != 1 || got[0].ID != lostID || got[0].Status != orders.CouponUnused {
			t.Fatalf("the lost buyer's coupons = %+v, want %s", got, lostID)
		}
		camp, err := k.Orders.Campaign(k.ctx, catalog.Actor{}, c.ID)
		if err != nil || camp.Claimed != 2 || camp.Remaining != 0 {
			t.Errorf("campaign = %+v (%v), want both claimed", camp, err)
		}
		if n, _ := r.Client.HLen(k.ctx, keys[2]).Result(); n != 0 {
			t.Errorf("pending after the sweep = %d", n)
		}
	})

	// Claims admitted together are written together; one the database
	// refuses fails only itself, and the others keep their coupons.
	t.Run("ABadClaimInABatchFailsOnlyItself", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		c := k.fairCampaign(k.campaignIn(1000, 5000, 50, 1))
		good := make([]catalog.Actor, 30)
		for i := range good {
			good[i] = k.buyer()
		}
		var wg sync.WaitGroup
		errs := make([]error, len(good)+1)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := "no-such-user"
				if i < len(good) {
					user = good[i].UserID
				}
				_, errs[i] = adm.ClaimCoupon(k.ctx, user, c.ID)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
			}
		}
		for _, b := range good {
			k.Orders.AwaitClaims(k.ctx, b.UserID)
		}
		k.Orders.AwaitClaims(k.ctx, "no-such-user")
		var claimed int
		if err := k.DB.NewSelect().Model((*orders.Campaign)(nil)).Column("claimed").Where("id = ?", c.ID).Scan(k.ctx, &claimed); err != nil {
			t.Fatal(err)
		}
		n, err := k.DB.NewSelect().Model((*orders.Coupon)(nil)).Where("campaign_id = ?", c.ID).Count(k.ctx)
		if err != nil || n != int64(len(good)) || claimed != len(good) {
			t.Errorf("coupons %d, claimed %d (%v), want %d", n, claimed, err, len(good))
		}
	})

	// Redis says there is room the database does not have (it drifted):
	// the database refuses the coupons, none is invented, and Redis is set
	// again from the database.
	t.Run("DatabaseHasTheLastWord", func(t *testing.T) {
		k := newKit(t)
		adm, r := k.admission()
		c := k.fairCampaign(k.campaignIn(1000, 5000, 2, 1))
		k.claim(adm, k.buyer(), c)
		k.claim(adm, k.buyer(), c)
		if err := r.Client.Set(k.ctx, "cp:{"+c.ID+"}:left", 100, 0).Err(); err != nil {
			t.Fatal(err)
		}
		late := make([]catalog.Actor, 10)
		for i := range late {
			late[i] = k.buyer()
		}
		var wg sync.WaitGroup
		for _, b := range late {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := adm.ClaimCoupon(k.ctx, b.UserID, c.ID); err != nil && !errors.Is(err, orders.ErrCouponsGone) {
					t.Errorf("claim: %v", err)
				}
			}()
		}
		wg.Wait()
		for _, b := range late {
			k.Orders.AwaitClaims(k.ctx, b.UserID)
			if got := k.coupons(b, ""); len(got) != 0 {
				t.Errorf("a late buyer holds %v", got)
			}
		}
		n, err := k.DB.NewSelect().Model((*orders.Coupon)(nil)).Where("campaign_id = ?", c.ID).Count(k.ctx)
		if err != nil || n != 2 {
			t.Errorf("coupons %d (%v), want the quantity 2", n, err)
		}
		if p, _ := r.Client.HLen(k.ctx, "cp:{"+c.ID+"}:pending").Result(); p != 0 {
			t.Errorf("refused coupons still pending: %d", p)
		}
		k.Clock.Advance(2 * time.Second) // past the sold-out hint
		_, err = adm.ClaimCoupon(k.ctx, k.buyer().UserID, c.ID)
		catalogtest.WantCode(t, err, "sold_out")
		if left, err := r.Client.Get(k.ctx, "cp:{"+c.ID+"}:left").Int(); err != nil || left != 0 {
			t.Errorf("left in Redis after the rebuild = %d (%v), want 0", left, err)
		}
	})
}

// twoShops is a fair with two stalls and products in two categories.
type twoShops struct {
	a, b                   shop
	foodA, craftA, craftB  *catalog.Product
	fairCoupon, shopCoupon *orders.Campaign
}

func newTwoShops(k *kit) *twoShops {
	w := &twoShops{a: k.shop("甲"), b: k.shop("乙")}
	w.foodA = k.goods(w.a, catalogtest.Product{Title: "糖葫芦", Price: 3333, Stock: 50, Category: "food"})
	w.craftA = k.goods(w.a, catalogtest.Product{Title: "剪纸", Price: 2000, Stock: 50, Category: "crafts"})
	w.craftB = k.goods(w.b, catalogtest.Product{Title: "泥人", Price: 6667, Stock: 50, Category: "crafts"})
	return w
}

func TestCheckoutWithCoupons(t *testing.T) {
	t.Run("FairAndShopCouponsSplitToTheFen", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		w := newTwoShops(k)
		fc := k.fairCampaign(k.campaignIn(1001, 5000, 10, 1)) // ¥10.01 off ¥50
		sc := k.shopCampaign(w.a, k.campaignIn(500, 5000, 10, 1))
		b := k.buyer()
		fcp, scp := k.claim(adm, b, fc), k.claim(adm, b, sc)
		k.put(b, w.foodA.ID, 1)  // 3333
		k.put(b, w.craftA.ID, 1) // 2000: stall a 5333
		k.put(b, w.craftB.ID, 1) // stall b 6667
		c := k.checkout(b, orders.CheckoutInput{Fulfillment: catalog.ShipPickup, Coupons: []string{fcp.ID, scp.ID}})
		byStall := map[string]orders.Order{}
		var sum orders.Money
		for _, o := range c.Orders {
			byStall[o.StallID] = o
			sum += o.Total
			if o.Total != o.Subtotal-o.Discount {
				t.Errorf("order %s: total %d ≠ %d − %d", o.ID, o.Total, o.Subtotal, o.Discount)
			}
		}
		oa, ob := byStall[w.a.Stall.ID], byStall[w.b.Stall.ID]
		// 1001 over 5333 : 6667 → 444.83 : 556.17 → 445 + 556.
		if oa.Subtotal != 5333 || oa.Discount != 500+445 || oa.Subsidy != 445 {
			t.Errorf("stall a = subtotal %d discount %d subsidy %d, want 5333, 945, 445", oa.Subtotal, oa.Discount, oa.Subsidy)
		}
		if ob.Subtotal != 6667 || ob.Discount != 556 || ob.Subsidy != 556 {
			t.Errorf("stall b = subtotal %d discount %d subsidy %d, want 6667, 556, 556", ob.Subtotal, ob.Discount, ob.Subsidy)
		}
		if oa.Subsidy+ob.Subsidy != 1001 {
			t.Errorf("subsidies add to %d, want 1001", oa.Subsidy+ob.Subsidy)
		}
		if c.Total != sum || c.Payment.Amount != sum || sum != 12000-1501 {
			t.Errorf("checkout total %d, payment %d, orders %d, want %d", c.Total, c.Payment.Amount, sum, 12000-1501)
		}
		if fee, share := orders.Commission(oa.Total, 500); oa.PlatformFee != fee || oa.MerchantShare != share {
			t.Errorf("commission of stall a = %d + %d, want %d + %d (on what the buyer pays)", oa.PlatformFee, oa.MerchantShare, fee, share)
		}
		got := k.order(b, oa.ID)
		if got.Subtotal != 5333 || got.Discount != 945 || got.Subsidy != 445 || got.Total != 4388 {
			t.Errorf("order read back = %+v", got)
		}
		used := k.coupons(b, orders.CouponUsed)
		if len(used) != 2 || len(k.coupons(b, orders.CouponUnused)) != 0 {
			t.Fatalf("used coupons = %+v", used)
		}
		for _, u := range used {
			want := 1
			if u.ID == fcp.ID {
				want = 2
			}
			if len(u.OrderIDs) != want {
				t.Errorf("coupon %s discounted orders %v, want %d", u.Title, u.OrderIDs, want)
			}
		}

		k.pay(b, c)
		tot := k.totals()
		if len(tot.Coupons) != 2 {
			t.Fatalf("coupon totals = %+v", tot.Coupons)
		}
		f, s := tot.Coupons[0], tot.Coupons[1]
		if f.CampaignID != fc.ID || f.Claimed != 1 || f.Used != 1 || f.Discount != 1001 || f.GMV != sum || f.FundedBy != orders.FundedByOrganizer {
			t.Errorf("fair coupon totals = %+v", f)
		}
		if s.CampaignID != sc.ID || s.Used != 1 || s.Discount != 500 || s.GMV != oa.Total || s.FundedBy != orders.FundedByMerchant {
			t.Errorf("shop coupon totals = %+v", s)
		}
	})

	t.Run("CategoriesLimitTheFairCoupon", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		w := newTwoShops(k)
		in := k.campaignIn(1000, 2000, 10, 1)
		in.Categories = []string{"food"}
		b := k.buyer()
		cp := k.claim(adm, b, k.fairCampaign(in))
		k.put(b, w.foodA.ID, 1)
		k.put(b, w.craftB.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{Coupons: []string{cp.ID}})
		for _, o := range c.Orders {
			want := orders.Money(0)
			if o.StallID == w.a.Stall.ID {
				want = 1000
			}
			if o.Discount != want || o.Subsidy != want {
				t.Errorf("stall %s discount %d subsidy %d, want %d", o.StallID, o.Discount, o.Subsidy, want)
			}
		}
	})

	t.Run("NotApplicable", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		w := newTwoShops(k)
		b, other := k.buyer(), k.buyer()
		food := k.campaignIn(1000, 2000, 10, 2)
		food.Categories = []string{"food"}
		foodCoupon := k.claim(adm, b, k.fairCampaign(food))
		big := k.claim(adm, b, k.fairCampaign(k.campaignIn(1000, 50000, 10, 1)))
		fair1 := k.claim(adm, b, k.fairCampaign(k.campaignIn(100, 1000, 10, 1)))
		fair2 := k.claim(adm, b, k.fairCampaign(k.campaignIn(100, 1000, 10, 1)))
		shopB := k.claim(adm, b, k.shopCampaign(w.b, k.campaignIn(100, 1000, 10, 1)))
		shopA1 := k.claim(adm, b, k.shopCampaign(w.a, k.campaignIn(100, 1000, 10, 1)))
		shopA2 := k.claim(adm, b, k.shopCampaign(w.a, k.campaignIn(100, 1000, 10, 1)))
		theirs := k.claim(adm, other, k.fairCampaign(k.campaignIn(100, 1000, 10, 1)))
		k.put(b, w.craftA.ID, 1) // stall a only, crafts
		cases := []struct {
			name    string
			coupons []string
		}{
			{"CategoryNotInCart", []string{foodCoupon.ID}},
			{"MinSpendNotReached", []string{big.ID}},
			{"TwoFairCoupons", []string{fair1.ID, fair2.ID}},
			{"StallNotInCheckout", []string{shopB.ID}},
			{"TwoShopCouponsOneStall", []string{shopA1.ID, shopA2.ID}},
			{"NotTheBuyers", []string{theirs.ID}},
			{"NoSuchCoupon", []string{"nope"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{Coupons: c.coupons})
				catalogtest.WantErr(t, err, orders.ErrNotApplicable)
			})
		}
		if got := k.coupons(b, orders.CouponUnused); len(got) != 7 {
			t.Errorf("unused coupons after refusals = %d, want 7", len(got))
		}
		if k.stock(w.craftA.ID) != 50 {
			t.Errorf("stock after refusals = %d, want 50", k.stock(w.craftA.ID))
		}
		t.Run("Used", func(t *testing.T) {
			k.checkout(b, orders.CheckoutInput{Coupons: []string{fair1.ID}})
			k.put(b, w.craftA.ID, 1)
			_, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{Coupons: []string{fair1.ID}})
			catalogtest.WantErr(t, err, orders.ErrNotApplicable)
		})
		t.Run("Expired", func(t *testing.T) {
			k.Clock.Advance(25 * time.Hour)
			_, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{Coupons: []string{fair2.ID}})
			catalogtest.WantErr(t, err, orders.ErrNotApplicable)
		})
		t.Run("Twice", func(t *testing.T) {
			_, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{Coupons: []string{shopA1.ID, shopA1.ID}})
			catalogtest.WantInvalid(t, err, "coupons")
		})
	})

	t.Run("NoMinimumKeepsOneFen", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		s := k.shop("甲")
		p := k.goods(s, catalogtest.Product{Price: 300})
		b := k.buyer()
		shopCp := k.claim(adm, b, k.shopCampaign(s, k.campaignIn(1000, 0, 10, 1)))
		fairCp := k.claim(adm, b, k.fairCampaign(k.campaignIn(1000, 0, 10, 1)))
		k.put(b, p.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{Coupons: []string{shopCp.ID, fairCp.ID}})
		o := c.Orders[0]
		if o.Total != 1 || o.Discount != 299 || o.Subsidy != 0 || c.Payment.Amount != 1 {
			t.Errorf("order = total %d discount %d subsidy %d payment %d, want 1, 299, 0, 1", o.Total, o.Discount, o.Subsidy, c.Payment.Amount)
		}
		k.pay(b, c)
		if got := k.order(b, o.ID); got.Status != orders.StatusPaid {
			t.Errorf("status = %s, want paid", got.Status)
		}
	})
}

func TestCouponsGivenBack(t *testing.T) {
	t.Run("Cancelled", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		w := newTwoShops(k)
		b := k.buyer()
		fcp := k.claim(adm, b, k.fairCampaign(k.campaignIn(1000, 5000, 10, 1)))
		scp := k.claim(adm, b, k.shopCampaign(w.b, k.campaignIn(500, 5000, 10, 1)))
		k.put(b, w.foodA.ID, 1)
		k.put(b, w.craftB.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{Coupons: []string{fcp.ID, scp.ID}})
		if _, err := k.Orders.CancelOrder(k.ctx, b, c.Orders[0].ID); err != nil {
			t.Fatal(err)
		}
		got := k.coupons(b, orders.CouponUnused)
		if len(got) != 2 || len(got[0].OrderIDs)+len(got[1].OrderIDs) != 0 {
			t.Fatalf("unused coupons after cancelling = %+v", got)
		}
		// Spent again on a new checkout.
		k.put(b, w.foodA.ID, 1)
		k.put(b, w.craftB.ID, 1)
		c = k.checkout(b, orders.CheckoutInput{Coupons: []string{fcp.ID, scp.ID}})
		if c.Total != 3333+6667-1500 {
			t.Errorf("total = %d, want %d", c.Total, 3333+6667-1500)
		}
	})

	t.Run("ExpiredPaymentWindow", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		w := newTwoShops(k)
		b := k.buyer()
		in := k.campaignIn(1000, 5000, 10, 1)
		in.ValidUntil = k.Clock.Now().Add(10 * time.Minute) // ends within the payment window
		fcp := k.claim(adm, b, k.fairCampaign(in))
		k.put(b, w.craftB.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{Coupons: []string{fcp.ID}})
		k.Clock.Advance(window + time.Second)
		if err := k.Orders.ExpirePayment(k.ctx, c.Payment.ID); err != nil {
			t.Fatal(err)
		}
		if got := k.order(b, c.Orders[0].ID); got.Status != orders.StatusCancelled {
			t.Fatalf("status = %s, want cancelled", got.Status)
		}
		// Given back, but no longer valid: it reads as expired.
		if got := k.coupons(b, orders.CouponExpired); len(got) != 1 || got[0].ID != fcp.ID {
			t.Errorf("expired coupons = %+v", got)
		}
	})
}

func TestCouponMoney(t *testing.T) {
	t.Run("RefundNeverMoreThanPaid", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		s := k.shop("甲")
		p := k.goods(s, catalogtest.Product{Price: 10000})
		b := k.buyer()
		cp := k.claim(adm, b, k.fairCampaign(k.campaignIn(3000, 5000, 10, 1)))
		k.put(b, p.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{Coupons: []string{cp.ID}})
		k.pay(b, c)
		o := c.Orders[0]
		_, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(o.Subtotal), "按原价退款")
		catalogtest.WantInvalid(t, err, "amount")
		r, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "全额退款")
		if err != nil {
			t.Fatal(err)
		}
		if r.Amount != 7000 {
			t.Errorf("full refund = %d, want what was paid, 7000", r.Amount)
		}
		_, err = k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(1), "再退")
		if err == nil {
			t.Error("refunded more than was paid")
		}
	})

	t.Run("PayoutIncludesTheSubsidy", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		w := newTwoShops(k)
		b := k.buyer()
		fcp := k.claim(adm, b, k.fairCampaign(k.campaignIn(1000, 5000, 10, 1)))
		scp := k.claim(adm, b, k.shopCampaign(w.b, k.campaignIn(500, 5000, 10, 1)))
		k.put(b, w.craftB.ID, 1) // 6667
		c := k.checkout(b, orders.CheckoutInput{Fulfillment: catalog.ShipPickup, Coupons: []string{fcp.ID, scp.ID}})
		k.pay(b, c)
		o := k.order(b, c.Orders[0].ID)
		// total 6667 − 500 − 1000 = 5167; fee 5% = 258; share 4909; + subsidy 1000.
		if o.Total != 5167 || o.PlatformFee != 258 || o.MerchantShare != 4909 || o.Subsidy != 1000 {
			t.Fatalf("order = total %d fee %d share %d subsidy %d", o.Total, o.PlatformFee, o.MerchantShare, o.Subsidy)
		}
		k.redeem(w.b, o)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.Provider.Payouts(), []orders.Money{5167 - 258 + 1000}; !slices.Equal(got, want) {
			t.Errorf("payouts = %v, want %v (total − commission + subsidy)", got, want)
		}
		st, err := k.Orders.StallStatement(k.ctx, w.b.Merchant, w.b.Stall.ID, orders.Period{}, catalog.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Totals.Subsidy != 1000 || st.Totals.Net != 5909 {
			t.Errorf("statement totals = %+v", st.Totals)
		}
	})

	t.Run("RefundShrinksTheSubsidy", func(t *testing.T) {
		k := newKit(t)
		adm, _ := k.admission()
		s := k.shop("甲")
		p := k.goods(s, catalogtest.Product{Price: 10000})
		b := k.buyer()
		cp := k.claim(adm, b, k.fairCampaign(k.campaignIn(2000, 5000, 10, 1)))
		k.put(b, p.ID, 1)
		c := k.checkout(b, orders.CheckoutInput{Coupons: []string{cp.ID}})
		k.pay(b, c)
		o := k.order(b, c.Orders[0].ID) // total 8000, fee 400, share 7600, subsidy 2000
		k.redeem(s, o)
		if err := k.Orders.Payout(k.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		if got, want := k.Provider.Payouts(), []orders.Money{7600 + 2000}; !slices.Equal(got, want) {
			t.Fatalf("payouts = %v, want %v", got, want)
		}
		// A quarter refunded: the merchant gives back a quarter of its share
		// and of the subsidy (1900 + 500).
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, money(2000), "退一件"); err != nil {
			t.Fatal(err)
		}
		for _, id := range k.Events.Refunds() {
			if err := k.Orders.ReversePayout(k.ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := k.Provider.Reversals(), []orders.Money{1900 + 500}; !slices.Equal(got, want) {
			t.Errorf("reversals = %v, want %v", got, want)
		}
		// The rest refunded: nothing of the sale is left, nor of its subsidy.
		if _, err := k.Orders.RefundOrder(k.ctx, s.Merchant, o.ID, nil, "全退"); err != nil {
			t.Fatal(err)
		}
		for _, id := range k.Events.Refunds() {
			if err := k.Orders.ReversePayout(k.ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		var back orders.Money
		for _, m := range k.Provider.Reversals() {
			back += m
		}
		if back != 7600+2000 {
			t.Errorf("taken back = %d, want all of the payout, %d", back, 7600+2000)
		}
		st, err := k.Orders.StallStatement(k.ctx, s.Merchant, s.Stall.ID, orders.Period{}, catalog.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if tt := st.Totals; tt.Subsidy != 0 || tt.Net != 0 || tt.Gross-tt.Refunded+tt.Subsidy != tt.Commission+tt.Net {
			t.Errorf("statement totals after a full refund = %+v", tt)
		}
	})
}
