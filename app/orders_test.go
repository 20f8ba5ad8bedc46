package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/app/account"
	"miaohui/app/ops"
	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

// The orders' part of the HTTP contract (API.md, "Cart, checkout, orders,
// payments" and "Totals"), driven through the API, with the database read
// directly to check what the answers claim. The shared helpers are in kit_test.go.

func TestCart(t *testing.T) {
	// setup is a fresh shop world and a shopper with an empty cart.
	setup := func(t *testing.T) (*testEnv, *world, registered) {
		t.Helper()
		e := newTestEnv(t)
		w := newShopWorld(t, e, "cart-fair")
		return e, w, w.shopper(t)
	}
	// carted is setup with a lantern in the cart, and the paper cuts given.
	carted := func(t *testing.T, paperCuts int) (*testEnv, *world, registered) {
		t.Helper()
		e, w, buyer := setup(t)
		w.cart(t, buyer.Token, w.lantern, 1)
		if paperCuts > 0 {
			w.cart(t, buyer.Token, w.paperCut, paperCuts)
		}
		return e, w, buyer
	}
	put := func(e *testEnv, token, productID string, body any) response {
		return e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + productID, Token: token, Body: body})
	}
	getCart := func(t *testing.T, e *testEnv, buyer registered) map[string]any {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/cart", Token: buyer.Token})
		wantStatus(t, res, http.StatusOK)
		return res.JSON(t)
	}
	lines := func(t *testing.T, cart map[string]any) map[string]map[string]any {
		t.Helper()
		items, ok := cart["items"].([]any)
		if !ok {
			t.Fatalf("cart without items: %v", cart)
		}
		out := map[string]map[string]any{}
		for _, it := range items {
			line := it.(map[string]any)
			wantKeys(t, "cart line", line, "product_id", "quantity", "unit_price", "line_total")
			out[line["product_id"].(string)] = line
		}
		return out
	}

	t.Run("ServerPrices", func(t *testing.T) {
		e, w, buyer := setup(t)
		// Whatever price the client sends is ignored.
		res := put(e, buyer.Token, w.lantern, map[string]any{"quantity": 2, "price": 1, "unit_price": 1, "line_total": 1, "total": 1})
		wantStatus(t, res, http.StatusOK)
		cart := res.JSON(t)
		wantKeys(t, "cart", cart, "items", "total", "currency")
		l := lines(t, cart)
		if len(l) != 1 || l[w.lantern]["quantity"] != 2.0 || l[w.lantern]["unit_price"] != float64(lanternPrice) || l[w.lantern]["line_total"] != float64(2*lanternPrice) {
			t.Errorf("cart %s", res.Body)
		}
		if cart["total"] != float64(2*lanternPrice) || cart["currency"] != "CNY" {
			t.Errorf("cart total %v %v, want %d CNY", cart["total"], cart["currency"], 2*lanternPrice)
		}
		wantStatus(t, put(e, buyer.Token, w.paperCut, map[string]any{"quantity": 3, "total": 5}), http.StatusOK)
		cart = getCart(t, e, buyer)
		if l := lines(t, cart); len(l) != 2 || l[w.paperCut]["line_total"] != float64(3*paperCutPrice) {
			t.Errorf("cart %v", cart)
		}
		if cart["total"] != float64(2*lanternPrice+3*paperCutPrice) {
			t.Errorf("cart total %v, want %d", cart["total"], 2*lanternPrice+3*paperCutPrice)
		}
		// A second PUT sets the quantity, it does not add to it.
		wantStatus(t, put(e, buyer.Token, w.lantern, map[string]any{"quantity": 1}), http.StatusOK)
		if l := lines(t, getCart(t, e, buyer)); l[w.lantern]["quantity"] != 1.0 {
			t.Errorf("quantity after setting 1: %v", l[w.lantern])
		}
		// The cart follows the product's current price.
		res = e.do(req{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Token: w.merchA.Token, Body: map[string]any{"price": 1500}})
		wantStatus(t, res, http.StatusOK)
		if l := lines(t, getCart(t, e, buyer)); l[w.lantern]["unit_price"] != 1500.0 {
			t.Errorf("cart line after a price change: %v", l[w.lantern])
		}
		res = e.do(req{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Token: w.merchA.Token, Body: map[string]any{"price": lanternPrice}})
		wantStatus(t, res, http.StatusOK)
	})

	t.Run("ZeroRemoves", func(t *testing.T) {
		e, w, buyer := carted(t, 3)
		res := put(e, buyer.Token, w.paperCut, map[string]any{"quantity": 0})
		wantStatus(t, res, http.StatusOK)
		if l := lines(t, res.JSON(t)); len(l) != 1 || l[w.paperCut] != nil {
			t.Errorf("cart after removing: %s", res.Body)
		}
		if n := countRows(t, e, "cart_items", "user_id = ?", buyer.ID); n != 1 {
			t.Errorf("%d cart rows, want 1", n)
		}
	})

	t.Run("Negative", func(t *testing.T) {
		e, w, buyer := carted(t, 0)
		wantField(t, put(e, buyer.Token, w.lantern, map[string]any{"quantity": -1}), "quantity")
		if l := lines(t, getCart(t, e, buyer)); l[w.lantern]["quantity"] != 1.0 {
			t.Errorf("cart changed by a refused PUT: %v", l)
		}
	})

	t.Run("BeyondStock", func(t *testing.T) {
		e, w, buyer := carted(t, 0)
		wantProblem(t, put(e, buyer.Token, w.lantern, map[string]any{"quantity": 21}), http.StatusConflict, "insufficient_stock")
		if l := lines(t, getCart(t, e, buyer)); l[w.lantern]["quantity"] != 1.0 {
			t.Errorf("cart changed by a refused PUT: %v", l)
		}
		wantStatus(t, put(e, buyer.Token, w.lantern, map[string]any{"quantity": 20}), http.StatusOK)
		wantStatus(t, put(e, buyer.Token, w.lantern, map[string]any{"quantity": 1}), http.StatusOK)
	})

	t.Run("UnknownProduct", func(t *testing.T) {
		e, _, buyer := setup(t)
		wantProblem(t, put(e, buyer.Token, catalog.NewID(), map[string]any{"quantity": 1}), http.StatusNotFound, "not_found")
	})

	t.Run("AnotherFair", func(t *testing.T) {
		e, w, buyer := carted(t, 0)
		e.createFair(t, w.org, e.fairBody("cart-other-fair", "temple_fair"))
		st := e.openStall(t, w.org, w.merchA.Token, "cart-other-fair", "别处灯笼")["id"].(string)
		other := e.createProduct(t, w.merchA.Token, st, goods("荷花灯", 900, 5))["id"].(string)
		res := put(e, buyer.Token, other, map[string]any{"quantity": 1})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if l := lines(t, getCart(t, e, buyer)); len(l) != 1 || l[other] != nil {
			t.Errorf("cart holds two fairs' products: %v", l)
		}
		// Another shopper with an empty cart may buy there.
		wantStatus(t, put(e, w.shopper(t).Token, other, map[string]any{"quantity": 1}), http.StatusOK)
	})

	t.Run("SuspendedStall", func(t *testing.T) {
		e, w, buyer := carted(t, 0)
		m := e.register("suspended-"+w.slug+"@example.com", catalog.RoleMerchant)
		st := e.openStall(t, w.org, m.Token, w.slug, "被暂停的摊位")["id"].(string)
		p := e.createProduct(t, m.Token, st, goods("糖画", 500, 10))["id"].(string)
		shopper := w.shopper(t)
		wantStatus(t, put(e, shopper.Token, p, map[string]any{"quantity": 1}), http.StatusOK)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/stalls/" + st + "/suspend", Body: map[string]any{"reason": "违规经营"}, Token: w.org}), http.StatusOK)
		res := put(e, buyer.Token, p, map[string]any{"quantity": 1})
		if res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusNotFound {
			t.Errorf("a suspended stall's product: status %d, want 409 or 404: %s", res.StatusCode, res.Body)
		}
		// What was in a cart before the suspension cannot be checked out.
		before := readStock(t, e, p)
		res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: shopper.Token, Body: map[string]any{"fulfillment": "pickup"}})
		if res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusNotFound {
			t.Errorf("checkout of a suspended stall's product: status %d, want 409 or 404: %s", res.StatusCode, res.Body)
		}
		wantStock(t, e, p, before)
		if n := countRows(t, e, "orders", "buyer_id = ?", shopper.ID); n != 0 {
			t.Errorf("%d orders of a suspended stall's product", n)
		}
	})

	t.Run("SignedOut", func(t *testing.T) {
		e, w, _ := setup(t)
		wantProblem(t, put(e, "", w.lantern, map[string]any{"quantity": 1}), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/cart"}), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestCheckout(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "checkout-fair")

	t.Run("TwoStallsOnePayment", func(t *testing.T) {
		buyer := w.shopper(t)
		lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
		w.cart(t, buyer.Token, w.lantern, 2)
		w.cart(t, buyer.Token, w.paperCut, 3)
		// Totals and prices the client sends are ignored.
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "pickup", "total": 1, "price": 1, "amount": 1}})
		wantStatus(t, res, http.StatusCreated)
		raw := res.JSON(t)
		wantKeys(t, "checkout", raw, "id", "orders", "total", "currency", "payment")
		wantKeys(t, "payment", raw["payment"].(map[string]any), "id", "provider", "status")
		for _, o := range raw["orders"].([]any) {
			wantKeys(t, "checkout order", o.(map[string]any), "id", "stall_id", "total")
		}
		c := decodeCheckout(t, res)
		wantA, wantB := int64(2*lanternPrice), int64(3*paperCutPrice)
		if len(c.Orders) != 2 {
			t.Fatalf("%d orders, want one per stall: %s", len(c.Orders), res.Body)
		}
		byStall := map[string]orders.Order{}
		for _, o := range c.Orders {
			byStall[o.StallID] = o
		}
		if byStall[w.stallA].Total != wantA || byStall[w.stallB].Total != wantB {
			t.Errorf("order totals %d (stall A) and %d (stall B), want %d and %d", byStall[w.stallA].Total, byStall[w.stallB].Total, wantA, wantB)
		}
		if c.Total != wantA+wantB || c.Currency != "CNY" || c.Payment.Amount != wantA+wantB {
			t.Errorf("checkout total %d %s, payment amount %d; want %d CNY", c.Total, c.Currency, c.Payment.Amount, wantA+wantB)
		}
		if c.Payment.Provider != "sandbox" || c.Payment.Status != "pending" || c.ID != c.Payment.ID || c.Payment.ClientSecret != "" {
			t.Errorf("payment %+v (checkout id %s), want a pending sandbox payment with the checkout's id", c.Payment, c.ID)
		}
		for _, o := range c.Orders {
			db := readOrder(t, e, o.ID)
			fee, share := orders.Commission(db.Total, commissionBPS)
			if db.PlatformFee+db.MerchantShare != db.Total || db.PlatformFee != fee || db.MerchantShare != share {
				t.Errorf("order %s: fee %d + share %d vs total %d, want %d + %d", o.ID, db.PlatformFee, db.MerchantShare, db.Total, fee, share)
			}
			if db.Status != orders.StatusPendingPayment || db.PaymentID != c.Payment.ID || db.BuyerID != buyer.ID || db.PaidAt != nil {
				t.Errorf("order %+v", db)
			}
			if len(db.PickupCode) != 8 || db.Fulfillment != "pickup" {
				t.Errorf("pickup order %s: code %q, fulfillment %s", o.ID, db.PickupCode, db.Fulfillment)
			}
		}
		if n := countRows(t, e, "payments", "buyer_id = ?", buyer.ID); n != 1 {
			t.Errorf("%d payments, want 1", n)
		}
		if n := countRows(t, e, "orders", "buyer_id = ?", buyer.ID); n != 2 {
			t.Errorf("%d orders, want 2", n)
		}
		wantStock(t, e, w.lantern, lanterns-2)
		wantStock(t, e, w.paperCut, cuts-3)
		res = e.do(req{Method: "GET", Path: "/api/v1/cart", Token: buyer.Token})
		if items := res.JSON(t)["items"].([]any); len(items) != 0 {
			t.Errorf("cart not emptied by checkout: %s", res.Body)
		}
	})

	t.Run("PriceKept", func(t *testing.T) {
		buyer := w.shopper(t)
		c := w.buy(t, buyer.Token, w.lantern, 2)
		res := e.do(req{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Token: w.merchA.Token, Body: map[string]any{"price": 9999}})
		wantStatus(t, res, http.StatusOK)
		t.Cleanup(func() {
			e.do(req{Method: "PATCH", Path: "/api/v1/products/" + w.lantern, Token: w.merchA.Token, Body: map[string]any{"price": lanternPrice}})
		})
		res = e.do(req{Method: "GET", Path: "/api/v1/orders/" + c.Orders[0].ID, Token: buyer.Token})
		wantStatus(t, res, http.StatusOK)
		var o orders.Order
		if err := json.Unmarshal(res.Body, &o); err != nil {
			t.Fatal(err)
		}
		if len(o.Items) != 1 || o.Items[0].UnitPrice != lanternPrice || o.Items[0].LineTotal != 2*lanternPrice || o.Total != 2*lanternPrice {
			t.Errorf("order after the price change: %s", res.Body)
		}
		w.pay(t, buyer.Token, c.Payment.ID)
		if p := readPayment(t, e, c.Payment.ID); p.Amount != 2*lanternPrice || p.Status != orders.PaymentSucceeded {
			t.Errorf("payment %+v, want %d succeeded", p, 2*lanternPrice)
		}
	})

	t.Run("ShipNeedsAddress", func(t *testing.T) {
		buyer := w.shopper(t)
		before, orderCount := readStock(t, e, w.dumplings), countRows(t, e, "orders", "1 = 1")
		w.cart(t, buyer.Token, w.dumplings, 1)
		w.cart(t, buyer.Token, w.lantern, 1)
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "ship"}})
		wantField(t, res, "shipping_address")
		res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{}})
		wantField(t, res, "shipping_address")
		wantStock(t, e, w.dumplings, before)
		if n := countRows(t, e, "orders", "1 = 1"); n != orderCount {
			t.Errorf("orders %d after refused checkouts, want %d", n, orderCount)
		}
		if n := countRows(t, e, "cart_items", "user_id = ?", buyer.ID); n != 2 {
			t.Errorf("cart has %d lines after a refused checkout, want 2", n)
		}
		c := w.checkout(t, buyer.Token, map[string]any{"fulfillment": "ship", "shipping_address": "江苏省泰州市海陵区坡子街1号"})
		if len(c.Orders) != 1 {
			t.Fatalf("%d orders, want 1", len(c.Orders))
		}
		o := readOrder(t, e, c.Orders[0].ID)
		if o.Fulfillment != "ship" || o.ShippingAddress != "江苏省泰州市海陵区坡子街1号" || o.PickupCode != "" || len(o.Items) != 2 {
			t.Errorf("shipped order %+v", o)
		}
		wantStock(t, e, w.dumplings, before-1)
	})

	t.Run("PickupGetsCodes", func(t *testing.T) {
		// Choosing pickup collects even shippable goods at the booth.
		buyer := w.shopper(t)
		w.cart(t, buyer.Token, w.dumplings, 1)
		w.cart(t, buyer.Token, w.paperCut, 1)
		c := w.checkout(t, buyer.Token, map[string]any{"fulfillment": "pickup"})
		codes := map[string]bool{}
		for _, o := range c.Orders {
			if len(o.PickupCode) != 8 || o.Fulfillment != "pickup" || o.ShippingAddress != "" {
				t.Errorf("pickup order %+v", o)
			}
			codes[o.PickupCode] = true
		}
		if len(codes) != 2 {
			t.Errorf("pickup codes %v, want two distinct", codes)
		}
	})

	t.Run("EmptyCart", func(t *testing.T) {
		buyer := w.shopper(t)
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "pickup"}})
		wantField(t, res, "cart")
		if n := countRows(t, e, "payments", "buyer_id = ?", buyer.ID); n != 0 {
			t.Errorf("%d payments for an empty cart", n)
		}
	})

	t.Run("OutOfStockAtCheckout", func(t *testing.T) {
		// Stock sold between adding to the cart and checking out.
		m := e.register("rare-"+w.slug+"@example.com", catalog.RoleMerchant)
		st := e.openStall(t, w.org, m.Token, w.slug, "孤品摊")["id"].(string)
		rare := e.createProduct(t, m.Token, st, goods("孤品泥人", 20000, 1))["id"].(string)
		first, second := w.shopper(t), w.shopper(t)
		w.cart(t, first.Token, rare, 1)
		w.cart(t, second.Token, rare, 1)
		w.cart(t, second.Token, w.lantern, 1)
		lanterns := readStock(t, e, w.lantern)
		w.checkout(t, first.Token, nil)
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: second.Token, Body: map[string]any{"fulfillment": "pickup"}})
		wantProblem(t, res, http.StatusConflict, "insufficient_stock")
		// Nothing of the failed checkout stays: the lantern is not taken either.
		wantStock(t, e, rare, 0)
		wantStock(t, e, w.lantern, lanterns)
		if n := countRows(t, e, "orders", "buyer_id = ?", second.ID); n != 0 {
			t.Errorf("%d orders from a failed checkout", n)
		}
	})

	t.Run("SignedOut", func(t *testing.T) {
		wantProblem(t, e.do(req{Method: "POST", Path: "/api/v1/checkout", Body: map[string]any{}}), http.StatusUnauthorized, "unauthenticated")
	})
}

