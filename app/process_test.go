package app_test

// These tests run the real `fair` binary as separate processes: the server and
// a worker sharing one database and one Redis, graceful shutdown on SIGTERM,
// and the operator commands.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"miaohui/migrations"
	"miaohui/migrations/testdb"
)

const procPassword = "lantern festival dumplings"

var (
	procBuildOnce sync.Once
	procBinary    string
	procBuildErr  error
)

// fairBinary builds app/cmd/fair once per test run and returns its path. The
// binary goes to a fixed per-checkout place under the temporary directory, so
// runs overwrite it rather than leave copies behind.
func fairBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process tests build and run the fair binary; skipped with -short")
	}
	procBuildOnce.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			procBuildErr = err
			return
		}
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("miaohui-fair-test-%d-%x", os.Getuid(), fnv32(wd)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			procBuildErr = err
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		tmp, err := os.CreateTemp(dir, "fair-*.tmp")
		if err != nil {
			procBuildErr = err
			return
		}
		tmp.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", tmp.Name(), "./cmd/fair")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.Remove(tmp.Name())
			procBuildErr = fmt.Errorf("go build ./cmd/fair: %v\n%s", err, out)
			return
		}
		procBinary = filepath.Join(dir, "fair")
		if err := os.Rename(tmp.Name(), procBinary); err != nil {
			os.Remove(tmp.Name())
			procBuildErr = err
		}
	})
	if procBuildErr != nil {
		t.Fatal(procBuildErr)
	}
	return procBinary
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// procBuffer collects a process's output safely.
type procBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *procBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *procBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fairProc is one running fair process.
type fairProc struct {
	name string
	cmd  *exec.Cmd
	out  *procBuffer
	done chan struct{}
	err  error // set when done is closed
}

