package ops

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"github.com/valyala/fasthttp"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/migrations"
	"miaohui/orders"
)

// `fair bench flash` loads a running deployment's flash-sale purchase path
// and measures, in the same run and on the same machine, three references: a
// bare Fiber handler, a Fiber handler making one EVALSHA against the same
// Redis, and the naive purchase that locks the product row with SELECT … FOR
// UPDATE on PostgreSQL. The references are served by a process of their own
// (`fair bench references`), as the deployment is.

type benchOpts struct {
	// coupons benches the claim of a coupon campaign at its release moment
	// (`fair bench coupons`) instead of a flash sale's purchase.
	coupons    bool
	target     string
	stock      int
	limit      int
	buyers     int
	greedy     float64
	conns      int
	maxRun     time.Duration
	startIn    time.Duration
	refRun     time.Duration
	skipRefs   bool
	series     bool
	persistMax time.Duration
}

// Bench is `fair bench flash|browse|references|totals|console`.
func Bench(ctx context.Context, env Env, out io.Writer, args []string) error {
	log := env.Log
	if len(args) > 0 && args[0] == "references" {
		return benchReferencesCommand(ctx, env, out, args[1:])
	}
	if len(args) > 0 && args[0] == "browse" {
		return benchBrowseCommand(ctx, out, args[1:])
	}
	if len(args) > 0 && args[0] == "totals" {
		return benchTotalsCommand(ctx, out, args[1:])
	}
	if len(args) > 0 && args[0] == "console" {
		return benchConsoleCommand(ctx, out, args[1:])
	}
	if len(args) == 0 || args[0] != "flash" && args[0] != "coupons" {
		return errors.New("usage: fair bench flash|coupons [--url http://127.0.0.1:8080] [--stock 1000] [--limit 1] [--buyers 100000] [--greedy 0.05] [--conns 256] | fair bench browse [--url U] [--fair seed-article] [--conns 64] | fair bench totals --fair SLUG | fair bench console [--fair seed-article]")
	}
	fs := flag.NewFlagSet("bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	o := benchOpts{coupons: args[0] == "coupons"}
	fs.StringVar(&o.target, "url", "http://127.0.0.1:8080", "base URL of the running deployment")
	fs.IntVar(&o.stock, "stock", 1000, "units on sale (coupons: the campaign's quantity)")
	fs.IntVar(&o.limit, "limit", 1, "per-user limit")
	fs.IntVar(&o.buyers, "buyers", 100000, "distinct buyers")
	fs.Float64Var(&o.greedy, "greedy", 0.05, "share of buyers who retry until the run ends")
	fs.IntVar(&o.conns, "conns", 256, "concurrent connections")
	fs.DurationVar(&o.maxRun, "duration", 8*time.Second, "how long the load runs after the sale starts")
	fs.DurationVar(&o.startIn, "start-in", 3*time.Second, "time between set-up and the sale's start")
	fs.DurationVar(&o.refRun, "ref-duration", 4*time.Second, "how long each reference runs")
	fs.BoolVar(&o.skipRefs, "skip-refs", false, "measure only the deployment")
	fs.BoolVar(&o.series, "series", false, "also print the answers per second over each half second of the load")
	fs.DurationVar(&o.persistMax, "persist-timeout", 60*time.Second, "how long to wait for the orders to be persisted")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.stock < 1 || o.limit < 1 || o.buyers < 1 || o.conns < 1 || o.greedy < 0 || o.greedy > 1 {
		return errors.New("bench: stock, limit, buyers and conns must be positive, greedy within 0..1")
	}
	p, err := env.OpenPlatform(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	if p.Embedded {
		return errors.New("bench: set FAIR_REDIS_URL (and FAIR_DATABASE_URL) to the deployment's Redis and database")
	}
	b := &bench{o: o, db: p.DB, dataDir: env.DataDir, out: out, log: log}
	return b.run(ctx)
}

type bench struct {
	o       benchOpts
	db      *bun.DB
	dataDir string
	out     io.Writer
	log     *slog.Logger
	tokens  []string
	saleID  string // the flash sale, or the coupon campaign
	prodID  string
}

// what names the event benched.
func (b *bench) what() string {
	if b.o.coupons {
		return "coupon claim"
	}
	return "flash purchase"
}

// eventPath is the event's resource: the sale or the campaign.
func (b *bench) eventPath() string {
	if b.o.coupons {
		return "/api/v1/coupon-campaigns/" + b.saleID
	}
	return "/api/v1/flash-sales/" + b.saleID
}

// loadResult is what one load run measured.
type loadResult struct {
	requests, s2xx, s4xx, s5xx, s429, errs int64
	admitted                               int64
	start, soldOutAt, end                  time.Time
	beforeN, afterN                        int64
	lat                                    []time.Duration
	done                                   []time.Duration // when each answer came, from start
}

// soldOutCode is how the bench recognises the answer that the sale sold out.
var soldOutCode = []byte(`"sold_out"`)

// rateWithin is the answers per second in the first d of the run: a
// reference over the window the sale took to sell out, from the same start
// (connections open, a burst from every one of them at once).
func (r *loadResult) rateWithin(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	n, _ := slices.BinarySearch(r.done, d)
	return float64(n) / d.Seconds()
}

func (r *loadResult) rps() float64 {
	d := r.end.Sub(r.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.requests) / d
}

func (r *loadResult) beforeRPS() float64 {
	if r.soldOutAt.IsZero() {
		return r.rps()
	}
	d := r.soldOutAt.Sub(r.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.beforeN) / d
}

func (r *loadResult) afterRPS() float64 {
	if r.soldOutAt.IsZero() {
		return 0
	}
	d := r.end.Sub(r.soldOutAt).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.afterN) / d
}

func (r *loadResult) pct(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q * float64(len(r.lat)-1))
	return r.lat[i]
}

