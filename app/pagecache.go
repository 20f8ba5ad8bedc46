package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/singleflight"

	"miaohui/app/account"
	"miaohui/app/web"
	"miaohui/catalog"
)

// The page cache serves the public pages and lists (the fairs, a fair, its
// stalls, products, search and flash sales, in HTML and JSON) to anonymous
// visitors from memory: each is rendered once per TTL whatever the number of
// visitors asking at the same moment (single flight), kept in a bounded LRU,
// sent with a strong ETag (If-None-Match → 304) and a short public
// Cache-Control, and its gzip and brotli forms are compressed once.
//
// Only anonymous requests are cached: a request with credentials or a cookie
// other than the language choice is rendered for its sender, as before, and
// said no-store. A page therefore never carries a name, a cart, a bell or a
// CSRF token from one visitor to another.
//
// Every successful write through the HTTP server (API or form) drops the
// whole cache of its process at once and, through Redis pub/sub, of every
// other `fair serve` process; writes made elsewhere (workers expiring orders,
// the flash admission queue) show within the TTL. Flash-sale paths use a
// TTL of at most a second, as their remaining units move, and a sale's
// page fills in its live count from GET /api/v1/flash-sales/{id}, which is
// not cached.
type pageCache struct {
	ttl      time.Duration
	flashTTL time.Duration
	entries  *lru.Cache[string, *cachedPage]
	fills    singleflight.Group
	gen      atomic.Uint64 // bumped by every drop; fills begun before one are not kept
	bytes    atomic.Int64  // the size of the bodies kept
	rdb      redis.UniversalClient
	channel  string
	origin   string
	log      *slog.Logger
}

// pageCacheChannel is the Redis channel on which processes tell each other
// to drop their caches; the message is the sender's origin id. Channels are
// not scoped by database number, so the channel names it: deployments on
// the databases of one Redis server do not drop each other's caches.
func pageCacheChannel(rdb redis.UniversalClient) string {
	db := 0
	if c, ok := rdb.(interface{ Options() *redis.Options }); ok {
		db = c.Options().DB
	}
	return "fair:pagecache:drop:" + strconv.Itoa(db)
}

// pageCacheEntries and pageCacheBytes bound the cached answers, by number
// and by the size of their bodies (the least recently used go first); an
// answer larger than pageCacheMaxBody is never kept.
const (
	pageCacheEntries = 2048
	pageCacheBytes   = 64 << 20
	pageCacheMaxBody = 1 << 20
)

// cachedPage is one kept answer and its compressed forms, made on demand.
type cachedPage struct {
	status      int
	contentType string
	body        []byte
	hash        string // strong ETag of the identity body, without quotes
	expires     time.Time
	gen         uint64
	refreshing  atomic.Bool // one request renders it again once expired

	gzOnce, brOnce sync.Once
	gz, br         []byte
}

func newPageCache(ttl time.Duration, rdb redis.UniversalClient, log *slog.Logger) *pageCache {
	pc := &pageCache{}
	entries, err := lru.NewWithEvict(pageCacheEntries, func(_ string, p *cachedPage) { pc.bytes.Add(-int64(len(p.body))) })
	if err != nil {
		panic(err) // only for a non-positive size
	}
	*pc = pageCache{ttl: ttl, flashTTL: min(ttl, time.Second), entries: entries, rdb: rdb, channel: pageCacheChannel(rdb), origin: catalog.NewID(), log: log}
	return pc
}

// keep adds p under key, then evicts the least recently used answers while
// the bodies kept pass pageCacheBytes.
func (pc *pageCache) keep(key string, p *cachedPage) {
	pc.entries.Remove(key) // a replaced answer's bytes are counted out
	pc.bytes.Add(int64(len(p.body)))
	pc.entries.Add(key, p)
	for pc.bytes.Load() > pageCacheBytes {
		if _, _, ok := pc.entries.RemoveOldest(); !ok {
			return
		}
	}
}

// listen follows the other processes' drops until stop closes. It returns
// once subscribed (or after a short wait if Redis does not answer: go-redis
// keeps trying, and the TTL bounds what a process misses meanwhile).
func (pc *pageCache) listen(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	sub := pc.rdb.Subscribe(ctx, pc.channel)
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := sub.Receive(rctx); err != nil {
		pc.log.Warn("page cache: not subscribed to drops yet", "error", err)
	}
	rcancel()
	ch := sub.Channel()
	go func() {
		defer cancel()
		defer sub.Close()
		for {
			select {
			case <-stop:
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				if m.Payload != pc.origin {
					pc.drop()
				}
			}
		}
	}()
}

