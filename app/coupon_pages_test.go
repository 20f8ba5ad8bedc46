package app

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"miaohui/app/account"
)

// loginSession signs a user in through the API and returns their token,
// session cookie and CSRF token, for the pages.
func (e *testEnv) loginSession(t testing.TB, email string) registered {
	t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": email, "password": testPassword}})
	wantStatus(t, res, http.StatusOK)
	m := res.JSON(t)
	out := registered{Email: email, Token: m["token"].(string)}
	out.CSRF, _ = m["csrf_token"].(string)
	for _, c := range res.Cookies() {
		if c.Name == account.SessionCookie {
			out.Cookie = c
		}
	}
	if out.Cookie == nil || out.CSRF == "" {
		t.Fatalf("login gave no session cookie or CSRF token: %s", res.Body)
	}
	return out
}

func TestCouponPages(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "coupon-pages")
	defer func() {
		if t.Failed() {
			e.logErrors(t)
		}
	}()
	org := e.loginSession(t, "organizer-coupon-pages@example.com")
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	page := func(u registered, path string) response {
		return e.do(req{Method: "GET", Path: path, Cookies: []*http.Cookie{u.Cookie}})
	}
	post := func(u registered, path string, v url.Values) response {
		v.Set("_csrf", u.CSRF)
		return e.do(req{Method: "POST", Path: path, Cookies: []*http.Cookie{u.Cookie}, Header: form, Body: v.Encode()})
	}
	now := e.clock.Now()
	campaign := func(title, discount, minSpend string) url.Values {
		return url.Values{"title": {title}, "discount": {discount}, "min_spend": {minSpend}, "quantity": {"10"}, "per_user_limit": {"1"},
			"releases_at": {now.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04")},
			"valid_until": {now.Add(48 * time.Hour).In(time.FixedZone("CST", 8*3600)).Format("2006-01-02T15:04")}}
	}

	t.Run("OrganizerConsole", func(t *testing.T) {
		res := page(org, "/organizer/fairs/"+w.slug+"/coupons")
		wantStatus(t, res, http.StatusOK)
		if !bytes.Contains(res.Body, []byte(`data-testid="campaign-form"`)) {
			t.Fatal("no campaign form on the organizer's console")
		}
		res = post(org, "/organizer/fairs/"+w.slug+"/coupons", campaign("满50减10", "10", "50"))
		wantStatus(t, res, http.StatusSeeOther)
		res = post(org, "/organizer/fairs/"+w.slug+"/coupons", campaign("", "60", "50"))
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if !bytes.Contains(res.Body, []byte("field-error")) {
			t.Error("the refused form shows no field errors")
		}
		if n := countRows(t, e, "coupon_campaigns", "funded_by = ?", "organizer"); n != 1 {
			t.Errorf("organizer campaigns = %d, want 1", n)
		}
	})

	t.Run("MerchantConsole", func(t *testing.T) {
		wantStatus(t, page(w.merchA, "/merchant/stalls/"+w.stallA+"/coupons"), http.StatusOK)
		res := post(w.merchA, "/merchant/stalls/"+w.stallA+"/coupons", campaign("灯笼铺满20减3", "3", "20"))
		wantStatus(t, res, http.StatusSeeOther)
		wantStatus(t, post(w.merchB, "/merchant/stalls/"+w.stallA+"/coupons", campaign("冒名", "3", "20")), http.StatusForbidden)
		if n := countRows(t, e, "coupon_campaigns", "stall_id = ?", w.stallA); n != 1 {
			t.Errorf("shop campaigns = %d, want 1", n)
		}
	})

	t.Run("ClaimAndCheckout", func(t *testing.T) {
		b := w.shopper(t)
		res := page(b, "/fairs/"+w.slug+"/coupons")
		wantStatus(t, res, http.StatusOK)
		var ids []string
		for _, part := range strings.Split(string(res.Body), `action="/coupon-campaigns/`)[1:] {
			ids = append(ids, part[:strings.Index(part, "/claim")])
		}
		if len(ids) != 2 {
			t.Fatalf("claim forms = %d, want 2", len(ids))
		}
		for _, id := range ids {
			res := post(b, "/coupon-campaigns/"+id+"/claim", url.Values{"next": {"/fairs/" + w.slug + "/coupons"}})
			wantStatus(t, res, http.StatusSeeOther)
		}
		if n := countRows(t, e, "coupons", "user_id = ?", b.ID); n != 2 {
			t.Fatalf("coupons claimed through the page = %d, want 2", n)
		}
		res = page(b, "/coupons")
		if wantStatus(t, res, http.StatusOK); bytes.Count(res.Body, []byte(`data-testid="my-coupon"`)) != 2 {
			t.Error("my coupons does not list the two coupons")
		}
		w.cart(t, b.Token, w.lantern, 4) // ¥50 at stall A
		res = page(b, "/checkout")
		wantStatus(t, res, http.StatusOK)
		if !bytes.Contains(res.Body, []byte(`data-testid="checkout-coupons"`)) {
			t.Fatal("the checkout page offers no coupons")
		}
		var fairCoupon, shopCoupon string
		if err := e.srv.DB.NewSelect().TableExpr("coupons").Column("id").Where("user_id = ? AND stall_id IS NULL", b.ID).Scan(t.Context(), &fairCoupon); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.DB.NewSelect().TableExpr("coupons").Column("id").Where("user_id = ? AND stall_id IS NOT NULL", b.ID).Scan(t.Context(), &shopCoupon); err != nil {
			t.Fatal(err)
		}
		res = post(b, "/checkout", url.Values{"fulfillment": {"pickup"}, "coupon_fair": {fairCoupon}, "coupon_shop": {shopCoupon}})
		wantStatus(t, res, http.StatusSeeOther)
		payID := strings.TrimPrefix(res.Header.Get("Location"), "/pay/")
		if p := readPayment(t, e, payID); p.Amount != 5000-1000-300 {
			t.Errorf("payment = %d, want %d", p.Amount, 5000-1000-300)
		}
		w.pay(t, b.Token, payID)
		if res := page(b, "/orders"); !bytes.Contains(res.Body, []byte(`data-testid="order-discount"`)) {
			t.Error("the buyer's orders do not show the coupons' discount")
		}
		res = page(org, "/organizer/fairs/"+w.slug+"/coupons")
		if !bytes.Contains(res.Body, []byte(`data-testid="campaign-ratio">3.7<`)) {
			t.Errorf("the console's pull ratio is not 3.7 (¥37 of sales per ¥10 of subsidy)")
		}
	})
}