func TestCheckoutIdempotency(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "idem-fair")
	body := map[string]any{"fulfillment": "pickup"}

	t.Run("SameKeySameBody", func(t *testing.T) {
		buyer := w.shopper(t)
		w.cart(t, buyer.Token, w.lantern, 1)
		w.cart(t, buyer.Token, w.paperCut, 1)
		lanterns := readStock(t, e, w.lantern)
		key := map[string]string{"Idempotency-Key": "checkout-" + buyer.ID}
		first := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: body, Header: key})
		wantStatus(t, first, http.StatusCreated)
		// The shopper fills the cart again: a replay must not check it out.
		w.cart(t, buyer.Token, w.lantern, 1)
		second := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: body, Header: key})
		wantStatus(t, second, http.StatusCreated)
		if !bytes.Equal(first.Body, second.Body) {
			t.Errorf("replayed body differs:\n%s\n%s", first.Body, second.Body)
		}
		if n := countRows(t, e, "orders", "buyer_id = ?", buyer.ID); n != 2 {
			t.Errorf("%d orders after a replay, want 2", n)
		}
		if n := countRows(t, e, "payments", "buyer_id = ?", buyer.ID); n != 1 {
			t.Errorf("%d payments after a replay, want 1", n)
		}
		wantStock(t, e, w.lantern, lanterns-1)

		// The same key with another body is refused and changes nothing.
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "ship", "shipping_address": "别处"}, Header: key})
		wantProblem(t, res, http.StatusConflict, "conflict")
		if n := countRows(t, e, "orders", "buyer_id = ?", buyer.ID); n != 2 {
			t.Errorf("%d orders after a reused key, want 2", n)
		}
		// A new key checks out what is in the cart now.
		res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: body, Header: map[string]string{"Idempotency-Key": "another-" + buyer.ID}})
		wantStatus(t, res, http.StatusCreated)
		if n := countRows(t, e, "orders", "buyer_id = ?", buyer.ID); n != 3 {
			t.Errorf("%d orders after a new key, want 3", n)
		}
	})

	t.Run("PathSpellings", func(t *testing.T) {
		// The router also answers /api/v1/checkout/ and /api/v1/Checkout: a
		// retry spelled so must not check out a second time under one key.
		buyer := w.shopper(t)
		key := map[string]string{"Idempotency-Key": "spelling-" + buyer.ID}
		w.cart(t, buyer.Token, w.lantern, 1)
		first := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: body, Header: key})
		wantStatus(t, first, http.StatusCreated)
		for _, path := range []string{"/api/v1/checkout/", "/api/v1/Checkout", "/API/V1/CHECKOUT"} {
			w.cart(t, buyer.Token, w.lantern, 1)
			res := e.do(req{Method: "POST", Path: path, Token: buyer.Token, Body: body, Header: key})
			replayed := res.StatusCode == http.StatusCreated && bytes.Equal(res.Body, first.Body)
			if !replayed && res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusNotFound {
				t.Errorf("POST %s with a used Idempotency-Key: status %d, want the first answer replayed (or 409): %s", path, res.StatusCode, res.Body)
			}
		}
		if n := countRows(t, e, "payments", "buyer_id = ?", buyer.ID); n != 1 {
			t.Errorf("%d checkouts under one Idempotency-Key, want 1", n)
		}
	})

	t.Run("KeysArePerUser", func(t *testing.T) {
		a, b := w.shopper(t), w.shopper(t)
		key := map[string]string{"Idempotency-Key": "shared-key"}
		for _, who := range []registered{a, b} {
			w.cart(t, who.Token, w.lantern, 1)
			res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: who.Token, Body: body, Header: key})
			wantStatus(t, res, http.StatusCreated)
			if n := countRows(t, e, "orders", "buyer_id = ?", who.ID); n != 1 {
				t.Errorf("%d orders, want 1", n)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		buyer := w.shopper(t)
		w.cart(t, buyer.Token, w.lantern, 2)
		w.cart(t, buyer.Token, w.paperCut, 1)
		lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
		reqs := make([]*http.Request, 10)
		for i := range reqs {
			reqs[i] = newRequest("POST", "/api/v1/checkout", buyer.Token, body, map[string]string{"Idempotency-Key": "rush-" + buyer.ID})
		}
		var created []string
		for i, r := range e.rush(t, time.Minute, reqs) {
			switch {
			case r.err != nil:
				t.Errorf("request %d: %v", i, r.err)
			case r.status == http.StatusCreated:
				created = append(created, string(r.body))
			case r.status == http.StatusConflict && problemCode(r.body) == "conflict":
			default:
				t.Errorf("request %d: status %d %s", i, r.status, r.body)
			}
		}
		if len(created) == 0 {
			t.Fatal("no request of the rush checked out")
		}
		for _, b := range created[1:] {
			if b != created[0] {
				t.Errorf("two different checkouts answered for one key:\n%s\n%s", created[0], b)
			}
		}
		if n := countRows(t, e, "payments", "buyer_id = ?", buyer.ID); n != 1 {
			t.Errorf("%d payments, want exactly one checkout", n)
		}
		if n := countRows(t, e, "orders", "buyer_id = ?", buyer.ID); n != 2 {
			t.Errorf("%d orders, want 2", n)
		}
		wantStock(t, e, w.lantern, lanterns-2)
		wantStock(t, e, w.paperCut, cuts-1)
		// Once the first has finished, the key replays.
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: body, Header: map[string]string{"Idempotency-Key": "rush-" + buyer.ID}})
		wantStatus(t, res, http.StatusCreated)
		if string(res.Body) != created[0] {
			t.Errorf("replay after the rush differs:\n%s\n%s", created[0], res.Body)
		}
	})
}

