package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"miaohui/app/account"
	"miaohui/catalog"
)

// twin is a second server over e's database and Redis: two `fair serve`
// processes of one deployment.
func (e *testEnv) twin(t testing.TB) *testEnv {
	t.Helper()
	d := e.srv.Deps
	e2 := *e
	e2.t = t
	e2.srv = newTestServer(t, Deps{Config: e.cfg, Logger: d.Logger, DB: d.DB, Redis: d.Redis, Now: d.Now})
	return &e2
}

// longCache makes the page cache keep answers for longer than any test
// waits, so what a test sees fresh was dropped, not expired.
func longCache(c *Config) { c.PageCacheTTL = time.Minute }

// anon gets path with no credentials.
func (e *testEnv) anon(path string, header ...string) response {
	e.t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	res := e.do(req{Method: "GET", Path: path, Header: h})
	wantStatus(e.t, res, http.StatusOK)
	return res
}

// publicPaths are the cached pages and lists of w's fair, its stalls and
// the product.
func (w *world) publicPaths(product, stall string) []string {
	return []string{
		"/fairs/" + w.slug, "/stalls/" + stall, "/products/" + product, "/fairs/" + w.slug + "/search?q=" + "%E5%85%94%E5%AD%90%E7%81%AF", // 兔子灯
		"/api/v1/fairs/" + w.slug, "/api/v1/fairs/" + w.slug + "/stalls", "/api/v1/stalls/" + stall,
		"/api/v1/products/" + product, "/api/v1/fairs/" + w.slug + "/products", "/api/v1/fairs/" + w.slug + "/products?q=%E5%85%94%E5%AD%90%E7%81%AF",
	}
}

// wantEverywhere waits up to a second until check passes for every path on
// every server.
func wantEverywhere(t *testing.T, servers []*testEnv, paths []string, check func(path string, body string) error) {
	t.Helper()
	eventually(t, time.Second, func() error {
		for i, s := range servers {
			for _, p := range paths {
				if err := check(p, string(s.anon(p).Body)); err != nil {
					return fmt.Errorf("server %d, %s: %w", i+1, p, err)
				}
			}
		}
		return nil
	})
}

