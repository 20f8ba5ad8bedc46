//go:build browser

package app

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"miaohui/app/ops"
)

// The accessibility check: every page of the seeded demo, as a visitor, a
// shopper, a merchant and an organizer see it on a phone (390×844), runs
// axe-core with its default rules (WCAG 2.x A and AA plus best practices)
// and must report no violation. Run it as the other browser tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run BrowserAxe ./app
//
// axe-core is vendored, so the test needs no network and no npm:
// testdata/axe.min.js is axe-core 4.11.1 (MPL-2.0, its licence header kept),
// the file of the npm package unchanged. To update it, copy
// node_modules/axe-core/axe.min.js of `npm install axe-core@VERSION` over it
// and change the version here.

// axeViolation is one rule broken on a page, with the elements that break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  []string `json:"target"`
		HTML    string   `json:"html"`
		Summary string   `json:"summary"`
	} `json:"nodes"`
}

// axeRun is the script that runs axe on the page and keeps what a failure
// message needs.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => ({passes: r.passes.length, violations: r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({target: n.target.map(String), html: n.html, summary: n.failureSummary || ""}))}))}))`

// axeResult is what axeRun gives: how many rules passed (so a run that
// checked nothing is noticed) and the violations.
type axeResult struct {
	Passes     int            `json:"passes"`
	Violations []axeViolation `json:"violations"`
}

// axeAudit loads path in tab, waits for the page's included sections, runs
// axe-core and reports each violation as a test error.
func axeAudit(t *testing.T, tab context.Context, base, path string) {
	t.Helper()
	src, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	res := browserNavigate(t, tab, "open "+path, chromedp.Navigate(base+path))
	browserWantStatus(t, tab, "open "+path, res.Status, 200)
	// Sections marked data-include arrive after the load; audit them too.
	browserRun(t, tab, "wait for the included sections of "+path, chromedp.Evaluate[bool](`new Promise(done => {
		const start = Date.now();
		(function poll() {
			if (!document.querySelector("[data-include]:not([data-included])") || Date.now() - start > 5000) return done(true);
			setTimeout(poll, 50);
		})();
	})`, chromedp.EvalAwaitPromise))
	browserRun(t, tab, "inject axe-core", chromedp.Evaluate[bool](string(src)+"\n;typeof axe === 'object'"))
	found := browserRun(t, tab, "run axe-core on "+path, chromedp.Evaluate[axeResult](axeRun, chromedp.EvalAwaitPromise))
	if found.Passes == 0 {
		t.Errorf("%s: axe-core passed no rule at all; did it run?", path)
	}
	t.Logf("%s: %d rules pass, %d violations", path, found.Passes, len(found.Violations))
	for _, v := range found.Violations {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: axe %s (%s): %s\n    %s", path, v.ID, v.Impact, v.Help, v.URL)
		for i, n := range v.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "\n    ... and %d more", len(v.Nodes)-i)
				break
			}
			fmt.Fprintf(&b, "\n    - %s\n      %s\n      %s", strings.Join(n.Target, " "), axeClip(n.HTML), strings.ReplaceAll(n.Summary, "\n", "\n      "))
		}
		t.Error(b.String())
	}
}

// axeClip shortens an element's HTML for a failure message.
func axeClip(s string) string {
	if r := []rune(s); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return s
}

// axeHref is the href of the first element matching sel on the tab's page.
func axeHref(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	href := browserRun(t, tab, "find "+sel, chromedp.Evaluate[string](`(document.querySelector(`+"`"+sel+"`"+`) || {getAttribute: () => ""}).getAttribute("href") || ""`))
	if href == "" {
		t.Fatalf("no %s on the page%s", sel, browserPage(tab))
	}
	if u, err := url.Parse(href); err == nil {
		href = u.Path
	}
	return href
}

