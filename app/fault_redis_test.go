package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"miaohui/catalog/catalogtest"
	"miaohui/migrations/testdb"
)

// stoppableRedis is a Redis a test owns, so that it can stop it and start it
// again: an in-process miniredis, or, when the suite runs on a real Redis
// (TEST_REDIS_URL), a redis-server of its own on a free port. Its client is
// configured as the platform's (pool, autopipelining).
type stoppableRedis struct {
	t     testing.TB
	redis *testdb.Redis
	mini  *miniredis.Miniredis
	addr  string
	dir   string
	proc  *exec.Cmd
	keep  bool // whether the data of the last stop is kept
}

func newStoppableRedis(t testing.TB) *stoppableRedis {
	t.Helper()
	r := &stoppableRedis{t: t}
	if os.Getenv("TEST_REDIS_URL") == "" {
		r.mini = miniredis.RunT(t)
		r.addr = r.mini.Addr()
	} else {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Skip("redis-server not found: the test stops and starts a Redis of its own")
		}
		r.dir = t.TempDir()
		r.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		r.start()
		t.Cleanup(func() {
			if r.proc != nil {
				r.proc.Process.Kill()
				r.proc.Wait()
			}
		})
	}
	client := redis.NewClient(&redis.Options{Addr: r.addr, PoolSize: 64, AutoPipelineOptions: autoPipelining()})
	t.Cleanup(func() { client.Close() })
	r.redis = &testdb.Redis{URL: "redis://" + r.addr + "/0", Client: client, Mini: r.mini}
	return r
}

