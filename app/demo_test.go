package app

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
}
