//go:build browser

package app

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"miaohui/app/account"
	"miaohui/catalog"
)

// The browser tests drive a real headless Chromium against the server on a
// loopback port. They build only with the tag browser and run only when
// TEST_CHROMIUM names the browser binary:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...
//
// They never download a browser.

const (
	// browserTestTimeout bounds one browser test, the start of the browser
	// included; when it passes the browser is killed.
	browserTestTimeout = 60 * time.Second
	// browserStepTimeout bounds one step, so a wait that never ends fails
	// with the page it was waiting on while the browser still runs.
	browserStepTimeout = 15 * time.Second
	// browserAcceptLang is the language the browser asks for. Chromium asks
	// for the language of the host (en-US in a C locale), which the pages
	// would honour, so the tests pin it. Pass
	// chromedp.Flag("accept-lang", ...) to newBrowser to change it.
	browserAcceptLang = "zh-CN"
)

// serveForBrowser serves env's app on a loopback port until the test ends and
// returns its base URL, such as http://127.0.0.1:41234.
func serveForBrowser(t testing.TB, env *testEnv) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- env.srv.App().Listener(ln) }()
	t.Cleanup(func() {
		if err := env.srv.App().ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shut the server down: %v", err)
		}
		// Shutdown closes only the listeners the server has started to
		// serve; close ln too in case the test ended before that.
		_ = ln.Close()
		select {
		case err := <-served:
			if err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the server did not stop")
		}
	})
	return "http://" + ln.Addr().String()
}

// newBrowser starts a headless Chromium with a fresh profile (no cookies)
// for the test and returns the context of its tab; run actions on it with
// browserDo, browserRun and browserNavigate. It skips the test when
// TEST_CHROMIUM is empty. opts add to or override the flags below. When the
// test ends the browser is closed (killed if need be), and the test waits
// until its processes are gone.
func newBrowser(t testing.TB, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	execPath := os.Getenv("TEST_CHROMIUM")
	if execPath == "" {
		t.Skip("TEST_CHROMIUM is not set; set it to a Chromium binary to run the browser tests")
	}
	// Everything the browser writes goes under root: the profile, and the
	// crash database that Chromium keeps under $XDG_CONFIG_HOME whatever
	// the profile. Every browser process names root on its command line.
	root := t.TempDir()
	output := &syncBuffer{}
	// A short list of our own rather than DefaultExecAllocatorOptions, which
	// also turns on automation features and in-process networking.
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // Chromium runs as root here
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"), // no keyring over D-Bus
		chromedp.Flag("accept-lang", browserAcceptLang),
		chromedp.UserDataDir(filepath.Join(root, "profile")),
		chromedp.Env("HOME="+root, "XDG_CONFIG_HOME="+filepath.Join(root, "config"), "XDG_CACHE_HOME="+filepath.Join(root, "cache")),
		chromedp.CombinedOutput(output),
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(flags, opts...)...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		started := browserProcesses(root)
		// Close the browser gracefully; if that fails, cancelling the
		// allocator kills it. cancelAlloc waits until the process is gone.
		if err := chromedp.Cancel(browserCtx); err != nil && ctx.Err() == nil {
			t.Logf("close chromium: %v", err)
		}
		cancelBrowser()
		cancelAlloc()
		cancel()
		awaitBrowserExit(t, root, started)
		if t.Failed() {
			t.Logf("chromium output:\n%s", output.String())
		}
	})
	// Start the browser now, so that one that cannot start fails here.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v\n%s", execPath, err, output.String())
	}
	return browserCtx
}

