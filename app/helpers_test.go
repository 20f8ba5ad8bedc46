package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/jobs"
	"miaohui/migrations/testdb"
)

// testEnv is a server on a fresh database and Redis.
type testEnv struct {
	t      testing.TB
	srv    *Server
	redis  *testdb.Redis
	clock  *catalogtest.Clock
	cfg    Config
	logBuf *syncBuffer
}

// syncBuffer collects log output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig is the default configuration with a cheap password hash, so
// suites that create many users stay fast; the account tests check the real cost.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.PasswordMemoryKiB = 1024
	cfg.PasswordIterations = 1
	cfg.AuthAttemptsPerMinute = 1000
	return cfg
}

func newTestEnv(t testing.TB, mutate ...func(*Config)) *testEnv {
	t.Helper()
	cfg := testConfig()
	cfg.DataDir = t.TempDir()
	for _, m := range mutate {
		m(&cfg)
	}
	db := testdb.Open(t)
	r := testdb.NewRedis(t)
	clock := catalogtest.NewClock(time.Now())
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	srv := newTestServer(t, Deps{Config: cfg, Logger: log, DB: db, Redis: r.Client, Now: clock.Now})
	return &testEnv{t: t, srv: srv, redis: r, clock: clock, cfg: cfg, logBuf: logs}
}

// newTestServer builds the services and the server over d, closed when t ends.
func newTestServer(t testing.TB, d Deps) *Server {
	t.Helper()
	svc, err := NewServices(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	srv, err := NewServer(svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// response is a finished test request.
type response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
	}
	return m
}

// req is one request to send.
type req struct {
	Method, Path string
	Body         any               // marshalled to JSON unless a string
	Token        string            // bearer token
	Header       map[string]string // extra headers
	Cookies      []*http.Cookie
}

func (e *testEnv) do(r req) response {
	e.t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	hr := httptest.NewRequest(r.Method, r.Path, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	for _, c := range r.Cookies {
		hr.AddCookie(c)
	}
	return e.send(hr)
}

// wantStatus fails the test unless res has the status.
func wantStatus(t testing.TB, res response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL, res.StatusCode, want, res.Body)
	}
}

// wantProblem checks status, problem content type and code.
func wantProblem(t testing.TB, res response, status int, code string) map[string]any {
	t.Helper()
	wantStatus(t, res, status)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	p := res.JSON(t)
	if p["code"] != code {
		t.Fatalf("code %v, want %s\n%s", p["code"], code, res.Body)
	}
	for _, k := range []string{"type", "title", "status", "code"} {
		if _, ok := p[k]; !ok {
			t.Fatalf("problem lacks %q: %s", k, res.Body)
		}
	}
	return p
}

const testPassword = "lantern festival dumplings"

// registered is a user signed up through the API.
type registered struct {
	ID, Email, Token, CSRF string
	Cookie                 *http.Cookie
}

// register signs up a user through the API and returns its token and cookie.
func (e *testEnv) register(email string, role catalog.Role) registered {
	e.t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{
		"email": email, "password": testPassword, "name": "测试用户", "role": role,
	}})
	wantStatus(e.t, res, http.StatusCreated)
	m := res.JSON(e.t)
	u := m["user"].(map[string]any)
	out := registered{ID: u["id"].(string), Email: u["email"].(string), Token: m["token"].(string), CSRF: m["csrf_token"].(string)}
	for _, c := range res.Cookies() {
		if c.Name == account.SessionCookie {
			out.Cookie = c
		}
	}
	return out
}

// createUser makes a user directly through the service (organizers, say).
func (e *testEnv) createUser(email string, role catalog.Role) account.User {
	e.t.Helper()
	u, err := e.srv.Accounts.CreateUser(context.Background(), account.NewUser{Email: email, Password: testPassword, Name: string(role), Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// runWorkers processes the queues in-process until the test ends, with the
// worker's dependencies tuned as given.
func (e *testEnv) runWorkers(tune ...func(*jobs.Deps)) {
	e.t.Helper()
	deps, err := e.srv.WorkerDeps()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range tune {
		f(&deps)
	}
	w := jobs.NewWorker(deps)
	mux := asynq.NewServeMux()
	w.Register(mux)
	srv := w.NewServer(e.redis.Client, e.srv.Logger, 4)
	if err := srv.Start(mux); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(srv.Shutdown)
	// The outbox relay, as StartWorkers runs it (more often: tests wait).
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.NewRelay(deps.DB, deps.Enqueuer, deps.Now, e.srv.Logger).Loop(ctx, 200*time.Millisecond)
	}()
	e.t.Cleanup(func() { stop(); <-done })
}

// eventually retries check until it passes or the deadline passes.
func eventually(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reached within %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
