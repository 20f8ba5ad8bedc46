//go:build browser

package app

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The fair pass on a phone without signal: the shopper opens it once at
// home, the service worker keeps it, and at the fairground — the server out
// of reach — the pass, its code and QR still show; signing out forgets it.
// And a product's share poster is drawn as a picture to long-press.
func TestBrowserPassOfflineAndPoster(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "offline-pass-2026")
	buyer := w.shopper(t)
	order := w.buyPaid(t, buyer.Token, w.lantern, 1)

	// The server is served here, not by serveForBrowser, so the test can
	// take it away halfway.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- env.srv.App().Listener(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := env.srv.App().ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Errorf("shut the server down: %v", err)
		}
		_ = ln.Close()
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	base := "http://" + ln.Addr().String()

	tab := bcTab(t, newBrowser(t), "shopper")
	browserDo(t, tab, "emulate a phone", bbPhone())
	bcSignIn(t, tab, base, buyer.Email)

	// 1. The poster of a product: a picture drawn from its card and QR code.
	browserNavigate(t, tab, "open the product", chromedp.Navigate(base+"/products/"+w.lantern))
	browserDo(t, tab, "make the poster", chromedp.Click(chromedp.CSS("[data-testid=share-poster]"), chromedp.NodeVisible))
	size := browserRun(t, tab, "wait for the poster", chromedp.Poll[[]int](
		`(() => { const i = document.querySelector("[data-testid=poster-img]"); return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight] : null; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if len(size) != 2 || size[0] != 750 || size[1] != 1200 {
		t.Errorf("the poster is %v pixels, want 750×1200", size)
	}
	bbWantFits(t, tab, "the product with its poster")

	// 2. The pass, opened with signal: the service worker takes over and
	// keeps it (and its QR code).
	pass := base + "/fairs/" + w.slug + "/pass"
	browserNavigate(t, tab, "open the pass", chromedp.Navigate(pass))
	browserRun(t, tab, "wait for the service worker", chromedp.Evaluate[bool](
		`navigator.serviceWorker.ready.then(() => true)`, chromedp.EvalAwaitPromise))
	browserNavigate(t, tab, "open the pass under the service worker", chromedp.Reload())
	browserRun(t, tab, "wait for the pass to be kept", chromedp.Poll[bool](
		`caches.open("miaohui-pages").then(c => Promise.all([c.match(location.href), c.match(location.href + "/qr.png")])).then(h => !!(h[0] && h[1]) || null)`,
		chromedp.WithPollingTimeout(10*time.Second)))
	code := strings.TrimSpace(browserRun(t, tab, "read the pass code", chromedp.Text(chromedp.CSS("[data-testid=pass-code]"), chromedp.NodeVisible)))

	// 3. At the fairground: no server. The pass still shows, with its QR.
	stop()
	browserNavigate(t, tab, "open the pass offline", chromedp.Navigate(pass))
	if got := strings.TrimSpace(browserRun(t, tab, "read the pass code offline", chromedp.Text(chromedp.CSS("[data-testid=pass-code]"), chromedp.NodeVisible))); got != code {
		t.Fatalf("offline the pass shows %q, want %q%s", got, code, browserPage(tab))
	}
	boWantImageLoaded(t, tab, "[data-testid=pass-qr]")
	browserWantText(t, tab, `[data-testid=pass-pickup][data-order="`+order.ID+`"] strong`, "老街灯笼铺")

	// A page never opened shows the offline page, which links the pass.
	browserNavigate(t, tab, "open an unseen page offline", chromedp.Navigate(base+"/fairs/"+w.slug+"/search?q=x"))
	browserDo(t, tab, "see the offline page", chromedp.WaitVisible(chromedp.CSS("[data-testid=offline]")))
	browserRun(t, tab, "see the kept pass listed", chromedp.Poll[bool](
		`document.querySelector("[data-offline-list] a[href$='/pass']") ? true : null`, chromedp.WithPollingTimeout(5*time.Second)))

	// 4. Signing out forgets the kept pages on this phone: the page's script
	// empties the cache before the sign-out form goes (whichever page holds
	// the form; offline its request then fails, which changes nothing here).
	browserRun(t, tab, "sign out", chromedp.Evaluate[bool](`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = "/logout";
		document.body.appendChild(f);
		f.requestSubmit();
		return true;
	})()`))
	time.Sleep(500 * time.Millisecond) // the form is sent once the cache is gone
	browserNavigate(t, tab, "open the offline page", chromedp.Navigate(base+"/offline"))
	browserRun(t, tab, "see the kept pages gone", chromedp.Poll[bool](
		`caches.has("miaohui-pages").then(h => h ? null : true)`, chromedp.WithPollingTimeout(5*time.Second)))
	if n := browserRun(t, tab, "count the kept passes listed", chromedp.Evaluate[int](`document.querySelectorAll("[data-offline-list] a").length`)); n != 0 {
		t.Errorf("after signing out the offline page still lists %d kept pages", n)
	}
}
