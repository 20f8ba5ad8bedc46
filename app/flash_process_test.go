package app_test

// Flash sales across real `fair` processes sharing one database and one
// Redis: two HTTP servers without workers and a worker process, and a worker
// killed with SIGKILL while tickets are being turned into orders.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"miaohui/app"
	"miaohui/migrations/testdb"
)

// flpClient is an HTTP client for many concurrent requests to the servers.
var flpClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128}}

// flpNeedShared skips unless the database and Redis can be shared by processes.
func flpNeedShared(t testing.TB) {
	t.Helper()
	if os.Getenv("TEST_DATABASE_URL") == "" || os.Getenv("TEST_REDIS_URL") == "" {
		t.Skip("needs TEST_DATABASE_URL and TEST_REDIS_URL: the processes share a database and a Redis")
	}
	fairBinary(t)
}

// flpCall sends a JSON request through the client for many at once.
func flpCall(method, url, token string, body any) (int, map[string]any, error) {
	return httpCall(flpClient, method, url, token, body)
}

// flpMust sends a request from the test goroutine and expects want.
func flpMust(t testing.TB, method, url, token string, body any, want int) map[string]any {
	t.Helper()
	status, m, err := flpCall(method, url, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %v", method, url, status, want, m)
	}
	return m
}

// flpDeployment is a database, a Redis and the environment of the processes.
type flpDeployment struct {
	db  *bun.DB
	env map[string]string
}

func newFlpDeployment(t testing.TB) *flpDeployment {
	t.Helper()
	db, url := testdb.OpenURL(t)
	rds := testdb.NewRedis(t)
	d := &flpDeployment{db: db, env: map[string]string{
		"FAIR_DATABASE_URL":             url,
		"FAIR_REDIS_URL":                rds.URL,
		"FAIR_DATA_DIR":                 t.TempDir(),
		"FAIR_FLASH_USER_RPS":           "0",
		"FAIR_FLASH_IP_RPS":             "0",
		"FAIR_AUTH_ATTEMPTS_PER_MINUTE": "100000",
	}}
	if code, out := runFair(t, d.env, "users", "create", "--role", "organizer", "--email", "organizer@example.com", "--password", procPassword); code != 0 {
		t.Fatalf("users create: exit %d\n%s", code, out)
	}
	return d
}

// serve starts `fair serve --no-worker` on a free port and returns its base URL.
func (d *flpDeployment) serve(t testing.TB, name string) (string, *fairProc) {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{"FAIR_HTTP_ADDR": addr}
	for k, v := range d.env {
		env[k] = v
	}
	p := startFair(t, name, env, "serve", "--no-worker")
	waitReady(t, p, addr)
	return "http://" + addr + "/api/v1", p
}