func TestCheckoutStockConcurrency(t *testing.T) {
	// 200 buyers, one unit each, 50 in stock, all checking out at once.
	const buyers, stock = 200, 50
	e := newTestEnv(t)
	w := newShopWorld(t, e, "rush-fair")
	product := e.createProduct(t, w.merchA.Token, w.stallA, goods("限量花灯", 6600, stock))["id"].(string)
	ctx := context.Background()
	tokens := make([]string, buyers)
	ids := make([]string, buyers)
	for i := range tokens {
		u, err := e.srv.Accounts.CreateUser(ctx, account.NewUser{Email: fmt.Sprintf("rush%03d@example.com", i), Password: testPassword, Name: "抢灯", Role: catalog.RoleShopper})
		if err != nil {
			t.Fatal(err)
		}
		_, tok, err := e.srv.Accounts.StartSession(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i], ids[i] = tok, u.ID
		w.cart(t, tok, product, 1)
	}

	// Watch the stock while the rush runs: it must never go below zero.
	stop := make(chan struct{})
	var lowest int64 = stock
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := e.srv.DB.NewSelect().Table("products").Column("stock").Where("id = ?", product).Scan(ctx, &n); err == nil && n < lowest {
				lowest = n
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	reqs := make([]*http.Request, buyers)
	for i := range reqs {
		reqs[i] = newRequest("POST", "/api/v1/checkout", tokens[i], map[string]any{"fulfillment": "pickup"}, nil)
	}
	results := e.rush(t, 90*time.Second, reqs)
	close(stop)
	watch.Wait()

	n := map[int]int{}
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("buyer %d: %v", i, r.err)
		case r.status == http.StatusCreated:
			n[r.status]++
		case r.status == http.StatusConflict && problemCode(r.body) == "insufficient_stock":
			n[r.status]++
		default:
			n[r.status]++
			if n[r.status] <= 3 {
				t.Errorf("buyer %d: status %d %s", i, r.status, r.body)
			}
		}
	}
	if t.Failed() {
		e.logErrors(t)
	}
	if n[http.StatusCreated] != stock || n[http.StatusConflict] != buyers-stock {
		t.Errorf("answers by status %v, want %d × 201 and %d × 409 insufficient_stock", n, stock, buyers-stock)
	}
	wantStock(t, e, product, 0)
	if lowest < 0 {
		t.Errorf("stock went down to %d during the rush", lowest)
	}
	var sold int64
	if err := e.srv.DB.NewSelect().TableExpr("order_items").ColumnExpr("COALESCE(SUM(quantity), 0)").Where("product_id = ?", product).Scan(ctx, &sold); err != nil {
		t.Fatal(err)
	}
	if sold != stock {
		t.Errorf("%d units in orders, want %d", sold, stock)
	}
}

func TestPaymentSandbox(t *testing.T) {
	// sandbox is a fresh shop world where a buyer has checked out a lantern
	// (order A, stall A) and two paper cuts (order B, stall B) under one payment.
	type sandbox struct {
		e              *testEnv
		w              *world
		buyer, other   registered
		c              orders.Checkout
		orderA, orderB string
	}
	complete := func(e *testEnv, token, id, outcome string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + id + "/complete", Token: token, Body: map[string]any{"outcome": outcome}})
	}
	// setup checks out; then the payment has the outcomes given, in order.
	setup := func(t *testing.T, outcomes ...string) *sandbox {
		t.Helper()
		e := newTestEnv(t)
		w := newShopWorld(t, e, "pay-fair")
		sb := &sandbox{e: e, w: w, buyer: w.shopper(t), other: w.shopper(t)}
		w.cart(t, sb.buyer.Token, w.lantern, 1)
		w.cart(t, sb.buyer.Token, w.paperCut, 2)
		sb.c = w.checkout(t, sb.buyer.Token, nil)
		for _, o := range sb.c.Orders {
			if o.StallID == w.stallA {
				sb.orderA = o.ID
			} else {
				sb.orderB = o.ID
			}
		}
		for _, outcome := range outcomes {
			wantStatus(t, complete(e, sb.buyer.Token, sb.c.Payment.ID, outcome), http.StatusOK)
		}
		return sb
	}
	t.Run("Failed", func(t *testing.T) {
		sb := setup(t)
		e, buyer, c, orderA, orderB := sb.e, sb.buyer, sb.c, sb.orderA, sb.orderB
		res := complete(e, buyer.Token, c.Payment.ID, "failed")
		wantStatus(t, res, http.StatusOK)
		if res.JSON(t)["status"] != "failed" {
			t.Errorf("payment %s, want failed", res.Body)
		}
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentFailed {
			t.Errorf("payment %s, want failed", p.Status)
		}
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
	})

	t.Run("NotThePayer", func(t *testing.T) {
		sb := setup(t)
		e, w, buyer, other, c, orderA, orderB := sb.e, sb.w, sb.buyer, sb.other, sb.c, sb.orderA, sb.orderB
		wantProblem(t, complete(e, other.Token, c.Payment.ID, "succeeded"), http.StatusNotFound, "not_found")
		wantProblem(t, complete(e, w.merchA.Token, c.Payment.ID, "succeeded"), http.StatusNotFound, "not_found")
		wantProblem(t, complete(e, buyer.Token, catalog.NewID(), "succeeded"), http.StatusNotFound, "not_found")
		wantProblem(t, complete(e, "", c.Payment.ID, "succeeded"), http.StatusUnauthorized, "unauthenticated")
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/payments/" + c.Payment.ID, Token: other.Token}), http.StatusNotFound, "not_found")
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
	})

	t.Run("BadOutcome", func(t *testing.T) {
		sb := setup(t)
		e, buyer, c, orderA, orderB := sb.e, sb.buyer, sb.c, sb.orderA, sb.orderB
		res := complete(e, buyer.Token, c.Payment.ID, "maybe")
		wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
	})

	t.Run("Succeeded", func(t *testing.T) {
		sb := setup(t, "failed")
		e, buyer, c, orderA, orderB := sb.e, sb.buyer, sb.c, sb.orderA, sb.orderB
		// A failed attempt may be retried within the window.
		res := complete(e, buyer.Token, c.Payment.ID, "succeeded")
		wantStatus(t, res, http.StatusOK)
		if res.JSON(t)["status"] != "succeeded" {
			t.Errorf("payment %s", res.Body)
		}
		now := e.clock.Now()
		for _, id := range []string{orderA, orderB} {
			o := readOrder(t, e, id)
			if o.Status != orders.StatusPaid || o.PaidAt == nil || !o.PaidAt.Equal(now) {
				t.Errorf("order %s: %s paid at %v, want paid at %v", id, o.Status, o.PaidAt, now)
			}
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/payments/" + c.Payment.ID, Token: buyer.Token})
		wantStatus(t, res, http.StatusOK)
		if p := res.JSON(t)["payment"].(map[string]any); p["status"] != "succeeded" {
			t.Errorf("GET payment %s", res.Body)
		}
	})

	t.Run("Twice", func(t *testing.T) {
		sb := setup(t, "succeeded")
		e, buyer, c := sb.e, sb.buyer, sb.c
		wantProblem(t, complete(e, buyer.Token, c.Payment.ID, "succeeded"), http.StatusConflict, "conflict")
		wantProblem(t, complete(e, buyer.Token, c.Payment.ID, "failed"), http.StatusConflict, "conflict")
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentSucceeded {
			t.Errorf("payment %s after a late failure, want succeeded", p.Status)
		}
	})

	t.Run("WhoSeesTheOrder", func(t *testing.T) {
		sb := setup(t, "succeeded")
		e, w, buyer, other, orderA := sb.e, sb.w, sb.buyer, sb.other, sb.orderA
		for _, tc := range []struct {
			name, token string
			ok          bool
		}{
			{"buyer", buyer.Token, true},
			{"merchant", w.merchA.Token, true},
			{"organizer", w.org, true},
			{"other shopper", other.Token, false},
			{"other stall's merchant", w.merchB.Token, false},
		} {
			res := e.do(req{Method: "GET", Path: "/api/v1/orders/" + orderA, Token: tc.token})
			if !tc.ok {
				if res.StatusCode != http.StatusNotFound {
					t.Errorf("%s: status %d, want 404: %s", tc.name, res.StatusCode, res.Body)
				}
				continue
			}
			wantStatus(t, res, http.StatusOK)
			o := res.JSON(t)
			wantKeys(t, "order", o, "id", "status", "stall_id", "buyer_id", "items", "total", "currency", "created_at", "paid_at")
			// The pickup code is its buyer's, shown at the booth; nobody else reads it.
			if _, has := o["pickup_code"]; has != (tc.name == "buyer") {
				t.Errorf("%s: pickup_code shown %v", tc.name, has)
			}
			if o["id"] != orderA || o["status"] != "paid" || o["stall_id"] != w.stallA || o["buyer_id"] != buyer.ID || o["total"] != float64(lanternPrice) || o["currency"] != "CNY" {
				t.Errorf("%s sees %s", tc.name, res.Body)
			}
			if s, _ := o["paid_at"].(string); !strings.HasSuffix(s, "Z") {
				t.Errorf("paid_at %q is not RFC 3339 UTC", o["paid_at"])
			}
		}
		res := e.do(req{Method: "GET", Path: "/api/v1/orders/" + orderA})
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous: status %d, want 401 or 404", res.StatusCode)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/orders/" + catalog.NewID(), Token: buyer.Token}), http.StatusNotFound, "not_found")
	})
}