func TestPageCacheWritesShowOnEveryServer(t *testing.T) {
	ctx := context.Background()
	newPair := func(t *testing.T, slug string) (*world, []*testEnv) {
		e := newTestEnv(t, longCache)
		e2 := e.twin(t)
		w := newShopWorld(t, e, slug)
		return w, []*testEnv{e, e2}
	}
	warm := func(t *testing.T, servers []*testEnv, paths []string) {
		for _, s := range servers {
			for _, p := range paths {
				s.anon(p)
			}
		}
	}

	t.Run("Cached", func(t *testing.T) {
		w, servers := newPair(t, "cache-kept")
		paths := w.publicPaths(w.lantern, w.stallA)
		warm(t, servers, paths)
		// A change behind the servers' backs (no write through them) is not
		// seen: the answers come from memory.
		if _, err := servers[0].srv.DB.NewUpdate().Table("products").Set("title = ?", "改过的标题").Where("id = ?", w.lantern).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for i, s := range servers {
			for _, p := range paths {
				body := string(s.anon(p).Body)
				if strings.Contains(body, "改过的标题") {
					t.Errorf("server %d, %s: rendered again, want the kept answer", i+1, p)
				}
			}
		}
	})

	t.Run("PriceChange", func(t *testing.T) {
		w, servers := newPair(t, "cache-price")
		paths := w.publicPaths(w.lantern, w.stallA)
		warm(t, servers, paths)
		res := servers[0].do(req{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Token: w.merchA.Token, Body: map[string]any{"price": 8765}})
		wantStatus(t, res, http.StatusOK)
		wantEverywhere(t, servers, paths, func(p, body string) error {
			if strings.HasPrefix(p, "/api/v1/stalls/") || p == "/api/v1/fairs/"+w.slug || p == "/api/v1/fairs/"+w.slug+"/stalls" {
				return nil // answers without prices
			}
			if !strings.Contains(body, "8765") && !strings.Contains(body, "87.65") {
				return fmt.Errorf("no new price 87.65")
			}
			return nil
		})
	})

	t.Run("StockChange", func(t *testing.T) {
		w, servers := newPair(t, "cache-stock")
		paths := []string{"/products/" + w.lantern, "/api/v1/products/" + w.lantern}
		warm(t, servers, paths)
		// A purchase moves the stock: a checkout on the second server.
		shopper := w.shopper(t)
		w2 := *w
		w2.e = servers[1]
		w2.buy(t, shopper.Token, w.lantern, 3)
		wantEverywhere(t, servers, paths, func(p, body string) error {
			if strings.HasPrefix(p, "/api/") {
				if !strings.Contains(body, `"stock":17`) {
					return fmt.Errorf("stock not 17: %.200s", body)
				}
			} else if !strings.Contains(body, `data-testid="product-stock">17<`) {
				return fmt.Errorf("page stock not 17")
			}
			return nil
		})
		// And a merchant's restock on the first.
		res := servers[0].do(req{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Token: w.merchA.Token, Body: map[string]any{"stock": 250}})
		wantStatus(t, res, http.StatusOK)
		wantEverywhere(t, servers, paths, func(p, body string) error {
			if !strings.Contains(body, `"stock":250`) && !strings.Contains(body, `data-testid="product-stock">250<`) {
				return fmt.Errorf("stock not 250")
			}
			return nil
		})
	})

	t.Run("NewProduct", func(t *testing.T) {
		w, servers := newPair(t, "cache-new")
		paths := []string{"/fairs/" + w.slug, "/stalls/" + w.stallB, "/api/v1/fairs/" + w.slug + "/products", "/api/v1/fairs/" + w.slug + "/products?q=%E8%8D%B7%E8%8A%B1%E7%81%AF"} // 荷花灯
		warm(t, servers, paths)
		servers[1].createProduct(t, w.merchB.Token, w.stallB, goods("荷花灯", 1888, 5))
		wantEverywhere(t, servers, paths, func(_, body string) error {
			if !strings.Contains(body, "荷花灯") {
				return fmt.Errorf("no new product 荷花灯")
			}
			return nil
		})
	})

	t.Run("SuspendedStall", func(t *testing.T) {
		w, servers := newPair(t, "cache-suspend")
		paths := []string{"/fairs/" + w.slug, "/api/v1/fairs/" + w.slug + "/products", "/fairs/" + w.slug + "/search?q=%E5%89%AA%E7%BA%B8"} // 剪纸
		stall := "/api/v1/stalls/" + w.stallB
		warm(t, servers, append(paths, stall, "/api/v1/products/"+w.paperCut))
		res := servers[0].do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallB + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: w.org})
		wantStatus(t, res, http.StatusOK)
		wantEverywhere(t, servers, paths, func(p, body string) error {
			if strings.Contains(body, "生肖剪纸") {
				return fmt.Errorf("the suspended stall's product is still listed")
			}
			return nil
		})
		for i, s := range servers {
			for _, p := range []string{stall, "/api/v1/products/" + w.paperCut} {
				if res := s.do(req{Method: "GET", Path: p}); res.StatusCode != http.StatusNotFound {
					t.Errorf("server %d, %s: %d, want 404 for the public", i+1, p, res.StatusCode)
				}
			}
		}
		if res := servers[1].do(req{Method: "GET", Path: "/products/" + w.paperCut, Header: map[string]string{"Accept": "text/html"}}); res.StatusCode == http.StatusOK && strings.Contains(string(res.Body), `data-testid="add-quantity"`) {
			t.Errorf("the suspended stall's product page still sells")
		}
	})
}

// registerNamed signs up a user with a name of their own and a session cookie.
func (e *testEnv) registerNamed(t testing.TB, email, name string, role catalog.Role) registered {
	t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": email, "password": testPassword, "name": name, "role": role}})
	wantStatus(t, res, http.StatusCreated)
	m := res.JSON(t)
	u := m["user"].(map[string]any)
	out := registered{ID: u["id"].(string), Email: email, Token: m["token"].(string), CSRF: m["csrf_token"].(string)}
	for _, c := range res.Cookies() {
		if c.Name == account.SessionCookie {
			out.Cookie = c
		}
	}
	if out.Cookie == nil {
		t.Fatal("no session cookie at registration")
	}
	return out
}

