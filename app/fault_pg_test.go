package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"miaohui/migrations"
	"miaohui/migrations/testdb"
	"miaohui/orders"
)

// ownPostgres is a PostgreSQL server a test starts, stops and starts again.
type ownPostgres struct {
	t                 testing.TB
	bin, data, socket string
	port              int
}

// postgresBin is the directory of the PostgreSQL server binaries, or "".
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i]
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// freePort is a TCP port on 127.0.0.1 nobody listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPostgres initialises a cluster in a temporary directory and starts it
// on a free port; it is stopped and removed when t ends. The binaries refuse
// to run as root, so as root they run as the postgres user.
func startPostgres(t testing.TB) *ownPostgres {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		t.Skip("PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql to restart a database of the test's own")
	}
	dir, err := os.MkdirTemp("", "fault-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pg := &ownPostgres{t: t, bin: bin, data: filepath.Join(dir, "data"), socket: filepath.Join(dir, "run"), port: freePort(t)}
	for _, d := range []string{pg.data, pg.socket} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			u, err := user.Lookup("postgres")
			if err != nil {
				t.Skipf("running as root without a postgres user to run PostgreSQL as: %v", err)
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	pg.run("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8", "-D", pg.data)
	pg.start()
	t.Cleanup(func() { pg.ctl("stop", "-m", "immediate") })
	return pg
}

// run runs one of the server's binaries (as postgres when root).
func (pg *ownPostgres) run(name string, args ...string) {
	pg.t.Helper()
	path := filepath.Join(pg.bin, name)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		pg.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (pg *ownPostgres) ctl(args ...string) {
	pg.t.Helper()
	pg.run("pg_ctl", append([]string{"-D", pg.data, "-w", "-t", "60"}, args...)...)
}

// start starts the server and waits until it accepts connections.
func (pg *ownPostgres) start() {
	pg.t.Helper()
	pg.ctl("start", "-l", filepath.Join(pg.socket, "server.log"),
		"-o", fmt.Sprintf("-h 127.0.0.1 -p %d -k %s", pg.port, pg.socket))
}

// crash stops the server at once, as a crash would: no checkpoint, open
// connections cut, recovery from the WAL at the next start.
func (pg *ownPostgres) crash() { pg.t.Helper(); pg.ctl("stop", "-m", "immediate") }

// url is the address of database name.
func (pg *ownPostgres) url(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, name)
}

// createDB creates a database with pg_trgm, migrated, and opens it.
func (pg *ownPostgres) createDB(name string) *bun.DB {
	pg.t.Helper()
	for _, step := range []struct{ db, stmt string }{
		{"postgres", "CREATE DATABASE " + name},
		{name, "CREATE EXTENSION IF NOT EXISTS pg_trgm"},
	} {
		admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(pg.url(step.db))))
		_, err := admin.Exec(step.stmt)
		admin.Close()
		if err != nil {
			pg.t.Fatalf("%s: %v", step.stmt, err)
		}
	}
	db, err := migrations.OpenDB(pg.url(name), "")
	if err != nil {
		pg.t.Fatal(err)
	}
	pg.t.Cleanup(func() { db.Close() })
	if _, err := migrations.Up(context.Background(), db); err != nil {
		pg.t.Fatalf("migrate: %v", err)
	}
	return db
}

// faultAnswer is one answer seen by a shopper of the checkout storm.
type faultAnswer struct {
	at         time.Time
	what       string // "cart" or "checkout"
	status     int
	code       string
	retryAfter string
	payment    string // a 201's payment id
	body       []byte
}

