package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"miaohui/orders"
)

// couponBody is a campaign released now (or at releases), valid for a day.
func (w *world) couponBody(title string, discount, minSpend, quantity, limit int, releases time.Time) map[string]any {
	return map[string]any{"title": title, "discount": discount, "min_spend": minSpend, "quantity": quantity, "per_user_limit": limit,
		"releases_at": fairTime(releases), "valid_until": fairTime(releases.Add(24 * time.Hour))}
}

// fairCampaign creates an organizer's campaign and expects 201.
func (w *world) fairCampaign(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	res := w.e.do(req{Method: "POST", Path: "/api/v1/fairs/" + w.slug + "/coupon-campaigns", Token: w.org, Body: body})
	wantStatus(t, res, http.StatusCreated)
	return res.JSON(t)
}

// stallCampaign creates stall A's shop coupon campaign and expects 201.
func (w *world) stallCampaign(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	res := w.e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/coupon-campaigns", Token: w.merchA.Token, Body: body})
	wantStatus(t, res, http.StatusCreated)
	return res.JSON(t)
}

// claim claims a coupon as token's user.
func (w *world) claim(token, campaignID string) response {
	return w.e.do(req{Method: "POST", Path: "/api/v1/coupon-campaigns/" + campaignID + "/claim", Token: token})
}

// claimed claims and expects 201; it returns the coupon's id.
func (w *world) claimed(t testing.TB, token, campaignID string) string {
	t.Helper()
	res := w.claim(token, campaignID)
	wantStatus(t, res, http.StatusCreated)
	m := res.JSON(t)
	wantKeys(t, "coupon", m, "id", "campaign_id", "discount", "min_spend", "valid_until", "status")
	if m["status"] != "unused" || m["campaign_id"] != campaignID {
		t.Fatalf("claimed coupon = %s", res.Body)
	}
	return m["id"].(string)
}

func TestCouponCampaignAPI(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "coupon-api")
	now := e.clock.Now()

	t.Run("Create", func(t *testing.T) {
		body := w.couponBody("满50减10", 1000, 5000, 100, 2, now)
		body["categories"] = []string{"crafts"}
		c := w.fairCampaign(t, body)
		wantKeys(t, "campaign", c, "id", "title", "discount", "min_spend", "quantity", "remaining", "per_user_limit", "releases_at", "valid_until", "funded_by", "status")
		if c["funded_by"] != "organizer" || c["status"] != "active" || jsonInt(t, c, "remaining") != 100 || c["stall_id"] != nil {
			t.Errorf("fair campaign = %v", c)
		}
		s := w.stallCampaign(t, w.couponBody("店铺券", 300, 2000, 10, 1, now))
		if s["funded_by"] != "merchant" || s["stall_id"] != w.stallA {
			t.Errorf("shop campaign = %v", s)
		}
		res := e.do(req{Method: "GET", Path: "/api/v1/coupon-campaigns/" + s["id"].(string)})
		wantStatus(t, res, http.StatusOK)
		if got := listItems(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/coupon-campaigns"})); len(got) < 2 {
			t.Errorf("listed %d campaigns, want 2", len(got))
		}
		if countRows(t, e, "audit_entries", "action = ? AND subject = ?", "coupon_campaign.create", c["id"]) != 1 {
			t.Error("the campaign's creation was not audited")
		}
	})

	t.Run("WhoMayCreate", func(t *testing.T) {
		body := w.couponBody("满50减10", 1000, 5000, 100, 2, now)
		path := "/api/v1/fairs/" + w.slug + "/coupon-campaigns"
		wantProblem(t, e.do(req{Method: "POST", Path: path, Body: body}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "POST", Path: path, Token: w.merchA.Token, Body: body}), http.StatusForbidden, "forbidden")
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/coupon-campaigns", Token: w.merchB.Token, Body: body})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
	})

	t.Run("Validation", func(t *testing.T) {
		body := w.couponBody("", 0, -1, 0, 0, now)
		body["valid_until"] = fairTime(now.Add(-time.Hour))
		body["categories"] = []string{"nope"}
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs/" + w.slug + "/coupon-campaigns", Token: w.org, Body: body})
		wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
		for _, f := range []string{"title", "discount", "min_spend", "quantity", "per_user_limit", "valid_until", "categories[0]"} {
			wantField(t, res, f)
		}
		body = w.couponBody("满20减20", 2000, 2000, 10, 1, now)
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/coupon-campaigns", Token: w.merchA.Token, Body: body})
		wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
		wantField(t, res, "discount")
	})

	t.Run("ClaimStatuses", func(t *testing.T) {
		b := w.shopper(t)
		wantProblem(t, w.claim("", "x"), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, w.claim(b.Token, "no-such-campaign"), http.StatusNotFound, "not_found")
		later := w.fairCampaign(t, w.couponBody("晚点发", 500, 1000, 1, 1, now.Add(time.Hour)))["id"].(string)
		wantProblem(t, w.claim(b.Token, later), http.StatusConflict, "not_started")
		one := w.fairCampaign(t, w.couponBody("仅一张", 500, 1000, 1, 1, now))["id"].(string)
		w.claimed(t, b.Token, one)
		wantProblem(t, w.claim(b.Token, one), http.StatusConflict, "limit_reached")
		wantProblem(t, w.claim(w.shopper(t).Token, one), http.StatusConflict, "sold_out")
		ends := w.fairCampaign(t, w.couponBody("将结束", 500, 1000, 5, 1, now))["id"].(string)
		e.clock.Advance(25 * time.Hour)
		defer e.clock.Advance(-25 * time.Hour)
		wantProblem(t, w.claim(b.Token, ends), http.StatusGone, "ended")
		res := e.do(req{Method: "GET", Path: "/api/v1/me/coupons?status=expired", Token: b.Token})
		wantStatus(t, res, http.StatusOK)
		if got := listItems(t, res); len(got) != 1 || got[0]["status"] != "expired" {
			t.Errorf("expired coupons = %s", res.Body)
		}
	})
}