// procEnv is the parent environment without any FAIR_* variable, plus env.
func procEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FAIR_") {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// startFair starts `fair args...` with env; the process is killed when the
// test ends, and its output is logged if the test failed.
func startFair(t testing.TB, name string, env map[string]string, args ...string) *fairProc {
	t.Helper()
	p := &fairProc{name: name, out: &procBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(fairBinary(t), args...)
	p.cmd.Env = procEnv(env)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.Dir = t.TempDir()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("%s (pid %d) did not die after SIGKILL", name, p.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("---- output of %s (%v) ----\n%s", name, args, p.out.String())
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *fairProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to end and returns its exit code.
func (p *fairProc) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not exit within %s", p.name, d)
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

// runFair runs `fair args...` to completion (at most a minute) and returns
// its exit code and combined output.
func runFair(t testing.TB, env map[string]string, args ...string) (int, string) {
	t.Helper()
	p := startFair(t, "fair "+strings.Join(args, " "), env, args...)
	code := p.wait(t, time.Minute)
	return code, p.out.String()
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

var procHTTP = &http.Client{Timeout: 10 * time.Second}

// waitReady polls /readyz until it answers 200.
func waitReady(t testing.TB, p *fairProc, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("%s exited before it was ready: %v", p.name, p.err)
		}
		res, err := procHTTP.Get("http://" + addr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("status %d: %s", res.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60s: %s", p.name, last)
}

// httpCall sends a JSON request through client and returns the status and
// decoded body; safe from any goroutine.
func httpCall(client *http.Client, method, url, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return res.StatusCode, nil, fmt.Errorf("%s %s: status %d, body is not JSON: %s", method, url, res.StatusCode, raw)
		}
	}
	return res.StatusCode, m, nil
}

// apiCall sends a JSON request from the test goroutine and returns the
// status and decoded body.
func apiCall(t testing.TB, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	status, m, err := httpCall(procHTTP, method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, m
}

// registerUser signs up through the API and returns the bearer token.
func registerUser(t testing.TB, addr, email string) string {
	t.Helper()
	status, m := apiCall(t, "POST", "http://"+addr+"/api/v1/auth/register", "", map[string]any{
		"email": email, "password": procPassword, "name": "灯会",
	})
	if status != http.StatusCreated {
		t.Fatalf("register %s: status %d, want 201: %v", email, status, m)
	}
	token, _ := m["token"].(string)
	if token == "" {
		t.Fatalf("register %s: no token in %v", email, m)
	}
	return token
}

// notificationKinds lists the kinds in the user's inbox.
func notificationKinds(t testing.TB, addr, token string) []string {
	t.Helper()
	status, m := apiCall(t, "GET", "http://"+addr+"/api/v1/me/notifications", token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /me/notifications: status %d: %v", status, m)
	}
	items, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("GET /me/notifications: no items list in %v", m)
	}
	var kinds []string
	for _, it := range items {
		n, _ := it.(map[string]any)
		k, _ := n["kind"].(string)
		kinds = append(kinds, k)
	}
	return kinds
}

// waitForWelcome polls the inbox until the welcome notification is there.
func waitForWelcome(t testing.TB, addr, token string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var kinds []string
	for time.Now().Before(deadline) {
		kinds = notificationKinds(t, addr, token)
		for _, k := range kinds {
			if k == "welcome" {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no welcome notification within %s; inbox kinds %v", within, kinds)
}

// stopGracefully sends SIGTERM and expects a clean exit that says "stopped".
func stopGracefully(t testing.TB, p *fairProc, within time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	start := time.Now()
	if code := p.wait(t, within); code != 0 {
		t.Fatalf("%s exited with status %d after SIGTERM, want 0", p.name, code)
	}
	if !strings.Contains(p.out.String(), "stopped") {
		t.Fatalf("%s output does not say stopped", p.name)
	}
	t.Logf("%s stopped %s after SIGTERM", p.name, time.Since(start).Round(time.Millisecond))
}

func TestProcessServeAndWorker(t *testing.T) {
	fairBinary(t)
	_, dbURL := testdb.OpenURL(t)
	rds := testdb.NewRedis(t)
	addr := freeAddr(t)
	env := map[string]string{
		"FAIR_DATABASE_URL": dbURL,
		"FAIR_REDIS_URL":    rds.URL,
		"FAIR_HTTP_ADDR":    addr,
		"FAIR_DATA_DIR":     t.TempDir(),
	}

	serve := startFair(t, "fair serve --no-worker", env, "serve", "--no-worker")
	waitReady(t, serve, addr)

	token := registerUser(t, addr, "lantern@example.com")
	// The server only enqueues: with no worker running, nothing arrives.
	time.Sleep(time.Second)
	if kinds := notificationKinds(t, addr, token); len(kinds) != 0 {
		t.Fatalf("inbox has %v before any worker runs; serve --no-worker must not process tasks", kinds)
	}
	if serve.exited() {
		t.Fatalf("serve exited: %v", serve.err)
	}

	worker := startFair(t, "fair worker", env, "worker")
	waitForWelcome(t, addr, token, 45*time.Second)
	if !strings.Contains(worker.out.String(), "processing queues") {
		t.Errorf("worker output does not say it is processing queues")
	}

	// A second registration is handled by the running worker as well.
	token2 := registerUser(t, addr, "dumpling@example.com")
	waitForWelcome(t, addr, token2, 45*time.Second)
	if kinds := notificationKinds(t, addr, token); len(kinds) != 1 {
		t.Errorf("first user's inbox %v, want exactly one welcome", kinds)
	}

	stopGracefully(t, worker, 25*time.Second)
	stopGracefully(t, serve, 25*time.Second)
}

func TestProcessGracefulShutdown(t *testing.T) {
	fairBinary(t)
	addr := freeAddr(t)
	env := map[string]string{
		"FAIR_HTTP_ADDR": addr,
		"FAIR_DATA_DIR":  t.TempDir(),
	}
	serve := startFair(t, "fair serve", env, "serve")
	waitReady(t, serve, addr)
	if !strings.Contains(serve.out.String(), "in-process Redis") {
		t.Errorf("serve without FAIR_REDIS_URL does not say it uses the in-process Redis")
	}
	// With its own workers, serve delivers the welcome notification itself.
	token := registerUser(t, addr, "temple@example.com")
	waitForWelcome(t, addr, token, 30*time.Second)

	stopGracefully(t, serve, 25*time.Second)
	out := serve.out.String()
	if i, j := strings.Index(out, "draining"), strings.Index(out, "stopped"); i < 0 || j < i {
		t.Errorf("want draining then stopped in the output")
	}
	// The port is free again.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("port still taken after exit: %v", err)
	} else {
		l.Close()
	}
}

func TestProcessWorkerNeedsRedis(t *testing.T) {
	fairBinary(t)
	dataDir := t.TempDir()
	code, out := runFair(t, map[string]string{"FAIR_DATA_DIR": dataDir}, "worker")
	if code == 0 {
		t.Fatalf("fair worker without FAIR_REDIS_URL exited 0:\n%s", out)
	}
	if !strings.Contains(out, "FAIR_REDIS_URL") {
		t.Fatalf("fair worker's message does not mention FAIR_REDIS_URL:\n%s", out)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
		t.Errorf("fair worker touched the data dir before refusing: %v", entries)
	}
}

func TestProcessUsersCreateAndMigrate(t *testing.T) {
	fairBinary(t)
	dataDir := t.TempDir()
	env := map[string]string{"FAIR_DATA_DIR": dataDir}
	postgres := testdb.Postgres()
	if postgres {
		_, env["FAIR_DATABASE_URL"] = testdb.OpenURL(t)
	}
	var names []string
	for _, m := range migrations.Migrations.Sorted() {
		names = append(names, m.Name)
	}

	code, out := runFair(t, env, "migrate", "up")
	if code != 0 {
		t.Fatalf("migrate up: exit %d\n%s", code, out)
	}
	if postgres {
		if !strings.Contains(out, "applied 0 migration(s)") {
			t.Errorf("migrate up on a migrated schema: %q, want applied 0", out)
		}
	} else {
		want := fmt.Sprintf("applied %d migration(s) %s", len(names), strings.Join(names, " "))
		if !strings.Contains(out, want) {
			t.Errorf("migrate up: %q, want %q", out, want)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "fair.db")); err != nil {
			t.Errorf("no database file in FAIR_DATA_DIR: %v", err)
		}
	}
	// Up is idempotent.
	if code, out := runFair(t, env, "migrate", "up"); code != 0 || !strings.Contains(out, "applied 0 migration(s)") {
		t.Errorf("second migrate up: exit %d %q, want applied 0", code, out)
	}

	code, out = runFair(t, env, "migrate", "status")
	if code != 0 {
		t.Fatalf("migrate status: exit %d\n%s", code, out)
	}
	for _, n := range names {
		if !statusLineHas(out, n, "applied") {
			t.Errorf("migrate status does not list %s as applied:\n%s", n, out)
		}
	}

	create := func(email, password string) (int, string) {
		return runFair(t, env, "users", "create", "--role", "organizer", "--email", email, "--password", password)
	}
	code, out = create("Boss@Example.com", procPassword)
	if code != 0 {
		t.Fatalf("users create: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "created organizer boss@example.com") {
		t.Errorf("users create output %q, want created organizer boss@example.com", out)
	}
	checkStoredUser(t, env, "boss@example.com", "organizer", "Boss")

	code, out = create("boss@example.com", procPassword)
	if code == 0 {
		t.Errorf("a second user with the same email (other case) was created:\n%s", out)
	} else if !strings.Contains(out, "already registered") {
		t.Errorf("duplicate create: message does not say already registered:\n%s", out)
	}
	code, out = create("weak@example.com", "password")
	if code == 0 {
		t.Errorf("a user with password %q was created:\n%s", "password", out)
	} else if !strings.Contains(out, "password") {
		t.Errorf("weak password: message does not name the password:\n%s", out)
	}
	code, out = runFair(t, env, "users", "create", "--role", "wizard", "--email", "wiz@example.com", "--password", procPassword)
	if code == 0 || !strings.Contains(out, "role") {
		t.Errorf("users create --role wizard: exit %d, want a failure naming the role:\n%s", code, out)
	}
	code, out = runFair(t, env, "users", "list")
	if code == 0 || !strings.Contains(out, "usage") {
		t.Errorf("users list: exit %d, want usage:\n%s", code, out)
	}

	code, out = runFair(t, env, "migrate", "down")
	if code != 0 {
		t.Fatalf("migrate down: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "rolled back") || !strings.Contains(out, names[len(names)-1]) {
		t.Errorf("migrate down output %q, want rolled back … %s", out, names[len(names)-1])
	}
	code, out = runFair(t, env, "migrate", "status")
	if code != 0 {
		t.Fatalf("migrate status after down: exit %d\n%s", code, out)
	}
	if !statusLineHas(out, names[len(names)-1], "pending") {
		t.Errorf("migrate status after down does not list %s as pending:\n%s", names[len(names)-1], out)
	}
	code, out = runFair(t, env, "migrate", "sideways")
	if code == 0 || !strings.Contains(out, "sideways") {
		t.Errorf("migrate sideways: exit %d, want a failure naming the action:\n%s", code, out)
	}
}

// statusLineHas reports whether the `migrate status` line of name contains word.
func statusLineHas(out, name, word string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == name && f[1] == word {
			return true
		}
	}
	return false
}

// checkStoredUser reads the user `fair users create` stored from the database
// the process used.
func checkStoredUser(t testing.TB, env map[string]string, email, role, name string) {
	t.Helper()
	db, err := migrations.OpenDB(env["FAIR_DATABASE_URL"], env["FAIR_DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var gotRole, gotName, hash string
	if err := db.QueryRowContext(ctx, "SELECT role, name, password_hash FROM users WHERE email = ?", email).Scan(&gotRole, &gotName, &hash); err != nil {
		t.Fatalf("the created user %s is not in the database: %v", email, err)
	}
	if gotRole != role || gotName != name {
		t.Errorf("stored user: role %q name %q, want %q %q", gotRole, gotName, role, name)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, procPassword) {
		t.Errorf("stored password hash %q is not an argon2id hash", hash)
	}
}

func TestProcessBadConfigStopsServe(t *testing.T) {
	fairBinary(t)
	for _, tc := range []struct{ name, value string }{
		{"FAIR_HTTP_ADDR", "nonsense"},
		{"FAIR_PAYMENT_PROVIDER", "paypal"},
		{"FAIR_DATABASE_URL", "mysql://x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			start := time.Now()
			code, out := runFair(t, map[string]string{"FAIR_DATA_DIR": dataDir, tc.name: tc.value}, "serve")
			if code == 0 {
				t.Fatalf("fair serve with %s=%s exited 0:\n%s", tc.name, tc.value, out)
			}
			if !strings.Contains(out, tc.name) {
				t.Fatalf("fair serve's message does not name %s:\n%s", tc.name, out)
			}
			if strings.Contains(out, "listening") {
				t.Errorf("fair serve started listening despite the bad value:\n%s", out)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %s to refuse", d)
			}
			if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
				t.Errorf("data dir touched: %v", entries)
			}
		})
	}
}