// PostgreSQL crashes and comes back while shoppers check out: each checkout
// is all or nothing (no order without its payment and lines, no stock taken
// without an order), the shoppers meanwhile get 503 with Retry-After (never a
// 500), and checkouts succeed again once the database is back.
func TestFaultPostgresRestarted(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("runs with the PostgreSQL suite (TEST_DATABASE_URL set), on a server of its own")
	}
	pg := startPostgres(t)
	db := pg.createDB("fault_checkout")

	e := faultEnv(t, db, testdb.NewRedis(t))

	const (
		shoppers = 20
		stockA   = 50000 // lanterns, one a checkout
		stockB   = 50000 // paper cuts, two a checkout
	)
	w := newWorld(t, e, "fault-pg")
	lantern := e.createProduct(t, w.merchA.Token, w.stallA, goods("兔子灯", lanternPrice, stockA))["id"].(string)
	paperCut := e.createProduct(t, w.merchB.Token, w.stallB, goods("生肖剪纸", paperCutPrice, stockB))["id"].(string)
	tokens := make([]string, shoppers)
	for i := range tokens {
		tokens[i] = w.shopper(t).Token
	}

	var (
		mu      sync.Mutex
		answers []faultAnswer
		stop    atomic.Bool
	)
	call := func(what, method, path, token string, body any) faultAnswer {
		a := faultAnswer{what: what}
		res, err := e.srv.App().Test(newRequest(method, path, token, body, nil), -1)
		a.at = time.Now()
		if err != nil {
			a.body = []byte(err.Error())
		} else {
			a.body, _ = io.ReadAll(res.Body)
			res.Body.Close()
			a.status, a.code, a.retryAfter = res.StatusCode, problemCode(a.body), res.Header.Get("Retry-After")
		}
		if a.status == http.StatusCreated {
			var c orders.Checkout
			if err := json.Unmarshal(a.body, &c); err == nil && c.Payment != nil {
				a.payment = c.Payment.ID
			}
		}
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
		return a
	}
	var wg sync.WaitGroup
	for i := range shoppers {
		wg.Add(1)
		go func(token string) {
			defer wg.Done()
			for !stop.Load() {
				ok := call("cart", "PUT", "/api/v1/cart/items/"+lantern, token, map[string]any{"quantity": 1}).status == http.StatusOK
				ok = ok && call("cart", "PUT", "/api/v1/cart/items/"+paperCut, token, map[string]any{"quantity": 2}).status == http.StatusOK
				if ok && call("checkout", "POST", "/api/v1/checkout", token, map[string]any{"fulfillment": "pickup"}).status == http.StatusCreated {
					continue
				}
				time.Sleep(50 * time.Millisecond) // a client backing off
			}
		}(tokens[i])
	}

	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	crashed := time.Now()
	pg.crash()
	time.Sleep(time.Second)
	restarting := time.Now()
	pg.start()
	up := time.Now()
	t.Logf("PostgreSQL stopped at +%s, restarting at +%s, accepting at +%s", crashed.Sub(start).Round(time.Millisecond),
		restarting.Sub(start).Round(time.Millisecond), up.Sub(start).Round(time.Millisecond))

	// Run on until a checkout succeeds after the restart, and a second more.
	var recovered time.Time
	deadline := up.Add(15 * time.Second)
	for recovered.IsZero() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		for _, a := range answers {
			if a.what == "checkout" && a.status == http.StatusCreated && a.at.After(up) && (recovered.IsZero() || a.at.Before(recovered)) {
				recovered = a.at
			}
		}
		mu.Unlock()
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	// The answers: 200/201, or 503 unavailable with Retry-After; never a 500.
	count := map[string]int{}
	var paid []string
	bad := 0
	for _, a := range answers {
		key := fmt.Sprintf("%s %d %s", a.what, a.status, a.code)
		count[key]++
		ok := false
		switch {
		case a.status == http.StatusOK && a.what == "cart", a.status == http.StatusCreated && a.what == "checkout":
			ok = true
		case a.status == http.StatusServiceUnavailable:
			ok = a.code == "unavailable" && a.retryAfter != "" && a.retryAfter != "0"
		case a.status == http.StatusUnprocessableEntity && a.what == "checkout":
			// A checkout committed but answered 503 empties the cart; a
			// cart line lost that way makes the next checkout's cart empty.
			ok = a.code == "validation_failed"
		}
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("%s at +%s: status %d code %q Retry-After %q: %s", a.what, a.at.Sub(start).Round(time.Millisecond), a.status, a.code, a.retryAfter, a.body)
			}
		}
		if a.payment != "" {
			paid = append(paid, a.payment)
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%6d × %s", count[k], k)
	}
	if bad > 0 {
		t.Errorf("%d of %d answers were neither success nor 503 unavailable with Retry-After", bad, len(answers))
		e.logErrors(t)
	}
	if n := count["cart 503 unavailable"] + count["checkout 503 unavailable"]; n == 0 {
		t.Errorf("no 503 while PostgreSQL was down")
	}
	if recovered.IsZero() {
		t.Fatalf("no checkout succeeded within 15s of PostgreSQL accepting connections again")
	}
	t.Logf("first checkout after the restart %s after PostgreSQL accepted connections", recovered.Sub(up).Round(time.Millisecond))

	faultCheckoutInvariants(t, e, paid, map[string]int64{lantern: stockA, paperCut: stockB})
}

