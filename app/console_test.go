package app

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The organizer's console at scale: applications and stalls paged, searched
// and filtered; bulk decisions; booth numbers; suspension with a reason; the
// audit log of every organizer and merchant action.

// consoleWorld is a fair with n pending applications from n merchants
// ("摊位 00" ...), besides newWorld's two stalls.
type consoleWorld struct {
	*world
	apps      []string // pending application ids, in order
	merchants []registered
}

func newConsoleWorld(t *testing.T, e *testEnv, slug string, n int) *consoleWorld {
	t.Helper()
	cw := &consoleWorld{world: newWorld(t, e, slug)}
	for i := 0; i < n; i++ {
		m := e.register(fmt.Sprintf("m%02d-%s@example.com", i, slug), catalog.RoleMerchant)
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs/" + slug + "/applications", Token: m.Token, Body: map[string]any{"stall_name": fmt.Sprintf("摊位 %02d", i)}})
		wantStatus(t, res, http.StatusCreated)
		cw.apps = append(cw.apps, res.JSON(t)["id"].(string))
		cw.merchants = append(cw.merchants, m)
	}
	return cw
}

// get lists a path's items and next cursor.
func (cw *consoleWorld) get(t *testing.T, token, path string) ([]map[string]any, string) {
	t.Helper()
	res := cw.e.do(req{Method: "GET", Path: path, Token: token})
	wantStatus(t, res, http.StatusOK)
	next, _ := res.JSON(t)["next_cursor"].(string)
	return listItems(t, res), next
}

func TestConsoleApplicationsList(t *testing.T) {
	e := newTestEnv(t)
	cw := newConsoleWorld(t, e, "console-apps", 5)
	base := "/api/v1/fairs/" + cw.slug + "/applications"

	t.Run("paging", func(t *testing.T) {
		var seen []string
		path := base + "?status=pending&limit=2"
		for pages := 0; ; pages++ {
			items, next := cw.get(t, cw.org, path)
			seen = append(seen, listField(items, "id")...)
			if next == "" {
				break
			}
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			path = base + "?status=pending&limit=2&cursor=" + url.QueryEscape(next)
		}
		if got, want := strings.Join(seen, ","), strings.Join(cw.apps, ","); got != want {
			t.Errorf("pages = %s, want %s", got, want)
		}
	})
	t.Run("status", func(t *testing.T) {
		items, _ := cw.get(t, cw.org, base+"?status=approved&limit=100")
		if len(items) != 2 {
			t.Errorf("%d approved, want newWorld's 2", len(items))
		}
		wantProblem(t, e.do(req{Method: "GET", Path: base + "?status=closed", Token: cw.org}), http.StatusUnprocessableEntity, "validation_failed")
	})
	t.Run("q by name", func(t *testing.T) {
		items, _ := cw.get(t, cw.org, base+"?q="+url.QueryEscape("摊位 03"))
		if got := listField(items, "id"); len(got) != 1 || got[0] != cw.apps[3] {
			t.Errorf("q=摊位 03 → %v, want %s", got, cw.apps[3])
		}
		items, _ = cw.get(t, cw.org, base+"?q=%25")
		if len(items) != 0 {
			t.Errorf("q=%% matched %d: a LIKE wildcard must be taken literally", len(items))
		}
	})
	t.Run("q by merchant email", func(t *testing.T) {
		items, _ := cw.get(t, cw.org, base+"?q="+url.QueryEscape(strings.ToUpper(cw.merchants[1].Email)))
		if got := listField(items, "id"); len(got) != 1 || got[0] != cw.apps[1] {
			t.Errorf("q=email → %v, want %s", got, cw.apps[1])
		}
	})
	t.Run("organizer only", func(t *testing.T) {
		_, other := e.organizer(t, "other-org-apps@example.com")
		wantDenied(t, e.do(req{Method: "GET", Path: base, Token: other}))
		wantDenied(t, e.do(req{Method: "GET", Path: base, Token: cw.merchA.Token}))
	})
}

