package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"miaohui/app/account"
	"miaohui/catalog"
)

func countUsers(t testing.TB, e *testEnv) int {
	t.Helper()
	n, err := e.srv.DB.NewSelect().Model((*account.User)(nil)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestRegister(t *testing.T) {
	t.Run("Created", func(t *testing.T) {
		e := newTestEnv(t)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{
			"email": "  Lily.Chen@Example.COM ", "password": testPassword, "name": "陈丽",
		}})
		wantStatus(t, res, http.StatusCreated)
		m := res.JSON(t)
		u := m["user"].(map[string]any)
		if got, want := u["email"], "lily.chen@example.com"; got != want {
			t.Errorf("email %v, want %v", got, want)
		}
		if got, want := u["role"], "shopper"; got != want {
			t.Errorf("role %v, want %v (the default)", got, want)
		}
		if _, leaked := u["password_hash"]; leaked {
			t.Error("password hash in the response")
		}
		if tok, _ := m["token"].(string); len(tok) < 22 {
			t.Errorf("token %q shorter than 128 bits", tok)
		}
	})

	t.Run("Merchant", func(t *testing.T) {
		e := newTestEnv(t)
		r := e.register("stall.owner@example.com", catalog.RoleMerchant)
		res := e.do(req{Method: "GET", Path: "/api/v1/me", Token: r.Token})
		wantStatus(t, res, http.StatusOK)
		if got := res.JSON(t)["role"]; got != "merchant" {
			t.Errorf("role %v, want merchant", got)
		}
	})

	t.Run("DuplicateEmailInAnotherCase", func(t *testing.T) {
		e := newTestEnv(t)
		e.register("lily.chen@example.com", catalog.RoleShopper)
		before := countUsers(t, e)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{
			"email": "LILY.CHEN@example.com", "password": testPassword, "name": "另一个",
		}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if got := countUsers(t, e); got != before {
			t.Errorf("users %d, want %d", got, before)
		}
	})

	invalid := []struct {
		name  string
		body  any
		field string
	}{
		{"MissingFields", map[string]any{"email": "x@example.com"}, "password"},
		{"BadEmail", map[string]any{"email": "not-an-email", "password": testPassword, "name": "x"}, "email"},
		{"ShortPassword", map[string]any{"email": "s@example.com", "password": "a1b2c3", "name": "x"}, "password"},
		{"CommonPassword", map[string]any{"email": "c@example.com", "password": "password123", "name": "x"}, "password"},
		{"KeyboardWalk", map[string]any{"email": "k@example.com", "password": "qwertyuiop", "name": "x"}, "password"},
		{"PasswordIsEmail", map[string]any{"email": "zhang.wei.88@example.com", "password": "zhang.wei.88", "name": "x"}, "password"},
		{"EmptyName", map[string]any{"email": "n@example.com", "password": testPassword, "name": "  "}, "name"},
		{"OrganizerRole", map[string]any{"email": "o@example.com", "password": testPassword, "name": "x", "role": "organizer"}, "role"},
		{"UnknownRole", map[string]any{"email": "u@example.com", "password": testPassword, "name": "x", "role": "admin"}, "role"},
		{"WrongTypes", map[string]any{"email": 12, "password": true, "name": "x"}, "email"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			before := countUsers(t, e)
			res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: tc.body})
			p := wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
			errs, _ := p["errors"].([]any)
			found := false
			for _, fe := range errs {
				f := fe.(map[string]any)
				if f["field"] == tc.field && f["message"] != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("no error for field %q: %s", tc.field, res.Body)
			}
			if got := countUsers(t, e); got != before {
				t.Errorf("users %d, want %d: a rejected registration stored a user", got, before)
			}
		})
	}

	t.Run("MalformedJSON", func(t *testing.T) {
		e := newTestEnv(t)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: `{"email": "a@example.com",`})
		wantProblem(t, res, http.StatusBadRequest, "malformed_json")
	})
}