// drop forgets every kept answer in this process.
func (pc *pageCache) drop() {
	pc.gen.Add(1)
	pc.entries.Purge()
}

// dropEverywhere drops this process's answers, then tells the others.
func (pc *pageCache) dropEverywhere(ctx context.Context) {
	pc.drop()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := pc.rdb.Publish(ctx, pc.channel, pc.origin).Err(); err != nil {
		account.Log(ctx).Warn("page cache: drop not published", "error", err)
	}
}

// cachedRoutes are the public reads the cache serves, as path segments
// ("*" is any one segment).
var cachedRoutes = [][]string{
	{""}, // the home page: "/"
	{"fairs", "*"},
	{"fairs", "*", "search"},
	{"fairs", "*", "flash-sales"},
	{"stalls", "*"},
	{"products", "*"},
	{"flash-sales", "*"},
	{"api", "v1", "fairs"},
	{"api", "v1", "fairs", "*"},
	{"api", "v1", "fairs", "*", "stalls"},
	{"api", "v1", "fairs", "*", "products"},
	{"api", "v1", "fairs", "*", "flash-sales"},
	{"api", "v1", "fairs", "*", "suggest"},
	{"api", "v1", "stalls", "*"},
	{"api", "v1", "products", "*"},
	// Not GET /api/v1/flash-sales/{id}: it is the live count of a sale's
	// remaining units that the sale's page polls, answered from the
	// admission queue's own memory.
}

// ttlFor is how long the answer at path may be served from memory; false
// when the path is not cached.
func (pc *pageCache) ttlFor(path string) (time.Duration, bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, r := range cachedRoutes {
		if len(r) != len(segs) {
			continue
		}
		ok := true
		for i, s := range r {
			if s == "*" && segs[i] == "" || s != "*" && s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			if slices.Contains(segs, "flash-sales") {
				return pc.flashTTL, true
			}
			return pc.ttl, true
		}
	}
	return 0, false
}

// noDropPrefixes are the unsafe requests that cannot change a public page:
// signing in and out, registering, reading one's notifications, the cart.
var noDropPrefixes = []string{"/api/v1/auth/", "/login", "/logout", "/register", "/lang/", "/account/notifications/", "/api/v1/me/notifications", "/api/v1/cart", "/cart"}

// anonymous tells a request the cache may answer: no credentials, and no
// cookie but the language choice (a session, or a one-time flash message,
// makes a page the visitor's own).
func anonymous(c *fiber.Ctx) bool {
	if _, signedIn := account.From(c.UserContext()); signedIn {
		return false
	}
	if len(c.Request().Header.Peek(fiber.HeaderAuthorization)) > 0 {
		return false
	}
	other := false
	c.Request().Header.VisitAllCookie(func(k, _ []byte) {
		if string(k) != web.LangCookie {
			other = true
		}
	})
	return !other
}

// key is the path, the sorted query and the page language.
func cacheKey(c *fiber.Ctx) (string, bool) {
	args := c.Context().QueryArgs()
	if len(c.Request().URI().QueryString()) > 512 {
		return "", false
	}
	var pairs []string
	args.VisitAll(func(k, v []byte) { pairs = append(pairs, string(k)+"="+string(v)) })
	slices.Sort(pairs)
	var b strings.Builder
	b.WriteString(c.Path())
	b.WriteByte('?')
	b.WriteString(strings.Join(pairs, "&"))
	b.WriteByte('|')
	b.WriteString(web.Lang(c))
	return b.String(), true
}