// axeTab opens a phone tab in a browser of its own (each role's pages fit
// in one browser test's time), signed in as email unless it is empty.
func axeTab(t *testing.T, base, who, email string) context.Context {
	t.Helper()
	tab := bcTab(t, newBrowser(t), who)
	browserDo(t, tab, "emulate a phone", bbPhone())
	if email == "" {
		return tab
	}
	browserDo(t, tab, "open the sign-in page", chromedp.Navigate(base+"/login"))
	res := browserNavigate(t, tab, "sign in as "+email,
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=password]`), ops.DemoPassword),
		chromedp.Click(chromedp.CSS(`main form[action="/login"] button[type=submit]`)),
	)
	browserWantStatus(t, tab, "sign in as "+email, res.Status, 200)
	return tab
}

func TestBrowserAxe(t *testing.T) {
	if os.Getenv("TEST_CHROMIUM") == "" {
		t.Skip("TEST_CHROMIUM is not set; set it to a Chromium binary to run the browser tests")
	}
	env := newTestEnv(t)
	var out strings.Builder
	if err := ops.SeedDemo(context.Background(), env.srv.Demo(), env.cfg.HTTPAddr, &out); err != nil {
		t.Fatal(err)
	}
	base := serveForBrowser(t, env)
	const fair = "/fairs/taizhou-temple-fair"

	t.Run("visitor", func(t *testing.T) {
		tab := axeTab(t, base, "visitor", "")
		for _, path := range []string{"/", "/login", "/register", "/offline", fair, "/fairs/taizhou-property-season",
			fair + "/search?q=" + url.QueryEscape("臭干"), fair + "/flash-sales"} {
			axeAudit(t, tab, base, path)
		}
		flash := axeHref(t, tab, `main a[href^="/flash-sales/"]`)
		browserDo(t, tab, "open the fair", chromedp.Navigate(base+fair))
		stall := axeHref(t, tab, `main a[href^="/stalls/"]`)
		product := axeHref(t, tab, `main a[href^="/products/"]`)
		for _, path := range []string{stall, product, flash} {
			axeAudit(t, tab, base, path)
		}
	})

	t.Run("shopper", func(t *testing.T) {
		const email = "shopper@demo.miaohui.cn"
		tab := axeTab(t, base, "shopper", email)
		// Something in the cart, through the API, for the cart, the
		// checkout and the payment pages.
		login := env.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": email, "password": ops.DemoPassword}})
		wantStatus(t, login, 200)
		token := login.JSON(t)["token"].(string)
		browserDo(t, tab, "open the fair", chromedp.Navigate(base+fair))
		product := axeHref(t, tab, `main a[href^="/products/"]`)
		wantStatus(t, env.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + strings.TrimPrefix(product, "/products/"), Token: token, Body: map[string]any{"quantity": 1}}), 200)
		for _, path := range []string{"/account", "/cart", "/checkout"} {
			axeAudit(t, tab, base, path)
		}
		browserNavigate(t, tab, "check out", chromedp.Click(chromedp.CSS(`main form[action="/checkout"] button[type=submit]`)))
		pay := browserRun(t, tab, "read the payment page's address", chromedp.Evaluate[string](`location.pathname`))
		if !strings.HasPrefix(pay, "/pay/") {
			t.Fatalf("checking out leads to %s, want /pay/…%s", pay, browserPage(tab))
		}
		for _, path := range []string{pay, "/orders", fair + "/pass"} {
			axeAudit(t, tab, base, path)
		}
	})

	t.Run("merchant", func(t *testing.T) {
		tab := axeTab(t, base, "merchant", "merchant@demo.miaohui.cn")
		axeAudit(t, tab, base, "/merchant")
		stall := axeHref(t, tab, `main a[href^="/merchant/stalls/"]`)
		axeAudit(t, tab, base, stall)
		product := axeHref(t, tab, `main a[href^="/merchant/products/"]`)
		id := strings.TrimPrefix(stall, "/merchant/stalls/")
		for _, path := range []string{product, stall + "/dashboard", stall + "/orders", stall + "/statement", stall + "/flash-sales", "/stalls/" + id + "/redeem"} {
			axeAudit(t, tab, base, path)
		}
	})

	t.Run("organizer", func(t *testing.T) {
		tab := axeTab(t, base, "organizer", "organizer@demo.miaohui.cn")
		console := "/organizer" + fair
		for _, path := range []string{"/organizer", console, console + "/dashboard", console + "/totals", console + "/payables",
			console + "/map", console + "/flash-sales"} {
			axeAudit(t, tab, base, path)
		}
	})
}
