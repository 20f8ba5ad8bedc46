//go:build browser

package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	qrcode "github.com/skip2/go-qrcode"
)

// The floor plan on a phone (390×844): it fits the screen on the fair page
// and on the pass, where the booth with the shopper's pickup stands out;
// and the redeem page scanning a pass from a (fake) camera with jsQR.
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run BrowserBoothMap ./app

func TestBrowserBoothMap(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "booth-map-phone")
	buyer := w.shopper(t)
	w.buyPaid(t, buyer.Token, w.lantern, 1)
	// A plan wider than the phone: two rows of six booths, 700 units wide.
	var booths []map[string]any
	for i := range 12 {
		b := map[string]any{"booth": fmt.Sprintf("A-%03d", i+1), "x": 10 + i%6*115, "y": 10 + i/6*75, "w": 105, "h": 65}
		switch i {
		case 0:
			b["stall_id"] = w.stallA
		case 1:
			b["stall_id"] = w.stallB
		}
		booths = append(booths, b)
	}
	wantStatus(t, env.do(req{Method: "PUT", Path: "/api/v1/fairs/" + w.slug + "/map", Token: w.org, Body: map[string]any{"booths": booths}}), http.StatusOK)

	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	mapWidth := `Math.round(document.querySelector("svg.floor-plan").getBoundingClientRect().width)`

	visitor := bcTab(t, browser, "visitor")
	browserDo(t, visitor, "emulate a phone", bbPhone())
	res := browserNavigate(t, visitor, "open the fair", chromedp.Navigate(base+"/fairs/"+w.slug))
	browserWantStatus(t, visitor, "open the fair", res.Status, 200)
	browserDo(t, visitor, "see the map", chromedp.WaitVisible(chromedp.CSS("[data-testid=fair-map] svg")))
	if width := browserRun(t, visitor, "measure the map", chromedp.Evaluate[int](mapWidth)); width > 390 || width < 300 {
		t.Errorf("the map is %d pixels wide on a 390-pixel phone, want it to fill the width", width)
	}
	bbWantFits(t, visitor, "the fair page")
	href := browserRun(t, visitor, "read a booth's link", chromedp.Evaluate[string](`document.querySelector('[data-testid=fair-map] a[data-booth="A-002"]').getAttribute("href")`))
	if href != "/stalls/"+w.stallB {
		t.Errorf("booth A-002 links to %q", href)
	}

	shop := bcTab(t, browser, "shopper")
	browserDo(t, shop, "emulate a phone", bbPhone())
	bcSignIn(t, shop, base, buyer.Email)
	res = browserNavigate(t, shop, "open the pass", chromedp.Navigate(base+"/fairs/"+w.slug+"/pass"))
	browserWantStatus(t, shop, "open the pass", res.Status, 200)
	browserDo(t, shop, "see the map", chromedp.WaitVisible(chromedp.CSS("[data-testid=pass-map] svg")))
	if width := browserRun(t, shop, "measure the map", chromedp.Evaluate[int](mapWidth)); width > 390 || width < 300 {
		t.Errorf("the pass's map is %d pixels wide on a 390-pixel phone", width)
	}
	bbWantFits(t, shop, "the pass with its map")
	fills := browserRun(t, shop, "read the booths' colours", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("[data-testid=pass-map] .map-booth")).map(b => b.getAttribute("data-booth") + "=" + getComputedStyle(b.querySelector("rect")).fill)`))
	var mine, others []string
	for _, f := range fills {
		if strings.HasPrefix(f, "A-001=") {
			mine = append(mine, f)
		} else {
			others = append(others, strings.SplitN(f, "=", 2)[1])
		}
	}
	if len(mine) != 1 || len(others) != 11 {
		t.Fatalf("booths on the pass's map: %v", fills)
	}
	for _, o := range others {
		if "A-001="+o == mine[0] {
			t.Errorf("the pickup's booth is coloured as the others: %v", fills)
			break
		}
	}
	browserWantText(t, shop, `[data-testid=pass-map-booth][data-booth="A-001"] a`, "老街灯笼铺")
}

// TestBrowserBoothRedeemScan shows the redeem page a pass through Chromium's
// fake camera (a Y4M video of the pass's QR code): the page decodes it (with
// jsQR where, as in headless Chromium on Linux, there is no
// BarcodeDetector) and redeems it.
func TestBrowserBoothRedeemScan(t *testing.T) {
	env := newTestEnv(t)
	w := newShopWorld(t, env, "booth-scan-phone")
	buyer := w.shopper(t)
	order := w.buyPaid(t, buyer.Token, w.lantern, 1)
	code := w.pass(t, buyer.Token)["code"].(string)
	video := filepath.Join(t.TempDir(), "pass.y4m")
	writeQRVideo(t, video, code)

	base := serveForBrowser(t, env)
	browser := newBrowser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video))
	desk := bcTab(t, browser, "merchant")
	browserDo(t, desk, "emulate a phone", bbPhone())
	bcSignIn(t, desk, base, w.merchA.Email)
	res := browserNavigate(t, desk, "open the redeem page", chromedp.Navigate(base+"/stalls/"+w.stallA+"/redeem"))
	browserWantStatus(t, desk, "open the redeem page", res.Status, 200)
	browserDo(t, desk, "see the scanner", chromedp.WaitVisible(chromedp.CSS("[data-testid=scan-start]")))
	decoder := browserRun(t, desk, "read the decoder", chromedp.Evaluate[string](`document.querySelector("[data-redeem-scanner]").getAttribute("data-decoder")`))
	t.Logf("the scanner decodes with %s", decoder)
	browserDo(t, desk, "scan the pass", chromedp.Click(chromedp.CSS("[data-testid=scan-start]")))
	// The page submits the code it read: wait through that navigation.
	deadline := time.Now().Add(20 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(desk, 2*time.Second)
		done, err := chromedp.Run(sctx, chromedp.Evaluate[bool](`!!document.querySelector("[data-testid=redeem-ok]")`))
		cancel()
		if err == nil && done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scanned pass was not redeemed (%v)%s", err, browserPage(desk))
		}
		time.Sleep(200 * time.Millisecond)
	}
	browserWantText(t, desk, `[data-testid=redeemed-item][data-order="`+order.ID+`"]`, "兔子灯 ×1")
	wantOrderStatus(t, env, "redeemed", order.ID)
}

// writeQRVideo writes a short 640×480 Y4M video (4:2:0) of text's QR code on
// white, the format Chromium's fake camera plays.
func writeQRVideo(t testing.TB, path, text string) {
	t.Helper()
	const width, height = 640, 480
	qr, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	frame := image.NewGray(image.Rect(0, 0, width, height))
	draw.Draw(frame, frame.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	code := qr.Image(400)
	at := image.Pt((width-400)/2, (height-400)/2)
	draw.Draw(frame, code.Bounds().Add(at), code, image.Point{}, draw.Src)
	var out bytes.Buffer
	fmt.Fprintf(&out, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", width, height)
	chroma := bytes.Repeat([]byte{128}, width/2*height/2)
	for range 10 {
		out.WriteString("FRAME\n")
		out.Write(frame.Pix) // luma: the grey levels, a row after another (stride = width)
		out.Write(chroma)    // U
		out.Write(chroma)    // V
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