func TestConsoleStallsList(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "console-stalls")
	base := "/api/v1/fairs/" + w.slug + "/stalls"
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallB + "/suspend", Token: w.org, Body: map[string]any{"reason": "证照过期"}}), http.StatusOK)
	cw := &consoleWorld{world: w}

	items, _ := cw.get(t, w.org, base+"?status=suspended")
	if got := listField(items, "id"); len(got) != 1 || got[0] != w.stallB {
		t.Errorf("organizer's suspended = %v, want [%s]", got, w.stallB)
	}
	if items[0]["status_reason"] != "证照过期" {
		t.Errorf("status_reason = %v", items[0]["status_reason"])
	}
	items, _ = cw.get(t, "", base+"?status=suspended")
	if len(items) != 0 {
		t.Errorf("the public sees %d suspended stalls", len(items))
	}
	items, _ = cw.get(t, w.org, base+"?q="+url.QueryEscape("灯笼"))
	if got := listField(items, "id"); len(got) != 1 || got[0] != w.stallA {
		t.Errorf("q=灯笼 → %v, want stall A", got)
	}
	items, _ = cw.get(t, w.org, base+"?q=a-002")
	if got := listField(items, "id"); len(got) != 1 || got[0] != w.stallB {
		t.Errorf("q=a-002 (booth) → %v, want stall B", got)
	}
	items, _ = cw.get(t, w.org, base+"?q="+url.QueryEscape(w.merchA.Email))
	if got := listField(items, "id"); len(got) != 1 || got[0] != w.stallA {
		t.Errorf("organizer's q=email → %v, want stall A", got)
	}
	items, _ = cw.get(t, "", base+"?q="+url.QueryEscape(w.merchA.Email))
	if len(items) != 0 {
		t.Errorf("the public finds a stall by its merchant's email: %v", listField(items, "id"))
	}
	items, next := cw.get(t, w.org, base+"?limit=1")
	if len(items) != 1 || next == "" {
		t.Errorf("limit=1: %d items, next %q", len(items), next)
	}
}

func TestConsoleBulkDecide(t *testing.T) {
	e := newTestEnv(t)
	e.runWorkers()
	cw := newConsoleWorld(t, e, "console-bulk", 4)
	other := newConsoleWorld(t, e, "console-bulk-other", 1)
	path := "/api/v1/fairs/" + cw.slug + "/applications/bulk"

	t.Run("validation", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "POST", Path: path, Token: cw.org, Body: map[string]any{"ids": []string{cw.apps[0]}, "action": "reject"}}), http.StatusUnprocessableEntity, "validation_failed")
		wantProblem(t, e.do(req{Method: "POST", Path: path, Token: cw.org, Body: map[string]any{"ids": []string{}, "action": "approve"}}), http.StatusUnprocessableEntity, "validation_failed")
		wantProblem(t, e.do(req{Method: "POST", Path: path, Token: cw.org, Body: map[string]any{"ids": []string{cw.apps[0], cw.apps[0]}, "action": "approve"}}), http.StatusUnprocessableEntity, "validation_failed")
		wantDenied(t, e.do(req{Method: "POST", Path: path, Token: other.org, Body: map[string]any{"ids": []string{cw.apps[0]}, "action": "approve"}}))
		if n := countRows(t, e, "applications", "fair_id IN (SELECT id FROM fairs WHERE slug = ?) AND status = 'pending'", cw.slug); n != 4 {
			t.Errorf("%d pending after refusals, want 4", n)
		}
	})
	t.Run("approve", func(t *testing.T) {
		// One already decided, one of another fair: each answered on its own.
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + cw.apps[2] + "/approve", Token: cw.org}), http.StatusOK)
		ids := []string{cw.apps[0], cw.apps[1], cw.apps[2], other.apps[0]}
		res := e.do(req{Method: "POST", Path: path, Token: cw.org, Body: map[string]any{"ids": ids, "action": "approve"}})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		if len(items) != 4 {
			t.Fatalf("%d results, want 4", len(items))
		}
		for i, want := range []struct {
			ok     bool
			status string
			code   string
		}{{true, "approved", ""}, {true, "approved", ""}, {false, "approved", "conflict"}, {false, "", "not_found"}} {
			it := items[i]
			if it["id"] != ids[i] || it["ok"] != want.ok || (it["status"] != nil && it["status"] != want.status) || (it["code"] != nil && it["code"] != want.code) || (want.code != "" && it["code"] != want.code) {
				t.Errorf("result %d = %v, want ok %v status %q code %q", i, it, want.ok, want.status, want.code)
			}
			if want.ok && (it["stall_id"] == "" || it["booth"] == "") {
				t.Errorf("result %d names no stall: %v", i, it)
			}
		}
		if n := countRows(t, e, "applications", "id = ? AND status = 'pending'", other.apps[0]); n != 1 {
			t.Error("the other fair's application was decided")
		}
		if n := countRows(t, e, "audit_entries", "action = 'application.approve' AND subject IN (?, ?)", cw.apps[0], cw.apps[1]); n != 2 {
			t.Errorf("%d approval audit entries, want 2", n)
		}
	})
	t.Run("reject", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: path, Token: cw.org, Body: map[string]any{"ids": []string{cw.apps[3]}, "action": "reject", "reason": "品类重复"}})
		wantStatus(t, res, http.StatusOK)
		if it := listItems(t, res)[0]; it["ok"] != true || it["status"] != "rejected" {
			t.Errorf("reject result = %v", it)
		}
		eventually(t, 10*time.Second, func() error {
			if inboxOf(t, e, cw.merchants[3].ID)["application_rejected"] != 1 {
				return errorf("the rejected merchant was not told")
			}
			return nil
		})
	})
}