func TestPaymentSandboxOffUnderStripe(t *testing.T) {
	// With the stripe provider the sandbox endpoint does not exist, even for
	// a sandbox payment left in the database from before the switch.
	e := newTestEnv(t, func(c *Config) {
		c.PaymentProvider, c.StripeSecretKey, c.StripeWebhookSecret = "stripe", "sk_test_123", "whsec_test"
		c.StripeAPIBase = "http://127.0.0.1:1" // never called
	})
	buyer := e.register("stripe-shopper@example.com", catalog.RoleShopper)
	_, org := e.organizer(t, "stripe-org@example.com")
	f := e.createFair(t, org, e.fairBody("stripe-off-fair", "temple_fair"))
	now := e.clock.Now()
	p := &orders.Payment{ID: catalog.NewID(), BuyerID: buyer.ID, FairID: f["id"].(string), Provider: "sandbox", Status: orders.PaymentPending,
		Amount: 100, Currency: "CNY", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if _, err := e.srv.DB.NewInsert().Model(p).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + p.ID + "/complete", Token: buyer.Token, Body: map[string]any{"outcome": "succeeded"}})
	wantProblem(t, res, http.StatusNotFound, "not_found")
	if got := readPayment(t, e, p.ID); got.Status != orders.PaymentPending {
		t.Errorf("payment %s, want pending", got.Status)
	}
}

func TestOrderCancelAndExpiry(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "expiry-fair")
	ctx := context.Background()
	cancel := func(token, id string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/orders/" + id + "/cancel", Token: token})
	}

	t.Run("BuyerCancels", func(t *testing.T) {
		buyer := w.shopper(t)
		lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
		w.cart(t, buyer.Token, w.lantern, 3)
		w.cart(t, buyer.Token, w.paperCut, 1)
		c := w.checkout(t, buyer.Token, nil)
		wantStock(t, e, w.lantern, lanterns-3)
		var orderA, orderB string
		for _, o := range c.Orders {
			if o.StallID == w.stallA {
				orderA = o.ID
			} else {
				orderB = o.ID
			}
		}
		wantDenied(t, cancel(w.merchA.Token, orderA))
		wantDenied(t, cancel(w.org, orderA))
		wantProblem(t, cancel(w.shopper(t).Token, orderA), http.StatusNotFound, "not_found")
		wantOrderStatus(t, e, orders.StatusPendingPayment, orderA, orderB)
		wantStock(t, e, w.lantern, lanterns-3)

		res := cancel(buyer.Token, orderA)
		wantStatus(t, res, http.StatusOK)
		if o := res.JSON(t); o["status"] != "cancelled" || o["id"] != orderA {
			t.Errorf("cancelled order %s", res.Body)
		}
		// One payment covers the checkout: all of it is cancelled.
		wantOrderStatus(t, e, orders.StatusCancelled, orderA, orderB)
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentCancelled {
			t.Errorf("payment %s, want cancelled", p.Status)
		}
		wantStock(t, e, w.lantern, lanterns)
		wantStock(t, e, w.paperCut, cuts)

		wantProblem(t, cancel(buyer.Token, orderA), http.StatusConflict, "conflict")
		wantProblem(t, cancel(buyer.Token, orderB), http.StatusConflict, "conflict")
		wantStock(t, e, w.lantern, lanterns)
		wantStock(t, e, w.paperCut, cuts)
		// A cancelled payment cannot be completed.
		res = e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + c.Payment.ID + "/complete", Token: buyer.Token, Body: map[string]any{"outcome": "succeeded"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		wantOrderStatus(t, e, orders.StatusCancelled, orderA, orderB)
	})

	t.Run("ConcurrentCancels", func(t *testing.T) {
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 2)
		reqs := make([]*http.Request, 8)
		for i := range reqs {
			reqs[i] = newRequest("POST", "/api/v1/orders/"+c.Orders[0].ID+"/cancel", buyer.Token, nil, nil)
		}
		for i, r := range e.rush(t, time.Minute, reqs) {
			if r.err != nil || r.status != http.StatusOK && r.status != http.StatusConflict {
				t.Errorf("cancel %d: %d %v %s", i, r.status, r.err, r.body)
			}
		}
		wantStock(t, e, w.lantern, lanterns)
		wantOrderStatus(t, e, orders.StatusCancelled, c.Orders[0].ID)
	})

	t.Run("PaidCannotBeCancelled", func(t *testing.T) {
		buyer := w.shopper(t)
		o := w.buyPaid(t, buyer.Token, w.lantern, 1)
		lanterns := readStock(t, e, w.lantern)
		wantProblem(t, cancel(buyer.Token, o.ID), http.StatusConflict, "conflict")
		wantOrderStatus(t, e, orders.StatusPaid, o.ID)
		wantStock(t, e, w.lantern, lanterns)
	})

	t.Run("ExpiryScheduled", func(t *testing.T) {
		buyer := w.shopper(t)
		c := w.buy(t, buyer.Token, w.lantern, 1)
		info, err := asynq.NewInspectorFromRedisClient(e.redis.Client).GetTaskInfo(jobs.QueueDefault, "expire:"+c.Payment.ID)
		if err != nil {
			t.Fatalf("no expiry task for the payment: %v", err)
		}
		want := e.clock.Now().Add(e.cfg.PaymentWindow)
		if info.Type != jobs.TypePaymentExpire || info.NextProcessAt.Unix() != want.Unix() {
			t.Errorf("expiry task %s at %v, want %s at %v", info.Type, info.NextProcessAt, jobs.TypePaymentExpire, want)
		}
		if !c.Payment.ExpiresAt.Equal(want) {
			t.Errorf("payment expires at %v, want %v", c.Payment.ExpiresAt, want)
		}
		// Before the window closes nothing happens.
		if err := e.srv.Orders.ExpirePayment(ctx, c.Payment.ID); err != nil {
			t.Fatal(err)
		}
		wantOrderStatus(t, e, orders.StatusPendingPayment, c.Orders[0].ID)
		wantStatus(t, cancel(buyer.Token, c.Orders[0].ID), http.StatusOK)
	})

	t.Run("Sweep", func(t *testing.T) {
		buyer := w.shopper(t)
		lanterns, cuts := readStock(t, e, w.lantern), readStock(t, e, w.paperCut)
		w.cart(t, buyer.Token, w.lantern, 2)
		w.cart(t, buyer.Token, w.paperCut, 1)
		c := w.checkout(t, buyer.Token, nil)
		e.clock.Advance(e.cfg.PaymentWindow - time.Second)
		if n, err := e.srv.Orders.SweepExpired(ctx, 100); err != nil || n != 0 {
			t.Fatalf("sweep before the window closed: %d, %v", n, err)
		}
		e.clock.Advance(2 * time.Second)
		n, err := e.srv.Orders.SweepExpired(ctx, 100)
		if err != nil || n != 1 {
			t.Fatalf("sweep: closed %d, %v; want 1", n, err)
		}
		for _, o := range c.Orders {
			if got := readOrder(t, e, o.ID); got.Status != orders.StatusCancelled || got.CancelledAt == nil {
				t.Errorf("expired order %+v", got)
			}
		}
		wantStock(t, e, w.lantern, lanterns)
		wantStock(t, e, w.paperCut, cuts)
		// Again, and the expiry task arriving late: nothing more.
		if n, err := e.srv.Orders.SweepExpired(ctx, 100); err != nil || n != 0 {
			t.Errorf("second sweep: %d, %v", n, err)
		}
		for i := 0; i < 2; i++ {
			if err := e.srv.Orders.ExpirePayment(ctx, c.Payment.ID); err != nil {
				t.Fatal(err)
			}
		}
		wantStock(t, e, w.lantern, lanterns)
		wantStock(t, e, w.paperCut, cuts)
	})

	t.Run("ExpireConcurrently", func(t *testing.T) {
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 4)
		e.clock.Advance(e.cfg.PaymentWindow + time.Second)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if i%2 == 0 {
					errs[i] = e.srv.Orders.ExpirePayment(ctx, c.Payment.ID)
				} else {
					_, errs[i] = e.srv.Orders.SweepExpired(ctx, 100)
				}
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("expiry %d: %v", i, err)
			}
		}
		wantStock(t, e, w.lantern, lanterns)
		wantOrderStatus(t, e, orders.StatusCancelled, c.Orders[0].ID)
	})

	t.Run("CompleteAfterWindow", func(t *testing.T) {
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 1)
		e.clock.Advance(e.cfg.PaymentWindow)
		res := e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + c.Payment.ID + "/complete", Token: buyer.Token, Body: map[string]any{"outcome": "succeeded"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		o := readOrder(t, e, c.Orders[0].ID)
		if o.Status != orders.StatusCancelled || o.PaidAt != nil {
			t.Errorf("order %s paid at %v after a late completion, want cancelled and unpaid", o.Status, o.PaidAt)
		}
		if p := readPayment(t, e, c.Payment.ID); p.Status != orders.PaymentCancelled {
			t.Errorf("payment %s, want cancelled", p.Status)
		}
		wantStock(t, e, w.lantern, lanterns)
	})

	t.Run("SweepByWorker", func(t *testing.T) {
		// The periodic sweep task run by the Asynq workers closes what is due.
		buyer := w.shopper(t)
		lanterns := readStock(t, e, w.lantern)
		c := w.buy(t, buyer.Token, w.lantern, 2)
		e.clock.Advance(e.cfg.PaymentWindow + time.Second)
		e.runWorkers()
		if err := e.srv.Enqueuer.Enqueue(ctx, asynq.NewTask(jobs.TypePaymentSweep, nil), asynq.Queue(jobs.QueueDefault)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() error {
			if o := readOrder(t, e, c.Orders[0].ID); o.Status != orders.StatusCancelled {
				return fmt.Errorf("order %s", o.Status)
			}
			return nil
		})
		wantStock(t, e, w.lantern, lanterns)
	})
}

