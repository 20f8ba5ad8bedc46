package app

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The dashboards' pages (pages_dashboard.go): who may open them, and that
// they show what the totals API says. Helpers are prefixed dash.

// dashGMV reads the GMV (fen) of a totals answer from the API.
func dashGMV(t testing.TB, e *testEnv, path, token string) orders.Money {
	t.Helper()
	res := e.do(req{Method: "GET", Path: path, Token: token})
	wantStatus(t, res, http.StatusOK)
	gmv, ok := res.JSON(t)["gmv"].(float64)
	if !ok {
		t.Fatalf("%s: no gmv in %s", path, res.Body)
	}
	return orders.Money(gmv)
}

func TestDashboardFair(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "dash-fair")
	b1, b2 := w.shopper(t), w.shopper(t)
	w.buyPaid(t, b1.Token, w.lantern, 3)
	w.buyPaid(t, b2.Token, w.paperCut, 1)
	w.buyPaid(t, b2.Token, w.dumplings, 1)
	path := "/organizer/fairs/" + w.slug + "/dashboard"

	gmv := dashGMV(t, e, "/api/v1/fairs/"+w.slug+"/totals", w.org)
	if want := orders.Money(3*lanternPrice + paperCutPrice + dumplingPrice); gmv != want {
		t.Fatalf("API GMV %d, want %d", gmv, want)
	}

	t.Run("organizer", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: path, Token: w.org})
		wantStatus(t, res, http.StatusOK)
		body := string(res.Body)
		for _, want := range []string{
			`data-testid="dash-gmv">` + orders.Yuan(gmv) + `<`,
			`data-testid="dash-paid-orders">3<`,
			`data-testid="dash-participants">2<`,
			`data-testid="dash-merchants">2<`,
			`data-testid="dash-stalls">2<`,
			`<script type="application/json" id="dashboard-data">`,
			e.srv.site.AssetURL("vendor/chart.umd.js"), e.srv.site.AssetURL("dashboard.js"),
			`href="/api/v1/fairs/` + w.slug + `/totals.csv"`,
			`"api":"/api/v1/fairs/` + w.slug + `/totals"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("dashboard lacks %q", want)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
			t.Error("dashboard has an inline script or style")
		}
	})

	t.Run("others", func(t *testing.T) {
		_, other := e.organizer(t, "other-organizer@example.com")
		wantStatus(t, e.do(req{Method: "GET", Path: path, Token: other}), http.StatusForbidden)
		wantPageDenied(t, e.do(req{Method: "GET", Path: path, Token: b1.Token}))
		wantPageDenied(t, e.do(req{Method: "GET", Path: path, Token: w.merchA.Token}))
		res := e.do(req{Method: "GET", Path: path})
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/login?next="+url.QueryEscape(path) {
			t.Errorf("anonymous sent to %q", loc)
		}
	})
}

func TestDashboardStall(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "dash-stall")
	b := w.shopper(t)
	w.buyPaid(t, b.Token, w.lantern, 2)
	w.buyPaid(t, b.Token, w.paperCut, 1)
	path := "/merchant/stalls/" + w.stallA + "/dashboard"

	gmv := dashGMV(t, e, "/api/v1/stalls/"+w.stallA+"/totals", w.merchA.Token)
	res := e.do(req{Method: "GET", Path: path, Token: w.merchA.Token})
	wantStatus(t, res, http.StatusOK)
	body := string(res.Body)
	for _, want := range []string{
		`data-testid="dash-gmv">` + orders.Yuan(gmv) + `<`,
		`data-testid="dash-paid-orders">1<`,
		`"api":"/api/v1/stalls/` + w.stallA + `/totals"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("stall dashboard lacks %q", want)
		}
	}
	wantStatus(t, e.do(req{Method: "GET", Path: path, Token: w.merchB.Token}), http.StatusForbidden)
	wantPageDenied(t, e.do(req{Method: "GET", Path: path, Token: b.Token}))
	wantPageDenied(t, e.do(req{Method: "GET", Path: path, Token: w.org}))
	wantStatus(t, e.do(req{Method: "GET", Path: "/merchant/stalls/" + w.stallB + "/dashboard", Token: w.merchB.Token}), http.StatusOK)
}

func TestDashboardQueues(t *testing.T) {
	e := newTestEnv(t)
	// The queues are the platform's: an admin runs them (an organizer may
	// not: TestQueuesAdminOnly).
	e.createUser("queues-admin@example.com", catalog.RoleAdmin)
	org := e.login(t, "queues-admin@example.com")
	merchant := e.register("queues-merchant@example.com", catalog.RoleMerchant)
	shopper := e.register("queues-shopper@example.com", catalog.RoleShopper)

	// An archived task in the low queue, as one that ran out of retries.
	client := asynq.NewClientFromRedisClient(e.redis.Client)
	if _, err := client.Enqueue(asynq.NewTask("dash:test", []byte(`{}`)), asynq.Queue("low"), asynq.TaskID("dash:task-1")); err != nil {
		t.Fatal(err)
	}
	in := asynq.NewInspectorFromRedisClient(e.redis.Client)
	if err := in.ArchiveTask("low", "dash:task-1"); err != nil {
		t.Fatal(err)
	}

	res := e.do(req{Method: "GET", Path: "/organizer/queues", Token: org})
	wantStatus(t, res, http.StatusOK)
	body := string(res.Body)
	for _, want := range []string{`data-queue="critical"`, `data-queue="default"`, `data-queue="low"`, "dash:task-1", `action="/organizer/queues/low/archived/dash:task-1/run"`} {
		if !strings.Contains(body, want) {
			t.Errorf("queues page lacks %q", want)
		}
	}
	if n := strings.Count(body, `data-testid="queue-row"`); n != 3 {
		t.Errorf("%d queue rows, want 3", n)
	}
	wantStatus(t, e.do(req{Method: "GET", Path: "/organizer/queues", Token: merchant.Token}), http.StatusForbidden)
	wantPageDenied(t, e.do(req{Method: "GET", Path: "/organizer/queues", Token: shopper.Token}))

	run := "/organizer/queues/low/archived/dash:task-1/run"
	wantStatus(t, e.do(req{Method: "POST", Path: run, Token: merchant.Token}), http.StatusForbidden)
	// The button is a form signed in by cookie: it needs the CSRF token.
	login := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "queues-admin@example.com", "password": testPassword}})
	wantStatus(t, login, http.StatusOK)
	csrf, _ := login.JSON(t)["csrf_token"].(string)
	var cookie *http.Cookie
	for _, c := range login.Cookies() {
		if c.Name == account.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || csrf == "" {
		t.Fatalf("login gave no cookie or CSRF token: %s", login.Body)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	wantStatus(t, e.do(req{Method: "POST", Path: run, Body: "_csrf=wrong", Header: form, Cookies: []*http.Cookie{cookie}}), http.StatusForbidden)
	res = e.do(req{Method: "POST", Path: run, Body: "_csrf=" + url.QueryEscape(csrf), Header: form, Cookies: []*http.Cookie{cookie}})
	wantStatus(t, res, http.StatusSeeOther)
	info, err := in.GetTaskInfo("low", "dash:task-1")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending {
		t.Fatalf("task is %s after run, want pending", info.State)
	}
	// Run again: no longer archived.
	res = e.do(req{Method: "POST", Path: run, Token: org})
	wantStatus(t, res, http.StatusSeeOther)
	wantStatus(t, e.do(req{Method: "POST", Path: "/organizer/queues/nope/archived/x/run", Token: org}), http.StatusNotFound)
}
