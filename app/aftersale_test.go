package app

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// afterSale is a fresh buyer's request on a paid order of stall a, for 100
// fen, moved to status (open, rejected or escalated).
func (aw *auditWorld) afterSale(status string) (registered, string) {
	aw.t.Helper()
	u, o := aw.paidOrder(false)
	res := aw.send("POST", "/api/v1/orders/"+o+"/after-sales", u.Token, map[string]any{"kind": "refund", "amount": 100, "reason": "审计"}, nil)
	wantStatus(aw.t, res, http.StatusCreated)
	as := res.JSON(aw.t)["id"].(string)
	if status == "rejected" || status == "escalated" {
		wantStatus(aw.t, aw.send("POST", "/api/v1/after-sales/"+as+"/reject", aw.a.merchA.Token, map[string]any{"reason": "审计"}, nil), http.StatusOK)
	}
	if status == "escalated" {
		wantStatus(aw.t, aw.send("POST", "/api/v1/after-sales/"+as+"/escalate", u.Token, nil, nil), http.StatusOK)
	}
	return u, as
}

// asPost sends a POST to an after-sales path and returns the answer.
func (w *world) asPost(path, token string, body any) response {
	return w.e.do(req{Method: "POST", Path: "/api/v1" + path, Token: token, Body: body})
}

func auditActions(t testing.TB, e *testEnv, subject string) []string {
	t.Helper()
	var actions []string
	if err := e.srv.DB.NewSelect().Table("audit_entries").Column("action").Where("subject = ?", subject).OrderExpr("id ASC").Scan(t.Context(), &actions); err != nil {
		t.Fatal(err)
	}
	return actions
}