// faultCheckoutInvariants checks that every checkout was all or nothing:
// every acknowledged payment is stored, every order has its payment, every
// payment has its orders and equals their sum, every order equals its lines,
// and each product's stock plus the units in live orders is its first stock.
func faultCheckoutInvariants(t *testing.T, e *testEnv, acknowledged []string, initial map[string]int64) {
	t.Helper()
	ctx := context.Background()
	db := e.srv.DB
	var nOrders, nPayments int
	if err := db.NewRaw("SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM payments)").Scan(ctx, &nOrders, &nPayments); err != nil {
		t.Fatal(err)
	}
	// A checkout whose commit reached the database but whose answer did not
	// (the connection cut after COMMIT, or the update after it) is stored
	// although its shopper saw a 503: whole, and expired with its window.
	t.Logf("%d checkouts answered 201; %d payments and %d orders stored (%d committed though not answered 201)",
		len(acknowledged), nPayments, nOrders, nPayments-len(acknowledged))

	if len(acknowledged) > 0 {
		var found int
		if err := db.NewSelect().Table("payments").Where("id IN (?)", bun.In(acknowledged)).ColumnExpr("COUNT(*)").Scan(ctx, &found); err != nil {
			t.Fatal(err)
		}
		if found != len(acknowledged) {
			t.Errorf("%d of the %d payments answered 201 are stored: an acknowledged checkout was lost", found, len(acknowledged))
		}
	}
	for _, c := range []struct{ what, query string }{
		{"orders without their payment", `SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = o.payment_id)`},
		{"payments without orders", `SELECT COUNT(*) FROM payments p WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.payment_id = p.id)`},
		{"payments whose amount is not the sum of their orders", `SELECT COUNT(*) FROM payments p WHERE p.amount <> (SELECT SUM(o.total) FROM orders o WHERE o.payment_id = p.id)`},
		{"orders whose total is not the sum of their lines", `SELECT COUNT(*) FROM orders o WHERE o.total <> (SELECT COALESCE(SUM(i.line_total), 0) FROM order_items i WHERE i.order_id = o.id)`},
		{"lines whose total is not price × quantity", `SELECT COUNT(*) FROM order_items i WHERE i.line_total <> i.unit_price * i.quantity`},
		{"payments not of two orders (one per stall)", `SELECT COUNT(*) FROM payments p WHERE (SELECT COUNT(*) FROM orders o WHERE o.payment_id = p.id) <> 2`},
	} {
		var n int
		if err := db.NewRaw(c.query).Scan(ctx, &n); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
	for id, first := range initial {
		var held int64
		err := db.NewRaw(`SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE i.product_id = ? AND o.status <> ?`,
			id, orders.StatusCancelled).Scan(ctx, &held)
		if err != nil {
			t.Fatal(err)
		}
		stock := readStock(t, e, id)
		if stock+held != first {
			t.Errorf("product %s: stock %d + %d units in live orders = %d, want %d", id, stock, held, stock+held, first)
		}
	}
}