// stop stops the server; keep says whether its data is there at the next
// start (saved, as by a restart) or gone (as by a new, empty server).
func (r *stoppableRedis) stop(keep bool) {
	r.t.Helper()
	r.keep = keep
	if r.mini != nil {
		r.mini.Close()
		return
	}
	admin := redis.NewClient(&redis.Options{Addr: r.addr})
	defer admin.Close()
	ctx := context.Background()
	if keep {
		admin.ShutdownSave(ctx) // the connection closes: no answer
	} else {
		admin.ShutdownNoSave(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- r.proc.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.proc.Process.Kill()
		<-done
	}
	r.proc = nil
	if !keep {
		os.Remove(filepath.Join(r.dir, "dump.rdb"))
	}
}

// start starts the server again and waits until it answers.
func (r *stoppableRedis) start() {
	r.t.Helper()
	ctx := context.Background()
	if r.mini != nil {
		if err := r.mini.Restart(); err != nil {
			r.t.Fatal(err)
		}
		if !r.keep {
			r.mini.FlushAll()
			// A client of its own: the platform's client waits a moment
			// before it dials a server that refused it again.
			admin := redis.NewClient(&redis.Options{Addr: r.addr})
			defer admin.Close()
			if err := admin.ScriptFlush(ctx).Err(); err != nil {
				r.t.Fatal(err)
			}
		}
		return
	}
	_, port, _ := strings.Cut(r.addr, ":")
	r.proc = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--dbfilename", "dump.rdb")
	if err := r.proc.Start(); err != nil {
		r.t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer admin.Close()
	eventually(r.t, 10*time.Second, func() error { return admin.Ping(ctx).Err() })
}

// faultEnv is a test server on db and r, as newTestEnv builds it.
func faultEnv(t testing.TB, db *bun.DB, r *testdb.Redis, mutate ...func(*Config)) *testEnv {
	t.Helper()
	cfg := testConfig()
	cfg.DataDir = t.TempDir()
	for _, m := range mutate {
		m(&cfg)
	}
	clock := catalogtest.NewClock(time.Now())
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	srv := newTestServer(t, Deps{Config: cfg, Logger: log, DB: db, Redis: r.Client, Now: clock.Now})
	return &testEnv{t: t, srv: srv, redis: r, clock: clock, cfg: cfg, logBuf: logs}
}

// wantUp checks that an answer given while a backend is down is a success
// (below 400) or 503 unavailable with Retry-After, never a 500.
func wantUp(t testing.TB, what string, res response) {
	t.Helper()
	switch {
	case res.StatusCode < 400:
	case res.StatusCode == http.StatusServiceUnavailable:
		if code := problemCode(res.Body); code != "unavailable" && !strings.Contains(string(res.Body), "<") {
			t.Errorf("%s: 503 with code %q: %s", what, code, res.Body)
		}
		if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("%s: 503 with Retry-After %q", what, ra)
		}
	default:
		t.Errorf("%s: status %d, want a success or 503: %.300s", what, res.StatusCode, res.Body)
	}
	t.Logf("while Redis is down: %s → %d %s", what, res.StatusCode, problemCode(res.Body))
}

// Redis stops in the middle of a flash sale: /readyz says the queue is
// down, purchases answer 503 with Retry-After (not 500), what needs only the
// database still works, and once Redis is back (with its data, or empty)
// purchases go on and the sale never sells more than its units nor anyone
// more than the limit.
func TestFaultRedisStopped(t *testing.T) {
	for _, c := range []struct {
		name string
		keep bool
	}{{"DataKept", true}, {"DataLost", false}} {
		t.Run(c.name, func(t *testing.T) {
			const units, limit, people = 6, 1, 16
			rd := newStoppableRedis(t)
			e := faultEnv(t, testdb.Open(t), rd.redis, func(c *Config) { c.FlashUserRPS, c.FlashIPRPS = 0, 0 })
			w := newFlashWorld(t, e, "fault-redis-"+strings.ToLower(c.name))
			buyers := e.buyers(t, "fault-redis", people)
			id := w.liveSale(t, 1500, units, limit)
			e.runWorkers()
			won := map[int][]string{}
			for b := range 2 {
				won[b] = append(won[b], w.win(t, buyers[b].Token, id, 1))
			}
			flWaitTickets(t, e, id, 2)

			rd.stop(c.keep)
			began := time.Now()
			res := e.do(req{Method: "GET", Path: "/readyz"})
			wantStatus(t, res, http.StatusServiceUnavailable)
			ready := res.JSON(t)
			if ready["database"] != "ok" || ready["queue"] == "ok" || ready["queue"] == "" {
				t.Errorf("/readyz with Redis down: %s, want the database ok and the queue failing", res.Body)
			}
			t.Logf("/readyz → 503 %s in %s", res.Body, time.Since(began).Round(time.Millisecond))

			// Purchases: a winner again and new buyers, at once.
			began = time.Now()
			order := []int{0, 2, 3, 4, 5, 6, 7, 8}
			down := rush(t, len(order), 0, time.Minute, func(k int) attempt {
				hr := newRequest("POST", "/api/v1/flash-sales/"+id+"/purchase", buyers[order[k]].Token, map[string]any{"quantity": 1}, nil)
				res, err := e.srv.App().Test(hr, -1)
				if err != nil {
					return attempt{who: order[k], err: err}
				}
				defer res.Body.Close()
				raw, _ := io.ReadAll(res.Body)
				a := attempt{who: order[k], status: res.StatusCode, body: raw, code: problemCode(raw)}
				if ra := res.Header.Get("Retry-After"); res.StatusCode == http.StatusServiceUnavailable && (ra == "" || ra == "0") {
					a.err = fmt.Errorf("503 with Retry-After %q", ra)
				}
				return a
			})
			for _, a := range down {
				if a.err != nil || a.status != http.StatusServiceUnavailable || a.code != "unavailable" {
					t.Errorf("purchase by buyer %d with Redis down: status %d code %q err %v: %s", a.who, a.status, a.code, a.err, a.body)
				}
			}
			if t.Failed() {
				e.logErrors(t)
			}
			t.Logf("%d purchases with Redis down → 503 unavailable, all answered in %s", len(down), time.Since(began).Round(time.Millisecond))

			// What needs only the database.
			shopper := buyers[people-1].Token
			wantUp(t, "GET the sale", e.do(req{Method: "GET", Path: "/api/v1/flash-sales/" + id}))
			wantUp(t, "GET the fair", e.do(req{Method: "GET", Path: "/api/v1/fairs/" + w.slug}))
			wantUp(t, "GET a won ticket", w.ticket(buyers[0].Token, id, won[0][0]))
			wantUp(t, "GET the fairs page", e.do(req{Method: "GET", Path: "/", Header: map[string]string{"Accept": "text/html"}}))
			wantUp(t, "PUT a cart line", e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + w.product, Token: shopper, Body: map[string]any{"quantity": 1}}))
			wantUp(t, "POST checkout", e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: shopper, Body: map[string]any{"fulfillment": "pickup"}}))
			wantUp(t, "POST login", e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": "fault-redis015@example.com", "password": testPassword}}))
			if t.Failed() {
				e.logErrors(t)
			}

			rd.start()
			back := time.Now()
			eventually(t, 15*time.Second, func() error {
				res := w.purchase(buyers[2].Token, id, 1)
				switch {
				case res.StatusCode == http.StatusAccepted:
					won[2] = append(won[2], res.JSON(t)["ticket"].(string))
					return nil
				case res.StatusCode == http.StatusServiceUnavailable:
					return fmt.Errorf("purchase still 503: %s", res.Body)
				}
				t.Fatalf("first purchase after Redis returned: status %d %s", res.StatusCode, res.Body)
				return nil
			})
			t.Logf("purchases work again %s after Redis returned", time.Since(back).Round(time.Millisecond))

			// The rest rush in, each twice; the early winners try again.
			order = order[:0]
			for b := range people - 1 {
				order = append(order, b, b)
			}
			for b, tickets := range e.wins(t, e.flashRush(t, id, buyers, order, 8)) {
				won[b] = append(won[b], tickets...)
			}
			wantWonOnce(t, won, units)
			flWaitTickets(t, e, id, units)
			if live, all := flOrders(t, e, id); live != units || all != units {
				t.Errorf("%d live of %d orders, want %d", live, all, units)
			}
			if over := flOverLimit(t, e, id, limit); len(over) > 0 {
				t.Errorf("buyers above the limit: %v", over)
			}
			if r := flRow(t, e, id); r.Sold != units {
				t.Errorf("sale row %+v, want %d sold", r, units)
			}
		})
	}
}
