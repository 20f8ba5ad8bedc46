package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"miaohui/app/ops"
	"miaohui/catalog"
)

// Booth operations (线下参展): codes shown to their buyer only, redemption by
// code at the stall, the fair pass, stall staff and booth sales.

// boothStaff makes a fresh user the booth staff of the stall, as its merchant.
func (w *world) boothStaff(t testing.TB, merchant, stallID string) registered {
	t.Helper()
	w.shoppers++
	u := w.e.register(fmt.Sprintf("staff%d-%s@example.com", w.shoppers, w.slug), catalog.RoleShopper)
	res := w.e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/staff", Token: merchant, Body: map[string]any{"email": u.Email}})
	wantStatus(t, res, http.StatusCreated)
	if got := res.JSON(t)["user_id"]; got != u.ID {
		t.Fatalf("staff user_id = %v, want %s", got, u.ID)
	}
	return u
}

// pass reads the shopper's fair pass.
func (w *world) pass(t testing.TB, token string) map[string]any {
	t.Helper()
	res := w.e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/pass", Token: token})
	wantStatus(t, res, http.StatusOK)
	return res.JSON(t)
}

func redeemAt(e *testEnv, stallID, token, code string) response {
	return e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/redeem", Token: token, Body: map[string]any{"code": code}})
}

func TestBoothCodesBuyerOnly(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "codes")
	buyer := w.shopper(t)
	o := w.buyPaid(t, buyer.Token, w.lantern, 1)
	code := o.PickupCode
	if len(code) != 8 {
		t.Fatalf("pickup code %q", code)
	}
	pass, _ := w.pass(t, buyer.Token)["code"].(string)
	staff := w.boothStaff(t, w.merchA.Token, w.stallA)

	t.Run("buyer", func(t *testing.T) {
		for _, path := range []string{"/api/v1/orders/" + o.ID, "/api/v1/me/orders", "/orders", "/api/v1/fairs/" + w.slug + "/pass"} {
			res := e.do(req{Method: "GET", Path: path, Token: buyer.Token})
			wantStatus(t, res, http.StatusOK)
			if !bytes.Contains(res.Body, []byte(code)) && !bytes.Contains(res.Body, []byte(pass)) {
				t.Errorf("GET %s: the buyer does not see their code", path)
			}
		}
	})
	t.Run("others", func(t *testing.T) {
		stall := "/api/v1/stalls/" + w.stallA
		reads := []struct{ who, token, path string }{
			{"merchant", w.merchA.Token, "/api/v1/orders/" + o.ID},
			{"organizer", w.org, "/api/v1/orders/" + o.ID},
			{"merchant", w.merchA.Token, stall + "/orders"},
			{"staff", staff.Token, stall + "/orders"},
			{"merchant", w.merchA.Token, "/merchant/stalls/" + w.stallA + "/orders"},
			{"merchant", w.merchA.Token, "/merchant/stalls/" + w.stallA},
			{"merchant", w.merchA.Token, "/merchant/stalls/" + w.stallA + "/dashboard"},
			{"organizer", w.org, "/organizer/fairs/" + w.slug},
			{"organizer", w.org, "/organizer/fairs/" + w.slug + "/dashboard"},
			{"organizer", w.org, "/api/v1/fairs/" + w.slug + "/totals"},
			{"merchant", w.merchA.Token, stall + "/totals"},
		}
		for _, table := range []string{"stall", "day", "hour", "category", "fulfillment", "flash_sale", "development"} {
			reads = append(reads, struct{ who, token, path string }{"organizer", w.org, "/api/v1/fairs/" + w.slug + "/totals.csv?table=" + table})
			if table != "stall" {
				reads = append(reads, struct{ who, token, path string }{"merchant", w.merchA.Token, stall + "/totals.csv?table=" + table})
			}
		}
		for _, r := range reads {
			res := e.do(req{Method: "GET", Path: r.path, Token: r.token})
			wantStatus(t, res, http.StatusOK)
			if bytes.Contains(res.Body, []byte(code)) || bytes.Contains(res.Body, []byte(pass)) {
				t.Errorf("GET %s as %s shows the buyer's code", r.path, r.who)
			}
		}
		// The merchant's answer to a redemption shows no code either.
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + o.ID + "/redeem", Token: w.merchA.Token, Body: map[string]any{"code": code}})
		wantStatus(t, res, http.StatusOK)
		if bytes.Contains(res.Body, []byte(code)) {
			t.Error("the redemption's answer shows the code")
		}
		if _, ok := res.JSON(t)["pickup_code"]; ok {
			t.Error("the merchant's order has a pickup_code")
		}
	})
}