// awaitBrowserExit waits until the processes of a closed browser are gone.
// Chromium's helpers (zygotes, the crash handler) outlive the main process
// by a moment, and when they exit they wait for init to reap them. Those
// still running after a grace period are killed; those that exited are
// waited for a little, so that none is left behind, not even as a zombie.
func awaitBrowserExit(t testing.TB, root string, started []int) {
	t.Helper()
	const poll = 50 * time.Millisecond
	start := time.Now()
	var exitedAt time.Time // when the last live process was seen gone
	for {
		live := browserProcesses(root)
		unreaped := 0
		for _, pid := range started {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil && !slices.Contains(live, pid) {
				unreaped++
			}
		}
		switch {
		case len(live) == 0 && unreaped == 0:
			return
		case len(live) > 0 && time.Since(start) > 10*time.Second:
			t.Errorf("chromium processes %v outlive the browser", live)
			return
		case len(live) > 0 && time.Since(start) > 2*time.Second:
			for _, pid := range live {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		case len(live) == 0 && exitedAt.IsZero():
			exitedAt = time.Now()
		case len(live) == 0 && time.Since(exitedAt) > 5*time.Second:
			t.Logf("%d chromium processes have exited but init has not reaped them yet", unreaped)
			return
		}
		time.Sleep(poll)
	}
}

// browserProcesses lists the running processes that name dir on their
// command line (Linux only; elsewhere it finds none).
func browserProcesses(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// browserRun runs one action with the step timeout and returns its value;
// when it fails, the test fails with where the browser is and what it shows.
func browserRun[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v%s", what, err, browserPage(ctx))
	}
	return v
}

// browserDo runs actions that return nothing, in order, as one step.
func browserDo(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browserRun(t, ctx, what, chromedp.Steps(steps...))
}

// browserNavigate runs actions that load a new page, such as a click on a
// link or a submit button, waits for the page to load and returns the
// response of its document (after redirects).
func browserNavigate(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(sctx, steps...)
	if err != nil {
		t.Fatalf("%s: %v%s", what, err, browserPage(ctx))
	}
	return res
}

// browserPage describes the page the browser shows, for failure messages.
func browserPage(ctx context.Context) string {
	if ctx.Err() != nil {
		return " (the browser is gone)"
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	body, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return "\nthe browser is at " + loc + " and shows:\n" + body
}

// browserWantText checks the visible text of the first element matching the CSS
// selector, waiting until it is visible.
func browserWantText(t testing.TB, ctx context.Context, sel, want string) {
	t.Helper()
	got := browserRun(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if got = strings.TrimSpace(got); got != want {
		t.Fatalf("%s reads %q, want %q%s", sel, got, want, browserPage(ctx))
	}
}

// browserWantLang checks the lang attribute of the page's <html>.
func browserWantLang(t testing.TB, ctx context.Context, want string) {
	t.Helper()
	got := browserRun(t, ctx, "read <html lang>", chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if got.Value != want {
		t.Fatalf("<html lang=%q>, want %q%s", got.Value, want, browserPage(ctx))
	}
}

// browserWantLocation checks the URL of the page the browser shows.
func browserWantLocation(t testing.TB, ctx context.Context, want string) {
	t.Helper()
	if got := browserRun(t, ctx, "read the location", chromedp.Location()); got != want {
		t.Fatalf("the browser is at %s, want %s%s", got, want, browserPage(ctx))
	}
}

func TestBrowserRegisterAndLogin(t *testing.T) {
	env := newTestEnv(t)
	base := serveForBrowser(t, env)
	ctx := newBrowser(t)

	const (
		name     = "灯笼铺"
		email    = "lantern.stall@example.com"
		password = "lantern festival dumplings"
	)
	var (
		logout = chromedp.CSS(`main form[action="/logout"] button[type=submit]`)
		submit = chromedp.CSS(`main form button[type=submit]`)
	)
	signIn := func(pw string) *network.Response {
		t.Helper()
		browserDo(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/login"))
		return browserNavigate(t, ctx, "sign in",
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), pw),
			chromedp.Click(submit),
		)
	}
	signOut := func() {
		t.Helper()
		browserNavigate(t, ctx, "open the account page", chromedp.Navigate(base+"/account"))
		browserNavigate(t, ctx, "sign out", chromedp.Click(logout))
		browserWantLocation(t, ctx, base+"/")
		browserDo(t, ctx, "see the signed-out header", chromedp.WaitVisible(chromedp.CSS(`header [data-testid=nav-login]`)))
	}

	// 1. With no cookies, the register page is in Chinese.
	browserDo(t, ctx, "open the register page", chromedp.Navigate(base+"/register"))
	browserWantText(t, ctx, "h1", "注册账户")
	browserWantLang(t, ctx, "zh-CN")

	// 2. Register a merchant; the form leads to the account page.
	browserDo(t, ctx, "fill the register form",
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`input[name=role][value=merchant]`)),
	)
	if checked := browserRun(t, ctx, "read the role", chromedp.JavascriptAttribute[bool](chromedp.CSS(`input[name=role][value=merchant]`), "checked")); !checked {
		t.Fatalf("the merchant role is not checked after a click%s", browserPage(ctx))
	}
	res := browserNavigate(t, ctx, "register", chromedp.Click(submit))
	if res.Status != 200 || res.URL != base+"/account" {
		t.Fatalf("registering ends with %d %s, want 200 %s/account%s", res.Status, res.URL, base, browserPage(ctx))
	}
	browserWantLocation(t, ctx, base+"/account")
	browserWantText(t, ctx, "[data-testid=account-email]", email)
	browserWantText(t, ctx, "[data-testid=account-role]", "商家")

	// 3. The account page shows who is signed in, and is the 我的 tab.
	browserWantText(t, ctx, "[data-testid=account-name]", name)
	browserWantText(t, ctx, `[data-testid=tab-me][aria-current=page]`, "我的")

	// 4. Sign out (退出), then sign in again with the same credentials.
	browserWantText(t, ctx, `main form[action="/logout"] button`, "退出")
	signOut()
	res = signIn(password)
	if res.Status != 200 {
		t.Fatalf("signing in ends with %d %s, want 200%s", res.Status, res.URL, browserPage(ctx))
	}
	browserWantLocation(t, ctx, base+"/account")
	browserWantText(t, ctx, "[data-testid=account-email]", email)

	// 5. The language switch turns the account page into English.
	browserWantText(t, ctx, "[data-testid=lang-switch]", "English")
	browserNavigate(t, ctx, "switch the language", chromedp.Click(chromedp.CSS("[data-testid=lang-switch]")))
	browserWantLocation(t, ctx, base+"/account")
	browserWantLang(t, ctx, "en")
	browserWantText(t, ctx, "h1", "My account")
	browserWantText(t, ctx, "[data-testid=account-role]", "Merchant")

	// 6. Signed out, a wrong password gets the error in English: the
	// language cookie outlives the session, and beats the browser's zh-CN.
	signOut()
	res = signIn("lantern festival noodles")
	if res.Status != 401 {
		t.Fatalf("a wrong password ends with %d %s, want 401%s", res.Status, res.URL, browserPage(ctx))
	}
	browserWantLocation(t, ctx, base+"/login")
	browserWantLang(t, ctx, "en")
	browserWantText(t, ctx, "[data-testid=form-error]", "Wrong email or password.")

	// 7. The database holds exactly one such user, a merchant, whose
	// language followed the switch.
	var users []account.User
	if err := env.srv.DB.NewSelect().Model(&users).Where("email = ?", email).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 {
		t.Fatalf("%d users with the email %s, want 1", len(users), email)
	}
	if u := users[0]; u.Role != catalog.RoleMerchant || u.Name != name || u.Lang != "en" {
		t.Fatalf("user is %s %q speaking %q, want merchant %q speaking en", u.Role, u.Name, u.Lang, name)
	}
}

// browserWantStatus fails the test unless the page answered with the status.
func browserWantStatus(t testing.TB, ctx context.Context, what string, status int64, want int64) {
	t.Helper()
	if status != want {
		t.Fatalf("%s: status %d, want %d%s", what, status, want, browserPage(ctx))
	}
}
