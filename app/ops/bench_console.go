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
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// `fair bench console` measures, against a running deployment, the
// organizer's console of a big fair (`fair seed --scale article`: 800
// stalls and their applications) as its organizer uses it: every page of
// the stalls and of the applications through the API, each stall found by
// a search of its name and each application by its merchant's email, and
// the console page itself, paged and searched. It reports the latencies of
// each case and overall; the target is a p95 under 100 ms.

type consoleBenchOpts struct {
	target, slug, email, password string
	rounds, conns, limit          int
	target95                      time.Duration
}

func benchConsoleCommand(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("bench console", flag.ContinueOnError)
	fs.SetOutput(out)
	o := consoleBenchOpts{}
	fs.StringVar(&o.target, "url", "http://127.0.0.1:8080", "base URL of the running deployment")
	fs.StringVar(&o.slug, "fair", "seed-article", "the fair's slug")
	fs.StringVar(&o.email, "email", "", "the organizer's email (default: the one `fair seed` made for the fair)")
	fs.StringVar(&o.password, "password", "", "the organizer's password (default: the one `fair seed` made)")
	fs.IntVar(&o.rounds, "rounds", 3, "how many times each case runs")
	fs.IntVar(&o.conns, "conns", 4, "concurrent connections (searches run in parallel; a paging walk is sequential)")
	fs.IntVar(&o.limit, "limit", 100, "page size of the API's lists (at most 100)")
	fs.DurationVar(&o.target95, "target-p95", 100*time.Millisecond, "the p95 the console must stay under")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.slug == "" || o.rounds < 1 || o.conns < 1 || o.limit < 1 || o.limit > 100 {
		return errors.New("usage: fair bench console [--fair seed-article] [--url U] [--rounds N] [--conns N] [--limit 1..100] [--email E --password P]")
	}
	if o.email == "" || o.password == "" {
		e, p := seedOrganizer(o.slug)
		o.email = cmpOr(o.email, e)
		o.password = cmpOr(o.password, p)
	}
	u, err := url.Parse(o.target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bench console: bad --url %q", o.target)
	}
	client := &fasthttp.HostClient{Addr: u.Host, MaxConns: o.conns, ReadTimeout: 60 * time.Second, WriteTimeout: 10 * time.Second, MaxResponseBodySize: 64 << 20}
	token, err := benchLogin(client, u.Host, o.email, o.password)
	if err != nil {
		return err
	}
	cb := &consoleBench{o: o, client: client, host: u.Host, token: token, lat: map[string][]time.Duration{}}
	fmt.Fprintf(out, "fair bench console: fair %s at %s, %d round(s), %d connection(s), API pages of %d, signed in as %s\n",
		o.slug, o.target, o.rounds, o.conns, o.limit, o.email)
	esc := url.PathEscape(o.slug)
	stallsPath, appsPath := "/api/v1/fairs/"+esc+"/stalls", "/api/v1/fairs/"+esc+"/applications"
	var stalls, apps []consoleItem
	for round := 0; round < o.rounds; round++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if stalls, err = cb.walk("page stalls (API)", stallsPath); err != nil {
			return err
		}
		if apps, err = cb.walk("page applications (API)", appsPath); err != nil {
			return err
		}
		// Every stall by its name's number (·001), every application by
		// its merchant's email, in parallel as the connections allow.
		var paths []consoleGet
		for i, st := range stalls {
			if q := stallNameKey(st.Name); q != "" {
				paths = append(paths, consoleGet{"search stalls (API)", stallsPath + "?q=" + url.QueryEscape(q), st.ID})
			}
			if i < len(apps) {
				paths = append(paths, consoleGet{"search applications (API)", appsPath + "?q=" + url.QueryEscape(fmt.Sprintf("merchant-%d@%s.seed.miaohui.cn", i, o.slug)), ""})
			}
		}
		page := "/organizer/fairs/" + esc
		paths = append(paths, consoleGet{"console page", page, ""})
		for i := 49; i < len(stalls); i += 50 {
			paths = append(paths, consoleGet{"console page", page + "?scursor=" + url.QueryEscape(stalls[i].ID), ""})
		}
		for i := 49; i < len(apps); i += 50 {
			paths = append(paths, consoleGet{"console page", page + "?acursor=" + url.QueryEscape(apps[i].ID), ""})
		}
		for i := 0; i < len(stalls); i += 40 {
			if q := stallNameKey(stalls[i].Name); q != "" {
				paths = append(paths, consoleGet{"console page", page + "?sq=" + url.QueryEscape(q) + "&aq=" + url.QueryEscape(q), ""})
			}
		}
		if err := cb.parallel(paths); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "fair: %d stalls, %d applications\n", len(stalls), len(apps))
	var all []time.Duration
	for _, name := range []string{"page stalls (API)", "page applications (API)", "search stalls (API)", "search applications (API)", "console page"} {
		lat := cb.lat[name]
		all = append(all, lat...)
		slices.Sort(lat)
		fmt.Fprintf(out, "%-26s %5d requests: p50 %s, p95 %s, p99 %s, max %s\n", name, len(lat), pctOf(lat, 0.50), pctOf(lat, 0.95), pctOf(lat, 0.99), pctOf(lat, 1))
	}
	slices.Sort(all)
	p95 := pctOf(all, 0.95)
	verdict := "under"
	if len(all) == 0 || all[int(0.95*float64(len(all)-1)+0.5)] >= o.target95 {
		verdict = "OVER"
	}
	fmt.Fprintf(out, "%-26s %5d requests: p50 %s, p95 %s (%s the %s target), p99 %s, max %s\n", "all", len(all), pctOf(all, 0.50), p95, verdict, o.target95, pctOf(all, 0.99), pctOf(all, 1))
	if cb.failed > 0 {
		return fmt.Errorf("bench console: %d requests failed (%s)", cb.failed, cb.lastErr)
	}
	return nil
}

