//go:build browser

package app

import (
	"bytes"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"miaohui/orders"
)

// A browser test of the organizer's fair dashboard: the charts drawn by
// /static/dashboard.js with the vendored Chart.js are not blank, and the
// headline figures agree with the totals API. Helpers are prefixed bd. Run
// it as the tests of browser_test.go; set TEST_BROWSER_ARTIFACTS to a
// directory to keep the screenshot of the dashboard.

// bdCanvas is what the page reports of one chart canvas.
type bdCanvas struct {
	Chart  string `json:"chart"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Opaque int    `json:"opaque"` // pixels whose alpha is not 0
}

// bdCanvasesJS counts the non-transparent pixels of every chart canvas.
const bdCanvasesJS = `Array.from(document.querySelectorAll("canvas[data-chart]")).map(function (c) {
	var w = c.width, h = c.height, n = 0;
	if (w > 0 && h > 0) {
		var px = c.getContext("2d").getImageData(0, 0, w, h).data;
		for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
	}
	return {chart: c.getAttribute("data-chart"), width: w, height: h, opaque: n};
})`

// bdChartsDrawnJS is true once Chart.js has drawn a chart on every canvas.
// A chart is drawn as it comes near the screen, so it scrolls to the first
// one not drawn yet, as a reader scrolling down the page would.
const bdChartsDrawnJS = `!!window.Chart && (function () {
	var cs = document.querySelectorAll("canvas[data-chart]");
	if (cs.length === 0) return false;
	for (var i = 0; i < cs.length; i++) if (!window.Chart.getChart(cs[i])) { cs[i].scrollIntoView({block: "center"}); return false; }
	return true;
})()`

// bdSaveArtifact writes data to TEST_BROWSER_ARTIFACTS when it is set.
func bdSaveArtifact(t testing.TB, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("TEST_BROWSER_ARTIFACTS")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()+"-"+name))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Errorf("save %s: %v", path, err)
		return
	}
	t.Logf("saved %s", path)
}

// bdWantVaried decodes a PNG and fails unless it has more than one colour.
func bdWantVaried(t testing.TB, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 {
		t.Fatalf("the screenshot is empty: %v", b)
	}
	r0, g0, b0, a0 := img.At(b.Min.X, b.Min.Y).RGBA()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, a := img.At(x, y).RGBA(); r != r0 || g != g0 || bl != b0 || a != a0 {
				return
			}
		}
	}
	t.Fatalf("the %dx%d screenshot is a single colour", b.Dx(), b.Dy())
}

func TestBrowserDashboard(t *testing.T) {
	env := newTestEnv(t)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)

	// An open temple fair with two stalls and their products, and two paid
	// sandbox checkouts, one at each stall.
	const slug = "browser-dash"
	w := newShopWorld(t, env, slug)
	b1, b2 := w.shopper(t), w.shopper(t)
	w.buyPaid(t, b1.Token, w.lantern, 3)
	w.buyPaid(t, b2.Token, w.paperCut, 1)

	// The totals the API gives the organizer.
	res := env.do(req{Method: "GET", Path: "/api/v1/fairs/" + slug + "/totals", Token: w.org})
	wantStatus(t, res, http.StatusOK)
	totals := res.JSON(t)
	gmv, ok := totals["gmv"].(float64)
	if !ok {
		t.Fatalf("no gmv in the totals: %s", res.Body)
	}
	paid, ok := totals["paid_orders"].(float64)
	if !ok {
		t.Fatalf("no paid_orders in the totals: %s", res.Body)
	}
	if want := float64(3*lanternPrice + paperCutPrice); gmv != want {
		t.Fatalf("API GMV %v, want %v", gmv, want)
	}
	if paid != 2 {
		t.Fatalf("API paid orders %v, want 2", paid)
	}

	// The organizer signs in and opens the dashboard.
	org := bcTab(t, browser, "organizer")
	bcSignIn(t, org, base, "organizer-"+slug+"@example.com")
	dash := base + "/organizer/fairs/" + slug + "/dashboard"
	nav := browserNavigate(t, org, "open the dashboard", chromedp.Navigate(dash))
	browserWantStatus(t, org, "open the dashboard", nav.Status, http.StatusOK)
	browserWantLocation(t, org, dash)
	browserRun(t, org, "wait for the charts", chromedp.Poll[bool](bdChartsDrawnJS))

	// 1. Every chart canvas has something drawn on it.
	canvases := browserRun(t, org, "read the chart canvases", chromedp.Evaluate[[]bdCanvas](bdCanvasesJS))
	// By day, by hour, top stalls, by category, online vs offline (no flash
	// sale, not a property season).
	var names []string
	for _, c := range canvases {
		names = append(names, c.Chart)
	}
	if got := strings.Join(names, " "); got != "by-day by-hour by-stall by-category by-fulfillment" {
		t.Fatalf("chart canvases %q, want by-day by-hour by-stall by-category by-fulfillment%s", got, browserPage(org))
	}
	for _, c := range canvases {
		t.Logf("chart %s: %dx%d, %d non-transparent pixels", c.Chart, c.Width, c.Height, c.Opaque)
		if c.Opaque <= 500 {
			t.Errorf("chart %s (%dx%d) has %d non-transparent pixels, want more than 500", c.Chart, c.Width, c.Height, c.Opaque)
		}
	}
	shot := browserRun(t, org, "take a full screenshot", chromedp.FullScreenshot(100))
	bdSaveArtifact(t, "dashboard.png", shot)
	bdWantVaried(t, shot)

	// 2. The headline figures are the API's.
	browserWantText(t, org, "[data-testid=dash-gmv]", orders.Yuan(orders.Money(gmv)))
	browserWantText(t, org, "[data-testid=dash-paid-orders]", strconv.FormatInt(int64(paid), 10))
}