func TestPasswordHashCost(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		d := DefaultConfig()
		c.PasswordMemoryKiB, c.PasswordIterations = d.PasswordMemoryKiB, d.PasswordIterations
	})
	r := e.register("cost@example.com", catalog.RoleShopper)
	var u account.User
	if err := e.srv.DB.NewSelect().Model(&u).Where("id = ?", r.ID).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("hash %q is not argon2id", u.PasswordHash)
	}
	p, _, _, err := argon2id.DecodeHash(u.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	if p.Memory < 19*1024 || p.Iterations < 2 {
		t.Errorf("argon2id m=%d KiB t=%d, want m ≥ 19456 and t ≥ 2", p.Memory, p.Iterations)
	}
	if strings.Contains(u.PasswordHash, testPassword) {
		t.Error("password stored in clear")
	}
}

func TestLogin(t *testing.T) {
	e := newTestEnv(t)
	e.register("wang@example.com", catalog.RoleShopper)

	login := func(email, password string, cookies ...*http.Cookie) response {
		return e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": email, "password": password}, Cookies: cookies})
	}

	t.Run("OK", func(t *testing.T) {
		res := login("WANG@example.com", testPassword)
		wantStatus(t, res, http.StatusOK)
		m := res.JSON(t)
		if m["user"].(map[string]any)["email"] != "wang@example.com" {
			t.Errorf("user %v", m["user"])
		}
		var ck *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == account.SessionCookie {
				ck = c
			}
		}
		if ck == nil {
			t.Fatal("no session cookie set")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
			t.Errorf("cookie HttpOnly=%v SameSite=%v Secure=%v, want HttpOnly, Lax, not Secure over plain HTTP", ck.HttpOnly, ck.SameSite, ck.Secure)
		}
		if ck.Value != m["token"] {
			t.Error("cookie and token differ")
		}
	})

	t.Run("SecureBehindTLS", func(t *testing.T) {
		e := newTestEnv(t, func(c *Config) { c.TrustedProxies = []string{"0.0.0.0"} })
		e.register("tls@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "tls@example.com", "password": testPassword},
			Header: map[string]string{"X-Forwarded-Proto": "https"}})
		wantStatus(t, res, http.StatusOK)
		for _, c := range res.Cookies() {
			if c.Name == account.SessionCookie && !c.Secure {
				t.Error("session cookie not Secure behind TLS")
			}
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		wantProblem(t, login("wang@example.com", "lantern festival noodles"), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("UnknownEmail", func(t *testing.T) {
		wantProblem(t, login("nobody@example.com", testPassword), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("MissingPassword", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "wang@example.com"}})
		wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
	})

	t.Run("RegeneratedSession", func(t *testing.T) {
		first := login("wang@example.com", testPassword)
		var old *http.Cookie
		for _, c := range first.Cookies() {
			if c.Name == account.SessionCookie {
				old = c
			}
		}
		second := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "wang@example.com", "password": testPassword},
			Cookies: []*http.Cookie{old}, Header: map[string]string{"X-CSRF-Token": first.JSON(t)["csrf_token"].(string)}})
		wantStatus(t, second, http.StatusOK)
		if second.JSON(t)["token"] == old.Value {
			t.Fatal("login reused the session token")
		}
		// The session the browser came with is gone.
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/me", Token: old.Value}), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestTokens(t *testing.T) {
	e := newTestEnv(t)
	r := e.register("li@example.com", catalog.RoleShopper)
	me := func(token string) response { return e.do(req{Method: "GET", Path: "/api/v1/me", Token: token}) }

	t.Run("Me", func(t *testing.T) {
		res := me(r.Token)
		wantStatus(t, res, http.StatusOK)
		m := res.JSON(t)
		for _, k := range []string{"id", "email", "name", "role"} {
			if m[k] == nil || m[k] == "" {
				t.Errorf("me lacks %s: %s", k, res.Body)
			}
		}
	})
	t.Run("NoToken", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/me"}), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("UnknownToken", func(t *testing.T) {
		wantProblem(t, me("f"+r.Token[1:]), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("NotBearer", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/me", Header: map[string]string{"Authorization": "Basic " + r.Token}})
		wantProblem(t, res, http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("StoredHashed", func(t *testing.T) {
		var sessions []account.Session
		if err := e.srv.DB.NewSelect().Model(&sessions).Scan(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, s := range sessions {
			if s.TokenHash == r.Token || strings.Contains(s.TokenHash, r.Token) || s.TokenHash != sha256Hex(s.TokenHash) && s.TokenHash == r.Token {
				t.Fatal("token stored in clear")
			}
		}
		if _, _, err := e.srv.Accounts.Authenticate(context.Background(), sha256Hex(r.Token)); err == nil {
			t.Fatal("the stored hash works as a token")
		}
	})
	t.Run("Expired", func(t *testing.T) {
		other := e.register("expiring@example.com", catalog.RoleShopper)
		wantStatus(t, me(other.Token), http.StatusOK)
		e.clock.Advance(account.SessionTTL + time.Minute)
		defer e.clock.Advance(-(account.SessionTTL + time.Minute))
		wantProblem(t, me(other.Token), http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("RevokedAtLogout", func(t *testing.T) {
		other := e.register("leaving@example.com", catalog.RoleShopper)
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: other.Token})
		wantStatus(t, res, http.StatusNoContent)
		wantProblem(t, me(other.Token), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: other.Token}), http.StatusUnauthorized, "unauthenticated")
		// The user's other sessions live on.
		wantStatus(t, me(r.Token), http.StatusOK)
	})
}

func TestCookieSessionsNeedCSRF(t *testing.T) {
	e := newTestEnv(t)
	r := e.register("zhao@example.com", catalog.RoleShopper)
	ck := r.Cookie
	if ck == nil {
		t.Fatal("no cookie at registration")
	}

	t.Run("SafeMethodWithCookie", func(t *testing.T) {
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{ck}}), http.StatusOK)
	})
	t.Run("MissingToken", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Cookies: []*http.Cookie{ck}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{ck}}), http.StatusOK)
	})
	t.Run("WrongToken", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Cookies: []*http.Cookie{ck}, Header: map[string]string{"X-CSRF-Token": "guess"}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
	})
	t.Run("CrossOrigin", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Cookies: []*http.Cookie{ck},
			Header: map[string]string{"X-CSRF-Token": r.CSRF, "Origin": "https://evil.example"}})
		wantProblem(t, res, http.StatusForbidden, "forbidden")
	})
	t.Run("BearerNeedsNone", func(t *testing.T) {
		other := e.register("bearer@example.com", catalog.RoleShopper)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Token: other.Token}), http.StatusNoContent)
	})
	t.Run("RightToken", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/logout", Cookies: []*http.Cookie{ck}, Header: map[string]string{"X-CSRF-Token": r.CSRF}})
		wantStatus(t, res, http.StatusNoContent)
		// The stale cookie now counts as no session at all.
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/me", Cookies: []*http.Cookie{ck}}), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestAuthRateLimit(t *testing.T) {
	e := newTestEnv(t, func(c *Config) {
		c.AuthAttemptsPerMinute = 3
		c.TrustedProxies = []string{"0.0.0.0"} // app.Test's peer; X-Forwarded-For names the client
	})
	e.createUser("target@example.com", catalog.RoleShopper)
	login := func(ip, email string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": email, "password": "wrong password here"},
			Header: map[string]string{"X-Forwarded-For": ip}})
	}

	t.Run("PerIP", func(t *testing.T) {
		for i := range 3 {
			wantProblem(t, login("10.0.0.1", "someone"+itoa(i)+"@example.com"), http.StatusUnauthorized, "unauthenticated")
		}
		res := login("10.0.0.1", "someone-else@example.com")
		wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
		if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q", ra)
		}
		// Another address is not affected.
		wantProblem(t, login("10.0.0.2", "fresh@example.com"), http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("PerAccount", func(t *testing.T) {
		// An account counts only failures, and many of them (see
		// TestLoginLimitsSpareTheOwner): failures from other addresses do not
		// lock its owner out.
		for i := range 3 {
			wantProblem(t, login("10.1.0."+itoa(i), "target@example.com"), http.StatusUnauthorized, "unauthenticated")
		}
		wantProblem(t, login("10.1.0.99", "TARGET@example.com"), http.StatusUnauthorized, "unauthenticated")
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "target@example.com", "password": testPassword},
			Header: map[string]string{"X-Forwarded-For": "10.1.0.100"}})
		wantStatus(t, res, http.StatusOK)
	})

	t.Run("Register", func(t *testing.T) {
		for i := range 3 {
			res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Header: map[string]string{"X-Forwarded-For": "10.2.0.1"},
				Body: map[string]any{"email": "new" + itoa(i) + "@example.com", "password": testPassword, "name": "x"}})
			wantStatus(t, res, http.StatusCreated)
		}
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Header: map[string]string{"X-Forwarded-For": "10.2.0.1"},
			Body: map[string]any{"email": "new9@example.com", "password": testPassword, "name": "x"}})
		wantProblem(t, res, http.StatusTooManyRequests, "rate_limited")
	})

	t.Run("WindowEnds", func(t *testing.T) {
		if e.redis.Mini == nil {
			t.Skip("moving Redis time needs the in-process Redis")
		}
		for range 3 {
			wantProblem(t, login("10.3.0.1", "target@example.com"), http.StatusUnauthorized, "unauthenticated")
		}
		right := func() response {
			return e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "target@example.com", "password": testPassword},
				Header: map[string]string{"X-Forwarded-For": "10.3.0.1"}})
		}
		wantProblem(t, right(), http.StatusTooManyRequests, "rate_limited")
		e.redis.Mini.FastForward(61 * time.Second)
		wantStatus(t, right(), http.StatusOK)
	})
}