// worker starts `fair worker` and waits until it processes its queues.
func (d *flpDeployment) worker(t testing.TB, name string) *fairProc {
	t.Helper()
	env := map[string]string{"FAIR_HTTP_ADDR": freeAddr(t)}
	for k, v := range d.env {
		env[k] = v
	}
	p := startFair(t, name, env, "worker")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.out.String(), "processing queues") {
		if p.exited() {
			t.Fatalf("%s exited: %v\n%s", name, p.err, p.out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not processing within 60s", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// shop sets up, through api, a fair with one merchant's stall and a goods
// product of 100; it returns the merchant's token and the product.
func (d *flpDeployment) shop(t testing.TB, api, slug string) (merchant, product string) {
	t.Helper()
	org := flpMust(t, "POST", api+"/auth/login", "", map[string]any{"email": "organizer@example.com", "password": procPassword}, http.StatusOK)["token"].(string)
	now := time.Now().UTC()
	flpMust(t, "POST", api+"/fairs", org, map[string]any{
		"slug": slug, "name": "泰州网络庙会", "kind": "temple_fair", "commission_bps": 500,
		"starts_at": now.Add(-time.Hour).Format(time.RFC3339), "ends_at": now.Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}, http.StatusCreated)
	merchant = flpMust(t, "POST", api+"/auth/register", "", map[string]any{"email": "lanterns-" + slug + "@example.com", "password": procPassword, "name": "灯笼铺", "role": "merchant"}, http.StatusCreated)["token"].(string)
	application := flpMust(t, "POST", api+"/fairs/"+slug+"/applications", merchant, map[string]any{"stall_name": "老街灯笼铺"}, http.StatusCreated)["id"].(string)
	stall := flpMust(t, "POST", api+"/applications/"+application+"/approve", org, nil, http.StatusOK)["stall"].(map[string]any)["id"].(string)
	product = flpMust(t, "POST", api+"/stalls/"+stall+"/products", merchant, map[string]any{
		"title": "兔子灯", "price": 2000, "currency": "CNY", "stock": 100, "kind": "goods", "fulfillment": "pickup",
	}, http.StatusCreated)["id"].(string)
	return merchant, product
}

// sale offers quantity units, one per person, starting in about two
// seconds; it waits for the start and returns the sale's id.
func (d *flpDeployment) sale(t testing.TB, api, merchant, product string, quantity int) string {
	t.Helper()
	start := time.Now().Add(2 * time.Second).Truncate(time.Second)
	id := flpMust(t, "POST", api+"/flash-sales", merchant, map[string]any{
		"product_id": product, "price": 990, "quantity": quantity, "per_user_limit": 1,
		"starts_at": start.UTC().Format(time.RFC3339), "ends_at": start.Add(time.Hour).UTC().Format(time.RFC3339),
	}, http.StatusCreated)["id"].(string)
	time.Sleep(time.Until(start) + 100*time.Millisecond)
	return id
}

// flpTally is what the database holds of a sale's orders and tickets.
type flpTally struct {
	orders, liveOrders, ticketIDs, buyers, overLimit int
	ticketsOrdered, ticketsOther, sold               int
}

func (d *flpDeployment) tally(t testing.TB, saleID string) flpTally {
	t.Helper()
	ctx := context.Background()
	var r flpTally
	scan := func(dst *int, query string, args ...any) {
		t.Helper()
		if err := d.db.QueryRowContext(ctx, query, args...).Scan(dst); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	scan(&r.orders, "SELECT COUNT(*) FROM orders WHERE flash_sale_id = ?", saleID)
	scan(&r.liveOrders, "SELECT COUNT(*) FROM orders WHERE flash_sale_id = ? AND status <> 'cancelled'", saleID)
	scan(&r.ticketIDs, "SELECT COUNT(DISTINCT ticket_id) FROM orders WHERE flash_sale_id = ?", saleID)
	scan(&r.buyers, "SELECT COUNT(DISTINCT buyer_id) FROM orders WHERE flash_sale_id = ?", saleID)
	scan(&r.overLimit, `SELECT COUNT(*) FROM (SELECT o.buyer_id FROM orders o JOIN order_items i ON i.order_id = o.id
		WHERE o.flash_sale_id = ? AND o.status <> 'cancelled' GROUP BY o.buyer_id HAVING SUM(i.quantity) > 1) AS x`, saleID)
	scan(&r.ticketsOrdered, "SELECT COUNT(*) FROM flash_tickets WHERE sale_id = ? AND status = 'ordered'", saleID)
	scan(&r.ticketsOther, "SELECT COUNT(*) FROM flash_tickets WHERE sale_id = ? AND status <> 'ordered'", saleID)
	scan(&r.sold, "SELECT sold FROM flash_sales WHERE id = ?", saleID)
	return r
}

// waitOrders waits until the sale has n orders, failing at once if it ever
// has more.
func (d *flpDeployment) waitOrders(t testing.TB, saleID string, n int, within time.Duration) flpTally {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := d.tally(t, saleID)
		if r.orders > n {
			t.Fatalf("%d orders for %d units: %+v", r.orders, n, r)
		}
		if r.orders == n && r.ticketsOrdered == n {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %d orders within %s: %+v", n, within, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFlashProcessTwoServers(t *testing.T) {
	flpNeedShared(t)
	t.Parallel()
	const units, buyers = 30, 200
	d := newFlpDeployment(t)
	apiA, _ := d.serve(t, "fair serve A --no-worker")
	apiB, _ := d.serve(t, "fair serve B --no-worker")
	d.worker(t, "fair worker")
	apis := []string{apiA, apiB}

	merchant, product := d.shop(t, apiA, "flash-two")
	tokens := flpBuyers(t, apis, "two", buyers)
	id := d.sale(t, apiB, merchant, product, units)

	// Each buyer presses twice: once on each server.
	order := make([]int, 0, 2*buyers)
	for i := range buyers {
		order = append(order, i, (i+buyers/2)%buyers)
	}
	start := time.Now()
	won := app.Wins(t, flpRush(t, apis, id, tokens, order, 32))
	t.Logf("%d attempts on two servers answered in %s", len(order), time.Since(start).Round(time.Millisecond))
	app.WantWonOnce(t, won, units)

	r := d.waitOrders(t, id, units, 30*time.Second)
	if r.liveOrders != units || r.ticketIDs != units || r.buyers != units || r.overLimit != 0 || r.ticketsOther != 0 || r.sold != units {
		t.Errorf("after the sale: %+v; want %d orders of %d buyers and tickets, none above the limit, sold %d", r, units, units, units)
	}
	// Either server tells the ticket's owner about it.
	for b, ts := range won {
		for _, api := range apis {
			m := flpMust(t, "GET", api+"/flash-sales/"+id+"/tickets/"+ts[0], tokens[b].Token, nil, http.StatusOK)
			if m["status"] != "ordered" || m["order_id"] == nil {
				t.Errorf("buyer %d's ticket on %s: %v", b, api, m)
			}
		}
		break
	}
	for _, api := range apis {
		if m := flpMust(t, "GET", api+"/flash-sales/"+id, "", nil, http.StatusOK); m["remaining"] != 0.0 {
			t.Errorf("remaining on %s: %v, want 0", api, m["remaining"])
		}
	}

	// Signing out on one server reaches the other's fast path.
	loser := -1
	for i := range tokens {
		if len(won[i]) == 0 {
			loser = i
			break
		}
	}
	flpMust(t, "POST", apiA+"/auth/logout", tokens[loser].Token, nil, http.StatusNoContent)
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, m, err := flpCall("POST", apiB+"/flash-sales/"+id+"/purchase", tokens[loser].Token, map[string]any{"quantity": 1})
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server B still answers %d %v to a token signed out on server A", status, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFlashProcessWorkerKilled(t *testing.T) {
	flpNeedShared(t)
	t.Parallel()
	const units = 40
	d := newFlpDeployment(t)
	api, _ := d.serve(t, "fair serve --no-worker")
	first := d.worker(t, "fair worker (killed)")

	merchant, product := d.shop(t, api, "flash-kill")
	tokens := flpBuyers(t, []string{api}, "kill", units)
	id := d.sale(t, api, merchant, product, units)
	order := make([]int, units)
	for i := range order {
		order[i] = i
	}
	won := app.Wins(t, flpRush(t, []string{api}, id, tokens, order, units))
	if len(won) != units {
		t.Fatalf("%d of %d buyers admitted", len(won), units)
	}

	// SIGKILL the worker as soon as the first orders appear.
	deadline := time.Now().Add(10 * time.Second)
	for d.tally(t, id).orders == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not die on SIGKILL")
	}
	t.Logf("worker killed with %d of %d orders made", d.tally(t, id).orders, units)

	d.worker(t, "fair worker (new)")
	r := d.waitOrders(t, id, units, 50*time.Second)
	if r.liveOrders != units || r.ticketIDs != units || r.buyers != units || r.ticketsOther != 0 || r.sold != units {
		t.Errorf("after the recovery: %+v; want %d orders from %d distinct tickets, sold %d", r, units, units, units)
	}
	// Every admitted ticket is its buyer's order, exactly once.
	ctx := context.Background()
	for b, ts := range won {
		var n int
		if err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE ticket_id = ?", ts[0]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("buyer %d's ticket %s made %d orders, want 1", b, ts[0], n)
		}
		m := flpMust(t, "GET", api+"/flash-sales/"+id+"/tickets/"+ts[0], tokens[b].Token, nil, http.StatusOK)
		if m["status"] != "ordered" {
			t.Errorf("buyer %d's ticket: %v, want ordered", b, m)
		}
	}
}

// flpBuyers registers n shoppers through the APIs given (round robin).
func flpBuyers(t testing.TB, apis []string, prefix string, n int) []app.Buyer {
	t.Helper()
	return app.MakeBuyers(t, n, func(i int) (app.Buyer, error) {
		status, m, err := flpCall("POST", apis[i%len(apis)]+"/auth/register", "", map[string]any{
			"email": fmt.Sprintf("%s%03d@example.com", prefix, i), "password": procPassword, "name": "抢购",
		})
		if err == nil && status != http.StatusCreated {
			return app.Buyer{}, fmt.Errorf("register: status %d: %v", status, m)
		}
		if err != nil {
			return app.Buyer{}, err
		}
		u, _ := m["user"].(map[string]any)
		id, _ := u["id"].(string)
		tok, _ := m["token"].(string)
		return app.Buyer{ID: id, Token: tok}, nil
	})
}

// flpRush has the buyers of order purchase one unit each through the APIs
// (the k-th attempt on apis[k % len]), conc at a time.
func flpRush(t testing.TB, apis []string, saleID string, buyers []app.Buyer, order []int, conc int) []app.Attempt {
	t.Helper()
	return app.Rush(t, len(order), conc, 2*time.Minute, func(k int) app.Attempt {
		b := order[k]
		status, m, err := flpCall("POST", apis[k%len(apis)]+"/flash-sales/"+saleID+"/purchase", buyers[b].Token, map[string]any{"quantity": 1})
		code, _ := m["code"].(string)
		ticket, _ := m["ticket"].(string)
		if err == nil && status == http.StatusAccepted && ticket == "" {
			err = fmt.Errorf("202 without a ticket: %v", m)
		}
		return app.NewAttempt(b, status, code, ticket, err)
	})
}