// consoleItem is the part of a stall or application the bench reads.
type consoleItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	StallName string `json:"stall_name"`
}

// consoleGet is one request of a parallel case: its case name, path, and
// the id it must find (a search), if any.
type consoleGet struct{ name, path, want string }

type consoleBench struct {
	o       consoleBenchOpts
	client  *fasthttp.HostClient
	host    string
	token   string
	mu      sync.Mutex
	lat     map[string][]time.Duration
	failed  int
	lastErr string
}

// get requests path as the organizer and records its latency under name.
func (cb *consoleBench) get(name, path string) ([]byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+cb.token)
	req.SetRequestURI("http://" + cb.host + path)
	t := time.Now()
	err := cb.client.Do(req, resp)
	lat := time.Since(t)
	if err == nil && resp.StatusCode() != 200 {
		err = fmt.Errorf("GET %s: status %d", path, resp.StatusCode())
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if err != nil {
		cb.failed++
		cb.lastErr = err.Error()
		return nil, err
	}
	cb.lat[name] = append(cb.lat[name], lat)
	return append([]byte(nil), resp.Body()...), nil
}

// walk pages through a list to its end, one page after the other, and
// returns its items.
func (cb *consoleBench) walk(name, path string) ([]consoleItem, error) {
	var items []consoleItem
	cursor := ""
	for pages := 0; pages < 10000; pages++ {
		p := fmt.Sprintf("%s?limit=%d", path, cb.o.limit)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		body, err := cb.get(name, p)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items      []consoleItem `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		items = append(items, page.Items...)
		if page.NextCursor == nil {
			return items, nil
		}
		cursor = *page.NextCursor
	}
	return nil, fmt.Errorf("%s: the pages do not end", path)
}

// parallel sends the gets over the connections; a search that does not
// find what it looks for is a failure.
func (cb *consoleBench) parallel(gets []consoleGet) error {
	work := make(chan consoleGet)
	var wg sync.WaitGroup
	for range cb.o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				body, err := cb.get(g.name, g.path)
				if err == nil && g.want != "" && !strings.Contains(string(body), `"id":"`+g.want+`"`) {
					cb.mu.Lock()
					cb.failed++
					cb.lastErr = "GET " + g.path + " did not find " + g.want
					cb.mu.Unlock()
				}
			}
		}()
	}
	for _, g := range gets {
		work <- g
	}
	close(work)
	wg.Wait()
	return nil
}

// stallNameKey is the part of a seeded stall's name that is its own: the
// number after the "·" (e.g. ·042); "" for a name without one.
func stallNameKey(name string) string {
	if i := strings.LastIndex(name, "·"); i >= 0 {
		return name[i:]
	}
	return ""
}

// pctOf is the q-quantile of sorted latencies.
func pctOf(lat []time.Duration, q float64) string {
	if len(lat) == 0 {
		return "-"
	}
	return ms(lat[int(q*float64(len(lat)-1)+0.5)])
}