func TestPageCacheKeepsVisitorsApart(t *testing.T) {
	e := newTestEnv(t, longCache)
	w := newShopWorld(t, e, "cache-people")
	alice := e.registerNamed(t, "alice@example.com", "王小花", catalog.RoleShopper)
	bob := e.registerNamed(t, "bob@example.com", "李大壮", catalog.RoleShopper)
	w.cart(t, alice.Token, w.lantern, 4)

	pages := []string{"/", "/fairs/" + w.slug, "/stalls/" + w.stallA, "/products/" + w.lantern, "/fairs/" + w.slug + "/search?q=%E7%81%AF"}
	csrfMeta := regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)
	csrfOf := func(body []byte) string {
		m := csrfMeta.FindSubmatch(body)
		if m == nil {
			t.Fatalf("no csrf meta in %.300s", body)
		}
		return string(m[1])
	}
	for _, p := range pages {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			// Anonymous first, so the page is in the cache when the others come.
			anon := e.anon(p)
			get := func(u registered) response {
				res := e.do(req{Method: "GET", Path: p, Cookies: []*http.Cookie{u.Cookie}})
				wantStatus(t, res, http.StatusOK)
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("signed-in page Cache-Control %q, want no-store", cc)
				}
				return res
			}
			a, b := get(alice), get(bob)
			again := e.anon(p)
			for _, c := range []struct {
				who        string
				body       []byte
				name, not  string
				cart       bool
				wantCSRF   string
				otherCSRFs []string
			}{
				{"alice", a.Body, "王小花", "李大壮", true, alice.CSRF, []string{bob.CSRF}},
				{"bob", b.Body, "李大壮", "王小花", false, bob.CSRF, []string{alice.CSRF}},
			} {
				// The header no longer names the user: the signed-in page
				// has the 我的 tab to the account, and never the other's name.
				if !bytes.Contains(c.body, []byte(`href="/account" class="tab" data-testid="tab-me"`)) || bytes.Contains(c.body, []byte(c.not)) {
					t.Errorf("%s's page: want the signed-in 我的 tab and not %s", c.who, c.not)
				}
				if got := bytes.Contains(c.body, []byte(`data-testid="cart-count">4<`)); got != c.cart {
					t.Errorf("%s's page shows alice's cart of 4: %v, want %v", c.who, got, c.cart)
				}
				if got := csrfOf(c.body); got != c.wantCSRF || slices.Contains(c.otherCSRFs, got) {
					t.Errorf("%s's page CSRF token %q, want %q", c.who, got, c.wantCSRF)
				}
			}
			for i, body := range [][]byte{anon.Body, again.Body} {
				if bytes.Contains(body, []byte("王小花")) || bytes.Contains(body, []byte("李大壮")) || bytes.Contains(body, []byte("cart-count")) || csrfOf(body) != "" {
					t.Errorf("anonymous page %d carries someone's name, cart or CSRF token", i+1)
				}
			}
			if !bytes.Equal(anon.Body, again.Body) || anon.Header.Get("ETag") == "" || anon.Header.Get("ETag") != again.Header.Get("ETag") {
				t.Errorf("anonymous page not served from the cache (ETag %q then %q)", anon.Header.Get("ETag"), again.Header.Get("ETag"))
			}
		})
	}

	t.Run("BearerAPI", func(t *testing.T) {
		p := "/api/v1/products/" + w.lantern
		e.anon(p)
		res := e.do(req{Method: "GET", Path: p, Token: alice.Token})
		wantStatus(t, res, http.StatusOK)
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("bearer answer Cache-Control %q, want no-store", cc)
		}
		if res.Header.Get("ETag") != "" {
			t.Errorf("bearer answer came from the shared cache (ETag %q)", res.Header.Get("ETag"))
		}
	})
}

