package app

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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
	t.Run("pickup code redeems the buyer's orders at the stall", func(t *testing.T) {
		buyer := w.shopper(t)
		a1 := w.buyPaid(t, buyer.Token, w.lantern, 1)
		a2 := w.buyPaid(t, buyer.Token, w.lantern, 1)
		res := redeemAt(e, w.stallA, w.merchA.Token, a2.PickupCode)
		wantStatus(t, res, http.StatusOK)
		if n := len(res.JSON(t)["redeemed"].([]any)); n != 2 {
			t.Errorf("redeemed %d orders, want 2", n)
		}
		wantOrderStatus(t, e, "redeemed", a1.ID, a2.ID)
		wantProblem(t, redeemAt(e, w.stallA, w.merchA.Token, a1.PickupCode), http.StatusConflict, "nothing_to_redeem")
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