func TestBoothRedeemByCode(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "redeem")
	other := newShopWorld(t, e, "redeem-other")

	t.Run("pass redeems everything at the stall, once", func(t *testing.T) {
		buyer := w.shopper(t)
		first := w.buyPaid(t, buyer.Token, w.lantern, 1)
		second := w.buyPaid(t, buyer.Token, w.lantern, 2)
		atB := w.buyPaid(t, buyer.Token, w.paperCut, 1)
		unpaid := w.buy(t, buyer.Token, w.lantern, 1).Orders[0].ID
		code := w.pass(t, buyer.Token)["code"].(string)
		if len(code) != 10 || !strings.HasPrefix(code, "P") {
			t.Fatalf("pass code %q", code)
		}
		res := redeemAt(e, w.stallA, w.merchA.Token, strings.ToLower(code[:5])+" "+code[5:])
		wantStatus(t, res, http.StatusOK)
		got := map[string]int{}
		for _, r := range res.JSON(t)["redeemed"].([]any) {
			m := r.(map[string]any)
			got[m["order_id"].(string)] = len(m["items"].([]any))
		}
		if len(got) != 2 || got[first.ID] != 1 || got[second.ID] != 1 {
			t.Fatalf("redeemed %v, want %s and %s", got, first.ID, second.ID)
		}
		wantOrderStatus(t, e, "redeemed", first.ID, second.ID)
		wantOrderStatus(t, e, "paid", atB.ID)
		wantOrderStatus(t, e, "pending_payment", unpaid)
		wantProblem(t, redeemAt(e, w.stallA, w.merchA.Token, code), http.StatusConflict, "nothing_to_redeem")
		// The pass shows them redeemed; stall B's pickup is still to collect.
		status := map[string]string{}
		for _, p := range w.pass(t, buyer.Token)["pickups"].([]any) {
			m := p.(map[string]any)
			status[m["order_id"].(string)] = m["status"].(string)
			if m["order_id"] == atB.ID && (m["stall_name"] != "泰州剪纸坊" || m["stall_id"] != w.stallB) {
				t.Errorf("pickup at B: %v", m)
			}
		}
		if status[first.ID] != "redeemed" || status[second.ID] != "redeemed" || status[atB.ID] != "paid" || len(status) != 3 {
			t.Errorf("pass pickups %v", status)
		}
		// The same pass redeems stall B's order at stall B.
		res = redeemAt(e, w.stallB, w.merchB.Token, code)
		wantStatus(t, res, http.StatusOK)
		wantOrderStatus(t, e, "redeemed", atB.ID)
	})
	t.Run("a pickup code redeems its own order only", func(t *testing.T) {
		buyer := w.shopper(t)
		a1 := w.buyPaid(t, buyer.Token, w.lantern, 1)
		a2 := w.buyPaid(t, buyer.Token, w.lantern, 1)
		res := redeemAt(e, w.stallA, w.merchA.Token, a2.PickupCode)
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["redeemed"].([]any); len(got) != 1 || got[0].(map[string]any)["order_id"] != a2.ID {
			t.Errorf("redeemed %v, want only %s", got, a2.ID)
		}
		wantOrderStatus(t, e, "redeemed", a2.ID)
		wantOrderStatus(t, e, "paid", a1.ID) // a code seen once does not redeem the buyer's other orders
		wantProblem(t, redeemAt(e, w.stallA, w.merchA.Token, a2.PickupCode), http.StatusConflict, "nothing_to_redeem")
		// A later order of the same buyer is not redeemed by the old code either.
		a3 := w.buyPaid(t, buyer.Token, w.lantern, 1)
		wantProblem(t, redeemAt(e, w.stallA, w.merchA.Token, a2.PickupCode), http.StatusConflict, "nothing_to_redeem")
		wantOrderStatus(t, e, "paid", a1.ID, a3.ID)
		wantStatus(t, redeemAt(e, w.stallA, w.merchA.Token, a1.PickupCode), http.StatusOK)
		wantOrderStatus(t, e, "redeemed", a1.ID)
	})
	t.Run("unknown codes and codes of other fairs are 404", func(t *testing.T) {
		buyer := other.shopper(t)
		o := other.buyPaid(t, buyer.Token, other.lantern, 1)
		pass := other.pass(t, buyer.Token)["code"].(string)
		for _, code := range []string{"ZZZZZZZZ", "PZZZZZZZZZ", o.PickupCode, pass, ""} {
			wantProblem(t, redeemAt(e, w.stallA, w.merchA.Token, code), http.StatusNotFound, "not_found")
		}
		wantOrderStatus(t, e, "paid", o.ID)
	})
	t.Run("a code of a buyer with nothing at the stall is 409", func(t *testing.T) {
		buyer := w.shopper(t)
		o := w.buyPaid(t, buyer.Token, w.paperCut, 1)
		wantProblem(t, redeemAt(e, w.stallA, w.merchA.Token, o.PickupCode), http.StatusConflict, "nothing_to_redeem")
		wantOrderStatus(t, e, "paid", o.ID)
	})
	t.Run("who may redeem", func(t *testing.T) {
		buyer := w.shopper(t)
		o := w.buyPaid(t, buyer.Token, w.lantern, 1)
		wantDenied(t, redeemAt(e, w.stallA, w.merchB.Token, o.PickupCode))
		wantDenied(t, redeemAt(e, w.stallA, buyer.Token, o.PickupCode))
		wantDenied(t, redeemAt(e, w.stallA, w.org, o.PickupCode))
		staffB := w.boothStaff(t, w.merchB.Token, w.stallB)
		wantDenied(t, redeemAt(e, w.stallA, staffB.Token, o.PickupCode))
		wantOrderStatus(t, e, "paid", o.ID)
		staffA := w.boothStaff(t, w.merchA.Token, w.stallA)
		wantStatus(t, redeemAt(e, w.stallA, staffA.Token, o.PickupCode), http.StatusOK)
		wantOrderStatus(t, e, "redeemed", o.ID)
	})
	t.Run("20 scanners at once redeem once", func(t *testing.T) {
		buyer := w.shopper(t)
		ids := []string{w.buyPaid(t, buyer.Token, w.lantern, 1).ID, w.buyPaid(t, buyer.Token, w.lantern, 1).ID}
		code := w.pass(t, buyer.Token)["code"].(string)
		staff := w.boothStaff(t, w.merchA.Token, w.stallA)
		var reqs []*http.Request
		for k := range 20 {
			token := w.merchA.Token
			if k%2 == 1 {
				token = staff.Token
			}
			reqs = append(reqs, newRequest("POST", "/api/v1/stalls/"+w.stallA+"/redeem", token, map[string]any{"code": code}, nil))
		}
		results := e.rush(t, 60*time.Second, reqs)
		n := map[string]int{}
		for _, r := range results {
			if r.err != nil {
				t.Fatal(r.err)
			}
			n[fmt.Sprint(r.status, r.code)]++
		}
		if n["200"] != 1 || n["409nothing_to_redeem"] != 19 {
			t.Fatalf("answers %v, want one 200 and 19 409 nothing_to_redeem", n)
		}
		wantOrderStatus(t, e, "redeemed", ids...)
		totals := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals", Token: w.merchA.Token}).JSON(t)
		redeemed := 0
		for _, f := range totals["by_fulfillment"].([]any) {
			m := f.(map[string]any)
			if m["fulfillment"] == "pickup" {
				redeemed = int(m["redeemed"].(float64))
			}
		}
		if want := countRows(t, e, "orders", "stall_id = ? AND redeemed_at IS NOT NULL", w.stallA); redeemed != want {
			t.Errorf("totals count %d redeemed, the orders %d", redeemed, want)
		}
	})
}