func TestPageCacheHeaders(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "cache-headers")
	for _, p := range []string{"/fairs/" + w.slug, "/api/v1/fairs/" + w.slug + "/products", "/api/v1/products/" + w.lantern, "/fairs/" + w.slug + "/flash-sales"} {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			first := e.anon(p)
			tag := first.Header.Get("ETag")
			if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(tag) {
				t.Fatalf("ETag %q, want a strong hash", tag)
			}
			cc := first.Header.Get("Cache-Control")
			if !regexp.MustCompile(`^public, max-age=[12]$`).MatchString(cc) {
				t.Errorf("Cache-Control %q, want public, max-age=1|2", cc)
			}
			if v := strings.Join(first.Header.Values("Vary"), ","); !strings.Contains(v, "Cookie") || !strings.Contains(v, "Accept-Encoding") {
				t.Errorf("Vary %q, want Cookie and Accept-Encoding", v)
			}

			notMod := e.do(req{Method: "GET", Path: p, Header: map[string]string{"If-None-Match": tag}})
			wantStatus(t, notMod, http.StatusNotModified)
			if len(notMod.Body) != 0 || notMod.Header.Get("ETag") != tag {
				t.Errorf("304: body %d bytes, ETag %q", len(notMod.Body), notMod.Header.Get("ETag"))
			}
			stale := e.do(req{Method: "GET", Path: p, Header: map[string]string{"If-None-Match": `"0123"`}})
			wantStatus(t, stale, http.StatusOK)

			for _, enc := range []string{"gzip", "br"} {
				res := e.anon(p, "Accept-Encoding", enc)
				if got := res.Header.Get("Content-Encoding"); got != enc {
					t.Fatalf("Content-Encoding %q, want %s", got, enc)
				}
				var r io.Reader
				if enc == "gzip" {
					zr, err := gzip.NewReader(bytes.NewReader(res.Body))
					if err != nil {
						t.Fatal(err)
					}
					r = zr
				} else {
					r = brotli.NewReader(bytes.NewReader(res.Body))
				}
				plain, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(plain, first.Body) {
					t.Errorf("%s body does not decode to the page (%v)", enc, err)
				}
				// The compressed form is revalidated by the same hash.
				nm := e.do(req{Method: "GET", Path: p, Header: map[string]string{"Accept-Encoding": enc, "If-None-Match": res.Header.Get("ETag")}})
				wantStatus(t, nm, http.StatusNotModified)
			}
		})
	}

	t.Run("Uncached", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/applications", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("organizer's list Cache-Control %q, want no-store", cc)
		}
		missing := e.do(req{Method: "GET", Path: "/api/v1/fairs/nope/products"})
		wantStatus(t, missing, http.StatusNotFound)
		if missing.Header.Get("ETag") != "" || strings.HasPrefix(missing.Header.Get("Cache-Control"), "public") {
			t.Errorf("a 404 is cached: %v", missing.Header)
		}
	})
}

func TestStaticAssetsHashedAndCompressed(t *testing.T) {
	e := newTestEnv(t)
	page := e.anon("/")
	for _, name := range []string{"app.css", "app.js"} {
		t.Run(name, func(t *testing.T) {
			base, ext, _ := strings.Cut(name, ".")
			m := regexp.MustCompile(`"(/static/` + base + `\.[0-9a-f]{12}\.` + ext + `)"`).FindSubmatch(page.Body)
			if m == nil {
				t.Fatalf("the page does not link a hashed %s", name)
			}
			url := string(m[1])
			res := e.anon(url, "Accept-Encoding", "gzip")
			if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", cc)
			}
			if enc := res.Header.Get("Content-Encoding"); enc != "gzip" {
				t.Errorf("Content-Encoding %q, want gzip", enc)
			}
			zr, err := gzip.NewReader(bytes.NewReader(res.Body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(zr)
			plain := e.anon("/static/" + name)
			if !bytes.Equal(got, plain.Body) || len(got) == 0 {
				t.Errorf("hashed %s differs from /static/%s", url, name)
			}
			if cc := plain.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
				t.Errorf("the plain name is immutable: %q", cc)
			}
			br := e.anon(url, "Accept-Encoding", "br")
			if enc := br.Header.Get("Content-Encoding"); enc != "br" {
				t.Errorf("Content-Encoding %q, want br", enc)
			}
			nm := e.do(req{Method: "GET", Path: url, Header: map[string]string{"If-None-Match": res.Header.Get("ETag")}})
			wantStatus(t, nm, http.StatusNotModified)
		})
	}
	t.Run("UnknownHash", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/static/app.000000000000.css"})
		wantStatus(t, res, http.StatusNotFound)
	})
}