func TestOrderShipAndRedeem(t *testing.T) {
	// fulfil is a fresh shop world where a buyer checked out a shipped order
	// (dumplings) and a picked-up one (a lantern), paid when paid, the
	// shipped one shipped when shipped (Ship).
	type fulfil struct {
		e                    *testEnv
		w                    *world
		buyer, other         registered
		shipID, pickID, code string
	}
	setup := func(t *testing.T, paid, shipped bool) *fulfil {
		t.Helper()
		e := newTestEnv(t)
		w := newShopWorld(t, e, "fulfil-fair")
		f := &fulfil{e: e, w: w, buyer: w.shopper(t), other: w.shopper(t)}
		w.cart(t, f.buyer.Token, w.dumplings, 1)
		ship := w.checkout(t, f.buyer.Token, map[string]any{"shipping_address": "江苏省泰州市海陵区坡子街1号"})
		pick := w.buy(t, f.buyer.Token, w.lantern, 1)
		f.shipID, f.pickID, f.code = ship.Orders[0].ID, pick.Orders[0].ID, pick.Orders[0].PickupCode
		if paid {
			w.pay(t, f.buyer.Token, ship.Payment.ID)
			w.pay(t, f.buyer.Token, pick.Payment.ID)
		}
		if shipped {
			wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + f.shipID + "/ship", Token: w.merchA.Token, Body: map[string]any{"tracking": "SF1234567890"}}), http.StatusOK)
		}
		return f
	}
	ship := func(e *testEnv, token, id string, body any) response {
		return e.do(req{Method: "POST", Path: "/api/v1/orders/" + id + "/ship", Token: token, Body: body})
	}
	redeem := func(e *testEnv, token, id, code string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/orders/" + id + "/redeem", Token: token, Body: map[string]any{"code": code}})
	}

	t.Run("ShipUnpaid", func(t *testing.T) {
		f := setup(t, false, false)
		e, w, shipID := f.e, f.w, f.shipID
		wantProblem(t, ship(e, w.merchA.Token, shipID, map[string]any{"tracking": "SF1"}), http.StatusConflict, "conflict")
		wantOrderStatus(t, e, orders.StatusPendingPayment, shipID)
	})

	t.Run("RedeemUnpaid", func(t *testing.T) {
		f := setup(t, false, false)
		e, w, pickID, code := f.e, f.w, f.pickID, f.code
		wantProblem(t, redeem(e, w.merchA.Token, pickID, code), http.StatusConflict, "conflict")
		wantOrderStatus(t, e, orders.StatusPendingPayment, pickID)
	})

	t.Run("ShipNotYours", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, buyer, other, shipID := f.e, f.w, f.buyer, f.other, f.shipID
		wantDenied(t, ship(e, w.merchB.Token, shipID, map[string]any{}))
		wantDenied(t, ship(e, buyer.Token, shipID, map[string]any{}))
		wantDenied(t, ship(e, other.Token, shipID, map[string]any{}))
		wantDenied(t, ship(e, w.org, shipID, map[string]any{}))
		wantOrderStatus(t, e, orders.StatusPaid, shipID)
	})

	t.Run("Ship", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, shipID := f.e, f.w, f.shipID
		res := ship(e, w.merchA.Token, shipID, map[string]any{"tracking": " SF1234567890 "})
		wantStatus(t, res, http.StatusOK)
		if o := res.JSON(t); o["status"] != "shipped" || o["tracking"] != "SF1234567890" {
			t.Errorf("shipped order %s", res.Body)
		}
		if o := readOrder(t, e, shipID); o.ShippedAt == nil || o.Tracking != "SF1234567890" {
			t.Errorf("order %+v", o)
		}
		wantProblem(t, ship(e, w.merchA.Token, shipID, map[string]any{"tracking": "SF2"}), http.StatusConflict, "conflict")
		if o := readOrder(t, e, shipID); o.Tracking != "SF1234567890" {
			t.Errorf("tracking %q changed by a refused second shipping", o.Tracking)
		}
	})

	t.Run("ShipPartiallyRefunded", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, buyer := f.e, f.w, f.buyer
		// A merchant refunds a missing item and ships the rest, as a
		// partially refunded pickup order can still be redeemed.
		w.cart(t, buyer.Token, w.dumplings, 2)
		c := w.checkout(t, buyer.Token, map[string]any{"shipping_address": "江苏省泰州市海陵区坡子街1号"})
		w.pay(t, buyer.Token, c.Payment.ID)
		id := c.Orders[0].ID
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + id + "/refunds", Token: w.merchA.Token, Body: map[string]any{"amount": dumplingPrice, "reason": "缺货一盒"}}), http.StatusCreated)
		res := ship(e, w.merchA.Token, id, map[string]any{"tracking": "SF999"})
		wantStatus(t, res, http.StatusOK)
		if o := readOrder(t, e, id); o.Status != orders.StatusShipped || o.Refunded != dumplingPrice {
			t.Errorf("order %s refunded %d, want shipped with %d refunded", o.Status, o.Refunded, dumplingPrice)
		}
	})

	t.Run("ShipPickupOrder", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, pickID := f.e, f.w, f.pickID
		wantProblem(t, ship(e, w.merchA.Token, pickID, map[string]any{"tracking": "SF3"}), http.StatusConflict, "conflict")
		wantOrderStatus(t, e, orders.StatusPaid, pickID)
	})

	t.Run("RedeemNotYours", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, buyer, other, pickID, code := f.e, f.w, f.buyer, f.other, f.pickID, f.code
		wantDenied(t, redeem(e, buyer.Token, pickID, code))
		wantDenied(t, redeem(e, other.Token, pickID, code))
		wantDenied(t, redeem(e, w.merchB.Token, pickID, code))
		wantOrderStatus(t, e, orders.StatusPaid, pickID)
	})

	t.Run("WrongCode", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, pickID, code := f.e, f.w, f.pickID, f.code
		wrong := "22222222"
		if wrong == code {
			wrong = "33333333"
		}
		wantField(t, redeem(e, w.merchA.Token, pickID, wrong), "code")
		wantField(t, redeem(e, w.merchA.Token, pickID, ""), "code")
		wantOrderStatus(t, e, orders.StatusPaid, pickID)
	})

	t.Run("Redeem", func(t *testing.T) {
		f := setup(t, true, false)
		e, w, pickID, code := f.e, f.w, f.pickID, f.code
		// Codes are read out at the booth: case and spaces do not matter.
		res := redeem(e, w.merchA.Token, pickID, " "+strings.ToLower(code)+" ")
		wantStatus(t, res, http.StatusOK)
		if o := res.JSON(t); o["status"] != "redeemed" {
			t.Errorf("redeemed order %s", res.Body)
		}
		if o := readOrder(t, e, pickID); o.RedeemedAt == nil || !o.RedeemedAt.Equal(e.clock.Now()) {
			t.Errorf("redeemed at %v", o.RedeemedAt)
		}
		wantProblem(t, redeem(e, w.merchA.Token, pickID, code), http.StatusConflict, "conflict")
	})

	t.Run("RedeemShippedOrder", func(t *testing.T) {
		f := setup(t, true, true)
		e, w, shipID := f.e, f.w, f.shipID
		wantProblem(t, redeem(e, w.merchA.Token, shipID, "ABCDEFGH"), http.StatusConflict, "conflict")
	})
}

// voucherWorld is a property season with one development selling deposit vouchers.
type voucherWorld struct {
	*world
	dev     registered
	stall   string
	voucher string // ¥10,000 paid, ¥50,000 off, valid 48 h
}

func newVoucherWorld(t testing.TB, e *testEnv, slug string) *voucherWorld {
	t.Helper()
	w := &world{e: e, slug: slug}
	w.orgID, w.org = e.organizer(t, "organizer-"+slug+"@example.com")
	e.createFair(t, w.org, e.fairBody(slug, "property_season"))
	v := &voucherWorld{world: w}
	v.dev = e.register("developer-"+slug+"@example.com", catalog.RoleMerchant)
	v.stall = e.openStall(t, w.org, v.dev.Token, slug, "碧桂园·江城府")["id"].(string)
	v.voucher = e.createProduct(t, v.dev.Token, v.stall, map[string]any{
		"title": "定金券：付1万抵5万", "price": 1_000_000, "currency": "CNY", "stock": 5, "kind": "voucher",
		"offset_value": 5_000_000, "valid_until": fairTime(e.clock.Now().Add(48 * time.Hour)),
	})["id"].(string)
	return v
}

func TestVoucherOnePerDevelopment(t *testing.T) {
	refund := func(e *testEnv, token, orderID string, body map[string]any) response {
		return e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderID + "/refunds", Token: token, Body: body})
	}
	// setup is a fresh property season where a buyer has paid a first voucher.
	setup := func(t *testing.T) (e *testEnv, v *voucherWorld, buyer registered, first orders.Order) {
		t.Helper()
		e = newTestEnv(t)
		v = newVoucherWorld(t, e, "spring-homes")
		buyer = v.shopper(t)
		first = v.buyPaid(t, buyer.Token, v.voucher, 1)
		if len(first.Items) != 1 || first.Items[0].Kind != "voucher" || first.Items[0].OffsetValue != 5_000_000 || first.Items[0].ValidUntil == nil || first.PickupCode == "" {
			t.Fatalf("voucher order %+v", first)
		}
		wantStock(t, e, v.voucher, 4)
		return e, v, buyer, first
	}
	// season is setup and then what the subtests below do: the first voucher
	// refunded in whole and bought again (unpaid), one bought, cancelled and
	// bought again (unpaid), one paid and redeemed, one paid and expired.
	season := func(t *testing.T) (e *testEnv, v *voucherWorld, buyer registered, first orders.Order) {
		t.Helper()
		e, v, buyer, first = setup(t)
		wantStatus(t, refund(e, v.dev.Token, first.ID, map[string]any{"reason": "客户改选其他楼盘"}), http.StatusCreated)
		v.buy(t, buyer.Token, v.voucher, 1)
		b := v.shopper(t)
		c := v.buy(t, b.Token, v.voucher, 1)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + c.Orders[0].ID + "/cancel", Token: b.Token}), http.StatusOK)
		v.buy(t, b.Token, v.voucher, 1)
		redeemed := v.buyPaid(t, v.shopper(t).Token, v.voucher, 1)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + redeemed.ID + "/redeem", Token: v.dev.Token, Body: map[string]any{"code": redeemed.PickupCode}}), http.StatusOK)
		v.buyPaid(t, v.shopper(t).Token, v.voucher, 1)
		e.clock.Advance(48*time.Hour + time.Minute)
		return e, v, buyer, first
	}
	t.Run("SecondVoucherRefused", func(t *testing.T) {
		e, v, buyer, _ := setup(t)
		v.cart(t, buyer.Token, v.voucher, 1)
		res := e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "pickup"}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		wantStock(t, e, v.voucher, 4)
		if n := countRows(t, e, "orders", "buyer_id = ?", buyer.ID); n != 1 {
			t.Errorf("%d voucher orders, want 1", n)
		}
	})

	t.Run("TwoInOneCart", func(t *testing.T) {
		e, v, _, _ := setup(t)
		wantField(t, e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + v.voucher, Token: v.shopper(t).Token, Body: map[string]any{"quantity": 2}}), "quantity")
	})

	t.Run("AgainAfterFullRefund", func(t *testing.T) {
		e, v, buyer, first := setup(t)
		v.cart(t, buyer.Token, v.voucher, 1) // as SecondVoucherRefused left it
		res := refund(e, v.dev.Token, first.ID, map[string]any{"reason": "客户改选其他楼盘"})
		wantStatus(t, res, http.StatusCreated)
		wantOrderStatus(t, e, orders.StatusRefunded, first.ID)
		wantStock(t, e, v.voucher, 5) // a refunded voucher goes back on sale
		res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"fulfillment": "pickup"}})
		wantStatus(t, res, http.StatusCreated)
		wantStock(t, e, v.voucher, 4)
	})

	t.Run("AgainAfterCancel", func(t *testing.T) {
		e, v, _, _ := setup(t)
		b := v.shopper(t)
		c := v.buy(t, b.Token, v.voucher, 1)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + c.Orders[0].ID + "/cancel", Token: b.Token}), http.StatusOK)
		v.buy(t, b.Token, v.voucher, 1)
	})

	t.Run("RedeemedCannotBeRefunded", func(t *testing.T) {
		e, v, _, _ := setup(t)
		b := v.shopper(t)
		o := v.buyPaid(t, b.Token, v.voucher, 1)
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + o.ID + "/redeem", Token: v.dev.Token, Body: map[string]any{"code": o.PickupCode}}), http.StatusOK)
		wantProblem(t, refund(e, v.dev.Token, o.ID, map[string]any{"reason": "想退"}), http.StatusConflict, "conflict")
		wantProblem(t, refund(e, v.org, o.ID, map[string]any{"amount": 100, "reason": "想退"}), http.StatusConflict, "conflict")
		if got := readOrder(t, e, o.ID); got.Status != orders.StatusRedeemed || got.Refunded != 0 {
			t.Errorf("redeemed voucher %s refunded %d", got.Status, got.Refunded)
		}
	})

	t.Run("ExpiredVoucher", func(t *testing.T) {
		e, v, _, _ := setup(t)
		b := v.shopper(t)
		o := v.buyPaid(t, b.Token, v.voucher, 1)
		e.clock.Advance(48*time.Hour + time.Minute)
		res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + o.ID + "/redeem", Token: v.dev.Token, Body: map[string]any{"code": o.PickupCode}})
		wantProblem(t, res, http.StatusConflict, "conflict")
		wantOrderStatus(t, e, orders.StatusPaid, o.ID)
	})

	// The season's figures per development: three vouchers paid (one
	// refunded in whole, one redeemed), and one live viewing booking of two.
	t.Run("Totals", func(t *testing.T) {
		e, v, _, _ := season(t)
		res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + v.stall + "/slots", Token: v.dev.Token, Body: map[string]any{
			"starts_at": fairTime(e.clock.Now().Add(24 * time.Hour)), "ends_at": fairTime(e.clock.Now().Add(26 * time.Hour)), "capacity": 5,
		}})
		wantStatus(t, res, http.StatusCreated)
		slot := res.JSON(t)["id"].(string)
		visitors := []registered{v.shopper(t), v.shopper(t)}
		var booking string
		for _, who := range visitors {
			res := e.do(req{Method: "POST", Path: "/api/v1/slots/" + slot + "/bookings", Token: who.Token})
			wantStatus(t, res, http.StatusCreated)
			booking = res.JSON(t)["id"].(string)
		}
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/bookings/" + booking + "/cancel", Token: visitors[1].Token}), http.StatusOK)

		want := orders.DevelopmentTotal{StallID: v.stall, Name: "碧桂园·江城府", Sold: 3, Redeemed: 1, Refunded: 1, Bookings: 1}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/" + v.slug + "/totals", Token: v.org})
		wantStatus(t, res, http.StatusOK)
		var fair orders.Totals
		if err := json.Unmarshal(res.Body, &fair); err != nil {
			t.Fatal(err)
		}
		if len(fair.Developments) != 1 || fair.Developments[0] != want {
			t.Errorf("developments %+v, want %+v", fair.Developments, want)
		}
		if fair.PaidOrders != 3 || fair.GMV != 2_000_000 || fair.Refunded != 1_000_000 {
			t.Errorf("headline: %d paid orders, gmv %d, refunded %d", fair.PaidOrders, fair.GMV, fair.Refunded)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + v.stall + "/totals", Token: v.dev.Token})
		wantStatus(t, res, http.StatusOK)
		var stall orders.StallTotals
		if err := json.Unmarshal(res.Body, &stall); err != nil {
			t.Fatal(err)
		}
		if len(stall.Developments) != 1 || stall.Developments[0] != want {
			t.Errorf("the development's own figures %+v, want %+v", stall.Developments, want)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/" + v.slug + "/totals.csv?table=development", Token: v.org})
		wantStatus(t, res, http.StatusOK)
		if line := v.stall + ",碧桂园·江城府,3,1,1,1"; !strings.Contains(string(res.Body), line) {
			t.Errorf("development.csv:\n%s\nwant the line %s", res.Body, line)
		}
		// The developer's dashboard draws the development's chart.
		res = e.do(req{Method: "GET", Path: "/merchant/stalls/" + v.stall + "/dashboard", Token: v.dev.Token})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), `data-chart="developments"`) {
			t.Error("the property dashboard has no developments chart")
		}
	})
}