func (b *bench) run(ctx context.Context) error {
	fmt.Fprintf(b.out, "fair bench %s: stock %d, limit %d, %d buyers (%.0f%% greedy), %d connections, %d CPUs, target %s\n",
		map[bool]string{false: "flash", true: "coupons"}[b.o.coupons], b.o.stock, b.o.limit, b.o.buyers, b.o.greedy*100, b.o.conns, runtime.NumCPU(), b.o.target)
	t0 := time.Now()
	// The references run first, while the deployment is idle before the sale.
	if !b.o.skipRefs {
		b.o.startIn += 3*b.o.refRun + 2*time.Second
	}
	startsAt, err := b.setup(ctx)
	if err != nil {
		return fmt.Errorf("set-up: %w", err)
	}
	fmt.Fprintf(b.out, "set-up: %d buyers signed in, sale or campaign %s in %s\n", len(b.tokens), b.saleID, time.Since(t0).Round(time.Millisecond))

	u, err := url.Parse(b.o.target)
	if err != nil {
		return err
	}
	var bare, eval, naive *loadResult
	if !b.o.skipRefs {
		if bare, eval, naive, err = b.references(ctx); err != nil {
			return err
		}
	}
	// Phones waiting for a sale already hold their connections (they poll
	// its page): open them all before the start.
	client := b.warm(u.Host, b.eventPath(), startsAt.Add(-time.Second))
	// And they keep polling up to the start: the sale page asks every 15 s,
	// so 100,000 phones ask thousands of times a second; a few a second here.
	b.poll(client, b.eventPath(), 200*time.Millisecond, startsAt)
	time.Sleep(time.Until(startsAt.Add(20 * time.Millisecond)))
	watch := b.watchOrders(ctx)
	action := "/purchase"
	if b.o.coupons {
		action = "/claim"
	}
	res := b.load(client, b.eventPath()+action, b.o.maxRun, true)
	persisted, persistedAt := watch.until(res.admitted, b.o.persistMax)
	check, err := b.verify(ctx)
	if err != nil {
		return err
	}

	w := b.out
	fmt.Fprintf(w, "\n## %s (stock %d, limit %d)\n", b.what(), b.o.stock, b.o.limit)
	fmt.Fprintf(w, "requests %d: 2xx %d, 4xx %d (429: %d), 5xx %d, transport errors %d\n", res.requests, res.s2xx, res.s4xx, res.s429, res.s5xx, res.errs)
	fmt.Fprintf(w, "admitted %d; sold out after %s\n", res.admitted, sinceOr(res.soldOutAt, res.start))
	fmt.Fprintf(w, "throughput: %.0f req/s before sell-out, %.0f req/s after, %.0f overall\n", res.beforeRPS(), res.afterRPS(), res.rps())
	if b.o.series {
		fmt.Fprint(w, "answers per second, by half second from the start:")
		for t := time.Duration(0); t < b.o.maxRun; t += 500 * time.Millisecond {
			lo, _ := slices.BinarySearch(res.done, t)
			hi, _ := slices.BinarySearch(res.done, t+500*time.Millisecond)
			fmt.Fprintf(w, " %.1fs %d", t.Seconds(), (hi-lo)*2)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "latency: p50 %s, p99 %s, p99.9 %s\n", res.pct(0.5), res.pct(0.99), res.pct(0.999))
	fmt.Fprintf(w, "orders or coupons: %d persisted (quantity %d), oversell %d, greediest buyer %d (limit %d), buyers over the limit %d\n",
		check.orders, b.o.stock, max(check.orders-int64(b.o.stock), 0), check.greediest, b.o.limit, check.overLimit)
	// The goal: every order written within 2 s + stock/1,000 s of the sell-out.
	persistGoal := 2*time.Second + time.Duration(b.o.stock)*time.Millisecond
	inTime := persisted
	if !res.soldOutAt.IsZero() && persisted {
		inTime = persistedAt.Sub(res.soldOutAt) <= persistGoal
		fmt.Fprintf(w, "last order persisted %s after the first attempt, %s after sell-out (target %s)\n",
			persistedAt.Sub(res.start).Round(time.Millisecond), persistedAt.Sub(res.soldOutAt).Round(time.Millisecond), persistGoal)
	} else if !persisted {
		fmt.Fprintf(w, "orders NOT all persisted within %s\n", b.o.persistMax)
	}
	if bare != nil {
		// The sale's before-sell-out window is a burst from idle connections;
		// each reference is also read over the same span from its own start.
		win := res.soldOutAt.Sub(res.start)
		if res.soldOutAt.IsZero() {
			win = res.end.Sub(res.start)
		}
		fmt.Fprintf(w, "\n## references (same machine, same run, same requests; %s runs, the first %s of each in brackets)\n", b.o.refRun, win.Round(time.Millisecond))
		fmt.Fprintf(w, "bare Fiber handler:        %.0f req/s [%.0f] (p99 %s)\n", bare.rps(), bare.rateWithin(win), bare.pct(0.99))
		fmt.Fprintf(w, "Fiber + one EVALSHA:       %.0f req/s [%.0f] (p99 %s)\n", eval.rps(), eval.rateWithin(win), eval.pct(0.99))
		if naive != nil {
			fmt.Fprintf(w, "naive SELECT … FOR UPDATE: %.0f req/s [%.0f] (p99 %s)\n", naive.rps(), naive.rateWithin(win), naive.pct(0.99))
		}
		fmt.Fprintf(w, "\nratios: before sell-out / EVALSHA = %.2f over the same window, %.2f of its whole run (goal ≥ 0.9); after sell-out / bare = %.2f (goal ≥ 0.7)",
			res.beforeRPS()/eval.rateWithin(win), res.beforeRPS()/eval.rps(), res.afterRPS()/bare.rps())
		if naive != nil {
			fmt.Fprintf(w, "; purchase / FOR UPDATE = %.1f (goal ≥ 20)", res.beforeRPS()/naive.rps())
		}
		fmt.Fprintln(w)
	}
	ok := check.orders == int64(b.o.stock) && check.overLimit == 0 && res.s5xx == 0 && inTime
	fmt.Fprintf(w, "correctness: %s\n", map[bool]string{true: "PASS", false: "FAIL"}[ok])
	if !ok {
		return errors.New("bench: correctness failed")
	}
	return nil
}

func sinceOr(t, from time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}

// setup creates the fair, the product, the sale and the buyers with their
// sessions, straight in the database (argon2 for 100,000 sign-ins would take
// longer than the sale).
func (b *bench) setup(ctx context.Context) (time.Time, error) {
	db := b.db
	now := time.Now().UTC().Truncate(time.Microsecond)
	cat := catalog.NewService(db, catalog.SystemClock, b.dataDir, catalog.NoEvents{})
	acc, err := account.NewAccounts(ctx, db, catalog.SystemClock, 1024, 1)
	if err != nil {
		return time.Time{}, err
	}
	run := randHex(4)
	org, err := acc.CreateUser(ctx, account.NewUser{Email: "bench-" + run + "-org@bench.miaohui.cn", Password: "bench organizer " + run, Name: "bench", Role: catalog.RoleOrganizer})
	if err != nil {
		return time.Time{}, err
	}
	mer, err := acc.CreateUser(ctx, account.NewUser{Email: "bench-" + run + "-merchant@bench.miaohui.cn", Password: "bench merchant " + run, Name: "bench", Role: catalog.RoleMerchant})
	if err != nil {
		return time.Time{}, err
	}
	slug, name, kind, bps := "bench-"+run, "抢购压测 "+run, catalog.KindTempleFair, 500
	start, end := now.Add(-time.Hour), now.Add(24*time.Hour)
	fair, err := cat.CreateFair(ctx, org.Actor(), catalog.FairInput{Slug: &slug, Name: &name, Kind: &kind, StartsAt: &start, EndsAt: &end, CommissionBPS: &bps})
	if err != nil {
		return time.Time{}, err
	}
	app, err := cat.Apply(ctx, mer.Actor(), fair.Slug, "压测摊位", "")
	if err != nil {
		return time.Time{}, err
	}
	_, stall, err := cat.Approve(ctx, org.Actor(), app.ID)
	if err != nil {
		return time.Time{}, err
	}
	title, price, stock, gk := "泰州臭干（抢购）", int64(1280), int64(b.o.stock)*2+1_000_000, catalog.KindGoods
	prod, err := cat.CreateProduct(ctx, mer.Actor(), stall.ID, catalog.ProductInput{Title: &title, Price: &price, Stock: &stock, Kind: &gk})
	if err != nil {
		return time.Time{}, err
	}
	b.prodID = prod.ID
	saleStart := time.Now().UTC().Add(b.o.startIn).Truncate(time.Millisecond)
	saleEnd := saleStart.Add(time.Hour)
	fp, q, lim := int64(990), b.o.stock, b.o.limit
	if b.o.coupons {
		// A 消费券 of the fair's organizer: ¥5 off ¥50, released at the start.
		ord := orders.NewService(db, cat, orders.Sandbox{}, orders.NoEvents{}, catalog.SystemClock, 15*time.Minute)
		c, err := ord.CreateFairCampaign(ctx, org.Actor(), fair.Slug, orders.CampaignInput{Title: "压测消费券 " + run, Discount: 500, MinSpend: 5000,
			Quantity: b.o.stock, PerUserLimit: b.o.limit, ReleasesAt: saleStart, ValidUntil: saleEnd})
		if err != nil {
			return time.Time{}, err
		}
		b.saleID = c.ID
	} else {
		sale, err := cat.CreateFlashSale(ctx, mer.Actor(), catalog.FlashInput{ProductID: prod.ID, Price: &fp, Quantity: &q, PerUserLimit: &lim, StartsAt: &saleStart, EndsAt: &saleEnd})
		if err != nil {
			return time.Time{}, err
		}
		b.saleID = sale.ID
	}

	hash, err := argon2id.CreateHash("bench buyer "+run, &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		return time.Time{}, err
	}
	b.tokens = make([]string, b.o.buyers)
	const batch = 1000
	for i := 0; i < b.o.buyers; i += batch {
		n := min(batch, b.o.buyers-i)
		users := make([]account.User, n)
		sessions := make([]account.Session, n)
		for j := range n {
			id, sid := catalog.NewID(), catalog.NewID()
			exp := now.Add(24 * time.Hour).Truncate(time.Second)
			sess, tok := acc.NewSession(sid, id, catalog.RoleShopper, now, exp)
			b.tokens[i+j] = tok
			users[j] = account.User{ID: id, Email: fmt.Sprintf("bench-%s-%d@bench.miaohui.cn", run, i+j), Name: "buyer", Role: catalog.RoleShopper, PasswordHash: hash, Lang: "zh-CN", CreatedAt: now}
			sessions[j] = sess
		}
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.NewInsert().Model(&users).Exec(ctx); err != nil {
				return err
			}
			_, err := tx.NewInsert().Model(&sessions).Exec(ctx)
			return err
		})
		if err != nil {
			return time.Time{}, err
		}
	}
	return saleStart, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// load runs conns workers against host+path over client's connections:
// every buyer once, greedy buyers again and again until maxRun. The
// references get the very requests the purchase gets (the buyers' tokens,
// the same body), so the load generator does the same work for both.
func (b *bench) load(client *fasthttp.HostClient, path string, maxRun time.Duration, purchase bool) *loadResult {
	host := client.Addr
	res := &loadResult{start: time.Now()}
	deadline := res.start.Add(maxRun)
	var next atomic.Int64
	greedyEvery := 0
	if b.o.greedy > 0 {
		greedyEvery = int(1 / b.o.greedy)
	}
	var soldOut atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	body := []byte(`{"quantity":1}`)
	for range b.o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			req.SetBody(body)
			var local loadResult
			local.lat = make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				i := next.Add(1) - 1
				var buyer int
				if int(i) < b.o.buyers {
					buyer = int(i)
				} else if greedyEvery > 0 {
					// Every buyer has had a go; the greedy ones keep trying.
					buyer = int(i%int64(b.o.buyers/greedyEvery+1)) * greedyEvery
					buyer = min(buyer, b.o.buyers-1)
				} else {
					break
				}
				req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+b.tokens[buyer])
				req.SetRequestURI("http://" + host + path)
				t := time.Now()
				err := client.Do(req, resp)
				lat := time.Since(t)
				local.requests++
				if err != nil {
					local.errs++
					continue
				}
				local.lat = append(local.lat, lat)
				local.done = append(local.done, time.Since(res.start))
				code := resp.StatusCode()
				switch {
				case code >= 500:
					local.s5xx++
				case code == 429:
					local.s429++
					local.s4xx++
				case code >= 400:
					local.s4xx++
					if purchase && soldOut.Load() == 0 && bytes.Contains(resp.Body(), soldOutCode) {
						soldOut.CompareAndSwap(0, time.Now().UnixNano())
					}
				default:
					local.s2xx++
					if code == 202 || code == 201 {
						local.admitted++
					}
				}
				if so := soldOut.Load(); so != 0 && t.UnixNano() >= so {
					local.afterN++
				} else {
					local.beforeN++
				}
			}
			mu.Lock()
			res.requests += local.requests
			res.s2xx += local.s2xx
			res.s4xx += local.s4xx
			res.s5xx += local.s5xx
			res.s429 += local.s429
			res.errs += local.errs
			res.admitted += local.admitted
			res.beforeN += local.beforeN
			res.afterN += local.afterN
			res.lat = append(res.lat, local.lat...)
			res.done = append(res.done, local.done...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.end = time.Now()
	if so := soldOut.Load(); so != 0 {
		res.soldOutAt = time.Unix(0, so)
	}
	slices.Sort(res.lat)
	slices.Sort(res.done)
	return res
}