func TestConsoleBooth(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "console-booth")
	put := func(token, stall string, body any) response {
		return e.do(req{Method: "PUT", Path: "/api/v1/stalls/" + stall + "/booth", Token: token, Body: body})
	}
	// The floor plan places stall A at A-001 and has an empty booth B-7.
	wantStatus(t, e.do(req{Method: "PUT", Path: "/api/v1/fairs/" + w.slug + "/map", Token: w.org, Body: map[string]any{"booths": []map[string]any{
		{"booth": "A-001", "stall_id": w.stallA, "x": 0, "y": 0, "w": 10, "h": 10},
		{"booth": "B-7", "x": 20, "y": 0, "w": 10, "h": 10},
		{"booth": "A-002", "stall_id": w.stallB, "x": 40, "y": 0, "w": 10, "h": 10},
	}}}), http.StatusOK)
	plan := func() map[string]string {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/map"})
		wantStatus(t, res, http.StatusOK)
		out := map[string]string{}
		for _, b := range res.JSON(t)["booths"].([]any) {
			m := b.(map[string]any)
			s, _ := m["stall_id"].(string)
			out[m["booth"].(string)] = s
		}
		return out
	}

	t.Run("renumbered on the plan", func(t *testing.T) {
		res := put(w.org, w.stallA, map[string]any{"booth": "C-12"})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["booth"]; got != "C-12" {
			t.Errorf("booth = %v", got)
		}
		if p := plan(); p["C-12"] != w.stallA || p["A-001"] != "" {
			t.Errorf("plan = %v, want stall A at C-12", p)
		}
	})
	t.Run("moves to an empty booth", func(t *testing.T) {
		wantStatus(t, put(w.org, w.stallA, map[string]any{"booth": "B-7"}), http.StatusOK)
		if p := plan(); p["B-7"] != w.stallA || p["C-12"] != "" {
			t.Errorf("plan = %v, want stall A at B-7 and C-12 empty", p)
		}
	})
	t.Run("conflict", func(t *testing.T) {
		wantProblem(t, put(w.org, w.stallA, map[string]any{"booth": "A-002"}), http.StatusConflict, "conflict")
		if p := plan(); p["B-7"] != w.stallA {
			t.Errorf("a refused change moved the plan: %v", p)
		}
	})
	t.Run("validation", func(t *testing.T) {
		for _, b := range []string{"", "A 1", "一号", strings.Repeat("A", 21), "-A1"} {
			wantProblem(t, put(w.org, w.stallA, map[string]any{"booth": b}), http.StatusUnprocessableEntity, "validation_failed")
		}
	})
	t.Run("organizer only", func(t *testing.T) {
		wantProblem(t, put(w.merchA.Token, w.stallA, map[string]any{"booth": "Z-1"}), http.StatusForbidden, "forbidden")
		_, other := e.organizer(t, "other-org-booth@example.com")
		wantProblem(t, put(other, w.stallA, map[string]any{"booth": "Z-1"}), http.StatusForbidden, "forbidden")
	})
	t.Run("next approval skips a taken number", func(t *testing.T) {
		// Two stalls: the next free number is A-003; take it by hand.
		wantStatus(t, put(w.org, w.stallB, map[string]any{"booth": "A-003"}), http.StatusOK)
		m := e.register("third-booth@example.com", catalog.RoleMerchant)
		st := e.openStall(t, w.org, m.Token, w.slug, "第三家")
		if st["booth"] != "A-004" {
			t.Errorf("auto booth = %v, want A-004 (A-003 is taken)", st["booth"])
		}
	})
	if n := countRows(t, e, "audit_entries", "action = 'stall.booth' AND subject = ?", w.stallA); n != 2 {
		t.Errorf("%d stall.booth entries of stall A, want 2 (the refused changes record none)", n)
	}
}