func TestAfterSalesAPI(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.AfterSalesReply = 2 * time.Hour })
	e.runWorkers()
	w := newShopWorld(t, e, "as-fair")
	other := newShopWorld(t, e, "as-other")
	buyer := w.shopper(t)
	stranger := w.shopper(t)

	// Two lanterns, ¥25.00, picked up and paid.
	o := w.buyPaid(t, buyer.Token, w.lantern, 2)
	wantStock(t, e, w.lantern, 18)

	t.Run("Open", func(t *testing.T) {
		res := w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "return", "amount": 2501, "reason": "坏了"})
		wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
		wantField(t, res, "amount")
		res = w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "swap", "amount": 100, "reason": "坏了"})
		wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
		// Another buyer, the merchant of another stall: no such order; its own merchant may not ask.
		wantProblem(t, w.asPost("/orders/"+o.ID+"/after-sales", stranger.Token, map[string]any{"kind": "refund", "amount": 100, "reason": "x"}), http.StatusNotFound, "not_found")
		wantProblem(t, w.asPost("/orders/"+o.ID+"/after-sales", w.merchB.Token, map[string]any{"kind": "refund", "amount": 100, "reason": "x"}), http.StatusNotFound, "not_found")
		wantProblem(t, w.asPost("/orders/"+o.ID+"/after-sales", w.merchA.Token, map[string]any{"kind": "refund", "amount": 100, "reason": "x"}), http.StatusForbidden, "forbidden")
		if n := countRows(t, e, "after_sales", "order_id = ?", o.ID); n != 0 {
			t.Fatalf("%d requests stored by refused calls", n)
		}
	})

	// The return: opened, rejected, escalated, decided with a part refund and the lanterns back.
	res := w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "return", "amount": 2500, "reason": "灯笼破了", "photos": []string{"https://img.example/1.jpg"}})
	wantStatus(t, res, http.StatusCreated)
	as := res.JSON(t)
	asID := as["id"].(string)
	wantKeys(t, "request", as, "id", "order_id", "kind", "amount", "reason", "status", "reply_by", "photos", "created_at")
	if as["status"] != "open" || as["order_id"] != o.ID || jsonInt(t, as, "amount") != 2500 {
		t.Fatalf("opened %v", as)
	}
	if by, err := time.Parse(time.RFC3339Nano, as["reply_by"].(string)); err != nil || !by.Equal(e.clock.Now().Add(2*time.Hour)) {
		t.Errorf("reply_by %v, want %v", as["reply_by"], e.clock.Now().Add(2*time.Hour))
	}
	wantProblem(t, w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "refund", "amount": 1, "reason": "again"}), http.StatusConflict, "conflict")

	t.Run("Read", func(t *testing.T) {
		for _, tok := range []string{buyer.Token, w.merchA.Token, w.org} {
			wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/after-sales/" + asID, Token: tok}), http.StatusOK)
		}
		for _, tok := range []string{stranger.Token, w.merchB.Token, other.org, other.merchA.Token} {
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/after-sales/" + asID, Token: tok}), http.StatusNotFound, "not_found")
		}
		if got := listField(listItems(t, e.do(req{Method: "GET", Path: "/api/v1/me/after-sales", Token: buyer.Token})), "id"); len(got) != 1 || got[0] != asID {
			t.Errorf("buyer's list %v", got)
		}
		if got := listItems(t, e.do(req{Method: "GET", Path: "/api/v1/me/after-sales", Token: stranger.Token})); len(got) != 0 {
			t.Errorf("stranger's list %v", got)
		}
		if got := listField(listItems(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/after-sales?status=open", Token: w.merchA.Token})), "id"); len(got) != 1 {
			t.Errorf("stall's list %v", got)
		}
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/after-sales", Token: w.merchB.Token}))
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/after-sales", Token: other.org}))
		if got := listField(listItems(t, e.do(req{Method: "GET", Path: "/api/v1/orders/" + o.ID + "/after-sales", Token: w.org})), "id"); len(got) != 1 {
			t.Errorf("order's list %v", got)
		}
	})

	// Not yet: the merchant has until reply_by.
	wantProblem(t, w.asPost("/after-sales/"+asID+"/escalate", buyer.Token, nil), http.StatusConflict, "conflict")
	wantDenied(t, w.asPost("/after-sales/"+asID+"/reject", w.merchB.Token, map[string]any{"reason": "no"}))
	wantProblem(t, w.asPost("/after-sales/"+asID+"/reject", buyer.Token, map[string]any{"reason": "no"}), http.StatusForbidden, "forbidden")
	wantProblem(t, w.asPost("/after-sales/"+asID+"/reject", w.merchA.Token, map[string]any{"reason": ""}), http.StatusUnprocessableEntity, "validation_failed")
	res = w.asPost("/after-sales/"+asID+"/reject", w.merchA.Token, map[string]any{"reason": "人为损坏"})
	wantStatus(t, res, http.StatusOK)
	if got := res.JSON(t); got["status"] != "rejected" || got["reply_reason"] != "人为损坏" {
		t.Fatalf("rejected %v", got)
	}
	wantProblem(t, w.asPost("/after-sales/"+asID+"/escalate", w.merchA.Token, nil), http.StatusForbidden, "forbidden")
	wantProblem(t, w.asPost("/after-sales/"+asID+"/escalate", stranger.Token, nil), http.StatusNotFound, "not_found")
	res = w.asPost("/after-sales/"+asID+"/escalate", buyer.Token, nil)
	wantStatus(t, res, http.StatusOK)
	if got := res.JSON(t)["status"]; got != "escalated" {
		t.Fatalf("status %v, want escalated", got)
	}
	wantProblem(t, w.asPost("/after-sales/"+asID+"/decide", w.merchA.Token, map[string]any{"refund_amount": 100, "reason": "x"}), http.StatusForbidden, "forbidden")
	wantDenied(t, w.asPost("/after-sales/"+asID+"/decide", other.org, map[string]any{"refund_amount": 100, "reason": "x"}))
	res = w.asPost("/after-sales/"+asID+"/decide", w.org, map[string]any{"refund_amount": 2501, "reason": "x"})
	wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
	wantField(t, res, "refund_amount")
	res = w.asPost("/after-sales/"+asID+"/decide", w.org, map[string]any{"refund_amount": 1250, "reason": "一人一半", "restock": true})
	wantStatus(t, res, http.StatusOK)
	if got := res.JSON(t); got["status"] != "decided" || jsonInt(t, got, "refund_amount") != 1250 || got["restocked"] != true {
		t.Fatalf("decided %v", got)
	}
	if got := readOrder(t, e, o.ID); got.Refunded != 1250 || got.Status != "partially_refunded" {
		t.Errorf("order refunded %d %s, want 1250 partially_refunded", got.Refunded, got.Status)
	}
	wantStock(t, e, w.lantern, 20)
	if got, want := auditActions(t, e, asID), []string{"after_sale.reject", "after_sale.decide"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit %v, want %v", got, want)
	}
	if got := auditActions(t, e, o.ID); fmt.Sprint(got) != "[order.refund]" {
		t.Errorf("order's audit %v, want [order.refund]", got)
	}

	// A second request: the merchant lets reply_by pass; the buyer escalates after it.
	res = w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "refund", "amount": 1250, "reason": "还是不满意"})
	wantStatus(t, res, http.StatusCreated)
	late := res.JSON(t)["id"].(string)
	e.clock.Advance(2*time.Hour + time.Minute)
	wantStatus(t, w.asPost("/after-sales/"+late+"/escalate", buyer.Token, nil), http.StatusOK)
	wantProblem(t, w.asPost("/after-sales/"+late+"/accept", w.merchA.Token, map[string]any{}), http.StatusConflict, "conflict")
	wantStatus(t, w.asPost("/after-sales/"+late+"/decide", w.org, map[string]any{"refund_amount": 0, "reason": "已处理过"}), http.StatusOK)
	if got := readOrder(t, e, o.ID); got.Refunded != 1250 {
		t.Errorf("refunded %d after a decision without refund, want 1250", got.Refunded)
	}

	// A third, accepted by the merchant: the rest is refunded, once.
	res = w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "refund", "amount": 1250, "reason": "最后一次"})
	wantStatus(t, res, http.StatusCreated)
	third := res.JSON(t)["id"].(string)
	wantProblem(t, w.asPost("/after-sales/"+third+"/accept", w.merchA.Token, map[string]any{"restock": true}), http.StatusUnprocessableEntity, "validation_failed")
	for range 2 {
		res = w.asPost("/after-sales/"+third+"/accept", w.merchA.Token, map[string]any{"reason": "好的"})
		wantStatus(t, res, http.StatusOK)
	}
	if got := res.JSON(t); got["status"] != "accepted" || jsonInt(t, got, "refund_amount") != 1250 {
		t.Fatalf("accepted %v", got)
	}
	if got := readOrder(t, e, o.ID); got.Refunded != 2500 || got.Status != "refunded" {
		t.Errorf("order refunded %d %s, want 2500 refunded", got.Refunded, got.Status)
	}
	if n := countRows(t, e, "refunds", "order_id = ? AND status = ?", o.ID, "succeeded"); n != 2 {
		t.Errorf("%d refunds, want 2", n)
	}
	// Nothing is left to ask for.
	wantProblem(t, w.asPost("/orders/"+o.ID+"/after-sales", buyer.Token, map[string]any{"kind": "refund", "amount": 1, "reason": "x"}), http.StatusConflict, "conflict")

	// Each step told the other side.
	eventually(t, 15*time.Second, func() error {
		m, b, org := inboxOf(t, e, w.merchA.ID), inboxOf(t, e, buyer.ID), inboxOf(t, e, w.orgID)
		if m["after_sale_opened"] != 3 || b["after_sale_rejected"] != 1 || org["after_sale_escalated"] != 2 || m["after_sale_escalated_merchant"] != 2 ||
			b["after_sale_decided"] != 2 || m["after_sale_decided_merchant"] != 2 || b["after_sale_accepted"] != 1 || b["order_refunded"] != 2 {
			return errorf("merchant %v, buyer %v, organizer %v", m, b, org)
		}
		return nil
	})
	if s := inboxOf(t, e, stranger.ID); s["after_sale_opened"]+s["after_sale_decided"] != 0 {
		t.Errorf("a stranger heard of it: %v", s)
	}
	if b := inboxOf(t, e, buyer.ID); b["after_sale_opened"] != 0 {
		t.Errorf("the buyer was told of their own request: %v", b)
	}
}

