package app

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"miaohui/catalog"
)

// Editions (往届与本届), re-applying after a rejection and re-enrolling a
// stall of an earlier edition. Helpers are prefixed ed.

// edApply posts an application to slug as token's merchant.
func edApply(e *testEnv, token, slug string, body map[string]any) response {
	return e.do(req{Method: "POST", Path: "/api/v1/fairs/" + slug + "/applications", Token: token, Body: body})
}

// newMultipartRequest is a POST of one file as field, as token's user.
func newMultipartRequest(t testing.TB, path, token, field, filename string, data []byte) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(data)
	_ = mw.Close()
	hr := httptest.NewRequest(http.MethodPost, path, &buf)
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	return hr
}

// edEdition starts the next edition of slug as token's organizer, a year on.
func edEdition(e *testEnv, token, slug, next string) response {
	now := e.clock.Now()
	return e.do(req{Method: "POST", Path: "/api/v1/fairs/" + slug + "/editions", Token: token, Body: map[string]any{
		"slug": next, "starts_at": fairTime(now.Add(-time.Minute)), "ends_at": fairTime(now.Add(60 * 24 * time.Hour)),
	}})
}

// edNext starts the next edition and expects 201.
func edNext(t testing.TB, e *testEnv, token, slug, next string) map[string]any {
	t.Helper()
	res := edEdition(e, token, slug, next)
	wantStatus(t, res, http.StatusCreated)
	return res.JSON(t)
}

func TestReapplyAfterRejection(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "reapply")
	m := e.register("reapply-m@example.com", catalog.RoleMerchant)

	res := edApply(e, m.Token, w.slug, map[string]any{"stall_name": "糖画摊"})
	wantStatus(t, res, http.StatusCreated)
	first := res.JSON(t)["id"].(string)
	// A pending application blocks a second one.
	wantProblem(t, edApply(e, m.Token, w.slug, map[string]any{"stall_name": "糖画摊二"}), http.StatusConflict, "conflict")

	res = e.do(req{Method: "POST", Path: "/api/v1/applications/" + first + "/reject", Token: w.org, Body: map[string]any{"reason": "资料不全"}})
	wantStatus(t, res, http.StatusOK)

	// After the rejection the merchant applies again.
	res = edApply(e, m.Token, w.slug, map[string]any{"stall_name": "糖画摊", "description": "补齐了资料"})
	wantStatus(t, res, http.StatusCreated)
	second := res.JSON(t)
	if second["status"] != "pending" || second["id"] == first {
		t.Fatalf("re-application %v, want a new pending one", second)
	}
	wantProblem(t, edApply(e, m.Token, w.slug, map[string]any{"stall_name": "糖画摊三"}), http.StatusConflict, "conflict")

	res = e.do(req{Method: "POST", Path: "/api/v1/applications/" + second["id"].(string) + "/approve", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	// An approved application blocks another one too.
	wantProblem(t, edApply(e, m.Token, w.slug, map[string]any{"stall_name": "糖画摊四"}), http.StatusConflict, "conflict")

	if n := countRows(t, e, "applications", "merchant_id = ?", m.ID); n != 2 {
		t.Fatalf("%d applications, want 2 (the rejected one and the approved one)", n)
	}
	// The organizer's list shows both, the rejection with its reason.
	res = e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/applications?status=rejected", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	if items := listItems(t, res); len(items) != 1 || items[0]["reason"] != "资料不全" {
		t.Fatalf("rejected applications %v, want the first one", items)
	}
}

