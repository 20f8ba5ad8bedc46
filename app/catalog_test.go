package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
)

// The catalog's part of the HTTP contract (API.md, "Fairs, stalls, catalog"),
// driven through the API only. The shared helpers are in kit_test.go.

// catPNG encodes a w×h PNG; noisy pixels do not compress, so a noisy image's
// file is about 4·w·h bytes.
func catPNG(t testing.TB, w, h int, noisy bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA{R: uint8(x * 16), G: uint8(y * 16), B: 0x80, A: 0xff}
			if noisy {
				v := r.Uint32()
				c = color.NRGBA{R: uint8(v), G: uint8(v >> 8), B: uint8(v >> 16), A: uint8(v >> 24)}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// catUploadRequest builds a POST of data as the multipart form field "image"
// named filename.
func catUploadRequest(t testing.TB, token, productID, filename string, data []byte) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="image"; filename=%q`, filename))
	h.Set("Content-Type", "image/png")
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	hr := httptest.NewRequest("POST", "/api/v1/products/"+productID+"/images", &buf)
	hr.Header.Set("Content-Type", w.FormDataContentType())
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	return hr
}

// catUpload uploads data as a product image (the req helper sends JSON only).
func (e *testEnv) catUpload(t testing.TB, token, productID, filename string, data []byte) response {
	t.Helper()
	return e.send(catUploadRequest(t, token, productID, filename, data))
}

// catMediaFiles counts the files stored under the media directory.
func catMediaFiles(t testing.TB, e *testEnv) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(e.srv.Catalog.MediaDir(), func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCatalogFairs(t *testing.T) {
	// setup is a fresh server with two organizers, a shopper and a merchant.
	setup := func(t *testing.T) (e *testEnv, org, otherOrg string, shopper, merchant registered, now time.Time) {
		t.Helper()
		e = newTestEnv(t)
		_, org = e.organizer(t, "organizer@example.com")
		_, otherOrg = e.organizer(t, "other.organizer@example.com")
		shopper = e.register("shopper@example.com", catalog.RoleShopper)
		merchant = e.register("merchant@example.com", catalog.RoleMerchant)
		return e, org, otherOrg, shopper, merchant, e.clock.Now()
	}
	// dated are fairs whose status follows from their dates or draft flag.
	dated := []struct {
		slug         string
		starts, ends time.Duration
		published    *bool
		status       string
	}{
		{"upcoming-fair", 24 * time.Hour, 48 * time.Hour, nil, "upcoming"},
		{"closed-fair", -48 * time.Hour, -24 * time.Hour, nil, "closed"},
		{"draft-fair", -time.Hour, 24 * time.Hour, new(bool), "draft"},
	}
	// createDated creates the dated fairs and returns their statuses by slug.
	createDated := func(t *testing.T, e *testEnv, org string, now time.Time) map[string]any {
		t.Helper()
		status := map[string]any{}
		for _, tc := range dated {
			body := e.fairBody(tc.slug, "temple_fair")
			body["starts_at"], body["ends_at"] = fairTime(now.Add(tc.starts)), fairTime(now.Add(tc.ends))
			if tc.published != nil {
				body["published"] = *tc.published
			}
			status[tc.slug] = e.createFair(t, org, body)["status"]
		}
		return status
	}
	// seeded is setup with the open taizhou-2026 and the dated fairs.
	seeded := func(t *testing.T) (e *testEnv, org, otherOrg string, shopper, merchant registered, now time.Time) {
		t.Helper()
		e, org, otherOrg, shopper, merchant, now = setup(t)
		e.createFair(t, org, e.fairBody("taizhou-2026", "temple_fair"))
		createDated(t, e, org, now)
		return e, org, otherOrg, shopper, merchant, now
	}

	t.Run("Created", func(t *testing.T) {
		e, org, _, _, _, now := setup(t)
		body := e.fairBody("taizhou-2026", "temple_fair")
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: org, Body: body})
		wantStatus(t, res, http.StatusCreated)
		f := res.JSON(t)
		for _, k := range []string{"id", "slug", "name", "kind", "starts_at", "ends_at", "status"} {
			if v, ok := f[k].(string); !ok || v == "" {
				t.Errorf("fair lacks %s: %s", k, res.Body)
			}
		}
		if f["slug"] != "taizhou-2026" || f["name"] != body["name"] || f["kind"] != "temple_fair" {
			t.Errorf("fair %s, want the fields sent", res.Body)
		}
		if f["status"] != "open" {
			t.Errorf("status %v, want open (started an hour ago)", f["status"])
		}
		wantTime(t, f, "starts_at", now.Add(-time.Hour))
		wantTime(t, f, "ends_at", now.Add(30*24*time.Hour))

		// Read back, anonymously.
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026"})
		wantStatus(t, res, http.StatusOK)
		g := res.JSON(t)
		if g["id"] != f["id"] || g["status"] != "open" || g["kind"] != "temple_fair" {
			t.Errorf("GET fair %s, want what was created", res.Body)
		}
		wantTime(t, g, "starts_at", now.Add(-time.Hour))
		wantTime(t, g, "ends_at", now.Add(30*24*time.Hour))
	})

	t.Run("StatusDerivedFromTimes", func(t *testing.T) {
		e, org, _, _, _, now := setup(t)
		status := createDated(t, e, org, now)
		for _, tc := range dated {
			if status[tc.slug] != tc.status {
				t.Errorf("%s: status %v, want %s", tc.slug, status[tc.slug], tc.status)
			}
		}
	})

	t.Run("OnlyOrganizers", func(t *testing.T) {
		e, _, _, shopper, merchant, _ := setup(t)
		before := countRows(t, e, "fairs", "1 = 1")
		for _, who := range []struct{ name, token string }{{"shopper", shopper.Token}, {"merchant", merchant.Token}} {
			body := e.fairBody("by-"+who.name, "temple_fair")
			res := e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: who.token, Body: body})
			wantProblem(t, res, http.StatusForbidden, "forbidden")
		}
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs", Body: e.fairBody("by-nobody", "temple_fair")})
		wantProblem(t, res, http.StatusUnauthorized, "unauthenticated")
		if got := countRows(t, e, "fairs", "1 = 1"); got != before {
			t.Errorf("fairs %d, want %d", got, before)
		}
	})

	t.Run("DuplicateSlug", func(t *testing.T) {
		e, _, otherOrg, _, _, _ := seeded(t)
		before := countRows(t, e, "fairs", "1 = 1")
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: otherOrg, Body: e.fairBody("taizhou-2026", "temple_fair")})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if got := countRows(t, e, "fairs", "1 = 1"); got != before {
			t.Errorf("fairs %d, want %d", got, before)
		}
	})

	invalid := []struct {
		name   string
		mutate func(b map[string]any, now time.Time)
		field  string
	}{
		{"BadSlug", func(b map[string]any, _ time.Time) { b["slug"] = "Taizhou Fair!" }, "slug"},
		{"ShortSlug", func(b map[string]any, _ time.Time) { b["slug"] = "a" }, "slug"},
		{"UnknownKind", func(b map[string]any, _ time.Time) { b["kind"] = "fun_fair" }, "kind"},
		{"EndBeforeStart", func(b map[string]any, now time.Time) {
			b["starts_at"], b["ends_at"] = fairTime(now.Add(48*time.Hour)), fairTime(now.Add(24*time.Hour))
		}, "ends_at"},
		{"CommissionTooHigh", func(b map[string]any, _ time.Time) { b["commission_bps"] = 10001 }, "commission_bps"},
		{"CommissionNegative", func(b map[string]any, _ time.Time) { b["commission_bps"] = -1 }, "commission_bps"},
		{"MissingName", func(b map[string]any, _ time.Time) { delete(b, "name") }, "name"},
		{"BlankName", func(b map[string]any, _ time.Time) { b["name"] = "   " }, "name"},
	}
	for _, tc := range invalid {
		t.Run("Invalid"+tc.name, func(t *testing.T) {
			e, org, _, _, _, now := setup(t)
			fairs, cats := countRows(t, e, "fairs", "1 = 1"), countRows(t, e, "categories", "1 = 1")
			body := e.fairBody("invalid-"+strings.ToLower(tc.name), "temple_fair")
			tc.mutate(body, now)
			res := e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: org, Body: body})
			wantField(t, res, tc.field)
			if got := countRows(t, e, "fairs", "1 = 1"); got != fairs {
				t.Errorf("fairs %d, want %d: a rejected fair was stored", got, fairs)
			}
			if got := countRows(t, e, "categories", "1 = 1"); got != cats {
				t.Errorf("categories %d, want %d", got, cats)
			}
		})
	}

	t.Run("ListHidesDrafts", func(t *testing.T) {
		e, org, otherOrg, shopper, _, _ := seeded(t)
		list := func(token string) []string {
			res := e.do(req{Method: "GET", Path: "/api/v1/fairs?limit=100", Token: token})
			wantStatus(t, res, http.StatusOK)
			if nc, ok := res.JSON(t)["next_cursor"]; !ok || nc != nil {
				t.Errorf("next_cursor %v, want null", nc)
			}
			return listField(listItems(t, res), "slug")
		}
		for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"shopper", shopper.Token}, {"other organizer", otherOrg}} {
			slugs := list(who.token)
			for _, s := range []string{"taizhou-2026", "upcoming-fair", "closed-fair"} {
				if !slices.Contains(slugs, s) {
					t.Errorf("%s: %s not listed in %v", who.name, s, slugs)
				}
			}
			if slices.Contains(slugs, "draft-fair") {
				t.Errorf("%s sees the draft in %v", who.name, slugs)
			}
		}
		if slugs := list(org); !slices.Contains(slugs, "draft-fair") {
			t.Errorf("its organizer does not see the draft: %v", slugs)
		}
	})

	t.Run("ListPages", func(t *testing.T) {
		e, org, _, _, _, _ := seeded(t)
		seen := map[string]int{}
		path := "/api/v1/fairs?limit=2"
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			res := e.do(req{Method: "GET", Path: path})
			wantStatus(t, res, http.StatusOK)
			items := listItems(t, res)
			if len(items) > 2 {
				t.Fatalf("page of %d items, limit 2", len(items))
			}
			for _, s := range listField(items, "slug") {
				seen[s]++
			}
			next := res.JSON(t)["next_cursor"]
			if next == nil {
				break
			}
			path = "/api/v1/fairs?limit=2&cursor=" + url.QueryEscape(next.(string))
		}
		if len(seen) != 3 {
			t.Errorf("pages listed %v, want the 3 published fairs", seen)
		}
		for s, n := range seen {
			if n != 1 {
				t.Errorf("%s listed %d times", s, n)
			}
		}

		// Its organizer walks the published fairs and the draft.
		seen = map[string]int{}
		path = "/api/v1/fairs?limit=2"
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			res := e.do(req{Method: "GET", Path: path, Token: org})
			wantStatus(t, res, http.StatusOK)
			for _, s := range listField(listItems(t, res), "slug") {
				seen[s]++
			}
			next := res.JSON(t)["next_cursor"]
			if next == nil {
				break
			}
			path = "/api/v1/fairs?limit=2&cursor=" + url.QueryEscape(next.(string))
		}
		if len(seen) != 4 || seen["draft-fair"] != 1 {
			t.Errorf("organizer's pages listed %v, want 3 published fairs and the draft", seen)
		}
		for s, n := range seen {
			if n != 1 {
				t.Errorf("%s listed %d times to its organizer", s, n)
			}
		}
	})

	t.Run("DraftNotFoundForOthers", func(t *testing.T) {
		e, org, otherOrg, shopper, merchant, _ := seeded(t)
		for _, token := range []string{"", shopper.Token, merchant.Token, otherOrg} {
			res := e.do(req{Method: "GET", Path: "/api/v1/fairs/draft-fair", Token: token})
			wantProblem(t, res, http.StatusNotFound, "not_found")
		}
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/draft-fair", Token: org})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["status"]; got != "draft" {
			t.Errorf("status %v, want draft", got)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/no-such-fair"}), http.StatusNotFound, "not_found")
	})

	t.Run("PatchByOrganizer", func(t *testing.T) {
		e, org, _, _, _, _ := seeded(t)
		res := e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: org, Body: map[string]any{
			"name": "泰州网络庙会·春节", "commission_bps": 300,
		}})
		wantStatus(t, res, http.StatusOK)
		f := res.JSON(t)
		if f["name"] != "泰州网络庙会·春节" || f["commission_bps"] != float64(300) || f["kind"] != "temple_fair" {
			t.Errorf("patched fair %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026"})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["name"]; got != "泰州网络庙会·春节" {
			t.Errorf("name %v after PATCH", got)
		}

		// Publishing the draft makes it public and open.
		res = e.do(req{Method: "PATCH", Path: "/api/v1/fairs/draft-fair", Token: org, Body: map[string]any{"published": true}})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["status"]; got != "open" {
			t.Errorf("published draft status %v, want open", got)
		}
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/draft-fair"}), http.StatusOK)

		res = e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: org, Body: map[string]any{"commission_bps": 20000}})
		wantField(t, res, "commission_bps")
	})

	t.Run("PatchByAnotherOrganizer", func(t *testing.T) {
		e, org, otherOrg, shopper, merchant, _ := seeded(t)
		wantStatus(t, e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: org, Body: map[string]any{
			"name": "泰州网络庙会·春节", "commission_bps": 300,
		}}), http.StatusOK)
		for _, token := range []string{otherOrg, merchant.Token, shopper.Token} {
			res := e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: token, Body: map[string]any{"name": "被篡改", "commission_bps": 9999}})
			wantProblem(t, res, http.StatusForbidden, "forbidden")
		}
		res := e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Body: map[string]any{"name": "被篡改"}})
		wantProblem(t, res, http.StatusUnauthorized, "unauthenticated")
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026"})
		wantStatus(t, res, http.StatusOK)
		if f := res.JSON(t); f["name"] != "泰州网络庙会·春节" || f["commission_bps"] != float64(300) {
			t.Errorf("fair changed by another organizer: %s", res.Body)
		}
	})

	t.Run("PatchSlugTaken", func(t *testing.T) {
		e, org, _, _, _, _ := seeded(t)
		res := e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: org, Body: map[string]any{"slug": "upcoming-fair"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		wantField(t, e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: org, Body: map[string]any{"slug": "Not A Slug"}}), "slug")
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026"}), http.StatusOK)
	})

	t.Run("KindFixedOnceStallsOpen", func(t *testing.T) {
		e, org, _, _, merchant, _ := seeded(t)
		e.openStall(t, org, merchant.Token, "taizhou-2026", "老街臭干坊")
		res := e.do(req{Method: "PATCH", Path: "/api/v1/fairs/taizhou-2026", Token: org, Body: map[string]any{"kind": "property_season"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026/categories"})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "slug"); len(got) == 0 || got[0] != "food" {
			t.Errorf("categories %v after a refused kind change", got)
		}
	})

	t.Run("Categories", func(t *testing.T) {
		e, org, _, _, _, _ := seeded(t)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026/categories"})
		wantStatus(t, res, http.StatusOK)
		slugs := listField(listItems(t, res), "slug")
		if strings.Join(slugs, ",") != "food,crafts,clothing,home,produce,culture" {
			t.Errorf("temple fair categories %v", slugs)
		}
		e.createFair(t, org, e.fairBody("homes-2026", "property_season"))
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/homes-2026/categories"})
		wantStatus(t, res, http.StatusOK)
		slugs = listField(listItems(t, res), "slug")
		if strings.Join(slugs, ",") != "residential,commercial,villa,apartment" {
			t.Errorf("property season categories %v", slugs)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/no-such-fair/categories"}), http.StatusNotFound, "not_found")
	})

	t.Run("StatusFollowsTheClock", func(t *testing.T) {
		e, _, _, _, _, _ := seeded(t)
		e.clock.Advance(31 * 24 * time.Hour)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-2026"})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["status"]; got != "closed" {
			t.Errorf("status %v a month later, want closed", got)
		}
		late := e.register("late.merchant@example.com", catalog.RoleMerchant)
		res = e.do(req{Method: "POST", Path: "/api/v1/fairs/taizhou-2026/applications", Token: late.Token, Body: map[string]any{"stall_name": "迟到的摊"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
	})
}

func TestCatalogEnrolment(t *testing.T) {
	// enrolment is a fresh server with enrol-fair and draft-fair of one
	// organizer, other-fair of another, three merchants and a shopper.
	type enrolment struct {
		e                *testEnv
		org, otherOrg    string
		m1, m2, m3       registered
		shopper          registered
		app1, app2, app3 string // the merchants' applications, once applied
	}
	setup := func(t *testing.T) *enrolment {
		t.Helper()
		e := newTestEnv(t)
		w := &enrolment{e: e}
		_, w.org = e.organizer(t, "organizer@example.com")
		_, w.otherOrg = e.organizer(t, "other.organizer@example.com")
		e.createFair(t, w.org, e.fairBody("enrol-fair", "temple_fair"))
		e.createFair(t, w.otherOrg, e.fairBody("other-fair", "temple_fair"))
		draft := e.fairBody("draft-fair", "temple_fair")
		draft["published"] = false
		e.createFair(t, w.org, draft)
		w.m1 = e.register("m1@example.com", catalog.RoleMerchant)
		w.m2 = e.register("m2@example.com", catalog.RoleMerchant)
		w.m3 = e.register("m3@example.com", catalog.RoleMerchant)
		w.shopper = e.register("shopper@example.com", catalog.RoleShopper)
		return w
	}
	apply := func(e *testEnv, token, name string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/fairs/enrol-fair/applications", Token: token, Body: map[string]any{"stall_name": name, "description": "百年老店"}})
	}
	// applied is setup with the three merchants' applications pending.
	applied := func(t *testing.T) *enrolment {
		t.Helper()
		w := setup(t)
		for _, a := range []struct {
			id    *string
			token string
			name  string
		}{{&w.app1, w.m1.Token, "老街臭干坊"}, {&w.app2, w.m2.Token, "黄桥烧饼铺"}, {&w.app3, w.m3.Token, "靖江汤包馆"}} {
			res := apply(w.e, a.token, a.name)
			wantStatus(t, res, http.StatusCreated)
			*a.id = res.JSON(t)["id"].(string)
		}
		return w
	}
	appStatus := func(t *testing.T, e *testEnv, id string) (status, reason string) {
		t.Helper()
		var a catalog.Application
		if err := e.srv.DB.NewSelect().Model(&a).Where("id = ?", id).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a.Status, a.Reason
	}

	t.Run("Apply", func(t *testing.T) {
		w := setup(t)
		e, m1, m2, m3 := w.e, w.m1, w.m2, w.m3
		res := apply(e, m1.Token, "老街臭干坊")
		wantStatus(t, res, http.StatusCreated)
		a := res.JSON(t)
		if id, _ := a["id"].(string); id == "" || a["status"] != "pending" {
			t.Fatalf("application %s, want {id, status: pending}", res.Body)
		}
		res = apply(e, m2.Token, "黄桥烧饼铺")
		wantStatus(t, res, http.StatusCreated)
		_ = res.JSON(t)["id"].(string)
		res = apply(e, m3.Token, "靖江汤包馆")
		wantStatus(t, res, http.StatusCreated)
		_ = res.JSON(t)["id"].(string)
	})

	t.Run("ApplyRefused", func(t *testing.T) {
		w := applied(t)
		e, org, m1, shopper := w.e, w.org, w.m1, w.shopper
		before := countRows(t, e, "applications", "1 = 1")
		wantProblem(t, apply(e, shopper.Token, "顾客的摊位"), http.StatusForbidden, "forbidden")
		wantProblem(t, apply(e, org, "主办方的摊位"), http.StatusForbidden, "forbidden")
		wantProblem(t, apply(e, "", "匿名摊位"), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, apply(e, m1.Token, "再来一次"), http.StatusConflict, "conflict")
		wantField(t, apply(e, e.register("m4@example.com", catalog.RoleMerchant).Token, "  "), "stall_name")
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs/no-such-fair/applications", Token: m1.Token, Body: map[string]any{"stall_name": "无处"}})
		wantProblem(t, res, http.StatusNotFound, "not_found")
		res = e.do(req{Method: "POST", Path: "/api/v1/fairs/draft-fair/applications", Token: m1.Token, Body: map[string]any{"stall_name": "草稿里的摊"}})
		wantProblem(t, res, http.StatusNotFound, "not_found")
		if got := countRows(t, e, "applications", "1 = 1"); got != before {
			t.Errorf("applications %d, want %d", got, before)
		}
	})

	t.Run("List", func(t *testing.T) {
		w := applied(t)
		e, org := w.e, w.org
		app1, app2, app3 := w.app1, w.app2, w.app3
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications", Token: org})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		if got := listField(items, "id"); strings.Join(got, ",") != strings.Join([]string{app1, app2, app3}, ",") {
			t.Errorf("applications %v, want %v", got, []string{app1, app2, app3})
		}
		if items[0]["stall_name"] != "老街臭干坊" || items[0]["status"] != "pending" {
			t.Errorf("application %v", items[0])
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications?status=pending", Token: org})
		wantStatus(t, res, http.StatusOK)
		if n := len(listItems(t, res)); n != 3 {
			t.Errorf("%d pending applications, want 3", n)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications?limit=2", Token: org})
		wantStatus(t, res, http.StatusOK)
		if n, next := len(listItems(t, res)), res.JSON(t)["next_cursor"]; n != 2 || next == nil {
			t.Errorf("first page of 2: %d items, next_cursor %v", n, next)
		}
	})

	t.Run("ListByOthers", func(t *testing.T) {
		w := setup(t)
		e, otherOrg, m1, shopper := w.e, w.otherOrg, w.m1, w.shopper
		for _, token := range []string{otherOrg, m1.Token, shopper.Token} {
			wantDenied(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications", Token: token}))
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications"}), http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("ApproveByOthers", func(t *testing.T) {
		w := applied(t)
		e, org, otherOrg, m1, shopper := w.e, w.org, w.otherOrg, w.m1, w.shopper
		app1 := w.app1
		stalls := countRows(t, e, "stalls", "1 = 1")
		for _, token := range []string{otherOrg, m1.Token, shopper.Token} {
			wantDenied(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/approve", Token: token}))
			wantDenied(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/reject", Token: token, Body: map[string]any{"reason": "不要"}}))
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/approve"}), http.StatusUnauthorized, "unauthenticated")
		if s, _ := appStatus(t, e, app1); s != "pending" {
			t.Errorf("application %s, want still pending", s)
		}
		if got := countRows(t, e, "stalls", "1 = 1"); got != stalls {
			t.Errorf("stalls %d, want %d", got, stalls)
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/applications/nope/approve", Token: org}), http.StatusNotFound, "not_found")
	})

	t.Run("Approve", func(t *testing.T) {
		w := applied(t)
		e, org, m1 := w.e, w.org, w.m1
		app1 := w.app1
		res := e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/approve", Token: org})
		wantStatus(t, res, http.StatusOK)
		m := res.JSON(t)
		a, _ := m["application"].(map[string]any)
		st, _ := m["stall"].(map[string]any)
		if a == nil || st == nil {
			t.Fatalf("approval %s, want {application, stall}", res.Body)
		}
		if a["id"] != app1 || a["status"] != "approved" {
			t.Errorf("application %v", a)
		}
		if st["status"] != "active" || st["merchant_id"] != m1.ID || st["name"] != "老街臭干坊" || st["booth"] == "" || st["booth"] == nil {
			t.Errorf("stall %v, want active, m1's, with a booth", st)
		}
		if id, _ := st["id"].(string); id == "" {
			t.Errorf("stall without id: %v", st)
		}
		if s, _ := appStatus(t, e, app1); s != "approved" {
			t.Errorf("stored status %s", s)
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/approve", Token: org}), http.StatusConflict, "conflict")
		res = e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/reject", Token: org, Body: map[string]any{"reason": "改主意了"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if n := countRows(t, e, "stalls", "1 = 1"); n != 1 {
			t.Errorf("stalls %d, want 1", n)
		}
	})

	t.Run("RejectNeedsReason", func(t *testing.T) {
		w := applied(t)
		e, org := w.e, w.org
		app2 := w.app2
		for _, body := range []any{map[string]any{"reason": ""}, map[string]any{"reason": "   "}, map[string]any{}} {
			res := e.do(req{Method: "POST", Path: "/api/v1/applications/" + app2 + "/reject", Token: org, Body: body})
			wantField(t, res, "reason")
		}
		if s, _ := appStatus(t, e, app2); s != "pending" {
			t.Errorf("application %s, want pending", s)
		}
	})

	t.Run("Reject", func(t *testing.T) {
		w := applied(t)
		e, org, m2 := w.e, w.org, w.m2
		app2 := w.app2
		res := e.do(req{Method: "POST", Path: "/api/v1/applications/" + app2 + "/reject", Token: org, Body: map[string]any{"reason": "摊位已满"}})
		wantStatus(t, res, http.StatusOK)
		a := res.JSON(t)
		if a["status"] != "rejected" || a["reason"] != "摊位已满" {
			t.Errorf("rejected application %s", res.Body)
		}
		if s, r := appStatus(t, e, app2); s != "rejected" || r != "摊位已满" {
			t.Errorf("stored %s %q", s, r)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications?status=rejected", Token: org})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		if len(items) != 1 || items[0]["id"] != app2 || items[0]["reason"] != "摊位已满" {
			t.Errorf("rejected list %s", res.Body)
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app2 + "/approve", Token: org}), http.StatusConflict, "conflict")
		// The merchant sees why.
		res = e.do(req{Method: "GET", Path: "/api/v1/me/applications", Token: m2.Token})
		wantStatus(t, res, http.StatusOK)
		if items := listItems(t, res); len(items) != 1 || items[0]["reason"] != "摊位已满" {
			t.Errorf("merchant's applications %s", res.Body)
		}
	})

	t.Run("PendingFilterAndBooths", func(t *testing.T) {
		w := applied(t)
		e, org := w.e, w.org
		app1, app2, app3 := w.app1, w.app2, w.app3
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app1 + "/approve", Token: org}), http.StatusOK)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + app2 + "/reject", Token: org, Body: map[string]any{"reason": "摊位已满"}}), http.StatusOK)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/applications?status=pending", Token: org})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "id"); len(got) != 1 || got[0] != app3 {
			t.Errorf("pending %v, want [%s]", got, app3)
		}
		res = e.do(req{Method: "POST", Path: "/api/v1/applications/" + app3 + "/approve", Token: org})
		wantStatus(t, res, http.StatusOK)
		st3 := res.JSON(t)["stall"].(map[string]any)
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/enrol-fair/stalls"})
		wantStatus(t, res, http.StatusOK)
		booths := map[string]bool{}
		for _, st := range listItems(t, res) {
			if booths[fmt.Sprint(st["booth"])] {
				t.Errorf("booth %v given twice", st["booth"])
			}
			booths[fmt.Sprint(st["booth"])] = true
		}
		if len(booths) != 2 || !booths[fmt.Sprint(st3["booth"])] {
			t.Errorf("booths %v", booths)
		}
	})
}

func TestCatalogStalls(t *testing.T) {
	// stalls is a fresh server with a fair of two active stalls, one product.
	type stalls struct {
		e                        *testEnv
		org, otherOrg            string
		m1, m2, shopper          registered
		s1ID, s2ID, p1ID, fairID string
	}
	setup := func(t *testing.T) *stalls {
		t.Helper()
		e := newTestEnv(t)
		w := &stalls{e: e}
		_, w.org = e.organizer(t, "organizer@example.com")
		_, w.otherOrg = e.organizer(t, "other.organizer@example.com")
		e.createFair(t, w.org, e.fairBody("stall-fair", "temple_fair"))
		w.m1 = e.register("m1@example.com", catalog.RoleMerchant)
		w.m2 = e.register("m2@example.com", catalog.RoleMerchant)
		w.shopper = e.register("shopper@example.com", catalog.RoleShopper)
		s1 := e.openStall(t, w.org, w.m1.Token, "stall-fair", "老街臭干坊")
		s2 := e.openStall(t, w.org, w.m2.Token, "stall-fair", "黄桥烧饼铺")
		w.s1ID, w.s2ID = s1["id"].(string), s2["id"].(string)
		w.p1ID = e.createProduct(t, w.m1.Token, w.s1ID, goods("泰州臭干", 1500, 20))["id"].(string)
		w.fairID = s1["fair_id"].(string)
		return w
	}
	listed := func(t *testing.T, e *testEnv, token string) []string {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/stall-fair/stalls", Token: token})
		wantStatus(t, res, http.StatusOK)
		return listField(listItems(t, res), "id")
	}
	searched := func(t *testing.T, e *testEnv, token string) []string {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/stall-fair/products?q=" + url.QueryEscape("臭干"), Token: token})
		wantStatus(t, res, http.StatusOK)
		return listField(listItems(t, res), "id")
	}

	t.Run("PublicList", func(t *testing.T) {
		w := setup(t)
		e := w.e
		s1ID, s2ID, fairID := w.s1ID, w.s2ID, w.fairID
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/stall-fair/stalls"})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		if len(items) != 2 {
			t.Fatalf("stalls %s, want 2", res.Body)
		}
		for _, st := range items {
			for _, k := range []string{"id", "fair_id", "name", "merchant_id", "status"} {
				if v, _ := st[k].(string); v == "" {
					t.Errorf("stall lacks %s: %v", k, st)
				}
			}
			if st["fair_id"] != fairID || st["status"] != "active" {
				t.Errorf("stall %v", st)
			}
		}
		if got := listField(items, "id"); !slices.Contains(got, s1ID) || !slices.Contains(got, s2ID) {
			t.Errorf("stalls %v", got)
		}
	})

	t.Run("Get", func(t *testing.T) {
		w := setup(t)
		e, m1 := w.e, w.m1
		s1ID, fairID := w.s1ID, w.fairID
		res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID})
		wantStatus(t, res, http.StatusOK)
		st := res.JSON(t)
		if st["id"] != s1ID || st["fair_id"] != fairID || st["name"] != "老街臭干坊" || st["merchant_id"] != m1.ID || st["status"] != "active" {
			t.Errorf("stall %s", res.Body)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/no-such-stall"}), http.StatusNotFound, "not_found")
	})

	t.Run("PatchByMerchant", func(t *testing.T) {
		w := setup(t)
		e, m1 := w.e, w.m1
		s1ID := w.s1ID
		res := e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + s1ID, Token: m1.Token, Body: map[string]any{"name": "老街臭干坊·总店", "description": "三代传承"}})
		wantStatus(t, res, http.StatusOK)
		if st := res.JSON(t); st["name"] != "老街臭干坊·总店" || st["description"] != "三代传承" {
			t.Errorf("patched stall %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID})
		if st := res.JSON(t); st["name"] != "老街臭干坊·总店" || st["description"] != "三代传承" {
			t.Errorf("stall after PATCH %s", res.Body)
		}
		wantField(t, e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + s1ID, Token: m1.Token, Body: map[string]any{"name": " "}}), "name")
	})

	t.Run("PatchByOthers", func(t *testing.T) {
		w := setup(t)
		e, org, m1, m2, shopper := w.e, w.org, w.m1, w.m2, w.shopper
		s1ID := w.s1ID
		wantStatus(t, e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + s1ID, Token: m1.Token, Body: map[string]any{"name": "老街臭干坊·总店"}}), http.StatusOK)
		for _, token := range []string{m2.Token, shopper.Token, org} {
			res := e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + s1ID, Token: token, Body: map[string]any{"name": "被抢的摊位"}})
			wantProblem(t, res, http.StatusForbidden, "forbidden")
		}
		wantProblem(t, e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + s1ID, Body: map[string]any{"name": "被抢的摊位"}}), http.StatusUnauthorized, "unauthenticated")
		res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID})
		if st := res.JSON(t); st["name"] != "老街臭干坊·总店" {
			t.Errorf("stall changed by others: %s", res.Body)
		}
	})

	t.Run("SuspendRefused", func(t *testing.T) {
		w := setup(t)
		e, otherOrg, m1, m2, shopper := w.e, w.otherOrg, w.m1, w.m2, w.shopper
		s1ID := w.s1ID
		for _, token := range []string{m1.Token, m2.Token, shopper.Token, otherOrg} {
			wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: token}), http.StatusForbidden, "forbidden")
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/suspend", Body: map[string]any{"reason": "违规经营"}}), http.StatusUnauthorized, "unauthenticated")
		res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["status"]; got != "active" {
			t.Errorf("status %v, want active", got)
		}
	})

	t.Run("Suspend", func(t *testing.T) {
		w := setup(t)
		e, org, m1, m2, shopper := w.e, w.org, w.m1, w.m2, w.shopper
		s1ID, s2ID, p1ID := w.s1ID, w.s2ID, w.p1ID
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: org})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["status"]; got != "suspended" {
			t.Errorf("status %v, want suspended", got)
		}
		for _, token := range []string{"", shopper.Token, m2.Token} {
			if got := listed(t, e, token); slices.Contains(got, s1ID) || !slices.Contains(got, s2ID) {
				t.Errorf("public stalls %v, want only %s", got, s2ID)
			}
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID, Token: token}), http.StatusNotFound, "not_found")
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/products/" + p1ID, Token: token}), http.StatusNotFound, "not_found")
			if got := searched(t, e, token); len(got) != 0 {
				t.Errorf("search finds %v in a suspended stall", got)
			}
		}
		// Its merchant and the organizer still see it.
		for _, token := range []string{m1.Token, org} {
			res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID, Token: token})
			wantStatus(t, res, http.StatusOK)
			if got := res.JSON(t)["status"]; got != "suspended" {
				t.Errorf("status %v", got)
			}
			res = e.do(req{Method: "GET", Path: "/api/v1/products/" + p1ID, Token: token})
			wantStatus(t, res, http.StatusOK)
		}
		if got := listed(t, e, org); !slices.Contains(got, s1ID) {
			t.Errorf("organizer's list %v lacks the suspended stall", got)
		}
	})

	t.Run("Reinstate", func(t *testing.T) {
		w := setup(t)
		e, org, m1, shopper := w.e, w.org, w.m1, w.shopper
		s1ID, p1ID := w.s1ID, w.p1ID
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: org}), http.StatusOK)
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/reinstate", Token: m1.Token}), http.StatusForbidden, "forbidden")
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/reinstate", Token: org})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["status"]; got != "active" {
			t.Errorf("status %v, want active", got)
		}
		if got := listed(t, e, ""); !slices.Contains(got, s1ID) {
			t.Errorf("public stalls %v lack the reinstated one", got)
		}
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + s1ID}), http.StatusOK)
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/products/" + p1ID, Token: shopper.Token}), http.StatusOK)
		if got := searched(t, e, ""); len(got) != 1 || got[0] != p1ID {
			t.Errorf("search %v, want [%s]", got, p1ID)
		}
	})
}

func TestCatalogProducts(t *testing.T) {
	// products is a fresh server with a fair of two stalls.
	type products struct {
		e               *testEnv
		org             string
		m1, m2, shopper registered
		s1ID            string
		pID             string // created: 泰州臭干, ¥15.00, 20 in stock, on s1
	}
	setup := func(t *testing.T) *products {
		t.Helper()
		e := newTestEnv(t)
		w := &products{e: e}
		_, w.org = e.organizer(t, "organizer@example.com")
		e.createFair(t, w.org, e.fairBody("product-fair", "temple_fair"))
		w.m1 = e.register("m1@example.com", catalog.RoleMerchant)
		w.m2 = e.register("m2@example.com", catalog.RoleMerchant)
		w.shopper = e.register("shopper@example.com", catalog.RoleShopper)
		w.s1ID = e.openStall(t, w.org, w.m1.Token, "product-fair", "老街臭干坊")["id"].(string)
		e.openStall(t, w.org, w.m2.Token, "product-fair", "黄桥烧饼铺")
		return w
	}
	// created is setup with the product Create makes.
	created := func(t *testing.T) *products {
		t.Helper()
		w := setup(t)
		body := goods("泰州臭干", 1500, 20)
		body["description"] = "老卤浸泡，外脆里嫩"
		body["category"] = "food"
		w.pID = w.e.createProduct(t, w.m1.Token, w.s1ID, body)["id"].(string)
		return w
	}
	// patched is created with the price and stock Patch sets.
	patched := func(t *testing.T) *products {
		t.Helper()
		w := created(t)
		wantStatus(t, w.e.do(req{Method: "PATCH", Path: "/api/v1/products/" + w.pID, Token: w.m1.Token, Body: map[string]any{"price": 1800, "stock": 5}}), http.StatusOK)
		return w
	}
	getProduct := func(t *testing.T, e *testEnv, pID, token string) map[string]any {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/products/" + pID, Token: token})
		wantStatus(t, res, http.StatusOK)
		return res.JSON(t)
	}

	t.Run("Create", func(t *testing.T) {
		w := setup(t)
		e, m1, s1ID := w.e, w.m1, w.s1ID
		body := goods("泰州臭干", 1500, 20)
		body["description"] = "老卤浸泡，外脆里嫩"
		body["category"] = "food"
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/products", Token: m1.Token, Body: body})
		wantStatus(t, res, http.StatusCreated)
		// Money and stock are JSON integers, never floats.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(res.Body, &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw["price"]) != "1500" || string(raw["stock"]) != "20" {
			t.Errorf("price %s stock %s, want the integers 1500 and 20", raw["price"], raw["stock"])
		}
		p := res.JSON(t)
		pID, _ := p["id"].(string)
		if pID == "" || p["stall_id"] != s1ID || p["title"] != "泰州臭干" || p["currency"] != "CNY" || p["kind"] != "goods" || p["fulfillment"] != "pickup" || p["active"] != true {
			t.Errorf("product %s", res.Body)
		}

		// Goods ship unless told otherwise.
		body = goods("泰州干丝", 1200, 10)
		delete(body, "fulfillment")
		p = e.createProduct(t, m1.Token, s1ID, body)
		if p["fulfillment"] != "ship" {
			t.Errorf("fulfillment %v, want ship by default", p["fulfillment"])
		}
	})

	t.Run("GetAnonymous", func(t *testing.T) {
		w := created(t)
		e, s1ID := w.e, w.s1ID
		pID := w.pID
		p := getProduct(t, e, pID, "")
		for k, want := range map[string]any{"id": pID, "stall_id": s1ID, "title": "泰州臭干", "price": float64(1500), "currency": "CNY", "stock": float64(20), "kind": "goods"} {
			if p[k] != want {
				t.Errorf("%s %v, want %v", k, p[k], want)
			}
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/products/no-such-product"}), http.StatusNotFound, "not_found")
	})

	t.Run("CreateOnAnotherStall", func(t *testing.T) {
		w := created(t)
		e, org, m2, shopper, s1ID := w.e, w.org, w.m2, w.shopper, w.s1ID
		before := countRows(t, e, "products", "1 = 1")
		for _, token := range []string{m2.Token, shopper.Token, org} {
			res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/products", Token: token, Body: goods("冒牌臭干", 100, 1)})
			wantDenied(t, res)
		}
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/products", Body: goods("冒牌臭干", 100, 1)})
		wantProblem(t, res, http.StatusUnauthorized, "unauthenticated")
		if got := countRows(t, e, "products", "1 = 1"); got != before {
			t.Errorf("products %d, want %d", got, before)
		}
	})

	t.Run("PatchByOthers", func(t *testing.T) {
		w := created(t)
		e, org, m1, m2, shopper := w.e, w.org, w.m1, w.m2, w.shopper
		pID := w.pID
		for _, token := range []string{m2.Token, shopper.Token, org} {
			res := e.do(req{Method: "PATCH", Path: "/api/v1/products/" + pID, Token: token, Body: map[string]any{"price": 1, "title": "被改价"}})
			wantDenied(t, res)
		}
		wantProblem(t, e.do(req{Method: "PATCH", Path: "/api/v1/products/" + pID, Body: map[string]any{"price": 1}}), http.StatusUnauthorized, "unauthenticated")
		if p := getProduct(t, e, pID, m1.Token); p["price"] != float64(1500) || p["title"] != "泰州臭干" {
			t.Errorf("product changed by others: %v %v", p["price"], p["title"])
		}
	})

	invalid := []struct {
		name   string
		mutate func(map[string]any)
		field  string
	}{
		{"NegativePrice", func(b map[string]any) { b["price"] = -100 }, "price"},
		{"FloatPrice", func(b map[string]any) { b["price"] = 9.5 }, "price"},
		{"NegativeStock", func(b map[string]any) { b["stock"] = -1 }, "stock"},
		{"EmptyTitle", func(b map[string]any) { b["title"] = "" }, "title"},
		{"BlankTitle", func(b map[string]any) { b["title"] = "   " }, "title"},
		{"UnknownKind", func(b map[string]any) { b["kind"] = "service" }, "kind"},
		{"USD", func(b map[string]any) { b["currency"] = "USD" }, "currency"},
		{"UnknownFulfillment", func(b map[string]any) { b["fulfillment"] = "drone" }, "fulfillment"},
		{"UnknownCategory", func(b map[string]any) { b["category"] = "weapons" }, "category"},
		{"GoodsWithOffset", func(b map[string]any) { b["offset_value"] = 100 }, "offset_value"},
	}
	for _, tc := range invalid {
		t.Run("Invalid"+tc.name, func(t *testing.T) {
			w := setup(t)
			e, m1, s1ID := w.e, w.m1, w.s1ID
			before := countRows(t, e, "products", "1 = 1")
			body := goods("扬州炒饭", 1800, 5)
			tc.mutate(body)
			res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + s1ID + "/products", Token: m1.Token, Body: body})
			wantField(t, res, tc.field)
			if got := countRows(t, e, "products", "1 = 1"); got != before {
				t.Errorf("products %d, want %d: a rejected product was stored", got, before)
			}
		})
	}

	t.Run("Patch", func(t *testing.T) {
		w := created(t)
		e, m1 := w.e, w.m1
		pID := w.pID
		res := e.do(req{Method: "PATCH", Path: "/api/v1/products/" + pID, Token: m1.Token, Body: map[string]any{"price": 1800, "stock": 5}})
		wantStatus(t, res, http.StatusOK)
		if p := res.JSON(t); p["price"] != float64(1800) || p["stock"] != float64(5) || p["title"] != "泰州臭干" {
			t.Errorf("patched product %s", res.Body)
		}
		if p := getProduct(t, e, pID, ""); p["price"] != float64(1800) || p["stock"] != float64(5) {
			t.Errorf("product after PATCH: price %v stock %v", p["price"], p["stock"])
		}
	})

	t.Run("PatchInvalid", func(t *testing.T) {
		w := patched(t)
		e, m1 := w.e, w.m1
		pID := w.pID
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"stock": -1}, "stock"},
			{map[string]any{"price": -5}, "price"},
			{map[string]any{"price": 12.5}, "price"},
			{map[string]any{"currency": "USD"}, "currency"},
			{map[string]any{"title": ""}, "title"},
		} {
			wantField(t, e.do(req{Method: "PATCH", Path: "/api/v1/products/" + pID, Token: m1.Token, Body: tc.body}), tc.field)
		}
		if p := getProduct(t, e, pID, ""); p["price"] != float64(1800) || p["stock"] != float64(5) || p["title"] != "泰州臭干" || p["currency"] != "CNY" {
			t.Errorf("product changed by rejected PATCHes: %v", p)
		}
	})

	t.Run("StockConstraint", func(t *testing.T) {
		w := patched(t)
		e := w.e
		pID := w.pID
		_, err := e.srv.DB.ExecContext(context.Background(), "UPDATE products SET stock = -1 WHERE id = ?", pID)
		if err == nil {
			t.Fatal("the database let stock go below zero")
		}
		if !catalog.IsCheckViolation(err) {
			t.Errorf("error %v, want a CHECK constraint violation", err)
		}
		if p := getProduct(t, e, pID, ""); p["stock"] != float64(5) {
			t.Errorf("stock %v, want 5", p["stock"])
		}
	})
}

func TestCatalogImages(t *testing.T) {
	small := catPNG(t, 8, 6, false)
	// images is a fresh server with a fair of two stalls and a product.
	type images struct {
		e               *testEnv
		org             string
		m1, m2, shopper registered
		pID             string
	}
	setup := func(t *testing.T) *images {
		t.Helper()
		e := newTestEnv(t)
		w := &images{e: e}
		_, w.org = e.organizer(t, "organizer@example.com")
		e.createFair(t, w.org, e.fairBody("image-fair", "temple_fair"))
		w.m1 = e.register("m1@example.com", catalog.RoleMerchant)
		w.m2 = e.register("m2@example.com", catalog.RoleMerchant)
		w.shopper = e.register("shopper@example.com", catalog.RoleShopper)
		s1ID := e.openStall(t, w.org, w.m1.Token, "image-fair", "老街臭干坊")["id"].(string)
		e.openStall(t, w.org, w.m2.Token, "image-fair", "黄桥烧饼铺")
		w.pID = e.createProduct(t, w.m1.Token, s1ID, goods("泰州臭干", 1500, 20))["id"].(string)
		return w
	}
	// uploaded is setup with n small images of the product.
	uploaded := func(t *testing.T, n int) *images {
		t.Helper()
		w := setup(t)
		for i := range n {
			wantStatus(t, w.e.catUpload(t, w.m1.Token, w.pID, fmt.Sprintf("%d.png", i), small), http.StatusCreated)
		}
		return w
	}
	unchanged := func(t *testing.T, e *testEnv, rows, files int) {
		t.Helper()
		if got := countRows(t, e, "product_images", "1 = 1"); got != rows {
			t.Errorf("image rows %d, want %d", got, rows)
		}
		if got := catMediaFiles(t, e); got != files {
			t.Errorf("media files %d, want %d", got, files)
		}
	}

	t.Run("Upload", func(t *testing.T) {
		w := setup(t)
		e, m1, pID := w.e, w.m1, w.pID
		res := e.catUpload(t, m1.Token, pID, "chougan.png", small)
		wantStatus(t, res, http.StatusCreated)
		img := res.JSON(t)
		u, _ := img["url"].(string)
		if u == "" || img["content_type"] != "image/png" || img["width"] != float64(8) || img["height"] != float64(6) {
			t.Fatalf("image %s", res.Body)
		}
		got := e.do(req{Method: "GET", Path: u})
		wantStatus(t, got, http.StatusOK)
		if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "image/png") {
			t.Errorf("Content-Type %q, want image/png", ct)
		}
		if cc := got.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("Cache-Control %q, want a max-age", cc)
		}
		if !bytes.Equal(got.Body, small) {
			t.Error("served bytes differ from the upload")
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/products/" + pID})
		wantStatus(t, res, http.StatusOK)
		imgs, _ := res.JSON(t)["images"].([]any)
		if len(imgs) != 1 || imgs[0].(map[string]any)["url"] != u {
			t.Errorf("product images %v, want the one uploaded", imgs)
		}
		unchanged(t, e, 1, 1)
	})

	t.Run("TextRenamedPNG", func(t *testing.T) {
		w := uploaded(t, 1)
		e, m1, pID := w.e, w.m1, w.pID
		res := e.catUpload(t, m1.Token, pID, "notes.png", []byte("这不是图片, just some text pretending to be a PNG\n"))
		wantField(t, res, "image")
		unchanged(t, e, 1, 1)
	})

	t.Run("TruncatedPNG", func(t *testing.T) {
		w := uploaded(t, 1)
		e, m1, pID := w.e, w.m1, w.pID
		res := e.catUpload(t, m1.Token, pID, "broken.png", small[:len(small)/3])
		wantField(t, res, "image")
		unchanged(t, e, 1, 1)
	})

	t.Run("TooLarge", func(t *testing.T) {
		w := uploaded(t, 1)
		e, m1, pID := w.e, w.m1, w.pID
		big := catPNG(t, 800, 700, true) // about 2.2 MB of noise
		if len(big) <= catalog.MaxImageBytes {
			t.Fatalf("test image of %d bytes is not over 2 MiB", len(big))
		}
		res := e.catUpload(t, m1.Token, pID, "big.png", big)
		wantField(t, res, "image")
		unchanged(t, e, 1, 1)
	})

	t.Run("OthersCannotUpload", func(t *testing.T) {
		w := uploaded(t, 1)
		e, org, m1, m2, shopper, pID := w.e, w.org, w.m1, w.m2, w.shopper, w.pID
		for _, token := range []string{m2.Token, shopper.Token, org} {
			wantDenied(t, e.catUpload(t, token, pID, "x.png", small))
		}
		wantProblem(t, e.catUpload(t, "", pID, "x.png", small), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.catUpload(t, m1.Token, "no-such-product", "x.png", small), http.StatusNotFound, "not_found")
		unchanged(t, e, 1, 1)
	})

	t.Run("TooWide", func(t *testing.T) {
		w := uploaded(t, 1)
		e, m1, pID := w.e, w.m1, w.pID
		res := e.catUpload(t, m1.Token, pID, "banner.png", catPNG(t, 8001, 1, false))
		wantField(t, res, "image")
		unchanged(t, e, 1, 1)
	})

	t.Run("NoImageField", func(t *testing.T) {
		iw := uploaded(t, 1)
		e, m1, pID := iw.e, iw.m1, iw.pID
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if err := w.WriteField("caption", "臭干"); err != nil {
			t.Fatal(err)
		}
		w.Close()
		hr := httptest.NewRequest("POST", "/api/v1/products/"+pID+"/images", &buf)
		hr.Header.Set("Content-Type", w.FormDataContentType())
		hr.Header.Set("Authorization", "Bearer "+m1.Token)
		wantField(t, e.send(hr), "image")
		unchanged(t, e, 1, 1)
	})

	t.Run("NotMultipart", func(t *testing.T) {
		w := uploaded(t, 1)
		e, m1, pID := w.e, w.m1, w.pID
		res := e.do(req{Method: "POST", Path: "/api/v1/products/" + pID + "/images", Token: m1.Token, Body: map[string]any{"image": "aGVsbG8="}})
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("status %d, want a 4xx: %s", res.StatusCode, res.Body)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("content type %q, want problem+json", ct)
		}
		unchanged(t, e, 1, 1)
	})

	t.Run("MediaServesOnlyMedia", func(t *testing.T) {
		w := setup(t)
		e := w.e
		// Nothing outside the media directory is reachable under /media.
		if err := os.WriteFile(filepath.Join(e.cfg.DataDir, "secret.txt"), []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/media/../secret.txt", "/media/%2e%2e/secret.txt", "/media/..%2fsecret.txt", "/media/products/../../secret.txt"} {
			res := e.do(req{Method: "GET", Path: p})
			if res.StatusCode == http.StatusOK || string(res.Body) == "secret" {
				t.Errorf("GET %s: %d %q", p, res.StatusCode, res.Body)
			}
		}
		wantStatus(t, e.do(req{Method: "GET", Path: "/media/products/no-such.png"}), http.StatusNotFound)
	})

	t.Run("SeventhImage", func(t *testing.T) {
		w := uploaded(t, 1)
		e, m1, pID := w.e, w.m1, w.pID
		// An image just under the limit is accepted.
		near := catPNG(t, 700, 700, true) // about 1.9 MB
		if len(near) > catalog.MaxImageBytes || len(near) < 3<<19 {
			t.Fatalf("test image of %d bytes is not just under 2 MiB", len(near))
		}
		wantStatus(t, e.catUpload(t, m1.Token, pID, "near.png", near), http.StatusCreated)
		for i := 3; i <= 6; i++ {
			wantStatus(t, e.catUpload(t, m1.Token, pID, fmt.Sprintf("%d.png", i), catPNG(t, i, i, false)), http.StatusCreated)
		}
		// Six photos; the 700 px one also has its 320 px thumbnail.
		unchanged(t, e, 6, 7)
		wantProblem(t, e.catUpload(t, m1.Token, pID, "7.png", small), http.StatusConflict, "conflict")
		unchanged(t, e, 6, 7)
	})

	t.Run("Remove", func(t *testing.T) {
		w := uploaded(t, 6)
		e, m1, m2, shopper, pID := w.e, w.m1, w.m2, w.shopper, w.pID
		res := e.do(req{Method: "GET", Path: "/api/v1/products/" + pID, Token: m1.Token})
		wantStatus(t, res, http.StatusOK)
		imgs, _ := res.JSON(t)["images"].([]any)
		if len(imgs) != 6 {
			t.Fatalf("%d images, want 6", len(imgs))
		}
		id := imgs[0].(map[string]any)["id"].(string)
		for _, token := range []string{m2.Token, shopper.Token} {
			wantDenied(t, e.do(req{Method: "DELETE", Path: "/api/v1/products/" + pID + "/images/" + id, Token: token}))
		}
		unchanged(t, e, 6, 6)
		wantStatus(t, e.do(req{Method: "DELETE", Path: "/api/v1/products/" + pID + "/images/" + id, Token: m1.Token}), http.StatusNoContent)
		unchanged(t, e, 5, 5)
		wantProblem(t, e.do(req{Method: "DELETE", Path: "/api/v1/products/" + pID + "/images/" + id, Token: m1.Token}), http.StatusNotFound, "not_found")
		wantStatus(t, e.catUpload(t, m1.Token, pID, "again.png", small), http.StatusCreated)
		unchanged(t, e, 6, 6)
	})
}

func TestCatalogSearch(t *testing.T) {
	e := newTestEnv(t)
	_, org := e.organizer(t, "organizer@example.com")
	e.createFair(t, org, e.fairBody("search-fair", "temple_fair"))
	e.createFair(t, org, e.fairBody("elsewhere", "temple_fair"))
	m1 := e.register("m1@example.com", catalog.RoleMerchant)
	m2 := e.register("m2@example.com", catalog.RoleMerchant)
	m3 := e.register("m3@example.com", catalog.RoleMerchant)
	stallA := e.openStall(t, org, m1.Token, "search-fair", "泰州老街")["id"].(string)
	stallB := e.openStall(t, org, m2.Token, "search-fair", "靖江小吃")["id"].(string)
	stallX := e.openStall(t, org, m3.Token, "elsewhere", "别处的摊")["id"].(string)

	ids := map[string]string{}
	add := func(token, stall string, body map[string]any) {
		t.Helper()
		p := e.createProduct(t, token, stall, body)
		ids[body["title"].(string)] = p["id"].(string)
	}
	withDesc := func(b map[string]any, d string) map[string]any { b["description"] = d; return b }
	add(m1.Token, stallA, goods("泰州臭干", 1500, 20))
	add(m1.Token, stallA, goods("黄桥烧饼", 800, 50))
	add(m1.Token, stallA, withDesc(goods("扬州漆器", 38000, 3), "国家级非遗手作"))
	add(m1.Token, stallA, goods("全场8折_限时", 100, 1))
	add(m1.Token, stallA, goods("全场8折限时", 100, 1))
	add(m2.Token, stallB, goods("靖江蟹黄汤包", 4800, 30))
	add(m2.Token, stallB, goods("蟹粉狮子头", 5800, 10))
	add(m2.Token, stallB, goods("纯度100%红糖", 1200, 10))
	add(m2.Token, stallB, goods("纯度100红糖", 1000, 10))
	add(m2.Token, stallB, map[string]any{
		"title": "庙会美食代金券", "price": 1000, "currency": "CNY", "stock": 100, "kind": "voucher",
		"offset_value": 1200, "valid_until": fairTime(e.clock.Now().Add(60 * 24 * time.Hour)),
	})
	add(m3.Token, stallX, goods("兴化臭干", 900, 5)) // another fair
	all := []string{"泰州臭干", "黄桥烧饼", "扬州漆器", "全场8折_限时", "全场8折限时", "靖江蟹黄汤包", "蟹粉狮子头", "纯度100%红糖", "纯度100红糖", "庙会美食代金券"}

	search := func(t *testing.T, query string) response {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/search-fair/products?" + query})
		wantStatus(t, res, http.StatusOK)
		return res
	}
	titles := func(t *testing.T, query string) []string {
		t.Helper()
		return listField(listItems(t, search(t, query)), "title")
	}
	q := func(text string) string { return "limit=100&q=" + url.QueryEscape(text) }
	want := func(t *testing.T, query string, wantTitles ...string) {
		t.Helper()
		got := titles(t, query)
		if strings.Join(got, "|") != strings.Join(wantTitles, "|") {
			t.Errorf("%s: %v, want %v", query, got, wantTitles)
		}
	}

	t.Run("TwoCharacters", func(t *testing.T) { want(t, q("臭干"), "泰州臭干") })
	t.Run("ThreeCharacters", func(t *testing.T) { want(t, q("黄桥烧"), "黄桥烧饼") })
	t.Run("WholeTitle", func(t *testing.T) { want(t, q("靖江蟹黄汤包"), "靖江蟹黄汤包") })
	t.Run("Substring", func(t *testing.T) { want(t, q("蟹黄"), "靖江蟹黄汤包") })
	t.Run("Description", func(t *testing.T) { want(t, q("非遗"), "扬州漆器") })
	t.Run("DescriptionLonger", func(t *testing.T) { want(t, q("国家级非遗"), "扬州漆器") })
	t.Run("SurroundingSpaces", func(t *testing.T) { want(t, q("  臭干 "), "泰州臭干") })

	t.Run("NoMatch", func(t *testing.T) {
		for _, text := range []string{"北京烤鸭", "鸭", "zz"} {
			res := search(t, q(text))
			var m map[string]json.RawMessage
			if err := json.Unmarshal(res.Body, &m); err != nil {
				t.Fatal(err)
			}
			if string(m["items"]) != "[]" || string(m["next_cursor"]) != "null" {
				t.Errorf("%s: %s, want {\"items\":[],\"next_cursor\":null}", text, res.Body)
			}
		}
	})

	t.Run("Literal", func(t *testing.T) {
		want(t, q("_限"), "全场8折_限时")
		want(t, q("_"), "全场8折_限时")
		want(t, q("8折_限"), "全场8折_限时")
		want(t, q("%"), "纯度100%红糖")
		want(t, q("0%"), "纯度100%红糖")
		want(t, q("100%红"), "纯度100%红糖")
		want(t, q("%%"))
		want(t, q("纯度%红糖"))
		want(t, q(`\`))
		want(t, q(`"臭干"`))
	})

	t.Run("StallFilter", func(t *testing.T) {
		want(t, "limit=100&stall_id="+stallB, "靖江蟹黄汤包", "蟹粉狮子头", "纯度100%红糖", "纯度100红糖", "庙会美食代金券")
		want(t, "limit=100&stall_id="+stallA+"&"+q("蟹黄"))
		want(t, "limit=100&stall_id="+stallX)
	})

	t.Run("KindFilter", func(t *testing.T) {
		want(t, "limit=100&kind=voucher", "庙会美食代金券")
		got := titles(t, "limit=100&kind=goods")
		if len(got) != len(all)-1 || slices.Contains(got, "庙会美食代金券") {
			t.Errorf("goods %v", got)
		}
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/search-fair/products?kind=service"})
		wantField(t, res, "kind")
	})

	t.Run("Pagination", func(t *testing.T) {
		seen := map[string]int{}
		var order []string
		path := "limit=2"
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatal("pagination does not end")
			}
			res := search(t, path)
			items := listItems(t, res)
			if len(items) > 2 {
				t.Fatalf("page of %d, limit 2", len(items))
			}
			for _, title := range listField(items, "title") {
				seen[title]++
				order = append(order, title)
			}
			next := res.JSON(t)["next_cursor"]
			if next == nil {
				break
			}
			if len(items) == 0 {
				t.Fatal("empty page with a next cursor")
			}
			path = "limit=2&cursor=" + url.QueryEscape(next.(string))
		}
		if strings.Join(order, "|") != strings.Join(all, "|") {
			t.Errorf("pages walked %v, want %v", order, all)
		}
		for title, n := range seen {
			if n != 1 {
				t.Errorf("%s listed %d times", title, n)
			}
		}
		// A filtered walk too.
		var got []string
		path = "limit=2&stall_id=" + stallB
		for pages := 0; pages <= len(all); pages++ {
			res := search(t, path)
			got = append(got, listField(listItems(t, res), "title")...)
			next := res.JSON(t)["next_cursor"]
			if next == nil {
				break
			}
			path = "limit=2&stall_id=" + stallB + "&cursor=" + url.QueryEscape(next.(string))
		}
		if strings.Join(got, "|") != "靖江蟹黄汤包|蟹粉狮子头|纯度100%红糖|纯度100红糖|庙会美食代金券" {
			t.Errorf("filtered walk %v", got)
		}
	})

	t.Run("InactiveProduct", func(t *testing.T) {
		res := e.do(req{Method: "PATCH", Path: "/api/v1/products/" + ids["黄桥烧饼"], Token: m1.Token, Body: map[string]any{"active": false}})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["active"]; got != false {
			t.Errorf("active %v", got)
		}
		want(t, q("黄桥烧"))
		want(t, q("烧饼"))
		if got := titles(t, "limit=100"); slices.Contains(got, "黄桥烧饼") {
			t.Errorf("inactive product listed: %v", got)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/products/" + ids["黄桥烧饼"]}), http.StatusNotFound, "not_found")
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/products/" + ids["黄桥烧饼"], Token: m1.Token}), http.StatusOK)
		res = e.do(req{Method: "PATCH", Path: "/api/v1/products/" + ids["黄桥烧饼"], Token: m1.Token, Body: map[string]any{"active": true}})
		wantStatus(t, res, http.StatusOK)
		want(t, q("黄桥烧"), "黄桥烧饼")
	})

	t.Run("SuspendedStall", func(t *testing.T) {
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallB + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: org}), http.StatusOK)
		want(t, q("蟹黄"))
		want(t, "limit=100&kind=voucher")
		want(t, "limit=100&stall_id="+stallB)
		if got := titles(t, "limit=100"); strings.Join(got, "|") != "泰州臭干|黄桥烧饼|扬州漆器|全场8折_限时|全场8折限时" {
			t.Errorf("with stall B suspended: %v", got)
		}
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallB + "/reinstate", Token: org}), http.StatusOK)
		want(t, q("蟹黄"), "靖江蟹黄汤包")
	})

	t.Run("RenamedProduct", func(t *testing.T) {
		res := e.do(req{Method: "PATCH", Path: "/api/v1/products/" + ids["蟹粉狮子头"], Token: m2.Token, Body: map[string]any{"title": "清炖蟹粉狮子头"}})
		wantStatus(t, res, http.StatusOK)
		want(t, q("清炖蟹粉"), "清炖蟹粉狮子头")
		want(t, q("清炖"), "清炖蟹粉狮子头")
	})

	t.Run("UnknownFair", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/no-such-fair/products?q=" + url.QueryEscape("臭干")}), http.StatusNotFound, "not_found")
	})
}

func TestCatalogPropertySeason(t *testing.T) {
	// season is a property season with two developments (dev's and dev2's),
	// a temple fair where dev has a stall, and three shoppers.
	type season struct {
		e                      *testEnv
		org                    string
		dev, dev2              registered
		stall                  map[string]any
		stallID, templeStallID string
		shoppers               []registered
		now                    time.Time
		slot1, slot2           string         // slotted: in 48 h for 2, in 72 h for 5
		bookings               map[int]string // booked: shoppers 0 and 1 in slot 1
	}
	setup := func(t *testing.T) *season {
		t.Helper()
		e := newTestEnv(t)
		w := &season{e: e, bookings: map[int]string{}}
		_, w.org = e.organizer(t, "organizer@example.com")
		f := e.createFair(t, w.org, e.fairBody("spring-homes", "property_season"))
		if f["kind"] != "property_season" {
			t.Fatalf("fair %v", f)
		}
		e.createFair(t, w.org, e.fairBody("temple-2026", "temple_fair"))
		w.dev = e.register("developer@example.com", catalog.RoleMerchant)
		w.dev2 = e.register("developer2@example.com", catalog.RoleMerchant)
		w.stall = e.openStall(t, w.org, w.dev.Token, "spring-homes", "碧桂园·江城府")
		w.stallID = w.stall["id"].(string)
		e.openStall(t, w.org, w.dev2.Token, "spring-homes", "万科·城市之光")
		w.templeStallID = e.openStall(t, w.org, w.dev.Token, "temple-2026", "老街臭干坊")["id"].(string)
		w.shoppers = make([]registered, 3)
		for i := range w.shoppers {
			w.shoppers[i] = e.register(fmt.Sprintf("buyer%d@example.com", i), catalog.RoleShopper)
		}
		w.now = e.clock.Now()
		return w
	}
	book := func(e *testEnv, who registered, slot string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/slots/" + slot + "/bookings", Token: who.Token})
	}
	// slotted is setup with the two viewing slots Slots makes.
	slotted := func(t *testing.T) *season {
		t.Helper()
		w := setup(t)
		for _, sl := range []struct {
			id       *string
			at       time.Duration
			capacity int
		}{{&w.slot1, 48 * time.Hour, 2}, {&w.slot2, 72 * time.Hour, 5}} {
			res := w.e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallID + "/slots", Token: w.dev.Token, Body: map[string]any{
				"starts_at": fairTime(w.now.Add(sl.at)), "ends_at": fairTime(w.now.Add(sl.at + 2*time.Hour)), "capacity": sl.capacity,
			}})
			wantStatus(t, res, http.StatusCreated)
			*sl.id = res.JSON(t)["id"].(string)
		}
		return w
	}
	// booked is slotted with slot 1 full (BookUntilFull).
	booked := func(t *testing.T) *season {
		t.Helper()
		w := slotted(t)
		for i := range 2 {
			res := book(w.e, w.shoppers[i], w.slot1)
			wantStatus(t, res, http.StatusCreated)
			w.bookings[i] = res.JSON(t)["id"].(string)
		}
		return w
	}
	// rebooked is booked after Cancel: shopper 0 cancelled and booked slot 2,
	// shopper 2 took the place in slot 1.
	rebooked := func(t *testing.T) *season {
		t.Helper()
		w := booked(t)
		wantStatus(t, w.e.do(req{Method: "POST", Path: "/api/v1/bookings/" + w.bookings[0] + "/cancel", Token: w.shoppers[0].Token}), http.StatusOK)
		for _, b := range []struct {
			i, who int
			slot   string
		}{{2, 2, w.slot1}, {3, 0, w.slot2}} {
			res := book(w.e, w.shoppers[b.who], b.slot)
			wantStatus(t, res, http.StatusCreated)
			w.bookings[b.i] = res.JSON(t)["id"].(string)
		}
		return w
	}
	slotBooked := func(t *testing.T, e *testEnv, stallID, id string) float64 {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + stallID + "/slots"})
		wantStatus(t, res, http.StatusOK)
		for _, s := range listItems(t, res) {
			if s["id"] == id {
				return s["booked"].(float64)
			}
		}
		t.Fatalf("slot %s not listed: %s", id, res.Body)
		return 0
	}

	t.Run("Development", func(t *testing.T) {
		w := setup(t)
		e, dev, dev2, stall, stallID := w.e, w.dev, w.dev2, w.stall, w.stallID
		if stall["status"] != "active" {
			t.Errorf("development %v", stall)
		}
		res := e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + stallID, Token: dev.Token, Body: map[string]any{"address": "泰州市海陵区凤凰路88号", "district": "海陵区"}})
		wantStatus(t, res, http.StatusOK)
		if st := res.JSON(t); st["address"] != "泰州市海陵区凤凰路88号" || st["district"] != "海陵区" || st["name"] != "碧桂园·江城府" {
			t.Errorf("development %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + stallID})
		if st := res.JSON(t); st["address"] != "泰州市海陵区凤凰路88号" || st["district"] != "海陵区" {
			t.Errorf("development after PATCH %s", res.Body)
		}
		res = e.do(req{Method: "PATCH", Path: "/api/v1/stalls/" + stallID, Token: dev2.Token, Body: map[string]any{"address": "别处"}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
	})

	t.Run("UnitTypes", func(t *testing.T) {
		w := setup(t)
		e, dev, dev2, stallID := w.e, w.dev, w.dev2, w.stallID
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/unit-types", Token: dev.Token, Body: map[string]any{
			"name": "三室两厅", "area_m2": 118.5, "price_per_m2": 1500000, "units_available": 20,
		}})
		wantStatus(t, res, http.StatusCreated)
		if u := res.JSON(t); u["name"] != "三室两厅" || u["area_m2"] != 118.5 || u["price_per_m2"] != float64(1500000) || u["units_available"] != float64(20) || u["stall_id"] != stallID {
			t.Errorf("unit type %s", res.Body)
		}
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/unit-types", Token: dev.Token, Body: map[string]any{
			"name": "两室一厅", "area_m2": 89, "price_per_m2": 1450000, "units_available": 12,
		}})
		wantStatus(t, res, http.StatusCreated)
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + stallID + "/unit-types"})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "name"); strings.Join(got, ",") != "三室两厅,两室一厅" {
			t.Errorf("unit types %v", got)
		}
		before := countRows(t, e, "unit_types", "1 = 1")
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/unit-types", Token: dev2.Token, Body: map[string]any{"name": "别墅", "area_m2": 300, "price_per_m2": 1, "units_available": 1}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/unit-types", Token: dev.Token, Body: map[string]any{"name": "空中楼阁", "area_m2": 0, "price_per_m2": 1, "units_available": 1}})
		wantField(t, res, "area_m2")
		if got := countRows(t, e, "unit_types", "1 = 1"); got != before {
			t.Errorf("unit types %d, want %d", got, before)
		}
	})

	t.Run("GoodsRefused", func(t *testing.T) {
		w := setup(t)
		e, dev, stallID := w.e, w.dev, w.stallID
		before := countRows(t, e, "products", "1 = 1")
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/products", Token: dev.Token, Body: goods("售楼处纪念品", 100, 10)})
		wantField(t, res, "kind")
		if got := countRows(t, e, "products", "1 = 1"); got != before {
			t.Errorf("products %d, want %d", got, before)
		}
	})

	voucher := func(price, offset int64, validUntil time.Time) map[string]any {
		return map[string]any{"title": "定金券：付1万抵5万", "price": price, "currency": "CNY", "stock": 50, "kind": "voucher",
			"offset_value": offset, "valid_until": fairTime(validUntil)}
	}

	t.Run("DepositVoucher", func(t *testing.T) {
		w := setup(t)
		e, dev, stallID, now := w.e, w.dev, w.stallID, w.now
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/products", Token: dev.Token, Body: voucher(1000000, 5000000, now.Add(90*24*time.Hour))})
		wantStatus(t, res, http.StatusCreated)
		p := res.JSON(t)
		if p["kind"] != "voucher" || p["fulfillment"] != "pickup" || p["price"] != float64(1000000) || p["offset_value"] != float64(5000000) || p["currency"] != "CNY" {
			t.Errorf("voucher %s", res.Body)
		}
		wantTime(t, p, "valid_until", now.Add(90*24*time.Hour))
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/spring-homes/products?kind=voucher"})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "id"); len(got) != 1 || got[0] != p["id"] {
			t.Errorf("vouchers %v", got)
		}
	})

	t.Run("VoucherInvalid", func(t *testing.T) {
		w := setup(t)
		e, dev, stallID, now := w.e, w.dev, w.stallID, w.now
		before := countRows(t, e, "products", "1 = 1")
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/products", Token: dev.Token, Body: voucher(1000000, 500000, now.Add(90*24*time.Hour))})
		wantField(t, res, "offset_value")
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/products", Token: dev.Token, Body: voucher(1000000, 5000000, now.Add(-time.Hour))})
		wantField(t, res, "valid_until")
		body := voucher(1000000, 5000000, now)
		delete(body, "valid_until")
		wantField(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/products", Token: dev.Token, Body: body}), "valid_until")
		if got := countRows(t, e, "products", "1 = 1"); got != before {
			t.Errorf("products %d, want %d", got, before)
		}
	})

	t.Run("Slots", func(t *testing.T) {
		w := setup(t)
		e, dev, dev2, stallID, now := w.e, w.dev, w.dev2, w.stallID, w.now
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/slots", Token: dev.Token, Body: map[string]any{
			"starts_at": fairTime(now.Add(48 * time.Hour)), "ends_at": fairTime(now.Add(50 * time.Hour)), "capacity": 2,
		}})
		wantStatus(t, res, http.StatusCreated)
		s := res.JSON(t)
		slot1, _ := s["id"].(string)
		if slot1 == "" || s["capacity"] != float64(2) || s["booked"] != float64(0) {
			t.Fatalf("slot %s", res.Body)
		}
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/slots", Token: dev.Token, Body: map[string]any{
			"starts_at": fairTime(now.Add(72 * time.Hour)), "ends_at": fairTime(now.Add(74 * time.Hour)), "capacity": 5,
		}})
		wantStatus(t, res, http.StatusCreated)
		slot2 := res.JSON(t)["id"].(string)
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/slots", Token: dev.Token, Body: map[string]any{
			"starts_at": fairTime(now.Add(-time.Hour)), "ends_at": fairTime(now.Add(time.Hour)), "capacity": 5,
		}})
		wantField(t, res, "starts_at")
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/slots", Token: dev2.Token, Body: map[string]any{
			"starts_at": fairTime(now.Add(48 * time.Hour)), "ends_at": fairTime(now.Add(50 * time.Hour)), "capacity": 2,
		}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + stallID + "/slots"})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "id"); strings.Join(got, ",") != slot1+","+slot2 {
			t.Errorf("slots %v", got)
		}
	})

	t.Run("BookUntilFull", func(t *testing.T) {
		w := slotted(t)
		e, stallID, shoppers := w.e, w.stallID, w.shoppers
		slot1, bookings := w.slot1, w.bookings
		for i := 0; i < 2; i++ {
			res := book(e, shoppers[i], slot1)
			wantStatus(t, res, http.StatusCreated)
			b := res.JSON(t)
			if b["status"] != "booked" || b["slot_id"] != slot1 || b["user_id"] != shoppers[i].ID {
				t.Errorf("booking %s", res.Body)
			}
			bookings[i] = b["id"].(string)
		}
		wantProblem(t, book(e, shoppers[2], slot1), http.StatusConflict, "conflict")
		if got := slotBooked(t, e, stallID, slot1); got != 2 {
			t.Errorf("booked %v, want 2", got)
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/slots/" + slot1 + "/bookings"}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/slots/no-such-slot/bookings", Token: shoppers[2].Token}), http.StatusNotFound, "not_found")
	})

	t.Run("OnePerDevelopment", func(t *testing.T) {
		w := booked(t)
		e, stallID, shoppers := w.e, w.stallID, w.shoppers
		slot2 := w.slot2
		wantProblem(t, book(e, shoppers[0], slot2), http.StatusConflict, "conflict")
		if got := slotBooked(t, e, stallID, slot2); got != 0 {
			t.Errorf("slot 2 booked %v after a refused booking, want 0", got)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		w := booked(t)
		e, dev, stallID, shoppers := w.e, w.dev, w.stallID, w.shoppers
		slot1, slot2, bookings := w.slot1, w.slot2, w.bookings
		// Someone else's booking is not found.
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/bookings/" + bookings[0] + "/cancel", Token: shoppers[2].Token}), http.StatusNotFound, "not_found")
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/bookings/" + bookings[0] + "/cancel", Token: dev.Token}), http.StatusNotFound, "not_found")
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/bookings/" + bookings[0] + "/cancel"}), http.StatusUnauthorized, "unauthenticated")
		if got := slotBooked(t, e, stallID, slot1); got != 2 {
			t.Errorf("booked %v, want 2", got)
		}

		res := e.do(req{Method: "POST", Path: "/api/v1/bookings/" + bookings[0] + "/cancel", Token: shoppers[0].Token})
		wantStatus(t, res, http.StatusOK)
		if b := res.JSON(t); b["status"] != "cancelled" || b["id"] != bookings[0] {
			t.Errorf("cancelled booking %s", res.Body)
		}
		if got := slotBooked(t, e, stallID, slot1); got != 1 {
			t.Errorf("booked %v after a cancel, want 1", got)
		}
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/bookings/" + bookings[0] + "/cancel", Token: shoppers[0].Token}), http.StatusConflict, "conflict")
		if got := slotBooked(t, e, stallID, slot1); got != 1 {
			t.Errorf("booked %v after cancelling twice, want 1", got)
		}

		res = book(e, shoppers[2], slot1)
		wantStatus(t, res, http.StatusCreated)
		bookings[2] = res.JSON(t)["id"].(string)
		if got := slotBooked(t, e, stallID, slot1); got != 2 {
			t.Errorf("booked %v, want 2", got)
		}
		// Having cancelled, the first shopper may book another slot.
		res = book(e, shoppers[0], slot2)
		wantStatus(t, res, http.StatusCreated)
		bookings[3] = res.JSON(t)["id"].(string)
	})

	t.Run("MyBookings", func(t *testing.T) {
		w := rebooked(t)
		e, shoppers := w.e, w.shoppers
		bookings := w.bookings
		res := e.do(req{Method: "GET", Path: "/api/v1/me/bookings", Token: shoppers[0].Token})
		wantStatus(t, res, http.StatusOK)
		items := listItems(t, res)
		status := map[string]any{}
		for _, b := range items {
			status[b["id"].(string)] = b["status"]
			if b["user_id"] != shoppers[0].ID {
				t.Errorf("someone else's booking listed: %v", b)
			}
		}
		if len(items) != 2 || status[bookings[0]] != "cancelled" || status[bookings[3]] != "booked" {
			t.Errorf("my bookings %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/me/bookings", Token: shoppers[2].Token})
		wantStatus(t, res, http.StatusOK)
		if got := listField(listItems(t, res), "id"); len(got) != 1 || got[0] != bookings[2] {
			t.Errorf("third shopper's bookings %v", got)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/me/bookings"}), http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("NotOnTempleFairStalls", func(t *testing.T) {
		w := setup(t)
		e, dev, templeStallID, now := w.e, w.dev, w.templeStallID, w.now
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + templeStallID + "/unit-types", Token: dev.Token, Body: map[string]any{"name": "三室两厅", "area_m2": 100, "price_per_m2": 1, "units_available": 1}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		res = e.do(req{Method: "POST", Path: "/api/v1/stalls/" + templeStallID + "/slots", Token: dev.Token, Body: map[string]any{
			"starts_at": fairTime(now.Add(48 * time.Hour)), "ends_at": fairTime(now.Add(50 * time.Hour)), "capacity": 2,
		}})
		wantProblem(t, res, http.StatusConflict, "conflict")
	})

	t.Run("StartedSlot", func(t *testing.T) {
		w := slotted(t)
		e, stallID, shoppers := w.e, w.stallID, w.shoppers
		slot2 := w.slot2
		e.clock.Advance(73 * time.Hour)
		wantProblem(t, book(e, shoppers[1], slot2), http.StatusConflict, "conflict")
		res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + stallID + "/slots"})
		wantStatus(t, res, http.StatusOK)
		// The first slot has ended; the second is under way.
		if got := listField(listItems(t, res), "id"); len(got) != 1 || got[0] != slot2 {
			t.Errorf("slots %v, want only [%s]", got, slot2)
		}
	})
}

func TestCatalogBookingConcurrency(t *testing.T) {
	e := newTestEnv(t)
	_, org := e.organizer(t, "organizer@example.com")
	e.createFair(t, org, e.fairBody("rush-homes", "property_season"))
	dev := e.register("developer@example.com", catalog.RoleMerchant)
	stallID := e.openStall(t, org, dev.Token, "rush-homes", "碧桂园·江城府")["id"].(string)
	now := e.clock.Now()
	addSlot := func(t *testing.T, capacity int) string {
		t.Helper()
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/slots", Token: dev.Token, Body: map[string]any{
			"starts_at": fairTime(now.Add(48 * time.Hour)), "ends_at": fairTime(now.Add(50 * time.Hour)), "capacity": capacity,
		}})
		wantStatus(t, res, http.StatusCreated)
		return res.JSON(t)["id"].(string)
	}
	slotState := func(t *testing.T, id string) (booked, capacity, live int) {
		t.Helper()
		var v catalog.ViewingSlot
		if err := e.srv.DB.NewSelect().Model(&v).Where("id = ?", id).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		n, err := e.srv.DB.NewSelect().Model((*catalog.Booking)(nil)).Where("slot_id = ? AND status = ?", id, catalog.BookingBooked).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v.Booked, v.Capacity, int(n)
	}
	shoppers := 0
	newShopper := func() registered {
		shoppers++
		return e.register(fmt.Sprintf("shopper%d@example.com", shoppers), catalog.RoleShopper)
	}

	t.Run("LastPlaces", func(t *testing.T) {
		// The first places go one by one; the last five are rushed by twenty.
		const capacity, early, rush = 8, 3, 20
		slot := addSlot(t, capacity)
		for i := 0; i < early; i++ {
			wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/slots/" + slot + "/bookings", Token: newShopper().Token}), http.StatusCreated)
		}
		tokens := make([]string, rush)
		for i := range tokens {
			tokens[i] = newShopper().Token
		}
		n := e.tally(t, e.rush(t, time.Minute, requests(rush, func(i int) *http.Request {
			return newRequest("POST", "/api/v1/slots/"+slot+"/bookings", tokens[i], nil, nil)
		})),
			http.StatusCreated, http.StatusConflict)
		if n[http.StatusCreated] != capacity-early || n[http.StatusConflict] != rush-(capacity-early) {
			t.Errorf("%d booked and %d refused, want %d and %d", n[http.StatusCreated], n[http.StatusConflict], capacity-early, rush-(capacity-early))
		}
		if booked, c, live := slotState(t, slot); booked != capacity || c != capacity || live != capacity {
			t.Errorf("booked %d, capacity %d, live bookings %d; want all %d", booked, c, live, capacity)
		}
	})

	t.Run("SameShopperManySlots", func(t *testing.T) {
		// One live booking per development, however fast the clicks.
		slots := make([]string, 6)
		for i := range slots {
			slots[i] = addSlot(t, 5)
		}
		who := newShopper()
		n := e.tally(t, e.rush(t, time.Minute, requests(len(slots), func(i int) *http.Request {
			return newRequest("POST", "/api/v1/slots/"+slots[i]+"/bookings", who.Token, nil, nil)
		})),
			http.StatusCreated, http.StatusConflict)
		if n[http.StatusCreated] != 1 {
			t.Errorf("%d bookings at one development, want 1", n[http.StatusCreated])
		}
		total := 0
		for _, s := range slots {
			booked, _, live := slotState(t, s)
			if booked != live {
				t.Errorf("slot %s: booked %d but %d live bookings", s, booked, live)
			}
			total += booked
		}
		if total != 1 {
			t.Errorf("%d places taken, want 1", total)
		}
	})

	t.Run("DoubleCancel", func(t *testing.T) {
		// Cancelling one booking many times at once frees one place, not
		// many. Races are timing-dependent, so a few rounds are run.
		const capacity, clicks, rounds = 3, 20, 4
		for round := 0; round < rounds && !t.Failed(); round++ {
			slot := addSlot(t, capacity)
			var token, bookingID string
			for i := 0; i < capacity; i++ {
				who := newShopper()
				res := e.do(req{Method: "POST", Path: "/api/v1/slots/" + slot + "/bookings", Token: who.Token})
				wantStatus(t, res, http.StatusCreated)
				if i == 0 {
					token, bookingID = who.Token, res.JSON(t)["id"].(string)
				}
			}
			n := e.tally(t, e.rush(t, time.Minute, requests(clicks, func(int) *http.Request {
				return newRequest("POST", "/api/v1/bookings/"+bookingID+"/cancel", token, nil, nil)
			})),
				http.StatusOK, http.StatusConflict)
			if n[http.StatusOK] != 1 || n[http.StatusConflict] != clicks-1 {
				t.Errorf("round %d: %d cancels succeeded and %d refused, want 1 and %d", round, n[http.StatusOK], n[http.StatusConflict], clicks-1)
			}
			booked, _, live := slotState(t, slot)
			if booked != capacity-1 || live != capacity-1 {
				t.Errorf("round %d: after one cancel, booked %d and live bookings %d; want %d", round, booked, live, capacity-1)
			}
			// Never more bookings than places.
			late := []string{newShopper().Token, newShopper().Token, newShopper().Token}
			e.tally(t, e.rush(t, time.Minute, requests(len(late), func(i int) *http.Request {
				return newRequest("POST", "/api/v1/slots/"+slot+"/bookings", late[i], nil, nil)
			})),
				http.StatusCreated, http.StatusConflict)
			if booked, c, live := slotState(t, slot); live > c || booked != live {
				t.Errorf("round %d: booked %d, capacity %d, live bookings %d: overbooked", round, booked, c, live)
			}
		}
	})
}

func TestCatalogEnrolmentConcurrency(t *testing.T) {
	// An organizer approving applications quickly (two tabs, a script) gets
	// one stall per application and distinct booths.
	e := newTestEnv(t)
	_, org := e.organizer(t, "organizer@example.com")
	e.createFair(t, org, e.fairBody("busy-fair", "temple_fair"))
	const n = 8
	apps := make([]string, n)
	for i := range apps {
		m := e.register(fmt.Sprintf("m%d@example.com", i), catalog.RoleMerchant)
		res := e.do(req{Method: "POST", Path: "/api/v1/fairs/busy-fair/applications", Token: m.Token, Body: map[string]any{"stall_name": fmt.Sprintf("摊位%d", i)}})
		wantStatus(t, res, http.StatusCreated)
		apps[i] = res.JSON(t)["id"].(string)
	}
	got := e.tally(t, e.rush(t, time.Minute, requests(n, func(i int) *http.Request {
		return newRequest("POST", "/api/v1/applications/"+apps[i]+"/approve", org, nil, nil)
	})), http.StatusOK)
	if got[http.StatusOK] != n {
		t.Errorf("%d approvals succeeded, want %d", got[http.StatusOK], n)
	}
	res := e.do(req{Method: "GET", Path: "/api/v1/fairs/busy-fair/stalls?limit=100"})
	wantStatus(t, res, http.StatusOK)
	booths := map[string]bool{}
	for _, st := range listItems(t, res) {
		booths[fmt.Sprint(st["booth"])] = true
	}
	if len(booths) != n {
		t.Errorf("booths %v, want %d distinct", booths, n)
	}
}

func TestCatalogImageConcurrency(t *testing.T) {
	// A product never holds more than six images, even when uploads race
	// (a few rounds, as races are timing-dependent).
	e := newTestEnv(t)
	_, org := e.organizer(t, "organizer@example.com")
	e.createFair(t, org, e.fairBody("photo-fair", "temple_fair"))
	m := e.register("m@example.com", catalog.RoleMerchant)
	stallID := e.openStall(t, org, m.Token, "photo-fair", "老街臭干坊")["id"].(string)
	const rush, rounds = 16, 3
	for round := 0; round < rounds && !t.Failed(); round++ {
		images, files := countRows(t, e, "product_images", "1 = 1"), catMediaFiles(t, e)
		pID := e.createProduct(t, m.Token, stallID, goods(fmt.Sprintf("泰州臭干%d", round), 1500, 20))["id"].(string)
		for i := 1; i <= 4; i++ {
			wantStatus(t, e.catUpload(t, m.Token, pID, "a.png", catPNG(t, i, i, false)), http.StatusCreated)
		}
		got := e.tally(t, e.rush(t, time.Minute, requests(rush, func(i int) *http.Request {
			return catUploadRequest(t, m.Token, pID, "b.png", catPNG(t, 10+i, 10, false))
		})), http.StatusCreated, http.StatusConflict)
		if got[http.StatusCreated] != 2 || got[http.StatusConflict] != rush-2 {
			t.Errorf("round %d: %d uploads stored and %d refused, want 2 and %d", round, got[http.StatusCreated], got[http.StatusConflict], rush-2)
		}
		if n := countRows(t, e, "product_images", "1 = 1") - images; n != catalog.MaxImagesPerItem {
			t.Errorf("round %d: %d images stored, want at most %d", round, n, catalog.MaxImagesPerItem)
		}
		if n := catMediaFiles(t, e) - files; n != catalog.MaxImagesPerItem {
			t.Errorf("round %d: %d media files, want %d", round, n, catalog.MaxImagesPerItem)
		}
	}
}

func TestCatalogProductConcurrency(t *testing.T) {
	// A merchant's tools may add many products at once: each is stored, and
	// quickly (no transaction may wait on a second connection of the pool).
	e := newTestEnv(t)
	_, org := e.organizer(t, "organizer@example.com")
	e.createFair(t, org, e.fairBody("bulk-fair", "temple_fair"))
	m := e.register("m@example.com", catalog.RoleMerchant)
	stallID := e.openStall(t, org, m.Token, "bulk-fair", "老街臭干坊")["id"].(string)
	const n = 24
	before := countRows(t, e, "products", "1 = 1")
	began := time.Now()
	got := e.tally(t, e.rush(t, time.Minute, requests(n, func(i int) *http.Request {
		return newRequest("POST", "/api/v1/stalls/"+stallID+"/products", m.Token, goods(fmt.Sprintf("泰州臭干%d号", i), 1500, 20), nil)
	})), http.StatusCreated)
	if got[http.StatusCreated] != n {
		t.Errorf("%d of %d products created", got[http.StatusCreated], n)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("%d concurrent creations took %s", n, took)
	}
	if after := countRows(t, e, "products", "1 = 1"); after-before != got[http.StatusCreated] {
		t.Errorf("%d products stored, %d created", after-before, got[http.StatusCreated])
	}
}