func TestCouponClaimRush(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 })
	w := newWorld(t, e, "coupon-rush")
	const quantity, limit, tries = 30, 2, 3
	id := w.fairCampaign(t, w.couponBody("开抢", 1000, 5000, quantity, limit, e.clock.Now().Add(time.Minute)))["id"].(string)
	buyers := e.buyers(t, "coupon-rush", 25)
	e.clock.Advance(time.Minute) // the release moment
	var reqs []*http.Request
	for range tries {
		for _, b := range buyers {
			reqs = append(reqs, newRequest("POST", "/api/v1/coupon-campaigns/"+id+"/claim", b.Token, nil, nil))
		}
	}
	results := e.rush(t, time.Minute, reqs)
	n := map[int]int{}
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Fatalf("request %d: %v", i, r.err)
		case r.status == http.StatusCreated:
		case r.status == http.StatusConflict && (r.code == "sold_out" || r.code == "limit_reached"):
		default:
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		n[r.status]++
	}
	if n[http.StatusCreated] != quantity {
		t.Errorf("claimed %d, want %d (answers %v)", n[http.StatusCreated], quantity, n)
	}
	for _, b := range buyers { // the coupons are written behind their answers
		e.srv.Orders.AwaitClaims(t.Context(), b.ID)
	}
	if got := countRows(t, e, "coupons", "campaign_id = ?", id); got != quantity {
		t.Errorf("coupons in the database = %d, want %d", got, quantity)
	}
	for _, b := range buyers {
		if got := countRows(t, e, "coupons", "campaign_id = ? AND user_id = ?", id, b.ID); got > limit {
			t.Errorf("buyer %s holds %d, limit %d", b.ID, got, limit)
		}
	}
	c := e.do(req{Method: "GET", Path: "/api/v1/coupon-campaigns/" + id}).JSON(t)
	if jsonInt(t, c, "remaining") != 0 || c["status"] != "sold_out" {
		t.Errorf("campaign after the rush = %v", c)
	}
}

