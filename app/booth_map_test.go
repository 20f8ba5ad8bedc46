package app

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"miaohui/catalog"
)

// The floor plan on the fair page and the pass, and the organizer's map page.

func TestBoothMapPages(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "map-pages")
	fairPath, mapPath := "/fairs/"+w.slug, "/api/v1/fairs/"+w.slug+"/map"

	t.Run("no map", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: fairPath})
		wantStatus(t, res, http.StatusOK)
		if strings.Contains(string(res.Body), "floor-plan") {
			t.Error("a fair without a plan shows a map")
		}
	})

	merchC := e.register("xss-"+w.slug+"@example.com", catalog.RoleMerchant)
	stallC := e.openStall(t, w.org, merchC.Token, w.slug, `<b>灯"&</b>`)["id"].(string)
	buyer, idle := w.shopper(t), w.shopper(t)
	w.buyPaid(t, buyer.Token, w.lantern, 1)
	wantStatus(t, e.do(req{Method: "PUT", Path: mapPath, Token: w.org, Body: map[string]any{"image_url": "/static/plan.png", "booths": []map[string]any{
		{"booth": "A-001", "stall_id": w.stallA, "x": 10, "y": 10, "w": 100, "h": 60},
		{"booth": "A-002", "stall_id": w.stallB, "x": 120, "y": 10, "w": 100, "h": 60},
		{"booth": "A-003", "stall_id": stallC, "x": 230, "y": 10, "w": 100, "h": 60},
		{"booth": "A-004", "x": 340, "y": 10, "w": 100, "h": 60},
	}}}), http.StatusOK)

	t.Run("fair page", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: fairPath})
		wantStatus(t, res, http.StatusOK)
		body := string(res.Body)
		for _, want := range []string{
			`data-testid="fair-map"`, `<svg class="floor-plan" viewBox="0 0 448 78"`, `<image href="/static/plan.png"`,
			`<a href="/stalls/` + w.stallA + `" class="map-booth" aria-label="展位 A-001 · 老街灯笼铺"`,
			`<title>展位 A-001 · 老街灯笼铺</title>`,
			`<a href="/stalls/` + w.stallB + `"`,
			`<title>展位 A-003 · &lt;b&gt;灯&#34;&amp;&lt;/b&gt;</title>`,
			`data-booth="A-004"`, `<title>展位 A-004</title>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the fair page lacks %q", want)
			}
		}
		if strings.Contains(body, `<b>灯`) {
			t.Error("a stall's name is not escaped in the map")
		}
		if strings.Contains(body, "data-mine") {
			t.Error("the public fair page highlights booths")
		}
		if n := strings.Count(body, `data-testid="map-booth"`); n != 4 {
			t.Errorf("the map has %d booths, want 4", n)
		}
	})

	t.Run("pass page", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: fairPath + "/pass", Cookies: []*http.Cookie{buyer.Cookie}})
		wantStatus(t, res, http.StatusOK)
		body := string(res.Body)
		if n := strings.Count(body, `data-mine="1"`); n != 1 {
			t.Errorf("the pass highlights %d booths, want 1", n)
		}
		if !strings.Contains(body, `data-booth="A-001" data-stall="`+w.stallA+`" data-mine="1"`) {
			t.Error("the pass does not highlight the lantern stall's booth")
		}
		if n := strings.Count(body, `data-testid="pass-map-booth"`); n != 1 || !strings.Contains(body, `data-testid="pass-map-booth" data-booth="A-001"`) {
			t.Errorf("the pass lists %d booths to visit, want A-001 alone", n)
		}
		res = e.do(req{Method: "GET", Path: fairPath + "/pass", Cookies: []*http.Cookie{idle.Cookie}})
		wantStatus(t, res, http.StatusOK)
		if body := string(res.Body); !strings.Contains(body, `data-testid="pass-map"`) || strings.Contains(body, "data-mine") || strings.Contains(body, "pass-map-booth") {
			t.Error("a shopper with nothing to collect: the map should show with no booth highlighted")
		}
	})
}

func TestBoothMapEditor(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "map-editor")
	other := newWorld(t, e, "map-editor-other")
	merchC := e.register("third-"+w.slug+"@example.com", catalog.RoleMerchant)
	stallC := e.openStall(t, w.org, merchC.Token, w.slug, "第三家")["id"].(string)
	editor := "/organizer/fairs/" + w.slug + "/map"
	formHeader := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	post := func(token, path, body string) response {
		return e.do(req{Method: "POST", Path: path, Token: token, Header: formHeader, Body: body})
	}
	plan := func() []map[string]any {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/map"})
		wantStatus(t, res, http.StatusOK)
		var out []map[string]any
		for _, b := range res.JSON(t)["booths"].([]any) {
			out = append(out, b.(map[string]any))
		}
		return out
	}

	t.Run("page", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: editor, Token: w.org})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), `data-testid="grid-submit"`) {
			t.Error("the map page has no grid form")
		}
		if res := e.do(req{Method: "GET", Path: "/organizer/fairs/" + w.slug, Token: w.org}); !strings.Contains(string(res.Body), `href="/organizer/fairs/`+w.slug+`/map"`) {
			t.Error("the fair's console does not link to its map page")
		}
		wantStatus(t, e.do(req{Method: "GET", Path: editor, Token: other.org}), http.StatusForbidden)
		wantStatus(t, e.do(req{Method: "GET", Path: editor, Token: w.merchA.Token}), http.StatusForbidden)
	})

	t.Run("grid", func(t *testing.T) {
		// Too small for three stalls, and not numbers: refused, nothing saved.
		wantStatus(t, post(w.org, editor+"/grid", "rows=1&columns=2"), http.StatusUnprocessableEntity)
		wantStatus(t, post(w.org, editor+"/grid", "rows=x&columns=2"), http.StatusUnprocessableEntity)
		wantStatus(t, post(other.org, editor+"/grid", "rows=2&columns=2"), http.StatusForbidden)
		wantStatus(t, post(w.merchA.Token, editor+"/grid", "rows=2&columns=2"), http.StatusForbidden)
		if got := plan(); len(got) != 0 {
			t.Fatalf("refused layouts saved %v", got)
		}

		res := post(w.org, editor+"/grid", "rows=2&columns=2")
		wantStatus(t, res, http.StatusSeeOther)
		got := plan()
		want := []struct {
			booth, stall string
			x, y         float64
		}{{"A-001", w.stallA, 10, 10}, {"A-002", w.stallB, 120, 10}, {"A-003", stallC, 10, 80}, {"A-004", "", 120, 80}}
		if len(got) != len(want) {
			t.Fatalf("grid of 2×2 saved %d booths: %v", len(got), got)
		}
		for i, wb := range want {
			b := got[i]
			stall, _ := b["stall_id"].(string)
			if b["booth"] != wb.booth || stall != wb.stall || b["x"] != wb.x || b["y"] != wb.y || b["w"] != float64(catalog.GridCellW) || b["h"] != float64(catalog.GridCellH) {
				t.Errorf("booth %d = %v, want %+v", i, b, wb)
			}
		}
		page := string(e.do(req{Method: "GET", Path: editor, Token: w.org}).Body)
		if n := strings.Count(page, `data-testid="booth-form"`); n != 4 || !strings.Contains(page, `data-testid="booth-stall">第三家<`) || !strings.Contains(page, `data-testid="editor-map"`) {
			t.Errorf("the map page shows %d booth forms, or not their stalls or the map", n)
		}
	})

	t.Run("booth", func(t *testing.T) {
		res := post(w.org, editor+"/booth", "booth=A-004&stall_id=&x=300&y=80&w=50&h=60")
		wantStatus(t, res, http.StatusSeeOther)
		if b := plan()[3]; b["x"] != float64(300) || b["w"] != float64(50) {
			t.Errorf("edited booth %v", b)
		}
		wantStatus(t, post(w.org, editor+"/booth", "booth=A-004&stall_id="+other.stallA+"&x=300&y=80&w=50&h=60"), http.StatusUnprocessableEntity)
		wantStatus(t, post(w.org, editor+"/booth", "booth=A-004&x=-1&y=80&w=50&h=60"), http.StatusUnprocessableEntity)
		wantStatus(t, post(other.org, editor+"/booth", "booth=A-004&x=1&y=80&w=50&h=60"), http.StatusForbidden)
		if b := plan()[3]; b["x"] != float64(300) || b["stall_id"] != nil {
			t.Errorf("refused edits changed the booth: %v", b)
		}
		wantStatus(t, post(w.org, editor+"/booth", "booth=A-004&remove=1"), http.StatusSeeOther)
		if n := len(plan()); n != 3 {
			t.Errorf("after removing a booth the plan has %d", n)
		}
	})

	t.Run("upload", func(t *testing.T) {
		upload := func(token string, data []byte) response {
			api := catUploadRequest(t, token, "x", "plan.png", data)
			body, err := io.ReadAll(api.Body)
			if err != nil {
				t.Fatal(err)
			}
			hr := httptest.NewRequest("POST", editor+"/upload", bytes.NewReader(body))
			hr.Header = api.Header
			return e.send(hr)
		}
		files := catMediaFiles(t, e)
		wantStatus(t, upload(w.org, []byte("not an image")), http.StatusUnprocessableEntity)
		wantStatus(t, upload(other.org, catPNG(t, 40, 30, false)), http.StatusForbidden)
		if got := catMediaFiles(t, e); got != files {
			t.Errorf("refused uploads stored %d files", got-files)
		}
		wantStatus(t, upload(w.org, catPNG(t, 800, 500, false)), http.StatusSeeOther)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/map"})
		got := res.JSON(t)
		image, _ := got["image_url"].(string)
		if !strings.HasPrefix(image, "/media/maps/") || len(got["booths"].([]any)) != 3 {
			t.Fatalf("after the upload the plan is %v", got)
		}
		img := e.do(req{Method: "GET", Path: image})
		wantStatus(t, img, http.StatusOK)
		if ct := img.Header.Get("Content-Type"); ct != "image/png" {
			t.Errorf("the plan's image is served as %q", ct)
		}
		// The booths are in the image's pixels: the map spans the image.
		page := string(e.do(req{Method: "GET", Path: "/fairs/" + w.slug}).Body)
		for _, want := range []string{`viewBox="0 0 800 500"`, `<image href="` + image + `" x="0" y="0" width="800" height="500"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the fair page's map lacks %q", want)
			}
		}
	})
}

// The redeem page alone loads the vendored QR decoder, for browsers without
// BarcodeDetector; the file is served with its licence beside it.
func TestBoothRedeemQRDecoder(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "redeem-jsqr")
	src := e.srv.site.AssetURL("vendor/jsQR.js")
	res := e.do(req{Method: "GET", Path: "/stalls/" + w.stallA + "/redeem", Cookies: []*http.Cookie{w.merchA.Cookie}})
	wantStatus(t, res, http.StatusOK)
	if !strings.Contains(string(res.Body), `<script src="`+src+`" defer></script>`) {
		t.Errorf("the redeem page does not load %s", src)
	}
	if res := e.do(req{Method: "GET", Path: "/fairs/" + w.slug}); strings.Contains(string(res.Body), "jsQR") {
		t.Error("the fair page loads the QR decoder")
	}
	js := e.do(req{Method: "GET", Path: src})
	wantStatus(t, js, http.StatusOK)
	if !strings.Contains(string(js.Body), "jsQR 1.4.0") || !strings.Contains(js.Header.Get("Content-Type"), "javascript") {
		t.Errorf("%s: %s, %d bytes", src, js.Header.Get("Content-Type"), len(js.Body))
	}
}