func TestRefunds(t *testing.T) {
	refund := func(e *testEnv, token, orderID string, body any, header map[string]string) response {
		return e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderID + "/refunds", Token: token, Body: body, Header: header})
	}
	// setup is a fresh shop world where a buyer has paid an order o of four
	// lanterns (¥50.00), and then the first steps of its refunds were made:
	// ¥10.00 by the merchant (Partial), then ¥10.00 by the organizer (Organizer).
	setup := func(t *testing.T, steps int) (e *testEnv, w *world, buyer, other registered, o orders.Order) {
		t.Helper()
		e = newTestEnv(t)
		w = newShopWorld(t, e, "refund-fair")
		buyer, other = w.shopper(t), w.shopper(t)
		o = w.buyPaid(t, buyer.Token, w.lantern, 4)
		for _, step := range []struct{ token, reason string }{{w.merchA.Token, "灯笼破损"}, {w.org, "主办方调解"}}[:steps] {
			wantStatus(t, refund(e, step.token, o.ID, map[string]any{"amount": 1000, "reason": step.reason}, nil), http.StatusCreated)
		}
		return e, w, buyer, other, o
	}
	t.Run("Partial", func(t *testing.T) {
		e, w, _, _, o := setup(t, 0)
		res := refund(e, w.merchA.Token, o.ID, map[string]any{"amount": 1000, "reason": "灯笼破损"}, nil)
		wantStatus(t, res, http.StatusCreated)
		r := res.JSON(t)
		wantKeys(t, "refund", r, "id", "order_id", "amount", "reason", "status", "created_at")
		if r["order_id"] != o.ID || r["amount"] != 1000.0 || r["status"] != "succeeded" {
			t.Errorf("refund %s", res.Body)
		}
		got := readOrder(t, e, o.ID)
		if got.Status != orders.StatusPartiallyRefunded || got.Refunded != 1000 || got.RefundPending != 0 {
			t.Errorf("order %s refunded %d (pending %d), want partially_refunded 1000", got.Status, got.Refunded, got.RefundPending)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		e, w, _, _, o := setup(t, 1)
		wantField(t, refund(e, w.merchA.Token, o.ID, map[string]any{"amount": 4001, "reason": "多退"}, nil), "amount")
		wantField(t, refund(e, w.merchA.Token, o.ID, map[string]any{"amount": 0, "reason": "零"}, nil), "amount")
		wantField(t, refund(e, w.merchA.Token, o.ID, map[string]any{"amount": -5, "reason": "负"}, nil), "amount")
		wantField(t, refund(e, w.merchA.Token, o.ID, map[string]any{"amount": 100}, nil), "reason")
		if got := readOrder(t, e, o.ID); got.Refunded != 1000 {
			t.Errorf("refunded %d after refused refunds, want 1000", got.Refunded)
		}
	})

	t.Run("NotAllowed", func(t *testing.T) {
		e, w, buyer, other, o := setup(t, 1)
		wantDenied(t, refund(e, buyer.Token, o.ID, map[string]any{"amount": 100, "reason": "我自己退"}, nil))
		wantDenied(t, refund(e, other.Token, o.ID, map[string]any{"amount": 100, "reason": "别人退"}, nil))
		wantDenied(t, refund(e, w.merchB.Token, o.ID, map[string]any{"amount": 100, "reason": "隔壁退"}, nil))
		if n := countRows(t, e, "refunds", "order_id = ?", o.ID); n != 1 {
			t.Errorf("%d refunds, want 1", n)
		}
	})

	t.Run("Organizer", func(t *testing.T) {
		e, w, _, _, o := setup(t, 1)
		res := refund(e, w.org, o.ID, map[string]any{"amount": 1000, "reason": "主办方调解"}, nil)
		wantStatus(t, res, http.StatusCreated)
		if got := readOrder(t, e, o.ID); got.Refunded != 2000 || got.Status != orders.StatusPartiallyRefunded {
			t.Errorf("order %s refunded %d", got.Status, got.Refunded)
		}
	})

	t.Run("TheRest", func(t *testing.T) {
		e, w, _, _, o := setup(t, 2)
		res := refund(e, w.merchA.Token, o.ID, map[string]any{"reason": "全部退款"}, nil)
		wantStatus(t, res, http.StatusCreated)
		if r := res.JSON(t); r["amount"] != 3000.0 {
			t.Errorf("refund of the rest %s, want 3000", res.Body)
		}
		if got := readOrder(t, e, o.ID); got.Refunded != got.Total || got.Status != orders.StatusRefunded {
			t.Errorf("order %s refunded %d of %d", got.Status, got.Refunded, got.Total)
		}
		res = refund(e, w.merchA.Token, o.ID, map[string]any{"amount": 1, "reason": "再退"}, nil)
		if res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("refund of a refunded order: status %d, want 409 or 422", res.StatusCode)
		}
		var sum int64
		if err := e.srv.DB.NewSelect().TableExpr("refunds").ColumnExpr("COALESCE(SUM(amount), 0)").Where("order_id = ? AND status = ?", o.ID, orders.RefundSucceeded).Scan(context.Background(), &sum); err != nil {
			t.Fatal(err)
		}
		if sum != o.Total {
			t.Errorf("refunds add up to %d, want %d", sum, o.Total)
		}
	})

	t.Run("Unpaid", func(t *testing.T) {
		e, w, buyer, _, _ := setup(t, 0)
		c := w.buy(t, buyer.Token, w.paperCut, 1)
		wantProblem(t, refund(e, w.merchB.Token, c.Orders[0].ID, map[string]any{"reason": "未付款"}, nil), http.StatusConflict, "conflict")
		if n := countRows(t, e, "refunds", "order_id = ?", c.Orders[0].ID); n != 0 {
			t.Errorf("%d refunds of an unpaid order", n)
		}
	})

	t.Run("IdempotencyKey", func(t *testing.T) {
		e, w, buyer, _, _ := setup(t, 0)
		paid := w.buyPaid(t, buyer.Token, w.lantern, 2)
		key := map[string]string{"Idempotency-Key": "refund-" + paid.ID}
		body := map[string]any{"amount": 500, "reason": "少了一个"}
		first := refund(e, w.merchA.Token, paid.ID, body, key)
		wantStatus(t, first, http.StatusCreated)
		second := refund(e, w.merchA.Token, paid.ID, body, key)
		wantStatus(t, second, http.StatusCreated)
		if !bytes.Equal(first.Body, second.Body) || second.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay differs:\n%s\n%s", first.Body, second.Body)
		}
		wantProblem(t, refund(e, w.merchA.Token, paid.ID, map[string]any{"amount": 600, "reason": "少了一个"}, key), http.StatusConflict, "conflict")
		// The same retry spelled otherwise (the router accepts a trailing
		// slash and any case) refunds nothing more.
		for _, path := range []string{"/api/v1/orders/" + paid.ID + "/refunds/", "/api/v1/orders/" + paid.ID + "/Refunds"} {
			res := e.do(req{Method: "POST", Path: path, Token: w.merchA.Token, Body: body, Header: key})
			if res.StatusCode != http.StatusConflict && res.StatusCode != http.StatusNotFound && !bytes.Equal(res.Body, first.Body) {
				t.Errorf("retry at %s with the same Idempotency-Key: status %d, want the first answer replayed (or 409): %s", path, res.StatusCode, res.Body)
			}
		}
		if n := countRows(t, e, "refunds", "order_id = ?", paid.ID); n != 1 {
			t.Errorf("%d refunds, want 1", n)
		}
		if got := readOrder(t, e, paid.ID); got.Refunded != 500 {
			t.Errorf("refunded %d, want 500", got.Refunded)
		}
	})

	t.Run("BeforePayout", func(t *testing.T) {
		e, w, buyer, _, _ := setup(t, 0)
		// The payout task may run after a refund (a retry after an error, a
		// backlog): the merchant must not be paid the share of money that was
		// given back. The reversal task came first and found nothing to reverse.
		ctx := context.Background()
		for _, amount := range []int64{1000, 5000} {
			paid := w.buyPaid(t, buyer.Token, w.lantern, 4) // 5000
			res := refund(e, w.merchA.Token, paid.ID, map[string]any{"amount": amount, "reason": "先退款后结算"}, nil)
			wantStatus(t, res, http.StatusCreated)
			if err := e.srv.Orders.ReversePayout(ctx, res.JSON(t)["id"].(string)); err != nil {
				t.Fatal(err)
			}
			if amount < paid.Total {
				e.redeemOrder(t, w.merchA.Token, paid.ID) // releases the payout
			} // a fully refunded order is never released: nothing is paid out
			if err := e.srv.Orders.Payout(ctx, paid.ID); err != nil {
				t.Fatal(err)
			}
			var tr orders.Transfer
			if err := e.srv.DB.NewSelect().Model(&tr).Where("order_id = ?", paid.ID).Scan(ctx); err != nil && amount < paid.Total {
				t.Fatal(err)
			}
			want := paid.MerchantShare - orders.Split(amount, []int64{paid.MerchantShare, paid.PlatformFee})[0]
			if got := tr.Amount - tr.Reversed; got != want {
				t.Errorf("after a refund of %d of %d, the merchant keeps %d (paid out %d, reversed %d), want %d",
					amount, paid.Total, got, tr.Amount, tr.Reversed, want)
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		e, w, buyer, _, _ := setup(t, 0)
		paid := w.buyPaid(t, buyer.Token, w.lantern, 4) // 5000
		part := paid.Total * 40 / 100
		reqs := make([]*http.Request, 5)
		for i := range reqs {
			tok := w.merchA.Token
			if i%2 == 1 {
				tok = w.org
			}
			reqs[i] = newRequest("POST", "/api/v1/orders/"+paid.ID+"/refunds", tok, map[string]any{"amount": part, "reason": fmt.Sprintf("退款 %d", i)}, nil)
		}
		ok := 0
		for i, r := range e.rush(t, time.Minute, reqs) {
			switch {
			case r.err != nil:
				t.Errorf("refund %d: %v", i, r.err)
			case r.status == http.StatusCreated:
				ok++
			case r.status == http.StatusConflict || r.status == http.StatusUnprocessableEntity:
			default:
				t.Errorf("refund %d: status %d %s", i, r.status, r.body)
			}
		}
		got := readOrder(t, e, paid.ID)
		var sum int64
		if err := e.srv.DB.NewSelect().TableExpr("refunds").ColumnExpr("COALESCE(SUM(amount), 0)").Where("order_id = ? AND status = ?", paid.ID, orders.RefundSucceeded).Scan(context.Background(), &sum); err != nil {
			t.Fatal(err)
		}
		if ok != 2 || sum != 2*part || got.Refunded != sum || got.RefundPending != 0 || got.Status != orders.StatusPartiallyRefunded {
			t.Errorf("%d refunds accepted, %d refunded in refunds, order %s refunded %d (pending %d); want 2, %d, partially_refunded", ok, sum, got.Status, got.Refunded, got.RefundPending, 2*part)
		}
		if sum > paid.Total {
			t.Errorf("refunded %d of a %d order", sum, paid.Total)
		}
	})
}

func TestOrderTotals(t *testing.T) {
	e := newTestEnv(t)
	// Start the day before the New Year in UTC: 15:00Z is 23:00 in Shanghai.
	e.clock.Set(time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC))
	w := newShopWorld(t, e, "totals-fair")
	quiet := e.register("quiet-"+w.slug+"@example.com", catalog.RoleMerchant)
	stallC := e.openStall(t, w.org, quiet.Token, w.slug, "冷清摊位")["id"].(string)
	b1, b2, b3, b4, b5 := w.shopper(t), w.shopper(t), w.shopper(t), w.shopper(t), w.shopper(t)

	// 15:30Z (23:30 in Shanghai, 1 January): b1 pays for two stalls.
	e.clock.Advance(30 * time.Minute)
	w.cart(t, b1.Token, w.lantern, 2)
	w.cart(t, b1.Token, w.paperCut, 1)
	c1 := w.checkout(t, b1.Token, nil)
	w.pay(t, b1.Token, c1.Payment.ID)
	// 16:55Z: b2 checks out; pays at 17:00Z (01:00 on 2 January in Shanghai).
	e.clock.Advance(85 * time.Minute)
	c2 := w.buy(t, b2.Token, w.lantern, 1)
	e.clock.Advance(5 * time.Minute)
	w.pay(t, b2.Token, c2.Payment.ID)
	// b3 buys two paper cuts and gets ¥10 back; b1 buys again.
	o3 := w.buyPaid(t, b3.Token, w.paperCut, 2)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + o3.ID + "/refunds", Token: w.merchB.Token, Body: map[string]any{"amount": 1000, "reason": "褶皱"}}), http.StatusCreated)
	w.buyPaid(t, b1.Token, w.dumplings, 1)
	// b4 leaves an order unpaid, b5 cancels: neither counts.
	w.buy(t, b4.Token, w.lantern, 1)
	c5 := w.buy(t, b5.Token, w.paperCut, 1)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + c5.Orders[0].ID + "/cancel", Token: b5.Token}), http.StatusOK)

	// Recompute from the orders.
	var all []orders.Order
	if err := e.srv.DB.NewSelect().Model(&all).Where("fair_id = (SELECT id FROM fairs WHERE slug = ?)", w.slug).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	paidStatus := map[string]bool{}
	for _, s := range orders.PaidStatuses {
		paidStatus[s] = true
	}
	var gmv, refunded, paidOrders int64
	buyers := map[string]bool{}
	stallGMV, stallOrders := map[string]int64{}, map[string]int64{}
	dayGMV, dayOrders := map[string]int64{}, map[string]int64{}
	for _, o := range all {
		if !paidStatus[o.Status] {
			continue
		}
		gmv += o.Total - o.Refunded
		refunded += o.Refunded
		paidOrders++
		buyers[o.BuyerID] = true
		stallGMV[o.StallID] += o.Total - o.Refunded
		stallOrders[o.StallID]++
		day := o.PaidAt.In(catalog.FairZone).Format("2006-01-02")
		dayGMV[day] += o.Total - o.Refunded
		dayOrders[day]++
	}
	wantGMV := int64(2*lanternPrice+paperCutPrice) + lanternPrice + (2*paperCutPrice - 1000) + dumplingPrice
	if gmv != wantGMV || paidOrders != 5 || refunded != 1000 || len(buyers) != 3 {
		t.Fatalf("recomputed gmv %d, %d paid orders, refunded %d, %d buyers; the scenario is off", gmv, paidOrders, refunded, len(buyers))
	}
	if dayOrders["2026-01-01"] != 2 || dayOrders["2026-01-02"] != 3 {
		t.Fatalf("recomputed days %v", dayOrders)
	}

	var totals orders.Totals
	t.Run("Fair", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		wantKeys(t, "totals", res.JSON(t), "currency", "gmv", "paid_orders", "refunded", "participants", "merchants", "stalls", "by_stall", "by_day")
		if err := json.Unmarshal(res.Body, &totals); err != nil {
			t.Fatal(err)
		}
		if totals.Currency != "CNY" || totals.GMV != gmv || totals.PaidOrders != paidOrders || totals.Refunded != refunded || totals.Participants != int64(len(buyers)) {
			t.Errorf("totals %s\nwant gmv %d, paid_orders %d, refunded %d, participants %d", res.Body, gmv, paidOrders, refunded, len(buyers))
		}
		if totals.Stalls != 3 || totals.Merchants != 3 {
			t.Errorf("stalls %d, merchants %d; want 3 and 3", totals.Stalls, totals.Merchants)
		}
		var sumGMV, sumOrders int64
		seen := map[string]bool{}
		for _, st := range totals.ByStall {
			seen[st.StallID] = true
			sumGMV += st.GMV
			sumOrders += st.Orders
			if st.GMV != stallGMV[st.StallID] || st.Orders != stallOrders[st.StallID] {
				t.Errorf("stall %s (%s): gmv %d, %d orders; want %d, %d", st.StallID, st.Name, st.GMV, st.Orders, stallGMV[st.StallID], stallOrders[st.StallID])
			}
		}
		if len(totals.ByStall) != 3 || !seen[w.stallA] || !seen[w.stallB] || !seen[stallC] {
			t.Errorf("by_stall %+v, want the three stalls (one without sales)", totals.ByStall)
		}
		if sumGMV != totals.GMV || sumOrders != totals.PaidOrders {
			t.Errorf("by_stall adds up to %d and %d orders, headline %d and %d", sumGMV, sumOrders, totals.GMV, totals.PaidOrders)
		}
		sumGMV, sumOrders = 0, 0
		for _, d := range totals.ByDay {
			sumGMV += d.GMV
			sumOrders += d.Orders
			if d.GMV != dayGMV[d.Date] || d.Orders != dayOrders[d.Date] {
				t.Errorf("day %s: gmv %d, %d orders; want %d, %d", d.Date, d.GMV, d.Orders, dayGMV[d.Date], dayOrders[d.Date])
			}
		}
		if len(totals.ByDay) != 2 || totals.ByDay[0].Date != "2026-01-01" || totals.ByDay[1].Date != "2026-01-02" {
			t.Errorf("by_day %+v, want 2026-01-01 and 2026-01-02 (Asia/Shanghai)", totals.ByDay)
		}
		if sumGMV != totals.GMV || sumOrders != totals.PaidOrders {
			t.Errorf("by_day adds up to %d and %d orders, headline %d and %d", sumGMV, sumOrders, totals.GMV, totals.PaidOrders)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("content type %q", ct)
		}
		rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if err != nil {
			t.Fatalf("totals.csv: %v\n%s", err, res.Body)
		}
		if len(rows) != 4 {
			t.Fatalf("totals.csv has %d rows, want a header and one per stall:\n%s", len(rows), res.Body)
		}
		if strings.Join(rows[0], ",") != "stall_id,name,gmv_fen,orders" {
			t.Errorf("csv header %v", rows[0])
		}
		got := map[string]string{}
		for _, r := range rows[1:] {
			if len(r) != 4 {
				t.Fatalf("csv row %v", r)
			}
			got[r[0]] = r[2] + "|" + r[3]
		}
		for _, st := range []string{w.stallA, w.stallB, stallC} {
			if want := fmt.Sprintf("%d|%d", stallGMV[st], stallOrders[st]); got[st] != want {
				t.Errorf("csv row of %s: gmv|orders %q, want %q", st, got[st], want)
			}
		}
	})

	t.Run("Stall", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals", Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		wantKeys(t, "stall totals", res.JSON(t), "gmv", "paid_orders", "refunded", "by_day")
		var st orders.StallTotals
		if err := json.Unmarshal(res.Body, &st); err != nil {
			t.Fatal(err)
		}
		if st.GMV != stallGMV[w.stallA] || st.PaidOrders != stallOrders[w.stallA] || st.Refunded != 0 {
			t.Errorf("stall A totals %s, want gmv %d, %d orders", res.Body, stallGMV[w.stallA], stallOrders[w.stallA])
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallB + "/totals", Token: w.merchB.Token})
		wantStatus(t, res, http.StatusOK)
		if err := json.Unmarshal(res.Body, &st); err != nil {
			t.Fatal(err)
		}
		if st.GMV != stallGMV[w.stallB] || st.Refunded != 1000 {
			t.Errorf("stall B totals %s", res.Body)
		}
		var days int64
		for _, d := range st.ByDay {
			days += d.GMV
		}
		if days != st.GMV {
			t.Errorf("stall B by_day adds up to %d, gmv %d", days, st.GMV)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals", Token: w.merchB.Token}), http.StatusForbidden, "forbidden")
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/totals", Token: b1.Token}), http.StatusForbidden, "forbidden")
	})

	t.Run("NotTheOrganizer", func(t *testing.T) {
		_, otherOrg := e.organizer(t, "other-organizer@example.com")
		for _, tok := range []string{otherOrg, b1.Token, w.merchA.Token} {
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: tok}), http.StatusForbidden, "forbidden")
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv", Token: tok}), http.StatusForbidden, "forbidden")
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals"}), http.StatusUnauthorized, "unauthenticated")
	})

	// The charts' figures: by hour, category and fulfilment.
	t.Run("Breakdown", func(t *testing.T) {
		// b1's lantern is collected at the booth: the merchant redeems its code.
		var lanternOrder orders.Order
		for _, o := range c1.Orders {
			if o.StallID == w.stallA {
				lanternOrder = readOrder(t, e, o.ID)
			}
		}
		wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + lanternOrder.ID + "/redeem", Token: w.merchA.Token, Body: map[string]any{"code": lanternOrder.PickupCode}}), http.StatusOK)
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		var got orders.Totals
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		// Every order was collected (pickup); one was redeemed.
		if len(got.ByFulfillment) != 1 || got.ByFulfillment[0] != (orders.FulfillmentTotal{Fulfillment: "pickup", GMV: gmv, Orders: paidOrders, Redeemed: 1}) {
			t.Errorf("by_fulfillment %+v", got.ByFulfillment)
		}
		crafts := int64(3*lanternPrice+3*paperCutPrice) - 1000 // the refund was on paper cuts
		wantCats := []orders.CategoryTotal{
			{Category: "crafts", Name: "非遗手作", NameEN: "Crafts & heritage", GMV: crafts, Units: 6},
			{Category: "food", Name: "美食小吃", NameEN: "Food & snacks", GMV: dumplingPrice, Units: 1},
		}
		if fmt.Sprint(got.ByCategory) != fmt.Sprint(wantCats) {
			t.Errorf("by_category %+v\nwant %+v", got.ByCategory, wantCats)
		}
		// 23:00 on 1 January (Shanghai) holds b1's two orders; the rest were paid at 01:00 on 2 January.
		if len(got.ByHour) != 2 || got.ByHour[0].Hour.Format(time.RFC3339) != "2026-01-01T23:00:00+08:00" || got.ByHour[0].Orders != 2 ||
			got.ByHour[1].Hour.Format(time.RFC3339) != "2026-01-02T01:00:00+08:00" || got.ByHour[1].Orders != 3 {
			t.Errorf("by_hour %+v", got.ByHour)
		}
		if got.ByHour[0].GMV+got.ByHour[1].GMV != gmv {
			t.Errorf("by_hour adds up to %d, gmv %d", got.ByHour[0].GMV+got.ByHour[1].GMV, gmv)
		}
		if len(got.FlashSales) != 0 || got.Developments != nil {
			t.Errorf("flash sales %+v, developments %+v in a fair without either", got.FlashSales, got.Developments)
		}
		// Each table downloads as CSV; the stall's too, for its merchant only.
		for _, table := range []string{"stall", "day", "hour", "category", "fulfillment", "flash_sale", "development"} {
			res := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv?table=" + table, Token: w.org})
			wantStatus(t, res, http.StatusOK)
			rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
			if err != nil || len(rows) == 0 {
				t.Fatalf("%s.csv: %v\n%s", table, err, res.Body)
			}
			want := map[string]int{"stall": 3, "day": 2, "hour": 2, "category": 2, "fulfillment": 1, "flash_sale": 0, "development": 0}[table]
			if len(rows)-1 != want {
				t.Errorf("%s.csv has %d rows, want %d:\n%s", table, len(rows)-1, want, res.Body)
			}
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallB + "/totals.csv?table=category", Token: w.merchB.Token})
		wantStatus(t, res, http.StatusOK)
		if want := fmt.Sprintf("crafts,非遗手作,Crafts & heritage,%d,3\n", 3*paperCutPrice-1000); !strings.Contains(string(res.Body), want) {
			t.Errorf("stall B category.csv:\n%s\nwant a line %q", res.Body, want)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallB + "/totals.csv", Token: w.merchA.Token}), http.StatusForbidden, "forbidden")
		wantStatus(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals.csv?table=nonsense", Token: w.org}), http.StatusUnprocessableEntity)
	})

	// Buyers paying at once: every payment lands in the rollups once, and
	// `fair check totals` finds them equal to the orders, for the fair and
	// for each stall; rebuilding them from the orders changes nothing.
	t.Run("CheckAndRebuild", func(t *testing.T) {
		const n = 8
		buyers := make([]registered, n)
		for i := range buyers {
			buyers[i] = w.shopper(t)
			w.cart(t, buyers[i].Token, []string{w.lantern, w.paperCut}[i%2], 1)
			w.cart(t, buyers[i].Token, w.dumplings, 1)
		}
		var wg sync.WaitGroup
		for i := range buyers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := w.checkout(t, buyers[i].Token, nil)
				w.pay(t, buyers[i].Token, c.Payment.ID)
			}()
		}
		wg.Wait()
		ctx := context.Background()
		var out bytes.Buffer
		if err := ops.CheckTotals(ctx, e.srv.DB, e.cfg.DataDir, w.slug, &out); err != nil {
			t.Fatalf("check totals: %v\n%s", err, out.String())
		}
		// Lantern and dumplings make one order; paper cut and dumplings two.
		if !strings.Contains(out.String(), "totals OK") || !strings.Contains(out.String(), fmt.Sprintf("paid orders %d,", paidOrders+n/2+n)) {
			t.Fatalf("check totals:\n%s", out.String())
		}
		before := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org}).Body
		if err := orders.RebuildRollups(ctx, e.srv.DB, ""); err != nil {
			t.Fatal(err)
		}
		after := e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug + "/totals", Token: w.org}).Body
		if !bytes.Equal(before, after) {
			t.Errorf("totals changed by a rebuild:\n%s\n%s", before, after)
		}
		// A rollup that drifted from the orders is caught: the hours (the
		// headline and the days), then the stalls (by stall, online/offline).
		for _, drift := range []struct{ table, where, want string }{
			{"rollup_hours", "scope_id = (SELECT id FROM fairs WHERE slug = '" + w.slug + "')", "DIFF gmv"},
			{"rollup_stalls", "stall_id = '" + w.stallA + "'", "DIFF by_stall"},
		} {
			if _, err := e.srv.DB.NewUpdate().TableExpr(drift.table).Set("paid = paid + 1").Where(drift.where).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if err := ops.CheckTotals(ctx, e.srv.DB, e.cfg.DataDir, w.slug, &out); err == nil || !strings.Contains(out.String(), drift.want) {
				t.Fatalf("check totals missed a drifted %s: %v\n%s", drift.table, err, out.String())
			}
		}
	})
}