// warm opens the load's connections to host with GET path until deadline:
// phones waiting for a sale already hold theirs, polling the sale.
func (b *bench) warm(host, path string, deadline time.Time) *fasthttp.HostClient {
	client := &fasthttp.HostClient{Addr: host, MaxConns: b.o.conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxIdemponentCallAttempts: 1}
	var wg sync.WaitGroup
	for range b.o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3 && time.Now().Before(deadline); i++ {
				_, _, _ = client.Get(nil, "http://"+host+path)
			}
		}()
	}
	wg.Wait()
	return client
}

// poll gets path every period until the deadline.
func (b *bench) poll(client *fasthttp.HostClient, path string, period time.Duration, deadline time.Time) {
	for time.Until(deadline) > period {
		_, _, _ = client.Get(nil, "http://"+client.Addr+path)
		time.Sleep(period)
	}
}

// orderWatch reads how many of the sale's units are ordered every 20 ms
// from the start of the load, remembering when the count last grew.
type orderWatch struct {
	mu      sync.Mutex
	count   int64
	changed time.Time
	stop    chan struct{}
}

func (b *bench) watchOrders(ctx context.Context) *orderWatch {
	w := &orderWatch{stop: make(chan struct{})}
	go func() {
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			// The sale's count of units ordered grows in the transaction
			// that writes the orders: one row to read, not the orders.
			var n int64
			q := b.db.NewSelect().TableExpr("flash_sales").Column("sold")
			if b.o.coupons {
				q = b.db.NewSelect().TableExpr("coupon_campaigns").Column("claimed")
			}
			err := q.Where("id = ?", b.saleID).Scan(ctx, &n)
			if err != nil {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			if n > w.count {
				w.count, w.changed = n, now
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// until waits for the admitted units' orders (each buyer asks for one unit
// at a time) and says when the last one appeared.
func (w *orderWatch) until(admitted int64, timeout time.Duration) (bool, time.Time) {
	defer close(w.stop)
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		n, at := w.count, w.changed
		w.mu.Unlock()
		if n >= admitted {
			return true, at
		}
		if time.Now().After(deadline) {
			return false, at
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type benchCheck struct {
	orders, greediest, overLimit int64
}

func (b *bench) verify(ctx context.Context) (benchCheck, error) {
	var c benchCheck
	var per []int64
	q := b.db.NewSelect().TableExpr("orders AS o").Join("JOIN order_items AS i ON i.order_id = o.id").
		ColumnExpr("SUM(i.quantity)").Where("o.flash_sale_id = ? AND o.status <> 'cancelled'", b.saleID).
		GroupExpr("o.buyer_id")
	if b.o.coupons {
		q = b.db.NewSelect().TableExpr("coupons").ColumnExpr("COUNT(*)").Where("campaign_id = ?", b.saleID).GroupExpr("user_id")
	}
	err := q.Scan(ctx, &per)
	if err != nil {
		return c, err
	}
	for _, n := range per {
		c.orders += n
		c.greediest = max(c.greediest, n)
		if n > int64(b.o.limit) {
			c.overLimit++
		}
	}
	return c, nil
}

// references starts `fair bench references` as a process of its own, as
// the deployment is one: the load generator then pays for reaching the
// references what it pays for reaching the deployment (another process's
// scheduling on the same cores), and loads each the same way.
func (b *bench) references(ctx context.Context) (bare, eval, naive *loadResult, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refArgs := []string{"bench", "references", "--product", b.prodID}
	if b.o.coupons {
		refArgs = append(refArgs, "--script", "claim")
	}
	cmd := exec.CommandContext(ctx, exe, refArgs...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, found := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !found {
		return nil, nil, nil, fmt.Errorf("bench references did not start: %q %v", line, err)
	}
	run := func(name string) (*loadResult, error) {
		fmt.Fprintf(os.Stderr, "reference %s on %s\n", name, addr)
		client := b.warm(addr, "/healthz", time.Now().Add(5*time.Second))
		r := b.load(client, "/"+name, b.o.refRun, false)
		if r.s5xx > 0 || r.errs > 0 {
			return r, fmt.Errorf("reference %s: %d 5xx, %d errors", name, r.s5xx, r.errs)
		}
		return r, nil
	}
	if bare, err = run("bare"); err != nil {
		return nil, nil, nil, err
	}
	if eval, err = run("evalsha"); err != nil {
		return nil, nil, nil, err
	}
	if migrations.IsPostgres(b.db) {
		if naive, err = run("for-update"); err != nil {
			return nil, nil, nil, err
		}
	}
	return bare, eval, naive, nil
}

// benchReferencesCommand is `fair bench references --product ID`: it serves
// the three references on a loopback port, says "listening on ADDR" and
// runs until it is stopped.
func benchReferencesCommand(ctx context.Context, env Env, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench references", flag.ContinueOnError)
	fs.SetOutput(out)
	product := fs.String("product", "", "the product the naive purchase takes stock from")
	script := fs.String("script", "admit", "the script of the EVALSHA reference: admit (a flash purchase) or claim (a coupon claim)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := env.OpenPlatform(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Post("/bare", BareHandler())
	app.Get("/bare", BareHandler())
	if *script == "claim" {
		app.Post("/evalsha", ClaimEvalHandler(p.Redis))
	} else {
		app.Post("/evalsha", EvalHandler(p.Redis))
	}
	app.Post("/for-update", naiveHandler(p.DB, *product))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = app.Shutdown()
	}()
	return app.Listener(ln)
}

// BareHandler is the bare reference: a Fiber handler answering as an
// admitted purchase does, with no work.
func BareHandler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Status(fiber.StatusAccepted)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"ticket":"x","status":"queued"}`)
	}
}

// EvalHandler makes exactly one EVALSHA of the admission script against the
// deployment's Redis, on a scratch sale with room for everyone.
func EvalHandler(rdb redis.UniversalClient) fiber.Handler {
	scratch := "bench-" + randHex(4)
	rdb.Set(context.Background(), "fs:{"+scratch+"}:stock", 1<<40, time.Hour)
	script := redis.NewScript(orders.AdmitLua)
	return func(c *fiber.Ctx) error {
		// The buyer, as the request says (not verified): the token's last 26
		// characters, as long as the user id the admission keys on.
		user := c.Get(fiber.HeaderAuthorization)
		user = user[max(0, len(user)-26):]
		err := script.Run(c.UserContext(), rdb, []string{"fs:{" + scratch + "}:stock", "fs:{" + scratch + "}:users", "fs:{" + scratch + "}:tickets"},
			user, 1, 1<<30, user, 0).Err()
		if err != nil {
			return err
		}
		c.Status(fiber.StatusAccepted)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"ticket":"x","status":"queued"}`)
	}
}

// ClaimEvalHandler makes exactly one EVALSHA of the coupon claim script
// against the deployment's Redis, on a scratch campaign with room for
// everyone, answering as a claim does.
func ClaimEvalHandler(rdb redis.UniversalClient) fiber.Handler {
	scratch := "bench-" + randHex(4)
	rdb.Set(context.Background(), "cp:{"+scratch+"}:left", 1<<40, time.Hour)
	script := redis.NewScript(orders.ClaimLua)
	return func(c *fiber.Ctx) error {
		user := c.Get(fiber.HeaderAuthorization)
		user = user[max(0, len(user)-26):]
		keys := []string{"cp:{" + scratch + "}:left", "cp:{" + scratch + "}:users", "cp:{" + scratch + "}:pending"}
		if err := script.Run(c.UserContext(), rdb, keys, user, 1<<30, user, time.Now().UnixMilli()).Err(); err != nil {
			return err
		}
		c.Status(fiber.StatusCreated)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"id":"x","campaign_id":"x","discount":500,"min_spend":5000,"status":"unused"}`)
	}
}

// naiveHandler is the purchase done the usual way: lock the product row,
// check and take the stock, record the purchase, commit.
func naiveHandler(db *bun.DB, prodID string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := db.RunInTx(c.UserContext(), nil, func(ctx context.Context, tx bun.Tx) error {
			var stock int64
			if err := tx.NewSelect().Table("products").Column("stock").Where("id = ?", prodID).For("UPDATE").Scan(ctx, &stock); err != nil {
				return err
			}
			if stock < 1 {
				return errors.New("sold out")
			}
			if _, err := tx.NewUpdate().Table("products").Set("stock = stock - 1").Where("id = ?", prodID).Exec(ctx); err != nil {
				return err
			}
			row := map[string]any{"id": "bench-" + catalog.NewID(), "type": "bench", "received_at": time.Now().UTC()}
			_, err := tx.NewInsert().Model(&row).TableExpr("payment_events").Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
		c.Status(fiber.StatusAccepted)
		return c.SendString(`{"status":"queued"}`)
	}
}
