package ops

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"bufio"

	"github.com/valyala/fasthttp"
)

// `fair bench browse` loads a running deployment's storefront as anonymous
// phones do: the fair page, a stall page, a product page, the product list
// API and searches, each for a few seconds over the same connections, and a
// bare Fiber handler (served by `fair bench references`, a process of its
// own as the deployment is) in the same run, then prints a table with each
// figure beside the bare handler's.

// browseSearches are the searches measured: characters, words, a phrase,
// pinyin and initials.
var browseSearches = []string{"糖", "灯笼", "汤包", "糖葫芦", "蟹黄 汤包", "tangbao", "tb"}

type browseOpts struct {
	target   string
	slug     string
	conns    int
	duration time.Duration
	encoding string
}

// browseRow is one measured path and its target.
type browseRow struct {
	name, path string
	minRatio   float64
	maxP99     time.Duration
	res        *loadResult
}

func benchBrowseCommand(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench browse", flag.ContinueOnError)
	fs.SetOutput(out)
	o := browseOpts{}
	fs.StringVar(&o.target, "url", "http://127.0.0.1:8080", "base URL of the running deployment")
	fs.StringVar(&o.slug, "fair", "seed-article", "the fair browsed (`fair seed --scale article` makes seed-article)")
	fs.IntVar(&o.conns, "conns", 64, "concurrent connections")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long each path is loaded")
	fs.StringVar(&o.encoding, "accept-encoding", "gzip, br", "Accept-Encoding the phones send (browsers send gzip and br); empty: none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.conns < 1 || o.duration <= 0 {
		return errors.New("bench browse: conns and duration must be positive")
	}
	u, err := url.Parse(o.target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bench browse: bad --url %q", o.target)
	}
	host := u.Host
	client := &fasthttp.HostClient{Addr: host, MaxConns: o.conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxIdemponentCallAttempts: 1}

	stallID, productID, err := browseIDs(client, o.slug)
	if err != nil {
		return err
	}
	rows := []*browseRow{
		{name: "fair page", path: "/fairs/" + o.slug, minRatio: 0.3, maxP99: 50 * time.Millisecond},
		{name: "stall page", path: "/stalls/" + stallID, minRatio: 0.3, maxP99: 50 * time.Millisecond},
		{name: "product page", path: "/products/" + productID, minRatio: 0.3, maxP99: 50 * time.Millisecond},
		{name: "product list API", path: "/api/v1/fairs/" + o.slug + "/products", minRatio: 0.3, maxP99: 50 * time.Millisecond},
	}
	for _, q := range browseSearches {
		rows = append(rows, &browseRow{name: "search " + q, path: "/api/v1/fairs/" + o.slug + "/products?q=" + url.QueryEscape(q), minRatio: 0.1, maxP99: 100 * time.Millisecond})
	}
	fmt.Fprintf(out, "fair bench browse: fair %s, %d connections, %s a path, %d CPUs, target %s, Accept-Encoding %q\n",
		o.slug, o.conns, o.duration, runtime.NumCPU(), o.target, o.encoding)

	bare, err := browseBare(ctx, o)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fmt.Fprintf(os.Stderr, "loading %s\n", r.path)
		getLoad(client, r.path, o, 2*time.Second) // unmeasured: connections open, caches filled
		r.res = getLoad(client, r.path, o, o.duration)
		if r.res.s2xx == 0 {
			return fmt.Errorf("bench browse: %s answered no 2xx (%d 4xx, %d 5xx, %d errors)", r.path, r.res.s4xx, r.res.s5xx, r.res.errs)
		}
	}

	fmt.Fprintf(out, "\n| path | req/s | × bare | p50 | p99 | non-2xx | target | met |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(out, "| bare Fiber handler | %.0f | 1.00 | %s | %s | %d | | |\n", bare.rps(), ms(bare.pct(0.5)), ms(bare.pct(0.99)), bare.requests-bare.s2xx)
	met := 0
	for _, r := range rows {
		ratio := r.res.rps() / bare.rps()
		ok := ratio >= r.minRatio && r.res.pct(0.99) < r.maxP99
		if ok {
			met++
		}
		fmt.Fprintf(out, "| %s `%s` | %.0f | %.2f | %s | %s | %d | ≥ %.1f×, p99 < %s | %s |\n", r.name, r.path, r.res.rps(), ratio,
			ms(r.res.pct(0.5)), ms(r.res.pct(0.99)), r.res.requests-r.res.s2xx, r.minRatio, r.maxP99, map[bool]string{true: "yes", false: "no"}[ok])
	}
	fmt.Fprintf(out, "\n%d of %d targets met\n", met, len(rows))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// browseIDs finds a stall and a product of the fair through the public API.
func browseIDs(client *fasthttp.HostClient, slug string) (stallID, productID string, err error) {
	get := func(path string) (string, error) {
		status, body, err := client.Get(nil, "http://"+client.Addr+path)
		if err != nil {
			return "", err
		}
		if status != 200 {
			return "", fmt.Errorf("bench browse: GET %s: %d (is the fair seeded? fair seed --scale article)", path, status)
		}
		var list struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &list); err != nil || len(list.Items) == 0 {
			return "", fmt.Errorf("bench browse: GET %s: no items", path)
		}
		return list.Items[len(list.Items)/2].ID, nil
	}
	if stallID, err = get("/api/v1/fairs/" + slug + "/stalls"); err != nil {
		return "", "", err
	}
	productID, err = get("/api/v1/fairs/" + slug + "/products")
	return stallID, productID, err
}

// browseBare starts `fair bench references` and loads its GET /bare.
func browseBare(ctx context.Context, o browseOpts) (*loadResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "bench", "references")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, found := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !found {
		return nil, fmt.Errorf("bench references did not start: %q %v", line, err)
	}
	client := &fasthttp.HostClient{Addr: addr, MaxConns: o.conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxIdemponentCallAttempts: 1}
	fmt.Fprintf(os.Stderr, "reference bare on %s\n", addr)
	getLoad(client, "/bare", o, 2*time.Second)
	r := getLoad(client, "/bare", o, o.duration)
	if r.s5xx > 0 || r.errs > 0 {
		return r, fmt.Errorf("reference bare: %d 5xx, %d errors", r.s5xx, r.errs)
	}
	return r, nil
}

// getLoad sends GET path from o.conns workers over client until run ends.
func getLoad(client *fasthttp.HostClient, path string, o browseOpts, run time.Duration) *loadResult {
	res := &loadResult{start: time.Now()}
	deadline := res.start.Add(run)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + client.Addr + path)
			if o.encoding != "" {
				req.Header.Set(fasthttp.HeaderAcceptEncoding, o.encoding)
			}
			var local loadResult
			local.lat = make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				t := time.Now()
				err := client.Do(req, resp)
				lat := time.Since(t)
				local.requests++
				if err != nil {
					local.errs++
					continue
				}
				local.lat = append(local.lat, lat)
				switch code := resp.StatusCode(); {
				case code >= 500:
					local.s5xx++
				case code >= 400:
					local.s4xx++
				default:
					local.s2xx++
				}
			}
			mu.Lock()
			res.requests += local.requests
			res.s2xx += local.s2xx
			res.s4xx += local.s4xx
			res.s5xx += local.s5xx
			res.errs += local.errs
			res.lat = append(res.lat, local.lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.end = time.Now()
	slices.Sort(res.lat)
	return res
}
