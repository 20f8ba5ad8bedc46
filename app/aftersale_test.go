package app

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
	wantProblem(t, w.asPost("/after-sales/"+asID+"/reject", w.merchA.Token, map[string]any{"reason": strings.Repeat("坏", 501)}), http.StatusUnprocessableEntity, "validation_failed")
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

// wantHidden expects a page's form on another tenant's request to refuse as
// if it did not exist.
func wantHidden(t testing.TB, res response) {
	t.Helper()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("%s %s: status %d, want 404\n%.300s", res.Request.Method, res.Request.URL, res.StatusCode, res.Body)
	}
}

func TestAfterSalesPages(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "as-pages")
	other := newShopWorld(t, e, "as-pages-other")
	buyer := w.shopper(t)
	o := w.buyPaid(t, buyer.Token, w.lantern, 2) // ¥25.00
	formHeader := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	post := func(token, path, body string) response {
		t.Helper()
		return e.do(req{Method: "POST", Path: path, Token: token, Header: formHeader, Body: body})
	}
	page := func(token, path string) string {
		t.Helper()
		res := e.do(req{Method: "GET", Path: path, Token: token})
		wantStatus(t, res, http.StatusOK)
		return string(res.Body)
	}
	status := func(id string) string {
		t.Helper()
		var s string
		if err := e.srv.DB.NewSelect().Table("after_sales").Column("status").Where("id = ?", id).Scan(t.Context(), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	if body := page(buyer.Token, "/orders"); !strings.Contains(body, `data-testid="aftersale-form"`) || !strings.Contains(body, "申请售后") {
		t.Fatal("the buyer's order has no after-sales form")
	}
	res := post(buyer.Token, "/orders/"+o.ID+"/after-sales", "kind=return&amount=abc&reason=x")
	wantStatus(t, res, http.StatusSeeOther)
	if n := countRows(t, e, "after_sales", "order_id = ?", o.ID); n != 0 {
		t.Fatalf("a bad amount opened %d requests", n)
	}
	res = post(buyer.Token, "/orders/"+o.ID+"/after-sales", "kind=return&amount=12.50&reason="+url.QueryEscape("灯笼破了"))
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/orders#order-"+o.ID {
		t.Errorf("redirected to %s", loc)
	}
	var asID string
	if err := e.srv.DB.NewSelect().Table("after_sales").Column("id").Where("order_id = ? AND amount = 1250 AND kind = 'return'", o.ID).Scan(t.Context(), &asID); err != nil {
		t.Fatalf("no request of ¥12.50: %v", err)
	}
	body := page(buyer.Token, "/orders")
	if !strings.Contains(body, "待商家处理") || strings.Contains(body, `data-testid="aftersale-form"`) || strings.Contains(body, `data-testid="aftersale-escalate"`) {
		t.Error("the order page does not show the open request (and no new form, no escalation yet)")
	}

	// The merchant's page lists it; others may not see it.
	mpath := "/merchant/stalls/" + w.stallA + "/after-sales"
	if body := page(w.merchA.Token, mpath); !strings.Contains(body, `id="as-`+asID+`"`) || !strings.Contains(body, `data-testid="aftersale-restock"`) {
		t.Error("the merchant's page does not list the return with its restock box")
	}
	if !strings.Contains(page(w.merchA.Token, "/merchant/stalls/"+w.stallA+"/orders"), `href="`+mpath+`"`) {
		t.Error("the stall's orders page does not link to its after-sales")
	}
	wantPageDenied(t, e.do(req{Method: "GET", Path: mpath, Token: w.merchB.Token}))
	wantHidden(t, post(w.merchB.Token, "/merchant/after-sales/"+asID+"/reject", "reason=no"))
	wantStatus(t, post(w.merchA.Token, "/merchant/after-sales/"+asID+"/reject", "reason="+url.QueryEscape("人为损坏")), http.StatusSeeOther)
	if got := status(asID); got != "rejected" {
		t.Fatalf("status %s, want rejected", got)
	}

	// The buyer escalates from their orders page.
	if !strings.Contains(page(buyer.Token, "/orders"), `data-testid="aftersale-escalate"`) {
		t.Error("no escalation button after the rejection")
	}
	wantStatus(t, post(buyer.Token, "/after-sales/"+asID+"/escalate", ""), http.StatusSeeOther)
	if got := status(asID); got != "escalated" {
		t.Fatalf("status %s, want escalated", got)
	}

	// The organizer's desk: the escalated request, the search, the decision.
	desk := "/organizer/fairs/" + w.slug + "/orders"
	if !strings.Contains(page(w.org, "/organizer/fairs/"+w.slug), `href="`+desk+`"`) {
		t.Error("the fair's console does not link to the order desk")
	}
	body = page(w.org, desk)
	if !strings.Contains(body, `data-testid="aftersale-decide-form"`) || !strings.Contains(body, `id="as-`+asID+`"`) {
		t.Error("the desk does not offer to decide the escalated request")
	}
	if body := page(w.org, desk+"?q="+o.ID[len(o.ID)-8:]); !strings.Contains(body, `data-order="`+o.ID+`"`) {
		t.Error("the desk does not find the order by its reference")
	}
	if body := page(w.org, desk+"?q="+url.QueryEscape(buyer.Email)); !strings.Contains(body, `data-order="`+o.ID+`"`) || !strings.Contains(body, buyer.Email) {
		t.Error("the desk does not find the order by its buyer's email")
	}
	if body := page(w.org, desk+"?q=%25%25"); !strings.Contains(body, `data-testid="desk-invalid"`) {
		t.Error("a bad search is not explained")
	}
	wantPageDenied(t, e.do(req{Method: "GET", Path: desk, Token: other.org}))
	wantPageDenied(t, e.do(req{Method: "GET", Path: desk, Token: w.merchA.Token}))
	wantHidden(t, post(other.org, "/organizer/after-sales/"+asID+"/decide", "refund_amount=5&reason=x"))
	wantStatus(t, post(w.org, "/organizer/after-sales/"+asID+"/decide", "refund_amount=5&restock=1&reason="+url.QueryEscape("各退一步")), http.StatusSeeOther)
	if got := status(asID); got != "decided" {
		t.Fatalf("status %s, want decided", got)
	}
	if got := readOrder(t, e, o.ID); got.Refunded != 500 {
		t.Errorf("refunded %d, want 500", got.Refunded)
	}
	wantStock(t, e, w.lantern, 20)

	// A refund from the desk, and a request the merchant accepts.
	wantStatus(t, post(w.org, "/organizer/orders/"+o.ID+"/refund", "amount=1&reason="+url.QueryEscape("补偿")), http.StatusSeeOther)
	wantStatus(t, post(buyer.Token, "/orders/"+o.ID+"/after-sales", "kind=refund&amount=2&reason=x"), http.StatusSeeOther)
	var second string
	if err := e.srv.DB.NewSelect().Table("after_sales").Column("id").Where("order_id = ? AND status = 'open'", o.ID).Scan(t.Context(), &second); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, post(w.merchA.Token, "/merchant/after-sales/"+second+"/accept", "reason=ok"), http.StatusSeeOther)
	if got := readOrder(t, e, o.ID); got.Refunded != 800 {
		t.Errorf("refunded %d, want 800", got.Refunded)
	}
	if body := page(buyer.Token, "/orders"); !strings.Contains(body, "商家已同意") || !strings.Contains(body, "平台已裁决") {
		t.Error("the order page does not show the outcomes")
	}
	// English too.
	res = e.do(req{Method: "GET", Path: "/orders", Token: buyer.Token, Header: map[string]string{"Cookie": "fair_lang=en"}})
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(string(res.Body), "Decided by the organizer") {
		t.Error("no English after-sales status")
	}
}