func TestOrderLists(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "lists-fair")
	buyer, other := w.shopper(t), w.shopper(t)
	w.cart(t, buyer.Token, w.lantern, 1)
	w.cart(t, buyer.Token, w.paperCut, 1)
	c1 := w.checkout(t, buyer.Token, nil)
	w.pay(t, buyer.Token, c1.Payment.ID)
	c2 := w.buy(t, buyer.Token, w.lantern, 2)
	c3 := w.buy(t, other.Token, w.lantern, 1)
	var mine []string
	for _, c := range []orders.Checkout{c1, c2} {
		for _, o := range c.Orders {
			mine = append(mine, o.ID)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mine))) // newest first
	ids := func(t *testing.T, res response) []string {
		t.Helper()
		wantStatus(t, res, http.StatusOK)
		return listField(listItems(t, res), "id")
	}

	t.Run("Mine", func(t *testing.T) {
		got := ids(t, e.do(req{Method: "GET", Path: "/api/v1/me/orders", Token: buyer.Token}))
		if strings.Join(got, ",") != strings.Join(mine, ",") {
			t.Errorf("my orders %v, want %v", got, mine)
		}
		res := e.do(req{Method: "GET", Path: "/api/v1/me/orders?limit=2", Token: buyer.Token})
		page1 := ids(t, res)
		next, _ := res.JSON(t)["next_cursor"].(string)
		if len(page1) != 2 || next == "" {
			t.Fatalf("first page %v, next %q", page1, next)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/me/orders?limit=2&cursor=" + next, Token: buyer.Token})
		page2 := ids(t, res)
		if strings.Join(append(page1, page2...), ",") != strings.Join(mine, ",") || res.JSON(t)["next_cursor"] != nil {
			t.Errorf("pages %v + %v, want %v", page1, page2, mine)
		}
		if got := ids(t, e.do(req{Method: "GET", Path: "/api/v1/me/orders", Token: other.Token})); len(got) != 1 || got[0] != c3.Orders[0].ID {
			t.Errorf("other shopper's orders %v", got)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/me/orders"}), http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("Stall", func(t *testing.T) {
		var want []string
		for _, id := range append(append([]string{}, mine...), c3.Orders[0].ID) {
			if readOrder(t, e, id).StallID == w.stallA {
				want = append(want, id)
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(want)))
		got := ids(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/orders", Token: w.merchA.Token}))
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("stall A's orders %v, want %v", got, want)
		}
		paid := ids(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/orders?status=paid", Token: w.merchA.Token}))
		if len(paid) != 1 || readOrder(t, e, paid[0]).PaymentID != c1.Payment.ID {
			t.Errorf("stall A's paid orders %v", paid)
		}
		for _, tok := range []string{w.merchB.Token, buyer.Token} {
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallA + "/orders", Token: tok}), http.StatusForbidden, "forbidden")
		}
	})
}