func TestBoothStaff(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "staff")
	staffPath := "/api/v1/stalls/" + w.stallA + "/staff"

	t.Run("adding", func(t *testing.T) {
		u := w.shopper(t)
		for range 2 { // twice: the same one member
			res := e.do(req{Method: "POST", Path: staffPath, Token: w.merchA.Token, Body: map[string]any{"email": " " + strings.ToUpper(u.Email)}})
			wantStatus(t, res, http.StatusCreated)
			if m := res.JSON(t); m["user_id"] != u.ID || m["stall_id"] != w.stallA || m["email"] != u.Email {
				t.Errorf("staff member %v", m)
			}
		}
		if n := countRows(t, e, "stall_staff", "stall_id = ? AND user_id = ?", w.stallA, u.ID); n != 1 {
			t.Errorf("%d rows, want 1", n)
		}
		wantField(t, e.do(req{Method: "POST", Path: staffPath, Token: w.merchA.Token, Body: map[string]any{"email": "nobody@example.com"}}), "email")
		wantField(t, e.do(req{Method: "POST", Path: staffPath, Token: w.merchA.Token, Body: map[string]any{"email": w.merchA.Email}}), "email")
		wantDenied(t, e.do(req{Method: "POST", Path: staffPath, Token: w.merchB.Token, Body: map[string]any{"email": u.Email}}))
		wantDenied(t, e.do(req{Method: "POST", Path: staffPath, Token: u.Token, Body: map[string]any{"email": w.shopper(t).Email}}))
		res := e.do(req{Method: "GET", Path: staffPath, Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		if ids := listField(listItems(t, res), "user_id"); len(ids) != 1 || ids[0] != u.ID {
			t.Errorf("staff list %v", ids)
		}
	})
	t.Run("staff list orders, redeem and sell, nothing else", func(t *testing.T) {
		staff := w.boothStaff(t, w.merchA.Token, w.stallA)
		buyer := w.shopper(t)
		o := w.buyPaid(t, buyer.Token, w.lantern, 1)
		shipped := w.buy(t, buyer.Token, w.dumplings, 1)
		_ = shipped
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/orders", Token: staff.Token}), http.StatusOK)
		denied := []req{
			{Method: "PATCH", Path: "/api/v1/stalls/" + w.stallA, Body: map[string]any{"description": "staff"}},
			{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/products", Body: goods("核销员的货", 100, 1)},
			{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Body: map[string]any{"description": "staff"}},
			{Method: "GET", Path: "/api/v1/orders/" + o.ID},
			{Method: "POST", Path: "/api/v1/orders/" + o.ID + "/ship", Body: map[string]any{"tracking": "SF1"}},
			{Method: "POST", Path: "/api/v1/orders/" + o.ID + "/refunds", Body: map[string]any{"reason": "staff"}},
			{Method: "POST", Path: "/api/v1/orders/" + o.ID + "/redeem", Body: map[string]any{"code": o.PickupCode}},
			{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals"},
			{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals.csv"},
			{Method: "POST", Path: staffPath, Body: map[string]any{"email": w.shopper(t).Email}},
			{Method: "GET", Path: staffPath},
			{Method: "DELETE", Path: staffPath + "/" + staff.ID},
			{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/payout-account", Body: map[string]any{"return_url": "https://fair.example/m"}},
		}
		for _, r := range denied {
			r.Token = staff.Token
			res := e.do(r)
			if res.StatusCode != http.StatusForbidden && res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusConflict {
				t.Errorf("staff %s %s: status %d, want 403/404\n%s", r.Method, r.Path, res.StatusCode, res.Body)
			}
		}
		wantOrderStatus(t, e, "paid", o.ID)
		// Another stall's staff works only there.
		staffB := w.boothStaff(t, w.merchB.Token, w.stallB)
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/orders", Token: staffB.Token}))
		wantDenied(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/offline-sales", Token: staffB.Token, Body: map[string]any{"amount": 100}}))
		wantStatus(t, redeemAt(e, w.stallA, staff.Token, o.PickupCode), http.StatusOK)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/offline-sales", Token: staff.Token, Body: map[string]any{"amount": 100}}), http.StatusCreated)
	})
	t.Run("removing", func(t *testing.T) {
		staff := w.boothStaff(t, w.merchA.Token, w.stallA)
		wantDenied(t, e.do(req{Method: "DELETE", Path: staffPath + "/" + staff.ID, Token: w.merchB.Token}))
		wantStatus(t, e.do(req{Method: "DELETE", Path: staffPath + "/" + staff.ID, Token: w.merchA.Token}), http.StatusNoContent)
		wantProblem(t, e.do(req{Method: "DELETE", Path: staffPath + "/" + staff.ID, Token: w.merchA.Token}), http.StatusNotFound, "not_found")
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/orders", Token: staff.Token}))
		buyer := w.shopper(t)
		o := w.buyPaid(t, buyer.Token, w.lantern, 1)
		wantDenied(t, redeemAt(e, w.stallA, staff.Token, o.PickupCode))
		wantOrderStatus(t, e, "paid", o.ID)
	})
}

func TestBoothOfflineSales(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "booth-sales")
	salesA := "/api/v1/stalls/" + w.stallA + "/offline-sales"
	staff := w.boothStaff(t, w.merchA.Token, w.stallA)
	buyer := w.shopper(t)
	pass := w.pass(t, buyer.Token)["code"].(string)
	online := w.buyPaid(t, buyer.Token, w.lantern, 1)

	res := e.do(req{Method: "POST", Path: salesA, Token: w.merchA.Token, Body: map[string]any{"amount": 2500, "note": "现金 兔子灯"}})
	wantStatus(t, res, http.StatusCreated)
	if m := res.JSON(t); m["amount"] != float64(2500) || m["currency"] != "CNY" || m["note"] != "现金 兔子灯" || m["stall_id"] != w.stallA {
		t.Errorf("sale %v", m)
	}
	wantStatus(t, e.do(req{Method: "POST", Path: salesA, Token: staff.Token, Body: map[string]any{"amount": 800, "pass_code": strings.ToLower(pass)}}), http.StatusCreated)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallB + "/offline-sales", Token: w.merchB.Token, Body: map[string]any{"amount": 300}}), http.StatusCreated)

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"amount": 0}, "amount"},
		{map[string]any{"amount": -100}, "amount"},
		{map[string]any{"amount": 10_000_001}, "amount"},
		{map[string]any{"amount": 100, "note": strings.Repeat("灯", 201)}, "note"},
		{map[string]any{"amount": 100, "pass_code": "PZZZZZZZZZ"}, "pass_code"},
	} {
		wantField(t, e.do(req{Method: "POST", Path: salesA, Token: w.merchA.Token, Body: bad.body}), bad.field)
	}
	wantDenied(t, e.do(req{Method: "POST", Path: salesA, Token: buyer.Token, Body: map[string]any{"amount": 100}}))
	wantDenied(t, e.do(req{Method: "POST", Path: salesA, Token: w.merchB.Token, Body: map[string]any{"amount": 100}}))
	wantDenied(t, e.do(req{Method: "POST", Path: salesA, Token: w.org, Body: map[string]any{"amount": 100}}))
	if n := countRows(t, e, "offline_sales", "stall_id = ?", w.stallA); n != 2 {
		t.Fatalf("%d booth sales at A, want 2", n)
	}

	offlineOf := func(m map[string]any) (gmv, sales int, booth map[string]any) {
		o := m["offline"].(map[string]any)
		for _, f := range m["by_fulfillment"].([]any) {
			if f.(map[string]any)["fulfillment"] == "booth" {
				booth = f.(map[string]any)
			}
		}
		return int(o["gmv"].(float64)), int(o["sales"].(float64)), booth
	}
	stall := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals", Token: w.merchA.Token}).JSON(t)
	if gmv, sales, booth := offlineOf(stall); gmv != 3300 || sales != 2 || booth == nil || booth["gmv"] != float64(3300) || booth["orders"] != float64(2) {
		t.Errorf("stall offline %d/%d, booth row %v", gmv, sales, booth)
	}
	if stall["gmv"] != float64(online.Total) {
		t.Errorf("stall gmv %v, want the online %d only", stall["gmv"], online.Total)
	}
	fair := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org}).JSON(t)
	if gmv, sales, booth := offlineOf(fair); gmv != 3600 || sales != 3 || booth == nil {
		t.Errorf("fair offline %d/%d, booth row %v", gmv, sales, booth)
	}
	csv := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv?table=fulfillment", Token: w.org})
	if !bytes.Contains(csv.Body, []byte("booth,3600,3,0")) {
		t.Errorf("fulfillment CSV:\n%s", csv.Body)
	}
	var out bytes.Buffer
	if err := ops.CheckTotals(t.Context(), e.srv.DB, e.cfg.DataDir, w.slug, &out); err != nil {
		t.Fatalf("check totals: %v\n%s", err, out.String())
	}
}