func TestCheckoutCouponsAPI(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "coupon-checkout")
	now := e.clock.Now()
	fairID := w.fairCampaign(t, w.couponBody("满50减10", 1001, 5000, 100, 5, now))["id"].(string)
	shopID := w.stallCampaign(t, w.couponBody("灯笼铺满20减3", 300, 2000, 100, 5, now))["id"].(string)

	t.Run("SplitAndShown", func(t *testing.T) {
		b := w.shopper(t)
		fc, sc := w.claimed(t, b.Token, fairID), w.claimed(t, b.Token, shopID)
		w.cart(t, b.Token, w.lantern, 2)  // stall A: 2500
		w.cart(t, b.Token, w.paperCut, 1) // stall B: 3999
		c := w.checkout(t, b.Token, map[string]any{"fulfillment": "pickup", "coupons": []string{fc, sc}})
		var sum, subsidy orders.Money
		for _, o := range c.Orders {
			sum += o.Total
			subsidy += o.Subsidy
			if o.Total != o.Subtotal-o.Discount {
				t.Errorf("order %s: %d ≠ %d − %d", o.ID, o.Total, o.Subtotal, o.Discount)
			}
			got := e.do(req{Method: "GET", Path: "/api/v1/orders/" + o.ID, Token: b.Token}).JSON(t)
			wantKeys(t, "order", got, "subtotal", "discount", "subsidy", "total")
			if jsonInt(t, got, "total") != int(o.Total) || jsonInt(t, got, "subsidy") != int(o.Subsidy) {
				t.Errorf("GET order = %v, checkout said %+v", got, o)
			}
		}
		// 1001 over 2500 : 3999 → 385.06 : 615.94 → 385 + 616.
		want := orders.Money(2500 + 3999 - 300 - 1001)
		if subsidy != 1001 || sum != want || c.Total != want || c.Payment.Amount != want {
			t.Errorf("subsidy %d, orders %d, checkout %d, payment %d; want 1001 and %d", subsidy, sum, c.Total, c.Payment.Amount, want)
		}
		for _, o := range c.Orders {
			if o.StallID == w.stallA && (o.Discount != 300+385 || o.Subsidy != 385) {
				t.Errorf("stall A order = discount %d subsidy %d, want 685, 385", o.Discount, o.Subsidy)
			}
		}
		w.pay(t, b.Token, c.Payment.ID)
		tot := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org}).JSON(t)
		coupons, _ := tot["coupons"].([]any)
		if len(coupons) != 2 {
			t.Fatalf("totals coupons = %v", tot["coupons"])
		}
		first := coupons[0].(map[string]any)
		wantKeys(t, "coupon total", first, "campaign_id", "title", "funded_by", "claimed", "used", "discount", "gmv")
		if first["campaign_id"] != fairID || jsonInt(t, first, "used") != 1 || jsonInt(t, first, "discount") != 1001 || jsonInt(t, first, "gmv") != int(want) {
			t.Errorf("fair coupon totals = %v", first)
		}
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv?table=coupon", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		if lines := strings.Split(strings.TrimSpace(string(res.Body)), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], fairID+",") {
			t.Errorf("coupon CSV = %s", res.Body)
		}
	})

	t.Run("NotApplicable", func(t *testing.T) {
		b, other := w.shopper(t), w.shopper(t)
		theirs := w.claimed(t, other.Token, fairID)
		sc := w.claimed(t, b.Token, shopID)
		w.cart(t, b.Token, w.paperCut, 1) // stall B only
		for _, coupons := range [][]string{{theirs}, {sc}, {"nope"}} {
			res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: b.Token, Body: map[string]any{"fulfillment": "pickup", "coupons": coupons}})
			wantProblem(t, res, http.StatusUnprocessableEntity, "coupon_not_applicable")
		}
		wantStock(t, e, w.paperCut, readStock(t, e, w.paperCut))
	})

	t.Run("CancelGivesBack", func(t *testing.T) {
		b := w.shopper(t)
		fc := w.claimed(t, b.Token, fairID)
		w.cart(t, b.Token, w.paperCut, 2)
		c := w.checkout(t, b.Token, map[string]any{"fulfillment": "pickup", "coupons": []string{fc}})
		res := e.do(req{Method: "GET", Path: "/api/v1/me/coupons?status=used", Token: b.Token})
		if got := listItems(t, res); len(got) != 1 {
			t.Fatalf("used coupons = %s", res.Body)
		}
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + c.Orders[0].ID + "/cancel", Token: b.Token}), http.StatusOK)
		res = e.do(req{Method: "GET", Path: "/api/v1/me/coupons?status=unused", Token: b.Token})
		if got := listItems(t, res); len(got) != 1 || got[0]["id"] != fc {
			t.Fatalf("unused coupons after cancelling = %s", res.Body)
		}
	})
}