func TestConsoleSuspension(t *testing.T) {
	e := newTestEnv(t)
	e.runWorkers()
	w := newWorld(t, e, "console-suspend")
	suspend := func(body any) response {
		return e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/suspend", Token: w.org, Body: body})
	}
	wantProblem(t, suspend(map[string]any{"reason": "  "}), http.StatusUnprocessableEntity, "validation_failed")
	wantProblem(t, suspend(map[string]any{}), http.StatusUnprocessableEntity, "validation_failed")
	if n := countRows(t, e, "stalls", "id = ? AND status = 'active'", w.stallA); n != 1 {
		t.Fatal("a refused suspension changed the stall")
	}
	res := suspend(map[string]any{"reason": "售卖违禁品"})
	wantStatus(t, res, http.StatusOK)
	if m := res.JSON(t); m["status"] != "suspended" || m["status_reason"] != "售卖违禁品" {
		t.Errorf("suspended stall = %v", m)
	}
	res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/reinstate", Token: w.org, Body: map[string]any{"reason": "已整改"}})
	wantStatus(t, res, http.StatusOK)
	// The reason is between the organizer and the merchant.
	for who, tok := range map[string]string{"the organizer": w.org, "the merchant": w.merchA.Token, "a shopper": w.shopper(t).Token, "anyone": ""} {
		got := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA, Token: tok})
		wantStatus(t, got, http.StatusOK)
		reason, _ := got.JSON(t)["status_reason"].(string)
		if want := who == "the organizer" || who == "the merchant"; want != (reason == "已整改") {
			t.Errorf("%s reads status_reason %q", who, reason)
		}
	}
	eventually(t, 10*time.Second, func() error {
		in := inboxOf(t, e, w.merchA.ID)
		if in["stall_suspended"] != 1 || in["stall_reinstated"] != 1 {
			return errorf("inbox %v, want one suspension and one reinstatement notice", in)
		}
		return nil
	})
	var body string
	if err := e.srv.DB.NewSelect().Table("notifications").Column("body").Where("user_id = ? AND kind = 'stall_suspended'", w.merchA.ID).Scan(t.Context(), &body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "售卖违禁品") {
		t.Errorf("suspension notice %q does not give the reason", body)
	}
	entries := auditOf(t, e, w.org, w.slug, "")
	if got := firstAction(entries, "stall.suspend"); got == nil || got["subject"] != w.stallA || detailOf(got)["reason"] != "售卖违禁品" || got["actor_id"] != w.orgID {
		t.Errorf("stall.suspend entry = %v", got)
	}
	if firstAction(entries, "stall.reinstate") == nil {
		t.Error("no stall.reinstate entry")
	}
}

// auditOf reads the fair's whole audit log through the API, newest first.
func auditOf(t *testing.T, e *testEnv, token, slug, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	path := "/api/v1/fairs/" + slug + "/audit?limit=100" + query
	for {
		res := e.do(req{Method: "GET", Path: path, Token: token})
		wantStatus(t, res, http.StatusOK)
		out = append(out, listItems(t, res)...)
		next, _ := res.JSON(t)["next_cursor"].(string)
		if next == "" {
			return out
		}
		path = "/api/v1/fairs/" + slug + "/audit?limit=100" + query + "&cursor=" + url.QueryEscape(next)
	}
}

func firstAction(entries []map[string]any, action string) map[string]any {
	for _, en := range entries {
		if en["action"] == action {
			return en
		}
	}
	return nil
}

