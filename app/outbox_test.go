package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/app/ops"
	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/jobs"
	"miaohui/migrations/testdb"
	"miaohui/orders"
)

// redeemOrder has the stall's merchant redeem a picked-up order with its
// code, which releases its payout.
func (e *testEnv) redeemOrder(t testing.TB, merchantToken, orderID string) {
	t.Helper()
	o := readOrder(t, e, orderID)
	res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderID + "/redeem", Token: merchantToken, Body: map[string]any{"code": o.PickupCode}})
	wantStatus(t, res, http.StatusOK)
}

// payoutCounter counts the payouts the provider was asked to make, per order:
// over the sandbox by wrapping it, over Stripe (stripe-mock) by the transfer
// requests sent (their idempotency key names the order).
type payoutCounter struct {
	mu    sync.Mutex
	calls map[string]int
	next  http.RoundTripper
}

func (c *payoutCounter) add(orderID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[orderID]++
}

func (c *payoutCounter) of(orderID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[orderID]
}

func (c *payoutCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/transfers" {
		c.add(strings.TrimPrefix(r.Header.Get("Idempotency-Key"), "tr-"))
	}
	return c.next.RoundTrip(r)
}

// countingSandbox is the sandbox counting its payouts.
type countingSandbox struct {
	orders.Sandbox
	c *payoutCounter
}

func (p countingSandbox) Payout(ctx context.Context, o *orders.Order, amount orders.Money, account string) (string, error) {
	p.c.add(o.ID)
	return p.Sandbox.Payout(ctx, o, amount, account)
}

// outboxWorker is one worker process: the queue's handlers and the outbox
// relay, as StartWorkers runs them; stop kills it.
func outboxWorker(t testing.TB, e *testEnv) (stop func()) {
	t.Helper()
	deps, err := e.srv.WorkerDeps()
	if err != nil {
		t.Fatal(err)
	}
	deps.RetryDelay = func(int, error, *asynq.Task) time.Duration { return 200 * time.Millisecond }
	w := jobs.NewWorker(deps)
	mux := asynq.NewServeMux()
	w.Register(mux)
	srv := w.NewServer(e.redis.Client, e.srv.Logger, 4)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.NewRelay(deps.DB, deps.Enqueuer, deps.Now, e.srv.Logger).Loop(ctx, 200*time.Millisecond)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Shutdown()
		})
	}
	t.Cleanup(stop)
	return stop
}

