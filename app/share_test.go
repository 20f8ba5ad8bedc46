package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// metaOf reads the content of the page's <meta property|name|itemprop=key>.
func metaOf(body []byte, key string) (string, bool) {
	re := regexp.MustCompile(`<meta (?:property|name|itemprop)="` + regexp.QuoteMeta(key) + `" content="([^"]*)">`)
	m := re.FindSubmatch(body)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(string(m[1])), true
}

// Fair, stall, product and flash sale pages carry a description and the
// share card WeChat and other apps read (Open Graph and itemprop tags, with
// absolute URLs); the poster's QR code is of the site's own pages only; the
// manifest, service worker and icon make the site installable.
func TestShareCardsAndInstallableApp(t *testing.T) {
	e := newTestEnv(t)
	w := newFlashWorld(t, e, "share-fair-2026")
	sale := w.liveSale(t, 990, 10, 1)

	pages := map[string]string{
		"fair":    "/fairs/" + w.slug,
		"stall":   "/stalls/" + w.stallA,
		"product": "/products/" + w.product,
		"flash":   "/flash-sales/" + sale,
	}
	for name, path := range pages {
		t.Run(name, func(t *testing.T) {
			res := e.do(req{Method: "GET", Path: path})
			wantStatus(t, res, http.StatusOK)
			for _, key := range []string{"description", "og:title", "og:description", "og:url", "itemprop:name"} {
				key = strings.TrimPrefix(key, "itemprop:")
				if v, ok := metaOf(res.Body, key); !ok || strings.TrimSpace(v) == "" {
					t.Errorf("%s: no %s", path, key)
				}
			}
			u, _ := metaOf(res.Body, "og:url")
			if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Path != path {
				t.Errorf("%s: og:url %q, want the page's absolute URL", path, u)
			}
			if !bytes.Contains(res.Body, []byte(`data-testid="share"`)) {
				t.Errorf("%s: no share bar", path)
			}
			if !bytes.Contains(res.Body, []byte(`rel="manifest"`)) || !bytes.Contains(res.Body, []byte(`rel="icon"`)) {
				t.Errorf("%s: no manifest or icon link", path)
			}
		})
	}
	flash := e.do(req{Method: "GET", Path: pages["flash"]})
	if title, _ := metaOf(flash.Body, "og:title"); !strings.Contains(title, "抢购") {
		t.Errorf("the flash sale's card is titled %q, want it to say 抢购", title)
	}

	t.Run("PosterQR", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/share/qr.png?path=" + url.QueryEscape(pages["product"])})
		wantStatus(t, res, http.StatusOK)
		if _, err := png.Decode(bytes.NewReader(res.Body)); err != nil {
			t.Errorf("the QR code is no PNG: %v", err)
		}
		for _, bad := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "", "javascript:alert(1)"} {
			res := e.do(req{Method: "GET", Path: "/share/qr.png?path=" + url.QueryEscape(bad)})
			wantStatus(t, res, http.StatusNotFound)
		}
	})

	t.Run("Manifest", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/manifest.webmanifest"})
		wantStatus(t, res, http.StatusOK)
		var m struct {
			Name      string `json:"name"`
			ShortName string `json:"short_name"`
			StartURL  string `json:"start_url"`
			Display   string `json:"display"`
			Icons     []struct{ Src, Sizes, Type string }
		}
		if err := json.Unmarshal(res.Body, &m); err != nil {
			t.Fatal(err)
		}
		if m.ShortName == "" || m.StartURL != "/" || m.Display != "standalone" || len(m.Icons) < 2 {
			t.Fatalf("manifest %s", res.Body)
		}
		for _, ic := range m.Icons {
			img := e.do(req{Method: "GET", Path: ic.Src})
			wantStatus(t, img, http.StatusOK)
			cfg, err := png.DecodeConfig(bytes.NewReader(img.Body))
			if err != nil || ic.Sizes != fmt.Sprintf("%dx%d", cfg.Width, cfg.Height) {
				t.Errorf("icon %s: %v, %dx%d, declared %s", ic.Src, err, cfg.Width, cfg.Height, ic.Sizes)
			}
		}
	})

	t.Run("ServiceWorker", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/sw.js"})
		wantStatus(t, res, http.StatusOK)
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("sw.js Cache-Control %q, want no-cache", cc)
		}
		js := string(res.Body)
		if strings.Contains(js, "__VERSION__") || strings.Contains(js, "__ASSETS__") || !strings.Contains(js, "/static/app.") {
			t.Errorf("sw.js is not filled in:\n%.400s", js)
		}
		off := e.do(req{Method: "GET", Path: "/offline"})
		wantStatus(t, off, http.StatusOK)
	})

	t.Run("Favicon", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/favicon.ico"})
		wantStatus(t, res, http.StatusMovedPermanently)
		img := e.do(req{Method: "GET", Path: res.Header.Get("Location")})
		wantStatus(t, img, http.StatusOK)
		if ct := img.Header.Get("Content-Type"); ct != "image/png" {
			t.Errorf("favicon Content-Type %q", ct)
		}
	})
}