// BenchmarkPageCacheFairPage serves a cached fair page through the whole
// middleware stack (in-process, without a network).
func BenchmarkPageCacheFairPage(b *testing.B) {
	e := newTestEnv(b)
	w := newShopWorld(b, e, "cache-bench")
	for i := range 200 {
		e.createProduct(b, w.merchA.Token, w.stallA, goods(fmt.Sprintf("灯笼%d", i), 1000+int64(i), 10))
	}
	path := "/fairs/" + w.slug
	e.anon(path)
	b.ResetTimer()
	for b.Loop() {
		res, err := e.srv.App().Test(newRequest("GET", path, "", nil, nil), -1)
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatal(res.StatusCode, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

func TestProductPhotoSizes(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "photo-sizes")
	pic := image.NewRGBA(image.Rect(0, 0, 1000, 500))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, pic, nil); err != nil {
		t.Fatal(err)
	}
	res := e.catUpload(t, w.merchA.Token, w.lantern, "lantern.jpg", buf.Bytes())
	wantStatus(t, res, http.StatusCreated)
	img := res.JSON(t)
	thumb, medium, url := img["thumb_url"].(string), img["medium_url"].(string), img["url"].(string)
	if thumb == url || medium == url || img["srcset"] != thumb+" 320w, "+medium+" 800w, "+url+" 1000w" {
		t.Fatalf("image %s", res.Body)
	}
	for _, c := range []struct {
		url   string
		width int
	}{{thumb, 320}, {medium, 800}, {url, 1000}} {
		got := e.anon(c.url)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(got.Body))
		if err != nil || cfg.Width != c.width {
			t.Errorf("%s: width %d (%v), want %d", c.url, cfg.Width, err, c.width)
		}
	}
	product := string(e.anon("/products/" + w.lantern).Body)
	if !strings.Contains(product, `src="`+medium+`"`) || !strings.Contains(product, `srcset="`+thumb+` 320w, `+medium+` 800w, `+url+` 1000w"`) {
		t.Errorf("the product page does not show the medium copy with a srcset")
	}
	fair := string(e.anon("/fairs/" + w.slug).Body)
	if !strings.Contains(fair, `src="`+thumb+`" srcset="`) {
		t.Errorf("the fair's grid does not show the thumbnail with a srcset")
	}

	t.Run("PhotoFromBeforeCopies", func(t *testing.T) {
		// A photo stored before copies were made has none: its copies'
		// names serve the photo itself.
		if err := os.Remove(filepath.Join(e.srv.Catalog.MediaDir(), filepath.FromSlash(strings.TrimPrefix(thumb, "/media/")))); err != nil {
			t.Fatal(err)
		}
		got := e.anon(thumb)
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(got.Body)); err != nil || cfg.Width != 1000 {
			t.Errorf("a missing copy: width %d (%v), want the photo's 1000", cfg.Width, err)
		}
		wantStatus(t, e.do(req{Method: "GET", Path: "/media/products/NOSUCHPHOTO-320.jpg"}), http.StatusNotFound)
	})
}

func TestPageCacheBounded(t *testing.T) {
	r := newTestEnv(t).srv.Redis
	pc := newPageCache(time.Minute, r, nil)
	body := bytes.Repeat([]byte("庙"), pageCacheMaxBody/3)
	for i := range 200 {
		pc.keep(fmt.Sprint("/fairs/", i%150), &cachedPage{body: body})
	}
	if got := pc.bytes.Load(); got > pageCacheBytes || got != int64(pc.entries.Len()*len(body)) {
		t.Errorf("%d bytes counted for %d answers of %d bytes, want at most %d", got, pc.entries.Len(), len(body), pageCacheBytes)
	}
	if _, ok := pc.entries.Get("/fairs/149"); !ok {
		t.Error("the latest answer was evicted")
	}
	pc.drop()
	if pc.bytes.Load() != 0 || pc.entries.Len() != 0 {
		t.Errorf("after a drop: %d bytes, %d answers", pc.bytes.Load(), pc.entries.Len())
	}
}