// Between payments' commits and their payouts the worker dies and Redis
// restarts empty: some follow-ups were queued and lost with Redis, others
// never reached it (Redis was down when their transactions committed). A
// new worker makes every payout exactly once and sends every receipt once;
// with Stripe, a stall that connects its payout account only afterwards is
// paid what it was owed.
func TestFaultOutboxPayouts(t *testing.T) {
	ctx := context.Background()
	rd := newStoppableRedis(t)
	counter := &payoutCounter{next: http.DefaultTransport}
	mock := os.Getenv("TEST_STRIPE_MOCK_URL")
	withStripe := mock != ""
	var provider orders.Provider = countingSandbox{c: counter}
	mutate := func(*Config) {}
	if withStripe {
		provider = orders.NewStripe(orders.StripeConfig{SecretKey: stripeTestKey, APIBase: mock, HTTPClient: &http.Client{Transport: counter}})
		mutate = func(c *Config) {
			c.PaymentProvider, c.StripeSecretKey, c.StripeWebhookSecret, c.StripeAPIBase = "stripe", stripeTestKey, stripeTestSecret, mock
		}
	} else {
		t.Log("TEST_STRIPE_MOCK_URL is empty: the sandbox pays every stall; the late payout account is not tried")
	}
	cfg := testConfig()
	cfg.DataDir = t.TempDir()
	mutate(&cfg)
	clock := catalogtest.NewClock(time.Now())
	logs := &syncBuffer{}
	srv := newTestServer(t, Deps{Config: cfg, Logger: slog.New(slog.NewJSONHandler(logs, nil)), DB: testdb.Open(t), Redis: rd.redis.Client, Now: clock.Now, Provider: provider})
	e := &testEnv{t: t, srv: srv, redis: rd.redis, clock: clock, cfg: cfg, logBuf: logs}
	w := newShopWorld(t, e, "fault-outbox")
	if withStripe { // stall A is connected; stall B is not, yet
		if _, err := e.srv.DB.NewUpdate().Table("stalls").Set("stripe_account_id = ?", "acct_1TestLanterns").Where("id = ?", w.stallA).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	merch := map[string]catalog.Actor{
		w.stallA: {UserID: w.merchA.ID, Role: catalog.RoleMerchant},
		w.stallB: {UserID: w.merchB.ID, Role: catalog.RoleMerchant},
	}
	// Two checkouts, each an order at stall A and one at stall B.
	type bought struct {
		payment string
		orders  []string
	}
	var checkouts []bought
	for range 2 {
		_, c, a, b := stripeCheckout(t, w)
		checkouts = append(checkouts, bought{c.Payment.ID, []string{a, b}})
	}
	var all []string
	settle := func(c bought) {
		t.Helper()
		if err := e.srv.Orders.MarkPaid(ctx, c.payment, "evt_paid_"+c.payment, "payment_intent.succeeded"); err != nil {
			t.Fatal(err)
		}
		for _, id := range c.orders {
			o := readOrder(t, e, id)
			if _, err := e.srv.Orders.Redeem(ctx, merch[o.StallID], id, o.PickupCode); err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
		}
	}

	// The first checkout's receipts and payouts reach Redis, but the worker
	// is dead (none runs) and Redis restarts empty: they are lost with it.
	settle(checkouts[0])
	rd.stop(false)
	// Redis is down: the second checkout's follow-ups wait in the outbox.
	settle(checkouts[1])
	// A redelivered payment event changes nothing.
	if err := e.srv.Orders.MarkPaid(ctx, checkouts[1].payment, "evt_paid_"+checkouts[1].payment, "payment_intent.succeeded"); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, e, "transfers", "1 = 1"); n != 0 {
		t.Fatalf("%d transfers before a worker ran, want none", n)
	}
	rd.start()

	// A new worker: the outbox's undelivered messages go at once; those
	// lost with Redis are offered again once they are overdue.
	outboxWorker(t, e)
	e.clock.Advance(6 * time.Minute)
	sweep := func() {
		t.Helper()
		if err := e.srv.Enqueuer.Enqueue(ctx, asynq.NewTask(jobs.TypePayoutsDue, nil), asynq.Queue(jobs.QueueDefault)); err != nil {
			t.Fatal(err)
		}
	}
	sweep()
	payable := all
	if withStripe {
		payable = []string{checkouts[0].orders[0], checkouts[1].orders[0]} // stall A's
	}
	paidOut := func(ids []string) func() error {
		return func() error {
			for _, id := range ids {
				var tr orders.Transfer
				if err := e.srv.DB.NewSelect().Model(&tr).Where("order_id = ?", id).Scan(ctx); err != nil || tr.ProviderRef == "" {
					return fmt.Errorf("order %s: transfer %+v, %v", id, tr, err)
				}
			}
			return nil
		}
	}
	receipts := func() error {
		if n := countRows(t, e, "notifications", "kind = ?", "order_paid"); n != len(all) {
			return fmt.Errorf("%d receipts, want %d", n, len(all))
		}
		return nil
	}
	eventually(t, 30*time.Second, paidOut(payable))
	eventually(t, 30*time.Second, receipts)

	if withStripe {
		// Stall B connects its payout account: what it was owed is paid.
		if n := countRows(t, e, "transfers", "stall_id = ?", w.stallB); n != 0 {
			t.Fatalf("%d transfers to stall B before it had an account", n)
		}
		if _, err := e.srv.Orders.PayoutAccountLink(ctx, merch[w.stallB], w.stallB, "https://miaohui.example/merchant"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, paidOut(all))
	}

	// Everything again, later: the relay, the sweep, a retry of every task.
	e.clock.Advance(10 * time.Minute)
	sweep()
	time.Sleep(2 * time.Second)
	if n := countRows(t, e, "transfers", "1 = 1"); n != len(all) {
		t.Errorf("%d transfers, want %d", n, len(all))
	}
	for _, id := range all {
		if n := counter.of(id); n != 1 {
			t.Errorf("order %s: the provider was asked for %d payouts, want 1", id, n)
		}
	}
	if err := receipts(); err != nil {
		t.Error(err)
	}
	if n := countRows(t, e, "notifications", "kind = ?", "new_order"); n != len(all) {
		t.Errorf("%d new-order notices to merchants, want %d", n, len(all))
	}
	if n := countRows(t, e, "outbox", "done_at IS NULL"); n != 0 {
		t.Errorf("%d outbox messages not done", n)
	}
	if t.Failed() {
		e.logErrors(t)
	}
}

func TestCheckOutbox(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	var out strings.Builder
	now := time.Now()
	if err := ops.CheckOutbox(ctx, e.srv.DB, now, 10*time.Minute, &out); err != nil || !strings.Contains(out.String(), "outbox OK") {
		t.Fatalf("empty outbox: %v, %q", err, out.String())
	}
	for _, age := range []time.Duration{time.Minute, 20 * time.Minute, time.Hour} {
		m := &orders.OutboxMessage{ID: catalog.NewID(), Kind: orders.OutboxNotice, OrderID: "o", Event: "paid", CreatedAt: now.Add(-age)}
		if _, err := e.srv.DB.NewInsert().Model(m).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	err := ops.CheckOutbox(ctx, e.srv.DB, now, 10*time.Minute, &out)
	if err != nil || !strings.Contains(out.String(), "WARNING 2 message(s) waiting longer than 10m0s") {
		t.Errorf("CheckOutbox = %v, %q; want a warning about 2 messages and no error", err, out.String())
	}
}
