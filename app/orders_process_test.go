package app_test

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestProcessOrderExpiryAfterCrash runs the real `fair serve` with the
// in-process Redis: a checkout's expiry task lives only in that Redis, so a
// crash loses it. The sweep at the next start must still cancel the unpaid
// order and put its stock back, once.
func TestProcessOrderExpiryAfterCrash(t *testing.T) {
	fairBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{
		"FAIR_DATA_DIR":       dataDir,
		"FAIR_HTTP_ADDR":      addr,
		"FAIR_PAYMENT_WINDOW": "3s",
	}
	api := "http://" + addr + "/api/v1"
	call := func(t *testing.T, method, path, token string, body any, want int) map[string]any {
		t.Helper()
		status, m := apiCall(t, method, api+path, token, body)
		if status != want {
			t.Fatalf("%s %s: status %d, want %d: %v", method, path, status, want, m)
		}
		return m
	}

	if code, out := runFair(t, env, "users", "create", "--role", "organizer", "--email", "organizer@example.com", "--password", procPassword); code != 0 {
		t.Fatalf("users create: exit %d\n%s", code, out)
	}
	serve := startFair(t, "fair serve", env, "serve")
	waitReady(t, serve, addr)

	org := call(t, "POST", "/auth/login", "", map[string]any{"email": "organizer@example.com", "password": procPassword}, http.StatusOK)["token"].(string)
	now := time.Now().UTC()
	call(t, "POST", "/fairs", org, map[string]any{
		"slug": "crash-fair", "name": "泰州网络庙会", "kind": "temple_fair", "commission_bps": 500,
		"starts_at": now.Add(-time.Hour).Format(time.RFC3339), "ends_at": now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}, http.StatusCreated)
	merchant := call(t, "POST", "/auth/register", "", map[string]any{"email": "lanterns@example.com", "password": procPassword, "name": "灯笼铺", "role": "merchant"}, http.StatusCreated)["token"].(string)
	application := call(t, "POST", "/fairs/crash-fair/applications", merchant, map[string]any{"stall_name": "老街灯笼铺"}, http.StatusCreated)["id"].(string)
	stall := call(t, "POST", "/applications/"+application+"/approve", org, nil, http.StatusOK)["stall"].(map[string]any)["id"].(string)
	const stock = 7
	product := call(t, "POST", "/stalls/"+stall+"/products", merchant, map[string]any{
		"title": "兔子灯", "price": 1250, "currency": "CNY", "stock": stock, "kind": "goods", "fulfillment": "pickup",
	}, http.StatusCreated)["id"].(string)
	stockNow := func(t *testing.T) int {
		t.Helper()
		return int(call(t, "GET", "/products/"+product, "", nil, http.StatusOK)["stock"].(float64))
	}

	shopper := registerUser(t, addr, "shopper@example.com")
	call(t, "PUT", "/cart/items/"+product, shopper, map[string]any{"quantity": 3}, http.StatusOK)
	checkout := call(t, "POST", "/checkout", shopper, map[string]any{"fulfillment": "pickup"}, http.StatusCreated)
	orderID := checkout["orders"].([]any)[0].(map[string]any)["id"].(string)
	if got := stockNow(t); got != stock-3 {
		t.Fatalf("stock after checkout %d, want %d", got, stock-3)
	}

	// Crash before the window closes: the expiry task dies with the process.
	if err := serve.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-serve.done:
	case <-time.After(10 * time.Second):
		t.Fatal("fair serve did not die on SIGKILL")
	}
	time.Sleep(4 * time.Second)

	again := startFair(t, "fair serve (restarted)", env, "serve")
	waitReady(t, again, addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		o := call(t, "GET", "/orders/"+orderID, shopper, nil, http.StatusOK)
		if o["status"] == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %v 10 s after the restart: the start-up sweep did not cancel it", o["status"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := stockNow(t); got != stock {
		t.Fatalf("stock %d after the expiry, want %d", got, stock)
	}
	// Returned once: the next sweeps and a late payment attempt change nothing.
	paymentID := checkout["payment"].(map[string]any)["id"].(string)
	status, m := apiCall(t, "POST", api+"/payments/sandbox/"+paymentID+"/complete", shopper, map[string]any{"outcome": "succeeded"})
	if status != http.StatusConflict {
		t.Errorf("completing the expired payment: status %d, want 409: %v", status, m)
	}
	time.Sleep(time.Second)
	if got := stockNow(t); got != stock {
		t.Errorf("stock %d a second later, want %d", got, stock)
	}
	if o := call(t, "GET", "/orders/"+orderID, shopper, nil, http.StatusOK); o["status"] != "cancelled" || o["paid_at"] != nil {
		t.Errorf("order %v", o)
	}
	stopGracefully(t, again, 25*time.Second)
}