func TestOrderDeskAPI(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "desk-fair")
	other := newShopWorld(t, e, "desk-other")
	b1, b2 := w.shopper(t), w.shopper(t)
	o1 := w.buyPaid(t, b1.Token, w.lantern, 1)
	o2 := w.buyPaid(t, b2.Token, w.paperCut, 1)
	o3 := w.buy(t, b1.Token, w.lantern, 1).Orders[0].ID // unpaid
	elsewhere := other.buyPaid(t, b1.Token, other.lantern, 1)

	desk := func(query string) []string {
		t.Helper()
		return listField(listItems(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders" + query, Token: w.org})), "id")
	}
	for _, c := range []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{o3, o2.ID, o1.ID}},
		{"id", "?q=" + o2.ID, []string{o2.ID}},
		{"reference", "?q=" + o1.ID[len(o1.ID)-8:], []string{o1.ID}},
		{"email", "?q=" + b1.Email, []string{o3, o1.ID}},
		{"email and status", "?q=" + b1.Email + "&status=paid", []string{o1.ID}},
		{"stall", "?stall_id=" + w.stallB, []string{o2.ID}},
		{"status", "?status=pending_payment", []string{o3}},
		{"another fair's order", "?q=" + elsewhere.ID, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := desk(c.query); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("Paging", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders?limit=2", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		next, _ := res.JSON(t)["next_cursor"].(string)
		if len(listItems(t, res)) != 2 || next == "" {
			t.Fatalf("first page %s", res.Body)
		}
		if got := desk("?limit=2&cursor=" + next); fmt.Sprint(got) != fmt.Sprint([]string{o1.ID}) {
			t.Errorf("second page %v", got)
		}
	})
	t.Run("Codes hidden", func(t *testing.T) {
		for _, it := range listItems(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders", Token: w.org})) {
			if it["pickup_code"] != nil {
				t.Errorf("order %v shows its pickup code to the organizer", it["id"])
			}
		}
	})
	t.Run("Bad query", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders?q=%25_", Token: w.org}), http.StatusUnprocessableEntity, "validation_failed")
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders?status=lost", Token: w.org}), http.StatusUnprocessableEntity, "validation_failed")
	})
	t.Run("Access", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders"}), http.StatusUnauthorized, "unauthenticated")
		for _, tok := range []string{other.org, w.merchA.Token, b1.Token} {
			wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/orders", Token: tok}))
		}
	})
}
