//go:build browser

package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"miaohui/orders"
)

// The pay page with the Stripe provider (stripe-mock, TEST_STRIPE_MOCK_URL)
// sends the buyer to the Stripe Checkout page of their payment. There is no
// internet here: the tab intercepts every request to checkout.stripe.com,
// records it and answers with a stand-in page. Run it as the other browser
// tests:
//
//	TEST_CHROMIUM=/usr/bin/chromium TEST_STRIPE_MOCK_URL=http://127.0.0.1:12111 go test -count=1 -tags browser -run Browser ./app

// bpStripePage is the stand-in for Stripe's Checkout page.
const bpStripePage = `<!doctype html><meta charset="utf-8"><title>Stripe Checkout</title><p id="stripe-stand-in">Stripe Checkout</p>`

// bpToStripe runs steps in the tab ctx and waits for the request they
// cause to Stripe's Checkout (intercepted since bpInterceptStripe); it
// answers it with the stand-in page and returns its URL.
func bpToStripe(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	paused := chromedp.Events(wctx, fetch.RequestPaused)
	browserDo(t, ctx, what, steps...)
	for ev, err := range paused {
		if err != nil {
			t.Fatalf("%s: no request to Stripe: %v%s", what, err, browserPage(ctx))
		}
		_, err = chromedp.Call(ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
			RequestID: ev.RequestID, ResponseCode: 200, Body: []byte(bpStripePage),
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}},
		})
		if err != nil {
			t.Fatalf("%s: answer for Stripe: %v", what, err)
		}
		return ev.Request.URL
	}
	t.Fatalf("%s: no request to Stripe%s", what, browserPage(ctx))
	return ""
}

func TestBrowserStripeCheckoutRedirect(t *testing.T) {
	env := newStripeEnv(t)
	w := newShopWorld(t, env, "browser-stripe-pay")
	buyer := w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 1)
	w.cart(t, buyer.Token, w.paperCut, 1)

	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	shop := bcTab(t, browser, "shopper")
	bcSignIn(t, shop, base, buyer.Email)
	if _, err := chromedp.Call(shop, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "https://checkout.stripe.com/*"}},
	}); err != nil {
		t.Fatalf("intercept Stripe's pages: %v", err)
	}

	// 1. Check out on the page: the pay page sends the buyer on to Stripe
	// Checkout by itself.
	browserDo(t, shop, "open the checkout", chromedp.Navigate(base+"/checkout"))
	to := bpToStripe(t, shop, "check out", chromedp.Click(chromedp.CSS("[data-testid=checkout-button]")))
	var pay orders.Payment
	if err := env.srv.DB.NewSelect().Model(&pay).Where("buyer_id = ?", buyer.ID).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pay.CheckoutURL, "https://checkout.stripe.com/") || !strings.HasPrefix(pay.ProviderRef, "cs_") {
		t.Fatalf("the payment: session %q, checkout URL %q", pay.ProviderRef, pay.CheckoutURL)
	}
	if to != pay.CheckoutURL {
		t.Fatalf("the pay page sent the buyer to %s, want the payment's Checkout page %s", to, pay.CheckoutURL)
	}
	browserDo(t, shop, "see the Stripe page", chromedp.WaitVisible(chromedp.CSS("#stripe-stand-in")))
	browserWantLocation(t, shop, pay.CheckoutURL)

	// 2. Back from Stripe (its cancel_url): the page stays, and its
	// 去支付 button leads to the same Checkout page.
	back := base + "/pay/" + pay.ID + "?back=1"
	res := browserNavigate(t, shop, "come back from Stripe", chromedp.Navigate(back))
	browserWantStatus(t, shop, "come back from Stripe", res.Status, 200)
	browserWantText(t, shop, "[data-testid=pay-stripe]", "去支付")
	href := browserRun(t, shop, "read the button's link", chromedp.AttributeValue(chromedp.CSS("[data-testid=pay-stripe]"), "href"))
	if href.Value != pay.CheckoutURL {
		t.Fatalf("去支付 links to %q, want %s", href.Value, pay.CheckoutURL)
	}
	time.Sleep(1500 * time.Millisecond) // longer than the page waits before sending the buyer on
	browserWantLocation(t, shop, back)
	to = bpToStripe(t, shop, "press 去支付", chromedp.Click(chromedp.CSS("[data-testid=pay-stripe]")))
	if to != pay.CheckoutURL {
		t.Fatalf("去支付 went to %s, want %s", to, pay.CheckoutURL)
	}
	browserDo(t, shop, "see the Stripe page again", chromedp.WaitVisible(chromedp.CSS("#stripe-stand-in")))
}
