package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func notifyPayload(userID string, params map[string]string) jobs.NotifyPayload {
	return jobs.NotifyPayload{UserID: userID, EventKey: "welcome", Kind: "welcome", Params: params}
}

func TestOperations(t *testing.T) {
	e := newTestEnv(t)

	t.Run("Healthz", func(t *testing.T) {
		wantStatus(t, e.do(req{Method: "GET", Path: "/healthz"}), http.StatusOK)
	})
	t.Run("Readyz", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/readyz"})
		wantStatus(t, res, http.StatusOK)
		if m := res.JSON(t); m["database"] != "ok" || m["queue"] != "ok" {
			t.Fatalf("readyz %s", res.Body)
		}
	})
	t.Run("OpenAPI", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/openapi.json"})
		wantStatus(t, res, http.StatusOK)
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(res.Body, &doc); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.") {
			t.Errorf("openapi %q", doc.OpenAPI)
		}
		for path, verb := range map[string]string{
			"/api/v1/auth/register": "post", "/api/v1/auth/login": "post", "/api/v1/auth/logout": "post",
			"/api/v1/me": "get", "/api/v1/me/notifications": "get",
		} {
			if _, ok := doc.Paths[path][verb]; !ok {
				t.Errorf("openapi lacks %s %s", verb, path)
			}
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		e.do(req{Method: "GET", Path: "/api/v1/me"})
		res := e.do(req{Method: "GET", Path: "/metrics"})
		wantStatus(t, res, http.StatusOK)
		body := string(res.Body)
		for _, want := range []string{
			`fair_http_requests_total{method="GET",route="/api/v1/me",status="401"}`,
			`fair_http_request_duration_seconds_bucket{method="GET",route="/api/v1/me",status="401"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("QueueDepthMetric", func(t *testing.T) {
		e.register("queued@example.com", catalog.RoleShopper) // queues a welcome; no workers run here
		body := string(e.do(req{Method: "GET", Path: "/metrics"}).Body)
		if !strings.Contains(body, `fair_queue_tasks{queue="low",state="pending"} 1`) {
			t.Errorf("no pending task in the low queue:\n%s", grep(body, "fair_queue_tasks"))
		}
	})
	t.Run("SecurityHeaders", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/login"})
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "SAMEORIGIN",
			"Content-Security-Policy": "default-src 'self'", "Referrer-Policy": "strict-origin-when-cross-origin",
		} {
			if got := res.Header.Get(h); !strings.Contains(got, want) {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})
	t.Run("UnknownRoute", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/no-such-thing"}), http.StatusNotFound, "not_found")
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go e.srv.App().Listener(ln) //nolint:errcheck
		defer e.srv.App().Shutdown()
		// Announce a body over the limit; the server refuses it before it is sent.
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", e.cfg.BodyLimit+1)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", res.StatusCode)
		}
	})
}

func TestPanicIsA500WithoutDetails(t *testing.T) {
	e := newTestEnv(t)
	e.srv.App().Get("/api/v1/test-panic", func(c *fiber.Ctx) error { panic("secret internal detail 42") })
	res := e.do(req{Method: "GET", Path: "/api/v1/test-panic"})
	p := wantProblem(t, res, http.StatusInternalServerError, "internal_error")
	if strings.Contains(string(res.Body), "secret") || strings.Contains(string(res.Body), "goroutine") {
		t.Fatalf("500 leaks internals: %s", res.Body)
	}
	if p["detail"] == "" {
		t.Error("no detail")
	}
	logs := e.logBuf.String()
	if !strings.Contains(logs, "secret internal detail 42") || !strings.Contains(logs, res.Header.Get("X-Request-Id")) {
		t.Fatalf("the panic is not logged with the request id:\n%s", logs)
	}
	// The server keeps serving.
	wantStatus(t, e.do(req{Method: "GET", Path: "/healthz"}), http.StatusOK)
}

func TestUnknownErrorIsA500WithoutDetails(t *testing.T) {
	e := newTestEnv(t)
	r := e.register("db@example.com", catalog.RoleShopper)
	e.srv.DB.Close()
	res := e.do(req{Method: "GET", Path: "/api/v1/me", Token: r.Token})
	wantProblem(t, res, http.StatusInternalServerError, "internal_error")
	if strings.Contains(strings.ToLower(string(res.Body)), "closed") || strings.Contains(string(res.Body), "sql") {
		t.Fatalf("500 leaks internals: %s", res.Body)
	}
	if !strings.Contains(e.logBuf.String(), "closed") {
		t.Error("the cause is not logged")
	}
}

func TestReadyzFailsWithoutRedis(t *testing.T) {
	e := newTestEnv(t)
	if e.redis.Mini == nil {
		t.Skip("needs the in-process Redis to stop it")
	}
	e.redis.Mini.Close()
	res := e.do(req{Method: "GET", Path: "/readyz"})
	wantStatus(t, res, http.StatusServiceUnavailable)
	if res.JSON(t)["database"] != "ok" {
		t.Errorf("database reported down: %s", res.Body)
	}
}

func TestProblemTable(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{catalog.ErrNotFound, 404, "not_found"},
		{fmt.Errorf("stall 7: %w", catalog.ErrForbidden), 403, "forbidden"},
		{account.ErrEmailTaken, 409, "conflict"},
		{account.ErrBadCredentials, 401, "unauthenticated"},
		{account.ErrCSRF, 403, "forbidden"},
		{catalog.Invalid("price", "must not be negative"), 422, "validation_failed"},
		{&account.RateLimitedError{RetryAfter: 3}, 429, "rate_limited"},
		{errors.New("boom"), 500, "internal_error"},
	}
	for _, c := range cases {
		p := problemFor(context.Background(), c.err)
		if p.Status != c.status || p.Code != c.code {
			t.Errorf("%v → %d %s, want %d %s", c.err, p.Status, p.Code, c.status, c.code)
		}
	}
	// The detail is what the domain error carries for the client, never
	// text sliced out of a wrapped error.
	details := []struct {
		err  error
		want string
	}{
		{catalog.Fail(catalog.ErrForbidden, "stall 7"), "stall 7"},
		{fmt.Errorf("loading: %w", catalog.Fail(catalog.ErrNotFound, "no such fair")), "no such fair"},
		{catalog.Fail(catalog.ErrFairEnded, "fair x"), "fair x: the fair has ended"},
		{fmt.Errorf("stall 7: %w", catalog.ErrForbidden), "you may not do this"},
		{fmt.Errorf("%w: Post \"https://api.stripe.com/v1/refunds\": dial tcp: lookup api.stripe.com: no such host", orders.ErrProvider), "the payment provider could not be reached; try again in a moment"},
	}
	for _, d := range details {
		if p := problemFor(context.Background(), d.err); p.Detail != d.want {
			t.Errorf("%v → detail %q, want %q", d.err, p.Detail, d.want)
		}
	}
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
