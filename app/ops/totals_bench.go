package ops

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// `fair bench totals` measures, against a running deployment, the latency
// of a fair's totals as its organizer reads them: the API
// (GET /api/v1/fairs/{slug}/totals) and the dashboard page
// (GET /organizer/fairs/{slug}/dashboard), which computes the same totals
// to render them.

type totalsBenchOpts struct {
	target, slug, email, password string
	requests, conns, warmup       int
}

func benchTotalsCommand(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench totals", flag.ContinueOnError)
	fs.SetOutput(out)
	o := totalsBenchOpts{}
	fs.StringVar(&o.target, "url", "http://127.0.0.1:8080", "base URL of the running deployment")
	fs.StringVar(&o.slug, "fair", "", "the fair's slug")
	fs.StringVar(&o.email, "email", "", "the organizer's email (default: the one `fair seed` made for the fair)")
	fs.StringVar(&o.password, "password", "", "the organizer's password (default: the one `fair seed` made)")
	fs.IntVar(&o.requests, "requests", 200, "requests per endpoint")
	fs.IntVar(&o.conns, "conns", 4, "concurrent connections")
	fs.IntVar(&o.warmup, "warmup", 5, "unmeasured requests per endpoint first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.slug == "" || o.requests < 1 || o.conns < 1 {
		return errors.New("usage: fair bench totals --fair SLUG [--url U] [--requests N] [--conns N] [--email E --password P]")
	}
	if o.email == "" || o.password == "" {
		e, p := seedOrganizer(o.slug)
		o.email = cmpOr(o.email, e)
		o.password = cmpOr(o.password, p)
	}
	u, err := url.Parse(o.target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bench totals: bad --url %q", o.target)
	}
	client := &fasthttp.HostClient{Addr: u.Host, MaxConns: o.conns, ReadTimeout: 120 * time.Second, WriteTimeout: 10 * time.Second,
		MaxResponseBodySize: 64 << 20}
	token, err := benchLogin(client, u.Host, o.email, o.password)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "fair bench totals: fair %s at %s, %d requests per endpoint over %d connection(s), signed in as %s\n",
		o.slug, o.target, o.requests, o.conns, o.email)
	paths := []struct{ name, path string }{
		{"API totals", "/api/v1/fairs/" + url.PathEscape(o.slug) + "/totals"},
		{"dashboard", "/organizer/fairs/" + url.PathEscape(o.slug) + "/dashboard"},
	}
	failed := false
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := benchGet(client, u.Host, p.path, token, o.warmup, o.requests, o.conns)
		fmt.Fprintf(out, "%-11s GET %s: %d ok, %d failed (last status %d, %s), %.1f req/s, %s per response\n",
			p.name, p.path, r.ok, r.failed, r.lastStatus, r.lastErr, r.rps, byteSize(r.bytes))
		fmt.Fprintf(out, "            latency: p50 %s, p95 %s, p99 %s, max %s\n",
			r.pct(0.50), r.pct(0.95), r.pct(0.99), r.pct(1))
		failed = failed || r.failed > 0
	}
	if failed {
		return errors.New("bench totals: some requests failed")
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func benchLogin(client *fasthttp.HostClient, host, email, password string) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetRequestURI("http://" + host + "/api/v1/auth/login")
	req.SetBody(body)
	if err := client.Do(req, resp); err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	if resp.StatusCode() != 200 {
		return "", fmt.Errorf("sign in as %s: status %d: %s", email, resp.StatusCode(), resp.Body())
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(resp.Body(), &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("sign in: no token in %q", resp.Body())
	}
	return out.Token, nil
}

type totalsBenchResult struct {
	ok, failed, lastStatus int
	lastErr                string
	bytes                  int
	rps                    float64
	lat                    []time.Duration
}

func (r *totalsBenchResult) pct(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(q*float64(len(r.lat)-1)+0.5)]
}

func benchGet(client *fasthttp.HostClient, host, path, token string, warmup, n, conns int) *totalsBenchResult {
	res := &totalsBenchResult{lastErr: "-"}
	var mu sync.Mutex
	var next atomic.Int64
	run := func(total int, record bool) {
		next.Store(0)
		var wg sync.WaitGroup
		for range min(conns, total) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.Header.SetMethod(fasthttp.MethodGet)
				req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+token)
				req.SetRequestURI("http://" + host + path)
				for next.Add(1) <= int64(total) {
					t := time.Now()
					err := client.Do(req, resp)
					lat := time.Since(t)
					if !record {
						continue
					}
					mu.Lock()
					switch {
					case err != nil:
						res.failed++
						res.lastErr = err.Error()
					case resp.StatusCode() != 200:
						res.failed++
						res.lastStatus = resp.StatusCode()
					default:
						res.ok++
						res.lastStatus = 200
						res.bytes = len(resp.Body())
						res.lat = append(res.lat, lat)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if warmup > 0 {
		run(warmup, false)
	}
	t0 := time.Now()
	run(n, true)
	res.rps = float64(res.ok+res.failed) / time.Since(t0).Seconds()
	slices.Sort(res.lat)
	return res
}