// handle is the middleware: cached reads are answered from memory, and
// successful writes drop what they may have changed.
func (pc *pageCache) handle(c *fiber.Ctx) error {
	switch c.Method() {
	case http.MethodGet:
	case http.MethodHead, http.MethodOptions:
		return c.Next()
	default:
		err := c.Next()
		if err == nil && c.Response().StatusCode() < 400 && dropsCache(c.Path()) {
			pc.dropEverywhere(c.UserContext())
		}
		return err
	}
	ttl, ok := pc.ttlFor(c.Path())
	if !ok || !anonymous(c) {
		return c.Next()
	}
	key, ok := cacheKey(c)
	if !ok {
		return c.Next()
	}
	if p, ok := pc.entries.Get(key); ok && p.gen == pc.gen.Load() {
		// Fresh: served. Expired: the first request renders it again while
		// the others are served what is kept, for at most another TTL (a
		// write drops it at once, so nothing older than a write is served).
		now := time.Now()
		if now.Before(p.expires) || now.Before(p.expires.Add(ttl)) && !p.refreshing.CompareAndSwap(false, true) {
			return pc.write(c, p, ttl)
		}
	}
	gen := pc.gen.Load()
	leader := false
	v, err, _ := pc.fills.Do(key, func() (any, error) {
		leader = true
		if err := c.Next(); err != nil {
			return nil, err
		}
		p := captured(c)
		if p == nil {
			return nil, nil
		}
		p.expires, p.gen = time.Now().Add(ttl), gen
		if pc.gen.Load() == gen {
			pc.keep(key, p)
		}
		return p, nil
	})
	p, _ := v.(*cachedPage)
	switch {
	case leader && err != nil:
		return err
	case p != nil:
		return pc.write(c, p, ttl)
	case leader:
		return nil // answered already, and not for keeping
	default:
		return c.Next() // the leader's answer was not kept: render our own
	}
}

func dropsCache(path string) bool {
	for _, pre := range noDropPrefixes {
		if strings.HasPrefix(path, pre) {
			return false
		}
	}
	return true
}

// captured keeps the answer the handler wrote if it is a plain public 200.
func captured(c *fiber.Ctx) *cachedPage {
	res := c.Response()
	if res.StatusCode() != http.StatusOK || len(res.Header.ContentEncoding()) > 0 || len(res.Body()) > pageCacheMaxBody {
		return nil
	}
	setsCookie := false
	res.Header.VisitAllCookie(func(_, _ []byte) { setsCookie = true })
	if setsCookie {
		return nil
	}
	body := slices.Clone(res.Body())
	sum := sha256.Sum256(body)
	return &cachedPage{status: http.StatusOK, contentType: string(res.Header.ContentType()), body: body, hash: hex.EncodeToString(sum[:16])}
}

// write answers from p: 304 when the client holds it, else the body in the
// best encoding the client accepts.
func (pc *pageCache) write(c *fiber.Ctx, p *cachedPage, ttl time.Duration) error {
	res := &c.Response().Header
	res.Set(fiber.HeaderCacheControl, "public, max-age="+strconv.Itoa(max(1, int(ttl/time.Second))))
	c.Vary(fiber.HeaderAcceptEncoding, fiber.HeaderAcceptLanguage, fiber.HeaderCookie, fiber.HeaderAuthorization)
	body, enc, tag := p.body, "", p.hash
	if len(p.body) >= 512 {
		switch ae := c.Get(fiber.HeaderAcceptEncoding); {
		case strings.Contains(ae, "br"):
			body, enc, tag = p.brotli(), "br", p.hash+"-br"
		case strings.Contains(ae, "gzip"):
			body, enc, tag = p.gzip(), "gzip", p.hash+"-gz"
		}
	}
	res.Set(fiber.HeaderETag, `"`+tag+`"`)
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), p.hash) {
		c.Response().ResetBody()
		return c.SendStatus(http.StatusNotModified)
	}
	res.SetContentType(p.contentType)
	if enc != "" {
		res.Set(fiber.HeaderContentEncoding, enc)
	}
	c.Status(p.status)
	return c.Send(body)
}

func (p *cachedPage) gzip() []byte {
	p.gzOnce.Do(func() { p.gz = fasthttp.AppendGzipBytesLevel(nil, p.body, fasthttp.CompressDefaultCompression) })
	return p.gz
}

func (p *cachedPage) brotli() []byte {
	p.brOnce.Do(func() { p.br = fasthttp.AppendBrotliBytesLevel(nil, p.body, fasthttp.CompressBrotliDefaultCompression) })
	return p.br
}

// etagMatches tells whether an If-None-Match header names the body with
// hash, in any of its encodings.
func etagMatches(header, hash string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.Trim(strings.TrimPrefix(t, "W/"), `"`)
		t = strings.TrimSuffix(strings.TrimSuffix(t, "-br"), "-gz")
		if t == hash {
			return true
		}
	}
	return false
}