func TestNotifications(t *testing.T) {
	e := newTestEnv(t)
	e.runWorkers()
	a := e.register("a@example.com", catalog.RoleShopper)
	b := e.register("b@example.com", catalog.RoleMerchant)

	list := func(token, query string) map[string]any {
		res := e.do(req{Method: "GET", Path: "/api/v1/me/notifications" + query, Token: token})
		wantStatus(t, res, http.StatusOK)
		return res.JSON(t)
	}
	var welcome map[string]any
	eventually(t, 10*time.Second, func() error {
		items := list(a.Token, "")["items"].([]any)
		if len(items) != 1 {
			return errorf("a has %d notifications", len(items))
		}
		welcome = items[0].(map[string]any)
		return nil
	})
	eventually(t, 10*time.Second, func() error { // b's welcome too: Pagination counts it
		if n := len(list(b.Token, "")["items"].([]any)); n != 1 {
			return errorf("b has %d notifications", n)
		}
		return nil
	})
	if welcome["kind"] != "welcome" || !strings.Contains(welcome["title"].(string), "测试用户") || welcome["read_at"] != nil {
		t.Fatalf("welcome %v", welcome)
	}
	for _, k := range []string{"id", "kind", "title", "body", "created_at", "read_at"} {
		if _, ok := welcome[k]; !ok {
			t.Errorf("notification lacks %s", k)
		}
	}

	t.Run("OnlyTheRecipient", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/me/notifications/" + welcome["id"].(string) + "/read", Token: b.Token})
		wantProblem(t, res, http.StatusNotFound, "not_found")
	})
	t.Run("MarkRead", func(t *testing.T) {
		res := e.do(req{Method: "POST", Path: "/api/v1/me/notifications/" + welcome["id"].(string) + "/read", Token: a.Token})
		wantStatus(t, res, http.StatusOK)
		if res.JSON(t)["read_at"] == nil {
			t.Fatal("read_at not set")
		}
	})
	t.Run("DeliveredOnce", func(t *testing.T) {
		// The same event again (a retried task) adds nothing.
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.srv.auth.SignUp(context.Background(), account.NewUser{}) //nolint:errcheck // invalid on purpose: no user, no task
			}()
		}
		wg.Wait()
		task := map[string]string{"Name": "测试用户"}
		for range 3 {
			if _, _, err := e.srv.Inbox.Deliver(context.Background(), notifyPayload(a.ID, task)); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(list(a.Token, "")["items"].([]any)); n != 1 {
			t.Fatalf("%d notifications after redelivery, want 1", n)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		for i := range 3 {
			p := notifyPayload(b.ID, map[string]string{"Name": "x"})
			p.EventKey = "test-" + itoa(i)
			if _, _, err := e.srv.Inbox.Deliver(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			q := "?limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			m := list(b.Token, q)
			for _, it := range m["items"].([]any) {
				id := it.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("item %s twice", id)
				}
				seen[id] = true
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			cursor = next
		}
		if len(seen) != 4 { // the welcome plus three
			t.Fatalf("saw %d notifications, want 4", len(seen))
		}
	})
}

// sha256Hex is how sessions store their tokens.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