func TestEditionCreate(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "ed-2026")
	res := e.do(req{Method: "PATCH", Path: "/api/v1/fairs/" + w.slug, Token: w.org, Body: map[string]any{
		"name_en": "Taizhou Fair", "description_en": "A fair online", "payment_window_seconds": 900, "commission_bps": 650,
	}})
	wantStatus(t, res, http.StatusOK)
	booths := map[string]any{"image_url": "/static/plan.png", "booths": []map[string]any{
		{"booth": "A-001", "stall_id": w.stallA, "x": 0, "y": 0, "w": 10, "h": 10},
		{"booth": "A-002", "x": 10, "y": 0, "w": 10, "h": 10},
	}}
	wantStatus(t, e.do(req{Method: "PUT", Path: "/api/v1/fairs/" + w.slug + "/map", Token: w.org, Body: booths}), http.StatusOK)

	t.Run("settings copied", func(t *testing.T) {
		now := e.clock.Now()
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs/" + w.slug + "/editions", Token: w.org, Body: map[string]any{
			"slug": "ed-2027", "starts_at": fairTime(now.Add(300 * 24 * time.Hour)), "ends_at": fairTime(now.Add(330 * 24 * time.Hour)),
		}})
		wantStatus(t, res, http.StatusCreated)
		got := res.JSON(t)
		want := map[string]any{
			"slug": "ed-2027", "name": "泰州网络庙会 ed-2026", "name_en": "Taizhou Fair", "description": "网上逛庙会",
			"description_en": "A fair online", "kind": "temple_fair", "commission_bps": 650.0, "payment_window_seconds": 900.0,
			"published": true, "status": "upcoming", "previous": w.slug, "organizer_id": w.orgID,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		wantTime(t, got, "starts_at", now.Add(300*24*time.Hour))

		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/ed-2027"})
		wantStatus(t, res, http.StatusOK)
		if p := res.JSON(t)["previous"]; p != w.slug {
			t.Fatalf("GET previous = %v, want %s", p, w.slug)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug})
		if p, ok := res.JSON(t)["previous"]; ok {
			t.Fatalf("the first edition has previous %v", p)
		}
		// Categories and the floor plan's booths, without their stalls.
		old := listField(listItems(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/categories"})), "slug")
		cats := listField(listItems(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/ed-2027/categories"})), "slug")
		if fmt.Sprint(old) != fmt.Sprint(cats) || len(cats) == 0 {
			t.Fatalf("categories %v, want %v", cats, old)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/ed-2027/map"})
		wantStatus(t, res, http.StatusOK)
		plan := res.JSON(t)
		bs, _ := plan["booths"].([]any)
		if plan["image_url"] != "/static/plan.png" || len(bs) != 2 || bs[0].(map[string]any)["stall_id"] != nil {
			t.Fatalf("map of the next edition %v", plan)
		}
		// Recorded in the fair's audit log.
		for _, fair := range []string{w.slug, "ed-2027"} {
			n := countRows(t, e, "audit_entries", "action = ? AND subject = ? AND fair_id = (SELECT id FROM fairs WHERE slug = ?) AND actor_id = ?", "fair.edition", got["id"], fair, w.orgID)
			if n != 1 {
				t.Fatalf("%d fair.edition audit entries in %s's log, want 1", n, fair)
			}
		}
		// One next edition per fair.
		wantProblem(t, edEdition(e, w.org, w.slug, "ed-2027b"), http.StatusConflict, "conflict")
		// The next edition has its own next edition.
		res = e.do(req{Method: "POST", Path: "/api/v1/fairs/ed-2027/editions", Token: w.org, Body: map[string]any{
			"slug": "ed-2028", "starts_at": fairTime(now.Add(600 * 24 * time.Hour)), "ends_at": fairTime(now.Add(630 * 24 * time.Hour)),
		}})
		wantStatus(t, res, http.StatusCreated)
		if third := res.JSON(t); third["previous"] != "ed-2027" {
			t.Fatalf("third edition previous %v", third["previous"])
		}
	})

	t.Run("validation", func(t *testing.T) {
		w := newWorld(t, e, "ed-valid")
		now := e.clock.Now()
		post := func(body map[string]any) response {
			return e.do(req{Method: "POST", Path: "/api/v1/fairs/" + w.slug + "/editions", Token: w.org, Body: body})
		}
		wantProblem(t, edEdition(e, w.org, w.slug, "ed-2026"), http.StatusConflict, "conflict") // slug taken
		wantField(t, post(map[string]any{"slug": "Bad Slug", "starts_at": fairTime(now.Add(time.Hour)), "ends_at": fairTime(now.Add(2 * time.Hour))}), "slug")
		wantField(t, post(map[string]any{"slug": "ed-valid-2", "starts_at": fairTime(now.Add(2 * time.Hour)), "ends_at": fairTime(now.Add(time.Hour))}), "ends_at")
		wantField(t, post(map[string]any{"slug": "ed-valid-2", "starts_at": fairTime(now.Add(-48 * time.Hour)), "ends_at": fairTime(now.Add(time.Hour))}), "starts_at")
		if n := countRows(t, e, "fairs", "slug = ?", "ed-valid-2"); n != 0 {
			t.Fatalf("a refused edition was stored")
		}
	})

	t.Run("access", func(t *testing.T) {
		w := newWorld(t, e, "ed-access")
		_, other := e.organizer(t, "ed-other-org@example.com")
		wantStatus(t, edEdition(e, "", w.slug, "ed-access-2"), http.StatusUnauthorized)
		wantDenied(t, edEdition(e, w.merchA.Token, w.slug, "ed-access-2"))
		wantDenied(t, edEdition(e, other, w.slug, "ed-access-2"))
		draft := e.fairBody("ed-draft", "temple_fair")
		draft["published"] = false
		e.createFair(t, w.org, draft)
		wantProblem(t, edEdition(e, other, "ed-draft", "ed-draft-2"), http.StatusNotFound, "not_found")
		if n := countRows(t, e, "fairs", "slug IN (?, ?)", "ed-access-2", "ed-draft-2"); n != 0 {
			t.Fatalf("%d editions made by others", n)
		}
	})
}

func TestReEnrolment(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "re-2026")
	// The lantern: a photo, three sold, a flash sale.
	res := e.send(newMultipartRequest(t, "/api/v1/products/"+w.lantern+"/images", w.merchA.Token, "image", "a.png", auditPNG))
	wantStatus(t, res, http.StatusCreated)
	shopper := w.shopper(t)
	w.buyPaid(t, shopper.Token, w.lantern, 3)
	w.product = w.dumplings
	w.createSale(t, w.saleBody(5000, 2, 1))
	lanternStock, dumplingStock := readStock(t, e, w.lantern), readStock(t, e, w.dumplings)

	next := edNext(t, e, w.org, w.slug, "re-2027")
	nextID := next["id"].(string)
	// The new edition renames the crafts category's slug: the lantern follows it by name.
	if _, err := e.srv.Catalog.DB().NewUpdate().Table("categories").Set("slug = 'handmade'").
		Where("fair_id = ? AND slug = 'crafts'", nextID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("refused", func(t *testing.T) {
		// Another merchant's stall does not exist for them.
		wantProblem(t, edApply(e, w.merchB.Token, "re-2027", map[string]any{"from_stall": w.stallA}), http.StatusNotFound, "not_found")
		wantProblem(t, edApply(e, w.merchB.Token, "re-2027", map[string]any{"from_stall": "nope"}), http.StatusNotFound, "not_found")
		// A stall of another series, or of the edition itself, is invalid.
		o := newWorld(t, e, "re-other")
		res := edApply(e, o.merchA.Token, "re-2027", map[string]any{"from_stall": o.stallA})
		wantField(t, res, "from_stall")
		// A shopper is not a merchant.
		wantStatus(t, edApply(e, shopper.Token, "re-2027", map[string]any{"from_stall": w.stallA}), http.StatusForbidden)
		if n := countRows(t, e, "applications", "fair_id = ?", nextID); n != 0 {
			t.Fatalf("%d applications stored by refused requests", n)
		}
	})

	res = edApply(e, w.merchA.Token, "re-2027", map[string]any{"from_stall": w.stallA})
	wantStatus(t, res, http.StatusCreated)
	app := res.JSON(t)
	if app["stall_name"] != "老街灯笼铺" || app["from_stall"] != w.stallA || app["status"] != "pending" {
		t.Fatalf("re-enrolment %v", app)
	}
	// Nothing is copied before approval.
	if n := countRows(t, e, "products", "fair_id = ?", nextID); n != 0 {
		t.Fatalf("%d products copied before approval", n)
	}
	res = e.do(req{Method: "POST", Path: "/api/v1/applications/" + app["id"].(string) + "/approve", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	stall := res.JSON(t)["stall"].(map[string]any)
	if stall["name"] != "老街灯笼铺" || stall["fair_id"] != nextID {
		t.Fatalf("new stall %v", stall)
	}

	res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + stall["id"].(string) + "/products", Token: w.merchA.Token})
	wantStatus(t, res, http.StatusOK)
	items := listItems(t, res)
	if len(items) != 2 {
		t.Fatalf("%d products copied, want 2: %v", len(items), items)
	}
	byTitle := map[string]map[string]any{}
	for _, p := range items {
		byTitle[p["title"].(string)] = p
	}
	lantern, dumplings := byTitle["兔子灯"], byTitle["蟹黄汤包礼盒"]
	if lantern == nil || dumplings == nil {
		t.Fatalf("copied titles %v", listField(items, "title"))
	}
	checks := []struct {
		got, want any
		what      string
	}{
		{lantern["price"], float64(lanternPrice), "lantern price"},
		{lantern["stock"], float64(lanternStock), "lantern stock"},
		{lantern["category"], "handmade", "lantern category (by name)"},
		{lantern["fulfillment"], "pickup", "lantern fulfillment"},
		{dumplings["price"], float64(dumplingPrice), "dumplings price"},
		{dumplings["stock"], float64(dumplingStock), "dumplings stock"},
		{dumplings["category"], "food", "dumplings category (by slug)"},
		{dumplings["fulfillment"], "ship", "dumplings fulfillment"},
		{dumplings["kind"], "goods", "dumplings kind"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if lantern["id"] == w.lantern || lantern["stall_id"] != stall["id"] {
		t.Fatalf("the copy is not a new product of the new stall: %v", lantern)
	}
	imgs, _ := lantern["images"].([]any)
	if len(imgs) != 1 {
		t.Fatalf("lantern copy has %d images, want 1", len(imgs))
	}
	url := imgs[0].(map[string]any)["url"].(string)
	if _, err := os.Stat(filepath.Join(e.srv.Catalog.MediaDir(), filepath.FromSlash(url[len("/media/"):]))); err != nil {
		t.Fatalf("copied photo file: %v", err)
	}
	wantStatus(t, e.do(req{Method: "GET", Path: url}), http.StatusOK)
	// Flash sales stay behind; the old stall's products are untouched.
	if n := countRows(t, e, "flash_sales", "stall_id = ?", stall["id"]); n != 0 {
		t.Fatalf("%d flash sales copied", n)
	}
	if got := readStock(t, e, w.lantern); got != lanternStock {
		t.Fatalf("old lantern stock %d, want %d", got, lanternStock)
	}
	// The copies are found by search in the new edition.
	res = e.do(req{Method: "GET", Path: "/api/v1/fairs/re-2027/products?q=兔子灯"})
	wantStatus(t, res, http.StatusOK)
	if got := listField(listItems(t, res), "id"); len(got) != 1 || got[0] != lantern["id"] {
		t.Fatalf("search in the new edition: %v", got)
	}
	// The copy is in the new edition's audit log.
	if n := countRows(t, e, "audit_entries", "fair_id = ? AND action = ? AND subject = ? AND actor_id = ?", nextID, "stall.reenrol", stall["id"], w.orgID); n != 1 {
		t.Fatalf("%d stall.reenrol audit entries, want 1", n)
	}
	// Re-enrolling again is a conflict: the merchant has a stall there.
	wantProblem(t, edApply(e, w.merchA.Token, "re-2027", map[string]any{"from_stall": w.stallA}), http.StatusConflict, "conflict")
}

func TestTotalsPreviousEdition(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "tot-2026")
	b1, b2 := w.shopper(t), w.shopper(t)
	w.buyPaid(t, b1.Token, w.lantern, 2)
	w.buyPaid(t, b2.Token, w.paperCut, 1)
	w.buyPaid(t, b2.Token, w.lantern, 1)

	res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	old := res.JSON(t)
	if _, ok := old["previous_edition"]; ok {
		t.Fatalf("a first edition has previous_edition: %v", old["previous_edition"])
	}
	edNext(t, e, w.org, w.slug, "tot-2027")
	m := e.register("tot-m@example.com", catalog.RoleMerchant)
	e.openStall(t, w.org, m.Token, "tot-2027", "新摊")

	res = e.do(req{Method: "GET", Path: "/api/v1/fairs/tot-2027/totals", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	got := res.JSON(t)
	prev, ok := got["previous_edition"].(map[string]any)
	if !ok {
		t.Fatalf("no previous_edition in %s", res.Body)
	}
	want := map[string]any{"slug": w.slug, "gmv": float64(3*lanternPrice + paperCutPrice), "paid_orders": 3.0, "participants": 2.0, "merchants": 2.0}
	for k, v := range want {
		if prev[k] != v {
			t.Errorf("previous_edition.%s = %v, want %v", k, prev[k], v)
		}
	}
	for _, k := range []string{"gmv", "paid_orders", "participants", "merchants"} {
		if prev[k] != old[k] {
			t.Errorf("previous_edition.%s = %v, the old fair's totals say %v", k, prev[k], old[k])
		}
	}
	if got["gmv"] != 0.0 || got["merchants"] != 1.0 {
		t.Errorf("the new edition's own figures: gmv %v, merchants %v", got["gmv"], got["merchants"])
	}
	// Another organizer sees neither.
	_, other := e.organizer(t, "tot-other@example.com")
	wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/tot-2027/totals", Token: other}))
}

// documentBody is a multipart upload of data as field, named filename.
func documentBody(field, filename string, data []byte) rawBody {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, _ := mw.CreateFormFile(field, filename)
	_, _ = part.Write(data)
	_ = mw.Close()
	return rawBody{ContentType: mw.FormDataContentType(), Data: buf.Bytes()}
}

// ownApplication is a fresh merchant's pending application to fair a: the
// merchant's token and the application's id.
func (aw *auditWorld) ownApplication() (string, string) {
	aw.t.Helper()
	m := aw.fresh(catalog.RoleMerchant)
	res := aw.e.do(req{Method: "POST", Path: "/api/v1/fairs/" + aw.a.slug + "/applications", Token: m.Token, Body: map[string]any{"stall_name": fmt.Sprintf("审计摊位 %d", aw.next())}})
	wantStatus(aw.t, res, http.StatusCreated)
	return m.Token, res.JSON(aw.t)["id"].(string)
}

// applicationDocument is ownApplication with one document attached; it
// returns the document's id too.
func (aw *auditWorld) applicationDocument() (string, string, string) {
	aw.t.Helper()
	tok, app := aw.ownApplication()
	res := aw.send(http.MethodPost, "/api/v1/applications/"+app+"/documents", tok, documentBody("document", "licence.png", auditPNG), nil)
	wantStatus(aw.t, res, http.StatusCreated)
	return tok, app, res.JSON(aw.t)["id"].(string)
}

func TestApplicationDocuments(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "docs")
	m := e.register("docs-m@example.com", catalog.RoleMerchant)
	res := edApply(e, m.Token, w.slug, map[string]any{"stall_name": "证照齐全"})
	wantStatus(t, res, http.StatusCreated)
	app := res.JSON(t)["id"].(string)
	upload := func(token, name string, data []byte) response {
		return e.send(newMultipartRequest(t, "/api/v1/applications/"+app+"/documents", token, "document", name, data))
	}
	pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

	res = upload(m.Token, "营业执照.png", auditPNG)
	wantStatus(t, res, http.StatusCreated)
	png := res.JSON(t)
	if png["content_type"] != "image/png" || png["name"] != "营业执照.png" || png["size"] != float64(len(auditPNG)) {
		t.Fatalf("uploaded %v", png)
	}
	res = upload(m.Token, `..\..\食品许可"证.pdf`, pdf)
	wantStatus(t, res, http.StatusCreated)
	doc := res.JSON(t)
	if doc["content_type"] != "application/pdf" || doc["name"] != "食品许可证.pdf" {
		t.Fatalf("uploaded %v", doc)
	}

	t.Run("types and sizes", func(t *testing.T) {
		for name, data := range map[string][]byte{
			"text":       []byte("hello, this is not a licence"),
			"html":       []byte("<html><script>alert(1)</script></html>"),
			"gif":        []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
			"fake png":   append([]byte("\x89PNG\r\n\x1a\n"), []byte("garbage")...),
			"too big":    append(append([]byte{}, pdf...), make([]byte, catalog.MaxDocumentBytes)...),
			"empty file": {},
		} {
			res := upload(m.Token, "x.pdf", data)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422\n%s", name, res.StatusCode, res.Body)
			}
		}
		if n := countRows(t, e, "application_documents", "application_id = ?", app); n != 2 {
			t.Fatalf("%d documents stored, want 2", n)
		}
	})

	t.Run("privacy", func(t *testing.T) {
		other := e.register("docs-other@example.com", catalog.RoleMerchant)
		_, otherOrg := e.organizer(t, "docs-other-org@example.com")
		list := "/api/v1/applications/" + app + "/documents"
		file := doc["url"].(string)
		for _, tok := range []string{m.Token, w.org} {
			res := e.do(req{Method: "GET", Path: list, Token: tok})
			wantStatus(t, res, http.StatusOK)
			if n := len(listItems(t, res)); n != 2 {
				t.Fatalf("%d documents listed, want 2", n)
			}
			res = e.do(req{Method: "GET", Path: file, Token: tok})
			wantStatus(t, res, http.StatusOK)
			if string(res.Body) != string(pdf) || res.Header.Get("Content-Type") != "application/pdf" ||
				res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "private, no-store" {
				t.Fatalf("download: %v %q", res.Header, res.Body)
			}
		}
		for _, tok := range []string{other.Token, otherOrg, w.merchA.Token} {
			wantProblem(t, e.do(req{Method: "GET", Path: list, Token: tok}), http.StatusNotFound, "not_found")
			wantProblem(t, e.do(req{Method: "GET", Path: file, Token: tok}), http.StatusNotFound, "not_found")
			wantProblem(t, upload(tok, "x.png", auditPNG), http.StatusNotFound, "not_found")
		}
		wantProblem(t, e.do(req{Method: "GET", Path: file}), http.StatusUnauthorized, "unauthenticated")
		// The organizer reads but does not add.
		wantProblem(t, upload(w.org, "x.png", auditPNG), http.StatusForbidden, "forbidden")
		// A document of another application is not found under this one.
		res := edApply(e, other.Token, w.slug, map[string]any{"stall_name": "别家"})
		wantStatus(t, res, http.StatusCreated)
		otherApp := res.JSON(t)["id"].(string)
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/applications/" + otherApp + "/documents/" + doc["id"].(string), Token: other.Token}), http.StatusNotFound, "not_found")
		// Nothing is stored where the public media are served.
		err := filepath.WalkDir(e.srv.Catalog.MediaDir(), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("a file under the public media: %s", path)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(e.cfg.DataDir, "documents", app)); err != nil {
			t.Fatalf("documents folder: %v", err)
		}
	})

	t.Run("rejected", func(t *testing.T) {
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app + "/reject", Token: w.org, Body: map[string]any{"reason": "执照过期"}}), http.StatusOK)
		wantProblem(t, upload(m.Token, "x.png", auditPNG), http.StatusConflict, "conflict")
		// Its documents stay readable to the organizer.
		wantStatus(t, e.do(req{Method: "GET", Path: doc["url"].(string), Token: w.org}), http.StatusOK)
	})
}