func detailOf(en map[string]any) map[string]any {
	d, _ := en["detail"].(map[string]any)
	return d
}

// TestConsoleAuditEntries drives every organizer and merchant action that
// changes a fair, stall, product, order or money through the API and reads
// its entry back from the fair's audit log: who, what, to what, and the
// detail that matters.
func TestConsoleAuditEntries(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "console-audit")
	staff := e.register("staff-console-audit@example.com", catalog.RoleShopper)
	shopper := w.shopper(t)
	pickup := w.buyPaid(t, shopper.Token, w.lantern, 1)
	shipped := func() orders.Order {
		b := w.shopper(t)
		w.cart(t, b.Token, w.dumplings, 1)
		c := w.checkout(t, b.Token, map[string]any{"fulfillment": "ship", "shipping_address": "江苏省泰州市海陵区坡子街1号"})
		w.pay(t, b.Token, c.Payment.ID)
		return readOrder(t, e, c.Orders[0].ID)
	}()
	refunded := w.buyPaid(t, w.shopper(t).Token, w.lantern, 2)
	rejectApp := func() string {
		m := e.register("rejected-console-audit@example.com", catalog.RoleMerchant)
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs/" + w.slug + "/applications", Token: m.Token, Body: map[string]any{"stall_name": "被拒"}})
		wantStatus(t, res, http.StatusCreated)
		return res.JSON(t)["id"].(string)
	}()
	product := w.lantern
	mA, org := w.merchA.Token, w.org

	// call sends r, expects status and returns subject (or the answer's id
	// when subject is "").
	call := func(t *testing.T, r req, status int, subject string) string {
		t.Helper()
		res := e.do(r)
		if res.StatusCode != status {
			t.Fatalf("%s %s = %d, want %d: %s", r.Method, r.Path, res.StatusCode, status, res.Body)
		}
		if subject == "" && len(res.Body) > 0 {
			subject, _ = res.JSON(t)["id"].(string)
		}
		return subject
	}
	wantDetail := func(key string, want any) func(*testing.T, map[string]any) {
		return func(t *testing.T, d map[string]any) {
			t.Helper()
			if fmt.Sprint(d[key]) != fmt.Sprint(want) {
				t.Errorf("detail[%s] = %v, want %v (detail %v)", key, d[key], want, d)
			}
		}
	}
	changed := func(key string, want any) func(*testing.T, map[string]any) {
		return func(t *testing.T, d map[string]any) {
			t.Helper()
			after, _ := d["after"].(map[string]any)
			if fmt.Sprint(after[key]) != fmt.Sprint(want) {
				t.Errorf("after[%s] = %v, want %v (detail %v)", key, after[key], want, d)
			}
		}
	}
	fairSubject := func(t *testing.T) string {
		t.Helper()
		var id string
		if err := e.srv.DB.NewSelect().Table("fairs").Column("id").Where("slug = ?", w.slug).Scan(t.Context(), &id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	w.product = product
	var sale string
	type step struct {
		action, actor string
		run           func(t *testing.T) string // does it; returns the subject
		detail        func(t *testing.T, d map[string]any)
	}
	steps := []step{
		{"fair.update", w.orgID, func(t *testing.T) string {
			call(t, req{Method: "PATCH", Path: "/api/v1/fairs/" + w.slug, Token: org, Body: map[string]any{"description": "新的介绍"}}, 200, "-")
			return fairSubject(t)
		}, changed("description", "新的介绍")},
		{"application.reject", w.orgID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/applications/" + rejectApp + "/reject", Token: org, Body: map[string]any{"reason": "资料不全"}}, 200, rejectApp)
		}, wantDetail("reason", "资料不全")},
		{"stall.update", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "PATCH", Path: "/api/v1/stalls/" + w.stallA, Token: mA, Body: map[string]any{"description": "百年老店"}}, 200, w.stallA)
		}, changed("description", "百年老店")},
		{"stall.booth", w.orgID, func(t *testing.T) string {
			return call(t, req{Method: "PUT", Path: "/api/v1/stalls/" + w.stallA + "/booth", Token: org, Body: map[string]any{"booth": "D-1"}}, 200, w.stallA)
		}, changed("booth", "D-1")},
		{"product.update", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "PATCH", Path: "/api/v1/products/" + product, Token: mA, Body: map[string]any{"price": 1300}}, 200, product)
		}, changed("price", 1300)},
		{"product.stock", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "PATCH", Path: "/api/v1/products/" + product, Token: mA, Body: map[string]any{"stock": 50}}, 200, product)
		}, changed("stock", 50)},
		{"product.image_add", w.merchA.ID, func(t *testing.T) string {
			img := imageBody()
			res := e.do(req{Method: "POST", Path: "/api/v1/products/" + product + "/images", Token: mA, Body: string(img.Data), Header: map[string]string{"Content-Type": img.ContentType}})
			wantStatus(t, res, http.StatusCreated)
			return product
		}, nil},
		{"product.image_remove", w.merchA.ID, func(t *testing.T) string {
			var img string
			if err := e.srv.DB.NewSelect().Table("product_images").Column("id").Where("product_id = ?", product).Limit(1).Scan(t.Context(), &img); err != nil {
				t.Fatal(err)
			}
			return call(t, req{Method: "DELETE", Path: "/api/v1/products/" + product + "/images/" + img, Token: mA}, 204, product)
		}, nil},
		{"flash_sale.create", w.merchA.ID, func(t *testing.T) string {
			sale = call(t, req{Method: "POST", Path: "/api/v1/flash-sales", Token: mA, Body: w.saleBody(990, 5, 1)}, 201, "")
			return sale
		}, changed("quantity", 5)},
		{"flash_sale.update", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "PATCH", Path: "/api/v1/flash-sales/" + sale, Token: mA, Body: map[string]any{"price": 880}}, 200, sale)
		}, changed("price", 880)},
		{"flash_sale.withdraw", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/flash-sales/" + sale + "/withdraw", Token: mA}, 200, sale)
		}, wantDetail("quantity", 5)},
		{"order.ship", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/orders/" + shipped.ID + "/ship", Token: mA, Body: map[string]any{"tracking": "SF123"}}, 200, shipped.ID)
		}, wantDetail("tracking", "SF123")},
		{"order.redeem", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/orders/" + pickup.ID + "/redeem", Token: mA, Body: map[string]any{"code": pickup.PickupCode}}, 200, pickup.ID)
		}, nil},
		{"order.refund", w.orgID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/orders/" + refunded.ID + "/refunds", Token: org, Body: map[string]any{"amount": 500, "reason": "缺货"}}, 201, refunded.ID)
		}, wantDetail("amount", 500)},
		{"offline_sale.record", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/offline-sales", Token: mA, Body: map[string]any{"amount": 3000, "note": "现金"}}, 201, w.stallA)
		}, wantDetail("amount", 3000)},
		{"staff.add", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/staff", Token: mA, Body: map[string]any{"email": staff.Email}}, 201, w.stallA)
		}, wantDetail("user_id", staff.ID)},
		{"staff.remove", w.merchA.ID, func(t *testing.T) string {
			return call(t, req{Method: "DELETE", Path: "/api/v1/stalls/" + w.stallA + "/staff/" + staff.ID, Token: mA}, 204, w.stallA)
		}, wantDetail("user_id", staff.ID)},
		{"map.update", w.orgID, func(t *testing.T) string {
			call(t, req{Method: "PUT", Path: "/api/v1/fairs/" + w.slug + "/map", Token: org, Body: map[string]any{"booths": []map[string]any{{"booth": "D-1", "stall_id": w.stallA, "x": 1, "y": 1, "w": 5, "h": 5}}}}, 200, "-")
			return fairSubject(t)
		}, wantDetail("booths", 1)},
		{"stall.suspend", w.orgID, func(t *testing.T) string {
			return call(t, req{Method: "POST", Path: "/api/v1/stalls/" + w.stallB + "/suspend", Token: org, Body: map[string]any{"reason": "投诉较多"}}, 200, w.stallB)
		}, wantDetail("reason", "投诉较多")},
	}
	for _, s := range steps {
		t.Run(s.action, func(t *testing.T) {
			before := len(auditOf(t, e, org, w.slug, "&action="+s.action))
			subject := s.run(t)
			got := auditOf(t, e, org, w.slug, "&action="+s.action)
			if len(got) != before+1 {
				t.Fatalf("%d %s entries after, %d before: want one more", len(got), s.action, before)
			}
			en := got[0]
			if en["subject"] != subject || en["actor_id"] != s.actor {
				t.Errorf("entry = %v, want subject %s by %s", en, subject, s.actor)
			}
			if _, err := time.Parse(time.RFC3339, en["at"].(string)); err != nil {
				t.Errorf("at %v: %v", en["at"], err)
			}
			if s.detail != nil {
				s.detail(t, detailOf(en))
			}
		})
	}
	entries := auditOf(t, e, org, w.slug, "")
	t.Run("creations and approvals", func(t *testing.T) {
		for _, a := range []string{"fair.create", "application.approve", "product.create", "flash_sale.create"} {
			if firstAction(entries, a) == nil {
				t.Errorf("no %s entry", a)
			}
		}
	})
	t.Run("newest first, filters", func(t *testing.T) {
		for i := 1; i < len(entries); i++ {
			if entries[i-1]["id"].(string) < entries[i]["id"].(string) {
				t.Fatalf("entry %d is older than entry %d", i-1, i)
			}
		}
		byAction := auditOf(t, e, org, w.slug, "&action=order.ship")
		if len(byAction) != 1 || byAction[0]["subject"] != shipped.ID {
			t.Errorf("action=order.ship → %v", byAction)
		}
		byActor := auditOf(t, e, org, w.slug, "&actor_id="+w.merchA.ID)
		for _, en := range byActor {
			if en["actor_id"] != w.merchA.ID {
				t.Errorf("actor_id filter let through %v", en)
			}
		}
		if len(byActor) < 8 {
			t.Errorf("merchant A has %d entries, want at least 8", len(byActor))
		}
	})
	t.Run("paging", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit?limit=3", Token: org})
		wantStatus(t, res, http.StatusOK)
		next, _ := res.JSON(t)["next_cursor"].(string)
		if len(listItems(t, res)) != 3 || next == "" {
			t.Fatalf("first page: %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit?limit=3&cursor=" + url.QueryEscape(next), Token: org})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "id"); len(got) != 3 || got[0] != entries[3]["id"] {
			t.Errorf("second page = %v, want from %v", got, entries[3]["id"])
		}
	})
	t.Run("organizer only", func(t *testing.T) {
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit", Token: mA}))
		_, other := e.organizer(t, "other-org-audit@example.com")
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit", Token: other}))
		wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit.csv", Token: other}))
	})
	t.Run("csv", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit.csv?action=stall.suspend", Token: org})
		wantStatus(t, res, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || strings.Join(rows[0], ",") != "at,actor_id,action,subject,detail" || rows[1][2] != "stall.suspend" || rows[1][3] != w.stallB {
			t.Fatalf("csv = %v", rows)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(rows[1][4]), &d); err != nil || d["reason"] != "投诉较多" {
			t.Errorf("detail cell %q: %v", rows[1][4], err)
		}
		all := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/audit.csv", Token: org})
		wantStatus(t, all, http.StatusOK)
		if n := strings.Count(string(all.Body), "\n"); n != len(entries)+1 {
			t.Errorf("full csv has %d lines, want %d", n, len(entries)+1)
		}
	})
}

