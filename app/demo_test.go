package app

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"miaohui/app/ops"
	"miaohui/catalog"
)

func TestDemoSeed(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := ops.SeedDemo(ctx, e.srv.Demo(), e.cfg.HTTPAddr, &out); err != nil {
		t.Fatal(err)
	}
	for _, a := range ops.DemoAccounts() {
		if !strings.Contains(out.String(), a.Email) {
			t.Errorf("demo output lacks %s", a.Email)
		}
	}

	count := func(path string) int {
		t.Helper()
		res := e.do(req{Method: "GET", Path: path})
		wantStatus(t, res, http.StatusOK)
		return len(res.JSON(t)["items"].([]any))
	}
	if got := count("/api/v1/fairs"); got != 2 {
		t.Fatalf("%d fairs, want 2", got)
	}
	templeStalls, developments := ops.DemoSize()
	if got, want := count("/api/v1/fairs/taizhou-temple-fair/stalls?limit=100"), templeStalls; got != want {
		t.Errorf("%d temple stalls, want %d", got, want)
	}
	if got, want := count("/api/v1/fairs/taizhou-property-season/stalls?limit=100"), developments; got != want {
		t.Errorf("%d developments, want %d", got, want)
	}
	if got := count("/api/v1/fairs/taizhou-temple-fair/products?q=" + url.QueryEscape("臭干")); got != 2 {
		t.Errorf("search 臭干 found %d, want 2", got)
	}
	if got := count("/api/v1/fairs/taizhou-temple-fair/flash-sales"); got != 2 {
		t.Errorf("%d flash sales, want 2", got)
	}
	if got := count("/api/v1/fairs/taizhou-property-season/products?kind=voucher&limit=100"); got != developments {
		t.Errorf("%d vouchers, want %d", got, developments)
	}

	// Every product of both fairs has its picture, served at its sizes.
	for _, slug := range []string{"taizhou-temple-fair", "taizhou-property-season"} {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + slug + "/products?limit=100"})
		wantStatus(t, res, http.StatusOK)
		for _, it := range res.JSON(t)["items"].([]any) {
			p := it.(map[string]any)
			one := e.do(req{Method: "GET", Path: "/api/v1/products/" + p["id"].(string)}).JSON(t)
			imgs, _ := one["images"].([]any)
			if len(imgs) != 1 {
				t.Errorf("%s has %d pictures, want 1", p["title"], len(imgs))
				continue
			}
			img := imgs[0].(map[string]any)
			for _, k := range []string{"url", "thumb_url"} {
				pic := e.do(req{Method: "GET", Path: img[k].(string)})
				wantStatus(t, pic, http.StatusOK)
				if ct := pic.Header.Get("Content-Type"); ct != "image/jpeg" {
					t.Errorf("%s %s: Content-Type %q, want image/jpeg", p["title"], k, ct)
				}
			}
		}
	}

	// The demo accounts sign in with the printed password.
	for _, a := range ops.DemoAccounts() {
		res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": a.Email, "password": ops.DemoPassword}})
		wantStatus(t, res, http.StatusOK)
	}
	stalls, err := e.srv.Catalog.MyStalls(ctx, catalog.Actor{UserID: userByEmail(t, e, "merchant@demo.miaohui.cn").ID, Role: catalog.RoleMerchant})
	if err != nil || len(stalls) != 1 {
		t.Fatalf("the demo merchant has %d stalls (%v), want 1", len(stalls), err)
	}

	// A second start changes nothing.
	if err := ops.SeedDemo(ctx, e.srv.Demo(), e.cfg.HTTPAddr, &out); err != nil {
		t.Fatal(err)
	}
	if got := count("/api/v1/fairs"); got != 2 {
		t.Fatalf("%d fairs after a second start, want 2", got)
	}

	// Weeks later the demo still shows itself: its fairs are extended and,
	// with every flash sale over, new ones are scheduled from now.
	e.clock.Advance(40 * 24 * time.Hour)
	out.Reset()
	if err := ops.SeedDemo(ctx, e.srv.Demo(), e.cfg.HTTPAddr, &out); err != nil {
		t.Fatal(err)
	}
	if got := count("/api/v1/fairs"); got != 2 {
		t.Fatalf("%d fairs after a later start, want 2", got)
	}
	fair := e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-temple-fair"}).JSON(t)
	if ends := parseTime(t, fair["ends_at"]); !ends.After(e.clock.Now().Add(7 * 24 * time.Hour)) {
		t.Errorf("the fair ends %v, want extended past a week from now (%v)", ends, e.clock.Now())
	}
	upcoming := func() int {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/taizhou-temple-fair/flash-sales?limit=100"})
		wantStatus(t, res, http.StatusOK)
		n := 0
		for _, it := range res.JSON(t)["items"].([]any) {
			if parseTime(t, it.(map[string]any)["starts_at"]).After(e.clock.Now()) {
				n++
			}
		}
		return n
	}
	if got := upcoming(); got != 2 {
		t.Errorf("%d upcoming flash sales after a later start, want 2", got)
	}
	// Another start while they are coming schedules nothing more.
	if err := ops.SeedDemo(ctx, e.srv.Demo(), e.cfg.HTTPAddr, &out); err != nil {
		t.Fatal(err)
	}
	if got := upcoming(); got != 2 {
		t.Errorf("%d upcoming flash sales after another start, want still 2", got)
	}
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, v.(string))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

// A demo started on a port another program holds stops at once, before
// seeding or printing its banner, and names the variable to change.
func TestDemoPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	env := map[string]string{"FAIR_HTTP_ADDR": busy.Addr().String(), "FAIR_DATA_DIR": dir}
	var out bytes.Buffer
	err = Run(context.Background(), []string{"fair", "demo"}, func(k string) string { return env[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "FAIR_HTTP_ADDR") || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err = %v, want the address in use and FAIR_HTTP_ADDR named", err)
	}
	if strings.Contains(out.String(), "demo accounts") {
		t.Errorf("the banner was printed before the failure:\n%s", out.String())
	}
}