func TestBoothPages(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "booth-pages")
	buyer := w.shopper(t)
	o := w.buyPaid(t, buyer.Token, w.lantern, 2)
	staff := w.boothStaff(t, w.merchA.Token, w.stallA)
	page := func(u registered, path string) response {
		return e.do(req{Method: "GET", Path: path, Cookies: []*http.Cookie{u.Cookie}})
	}

	t.Run("pass", func(t *testing.T) {
		res := page(buyer, "/fairs/"+w.slug+"/pass")
		wantStatus(t, res, http.StatusOK)
		code := w.pass(t, buyer.Token)["code"].(string)
		body := string(res.Body)
		for _, want := range []string{code, `data-testid="pass-qr"`, "老街灯笼铺", "兔子灯 ×2", `data-order="` + o.ID + `" data-status="paid"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the pass page lacks %q", want)
			}
		}
		qr := page(buyer, "/fairs/"+w.slug+"/pass/qr.png")
		wantStatus(t, qr, http.StatusOK)
		if ct := qr.Header.Get("Content-Type"); ct != "image/png" || !bytes.HasPrefix(qr.Body, []byte("\x89PNG")) {
			t.Errorf("QR: %s, %d bytes", ct, len(qr.Body))
		}
		anon := e.do(req{Method: "GET", Path: "/fairs/" + w.slug + "/pass"})
		if anon.StatusCode != http.StatusSeeOther || !strings.HasPrefix(anon.Header.Get("Location"), "/login") {
			t.Errorf("anonymous: %d %s", anon.StatusCode, anon.Header.Get("Location"))
		}
		wantStatus(t, e.do(req{Method: "GET", Path: "/fairs/" + w.slug + "/pass/qr.png"}), http.StatusSeeOther)
	})
	t.Run("redeem page", func(t *testing.T) {
		for _, u := range []registered{w.merchA, staff} {
			res := page(u, "/stalls/"+w.stallA+"/redeem")
			wantStatus(t, res, http.StatusOK)
			if !bytes.Contains(res.Body, []byte(`data-testid="redeem-code-input"`)) || !bytes.Contains(res.Body, []byte("data-redeem-scanner")) {
				t.Errorf("the redeem page lacks its form or scanner")
			}
		}
		for _, u := range []registered{buyer, w.merchB} {
			wantStatus(t, page(u, "/stalls/"+w.stallA+"/redeem"), http.StatusForbidden)
		}
		if res := page(w.merchA, "/merchant/stalls/"+w.stallA); !bytes.Contains(res.Body, []byte(`href="/stalls/`+w.stallA+`/redeem"`)) {
			t.Error("the stall console does not link to the redeem page")
		}
		if res := page(staff, "/account"); !bytes.Contains(res.Body, []byte(`href="/stalls/`+w.stallA+`/redeem"`)) {
			t.Error("the staff's account page does not link to the redeem page")
		}

		submit := func(u registered, code string) response {
			return e.do(req{Method: "POST", Path: "/stalls/" + w.stallA + "/redeem", Cookies: []*http.Cookie{u.Cookie},
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
				Body:   "_csrf=" + url.QueryEscape(u.CSRF) + "&code=" + url.QueryEscape(code)})
		}
		wantStatus(t, e.do(req{Method: "POST", Path: "/stalls/" + w.stallA + "/redeem", Cookies: []*http.Cookie{staff.Cookie},
			Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "_csrf=wrong&code=" + o.PickupCode}), http.StatusForbidden)
		wantOrderStatus(t, e, "paid", o.ID)
		pass := w.pass(t, buyer.Token)["code"].(string)
		res := submit(staff, pass)
		wantStatus(t, res, http.StatusOK)
		if !bytes.Contains(res.Body, []byte(`data-testid="redeem-ok"`)) || !bytes.Contains(res.Body, []byte("兔子灯 ×2")) {
			t.Errorf("no success shown:\n%s", res.Body)
		}
		wantOrderStatus(t, e, "redeemed", o.ID)
		res = submit(staff, pass)
		wantStatus(t, res, http.StatusConflict)
		if !bytes.Contains(res.Body, []byte(`data-code="nothing_to_redeem"`)) {
			t.Error("no nothing-to-redeem error shown")
		}
		res = submit(w.merchA, "ZZZZZZZZ")
		wantStatus(t, res, http.StatusNotFound)
		if !bytes.Contains(res.Body, []byte(`data-code="not_found"`)) {
			t.Error("no unknown-code error shown")
		}
		wantStatus(t, submit(buyer, pass), http.StatusForbidden)
	})
	t.Run("booth sale form", func(t *testing.T) {
		post := func(u registered, body string) response {
			return e.do(req{Method: "POST", Path: "/stalls/" + w.stallA + "/offline-sales", Cookies: []*http.Cookie{u.Cookie},
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "_csrf=" + url.QueryEscape(u.CSRF) + body})
		}
		res := post(staff, "&amount=12.50&note="+url.QueryEscape("现金"))
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/stalls/"+w.stallA+"/redeem#booth-sale" {
			t.Errorf("redirected to %s", loc)
		}
		if n := countRows(t, e, "offline_sales", "stall_id = ? AND amount = 1250 AND note = '现金'", w.stallA); n != 1 {
			t.Fatalf("%d booth sales of ¥12.50", n)
		}
		res = post(staff, "&amount=abc")
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if !bytes.Contains(res.Body, []byte("请输入 0.01 到 100000 元之间的金额")) || !bytes.Contains(res.Body, []byte(`value="abc"`)) {
			t.Errorf("no amount error on the page:\n%s", res.Body)
		}
		wantStatus(t, post(buyer, "&amount=1"), http.StatusForbidden)
		if n := countRows(t, e, "offline_sales", "stall_id = ?", w.stallA); n != 1 {
			t.Errorf("%d booth sales after refused ones", n)
		}
	})
	t.Run("staff in the stall console", func(t *testing.T) {
		post := func(path, body string) response {
			return e.do(req{Method: "POST", Path: path, Cookies: []*http.Cookie{w.merchA.Cookie},
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "_csrf=" + url.QueryEscape(w.merchA.CSRF) + body})
		}
		helper := w.shopper(t)
		res := post("/merchant/stalls/"+w.stallA+"/staff", "&email="+url.QueryEscape(helper.Email))
		wantStatus(t, res, http.StatusSeeOther)
		if n := countRows(t, e, "stall_staff", "stall_id = ? AND user_id = ?", w.stallA, helper.ID); n != 1 {
			t.Fatalf("%d staff rows", n)
		}
		if res := page(w.merchA, "/merchant/stalls/"+w.stallA); !bytes.Contains(res.Body, []byte(helper.Email)) {
			t.Error("the console does not list the staff member")
		}
		res = post("/merchant/stalls/"+w.stallA+"/staff", "&email=nobody%40example.com")
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if !bytes.Contains(res.Body, []byte("请填写一位已注册用户的邮箱")) {
			t.Error("no error for an unknown email")
		}
		wantStatus(t, post("/merchant/stalls/"+w.stallA+"/staff/"+helper.ID+"/remove", ""), http.StatusSeeOther)
		if n := countRows(t, e, "stall_staff", "stall_id = ? AND user_id = ?", w.stallA, helper.ID); n != 0 {
			t.Fatalf("%d staff rows after removal", n)
		}
	})
}

func TestBoothFloorPlan(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "floor-plan")
	other := newWorld(t, e, "floor-plan-other")
	mapPath := "/api/v1/fairs/" + w.slug + "/map"

	res := e.do(req{Method: "GET", Path: mapPath})
	wantStatus(t, res, http.StatusOK)
	if b := res.JSON(t)["booths"].([]any); len(b) != 0 {
		t.Errorf("a fair without a plan has booths %v", b)
	}
	plan := map[string]any{"image_url": "https://img.example/plan.png", "booths": []map[string]any{
		{"booth": "A-001", "stall_id": w.stallA, "x": 10, "y": 20, "w": 40, "h": 30},
		{"booth": "A-002", "x": 60, "y": 20, "w": 40, "h": 30},
	}}
	wantStatus(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.org, Body: plan}), http.StatusOK)
	res = e.do(req{Method: "GET", Path: mapPath})
	wantStatus(t, res, http.StatusOK)
	got := res.JSON(t)
	booths := got["booths"].([]any)
	if got["image_url"] != "https://img.example/plan.png" || len(booths) != 2 || booths[0].(map[string]any)["stall_id"] != w.stallA || booths[1].(map[string]any)["x"] != float64(60) {
		t.Errorf("plan %v", got)
	}
	// Replaced whole.
	wantStatus(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.org, Body: map[string]any{"booths": []map[string]any{{"booth": "B-1", "x": 0, "y": 0, "w": 1, "h": 1}}}}), http.StatusOK)
	if b := e.do(req{Method: "GET", Path: mapPath}).JSON(t)["booths"].([]any); len(b) != 1 {
		t.Errorf("after replacing: %v", b)
	}

	for _, bad := range []struct {
		booth map[string]any
		field string
	}{
		{map[string]any{"booth": "", "x": 0, "y": 0, "w": 1, "h": 1}, "booths[0].booth"},
		{map[string]any{"booth": "C-1", "stall_id": other.stallA, "x": 0, "y": 0, "w": 1, "h": 1}, "booths[0].stall_id"},
		{map[string]any{"booth": "C-1", "x": -1, "y": 0, "w": 1, "h": 1}, "booths[0]"},
		{map[string]any{"booth": "C-1", "x": 0, "y": 0, "w": 0, "h": 1}, "booths[0]"},
	} {
		wantField(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.org, Body: map[string]any{"booths": []any{bad.booth}}}), bad.field)
	}
	wantField(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.org, Body: map[string]any{"image_url": "javascript:alert(1)", "booths": []any{}}}), "image_url")
	// One stall stands at one booth: the pass names it.
	wantField(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.org, Body: map[string]any{"booths": []any{
		map[string]any{"booth": "C-1", "stall_id": w.stallA, "x": 0, "y": 0, "w": 1, "h": 1},
		map[string]any{"booth": "C-2", "stall_id": w.stallA, "x": 2, "y": 0, "w": 1, "h": 1},
	}}}), "booths[1].stall_id")
	wantDenied(t, e.do(req{Method: "PUT", Path: mapPath, Token: other.org, Body: plan}))
	wantDenied(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.merchA.Token, Body: plan}))
	if b := e.do(req{Method: "GET", Path: mapPath}).JSON(t)["booths"].([]any); len(b) != 1 {
		t.Errorf("refused edits changed the plan: %v", b)
	}
}

// A booth sale sent twice with one Idempotency-Key (a retry, a double tap)
// is recorded once; a booth that is not open records nothing.
func TestBoothOfflineSaleRetriesAndClosedBooths(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "booth-sales-retry")
	salesA := "/api/v1/stalls/" + w.stallA + "/offline-sales"
	key := map[string]string{"Idempotency-Key": "sale-" + w.stallA}
	body := map[string]any{"amount": 1200, "note": "糖画"}

	first := e.do(req{Method: "POST", Path: salesA, Token: w.merchA.Token, Body: body, Header: key})
	wantStatus(t, first, http.StatusCreated)
	again := e.do(req{Method: "POST", Path: salesA, Token: w.merchA.Token, Body: body, Header: key})
	wantStatus(t, again, http.StatusCreated)
	if first.JSON(t)["id"] != again.JSON(t)["id"] {
		t.Errorf("a retried sale answered %v, want the first sale %v", again.JSON(t)["id"], first.JSON(t)["id"])
	}
	wantProblem(t, e.do(req{Method: "POST", Path: salesA, Token: w.merchA.Token, Body: map[string]any{"amount": 1300}, Header: key}),
		http.StatusConflict, "conflict")
	if n := countRows(t, e, "offline_sales", "stall_id = ?", w.stallA); n != 1 {
		t.Fatalf("%d booth sales after a retry, want 1", n)
	}

	// A suspended stall's booth is closed.
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: w.org}), http.StatusOK)
	wantProblem(t, e.do(req{Method: "POST", Path: salesA, Token: w.merchA.Token, Body: body}), http.StatusConflict, "conflict")
	// So is every booth once the fair is over.
	salesB := "/api/v1/stalls/" + w.stallB + "/offline-sales"
	if _, err := e.srv.DB.NewUpdate().Table("fairs").Set("ends_at = ?", e.clock.Now().Add(-time.Minute)).Where("slug = ?", w.slug).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.do(req{Method: "POST", Path: salesB, Token: w.merchB.Token, Body: body}), http.StatusConflict, "conflict")
	if n := countRows(t, e, "offline_sales", "1 = 1"); n != 1 {
		t.Fatalf("%d booth sales, want only the first", n)
	}
}