// signIn signs a user in through the API, as a browser would: the session
// cookie and the CSRF token for forms.
func (e *testEnv) signIn(t *testing.T, email string) registered {
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
		t.Fatalf("login gave no session cookie or CSRF token: %v", m)
	}
	return out
}

func TestConsolePages(t *testing.T) {
	e := newTestEnv(t)
	cw := newConsoleWorld(t, e, "console-pages", 52)
	org := e.signIn(t, "organizer-console-pages@example.com")
	page := func(path string) response {
		return e.do(req{Method: "GET", Path: path, Cookies: []*http.Cookie{org.Cookie}})
	}
	post := func(path, body string) response {
		return e.do(req{Method: "POST", Path: path, Cookies: []*http.Cookie{org.Cookie},
			Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: "_csrf=" + url.QueryEscape(org.CSRF) + body})
	}
	base := "/organizer/fairs/" + cw.slug
	rows := func(res response, testid string) int {
		return strings.Count(string(res.Body), `data-testid="`+testid+`"`)
	}

	t.Run("paged", func(t *testing.T) {
		res := page(base + "?astatus=pending")
		wantStatus(t, res, http.StatusOK)
		if n := rows(res, "application-row"); n != 50 {
			t.Errorf("%d application rows on the first page, want 50", n)
		}
		if n := rows(res, "application-check"); n != 50 {
			t.Errorf("%d bulk checkboxes, want 50", n)
		}
		if !strings.Contains(string(res.Body), `data-testid="applications-next"`) {
			t.Fatal("no next-page link")
		}
		next := strings.ReplaceAll(between(string(res.Body), `<a href="`, `" rel="next" data-testid="applications-next"`), "&amp;", "&")
		res = page(next)
		wantStatus(t, res, http.StatusOK)
		if n := rows(res, "application-row"); n != 2 {
			t.Errorf("%d rows on the second page, want 2", n)
		}
	})
	t.Run("search", func(t *testing.T) {
		res := page(base + "?aq=" + url.QueryEscape("摊位 07"))
		wantStatus(t, res, http.StatusOK)
		if n := rows(res, "application-row"); n != 1 || !strings.Contains(string(res.Body), "摊位 07") {
			t.Errorf("search shows %d rows", n)
		}
		res = page(base + "?sq=" + url.QueryEscape("灯笼"))
		if n := rows(res, "stall-row"); n != 1 {
			t.Errorf("stall search shows %d rows", n)
		}
	})
	t.Run("bulk approve", func(t *testing.T) {
		body := ""
		for _, id := range cw.apps[:10] {
			body += "&ids=" + id
		}
		res := post(base+"/applications/bulk", body+"&action=approve")
		wantStatus(t, res, http.StatusSeeOther)
		if n := countRows(t, e, "applications", "id IN (?) AND status = 'approved'", bun.In(cw.apps[:10])); n != 10 {
			t.Errorf("%d of 10 approved", n)
		}
		res = post(base+"/applications/bulk", "&ids="+cw.apps[10]+"&action=reject")
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if n := countRows(t, e, "applications", "id = ? AND status = 'pending'", cw.apps[10]); n != 1 {
			t.Error("a rejection without reason decided the application")
		}
	})
	t.Run("suspend and booth", func(t *testing.T) {
		wantStatus(t, post(base+"/stalls/"+cw.stallA+"/suspend", "&reason="), http.StatusUnprocessableEntity)
		wantStatus(t, post(base+"/stalls/"+cw.stallA+"/suspend", "&reason="+url.QueryEscape("卫生不合格")), http.StatusSeeOther)
		if n := countRows(t, e, "stalls", "id = ? AND status = 'suspended' AND status_reason = ?", cw.stallA, "卫生不合格"); n != 1 {
			t.Error("not suspended with the reason")
		}
		wantStatus(t, post(base+"/stalls/"+cw.stallA+"/booth", "&booth=E-9"), http.StatusSeeOther)
		wantStatus(t, post(base+"/stalls/"+cw.stallB+"/booth", "&booth=E-9"), http.StatusConflict)
	})
	t.Run("audit page", func(t *testing.T) {
		res := page(base + "/audit")
		wantStatus(t, res, http.StatusOK)
		if n := rows(res, "audit-row"); n < 14 {
			t.Errorf("%d audit rows, want the 12 approvals, the suspension and the booth", n)
		}
		res = page(base + "/audit?action=stall.suspend")
		if n := rows(res, "audit-row"); n != 1 || !strings.Contains(string(res.Body), "卫生不合格") {
			t.Errorf("filtered audit page shows %d rows", n)
		}
		other := e.createUser("other-org-pages@example.com", catalog.RoleOrganizer)
		o := e.signIn(t, other.Email)
		wantPageDenied(t, e.do(req{Method: "GET", Path: base + "/audit", Cookies: []*http.Cookie{o.Cookie}}))
	})
}

// between is the text of s between the last before of it and after.
func between(s, before, after string) string {
	end := strings.Index(s, after)
	if end < 0 {
		return ""
	}
	start := strings.LastIndex(s[:end], before)
	if start < 0 {
		return ""
	}
	return s[start+len(before) : end]
}
