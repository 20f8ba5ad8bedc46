// Package app is Miaohui's composition root: configuration, the HTTP server
// and its middleware, accounts and authentication, the mapping of domain
// errors to HTTP, the web pages, and the `fair` command.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"miaohui/app/account"
	"miaohui/app/web"
	"miaohui/catalog"
	"miaohui/orders"
)

// Server is the HTTP face of Miaohui: the JSON API under /api/v1 (described
// at /openapi.json), the web pages, and the operational endpoints.
type Server struct {
	*Services
	gate    *account.Gate
	auth    *account.Handler
	site    *web.Site
	limiter *RateLimiter
	metrics *Metrics
	pages   *pageCache // nil when FAIR_PAGE_CACHE_TTL is 0
	app     *fiber.App
	api     huma.API

	userLimits *limiters
	ipLimits   *limiters
	stop       chan struct{}
}

// NewServer builds the server over svc and mounts every route.
func NewServer(svc *Services) (*Server, error) {
	d := svc.Deps
	stop := make(chan struct{})
	gate, err := account.NewGate(context.Background(), svc.Accounts, d.Redis, stop)
	if err != nil {
		return nil, err
	}
	limiter := &RateLimiter{rdb: d.Redis}
	auth := account.NewHandler(svc.Accounts, svc.Inbox, svc.Enqueuer, limiter, d.Config.AuthAttemptsPerMinute)
	site, err := web.New(web.Deps{
		Logger: d.Logger, DB: d.DB, Redis: d.Redis, Now: d.Now, Accounts: svc.Accounts, Auth: auth,
		Catalog: svc.Catalog, Orders: svc.Orders, Admission: svc.Admission, Inbox: svc.Inbox,
		PublicURL: d.Config.PublicURL,
	})
	if err != nil {
		return nil, err
	}
	s := &Server{
		Services:   svc,
		gate:       gate,
		auth:       auth,
		site:       site,
		limiter:    limiter,
		userLimits: &limiters{rps: d.Config.FlashUserRPS},
		ipLimits:   &limiters{rps: d.Config.FlashIPRPS},
		stop:       stop,
		metrics:    NewMetrics(asynq.NewInspectorFromRedisClient(d.Redis)),
	}
	fcfg := fiber.Config{
		AppName:               "miaohui",
		BodyLimit:             d.Config.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		EnableIPValidation:    true,
		// Values taken from a request (params, headers, the body) outlive it:
		// admitted tickets, cached offers and rate-limit keys keep them. Fiber
		// reuses its buffers unless told otherwise.
		Immutable: true,
		// /api/v1/Checkout is not /api/v1/checkout: one spelling per route,
		// so checks on the path (Idempotency-Key) cannot be side-stepped.
		CaseSensitive: true,
	}
	if len(d.Config.TrustedProxies) > 0 {
		fcfg.EnableTrustedProxyCheck = true
		fcfg.TrustedProxies = d.Config.TrustedProxies
		fcfg.ProxyHeader = fiber.HeaderXForwardedFor
	}
	s.app = fiber.New(fcfg)
	// The purchase path comes first, before the general middleware.
	s.app.Post(purchaseRoute, s.flashPurchase)
	s.app.Post(claimRoute, s.couponClaim)
	go s.sweepLimiters()
	s.app.Use(requestid.New(), s.observe, s.recoverPanic, securityHeaders(), s.checkInput)
	// Pages, JSON, CSS and JS go out gzip- or brotli-compressed when the
	// client takes it (answers the page cache compressed already pass as they are).
	s.app.Use(compress.New(compress.Config{Level: compress.LevelDefault}))

	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.app.Get("/readyz", s.ready)
	s.app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})))
	// Hashed asset names (/static/app.<hash>.css) never change content.
	s.app.Get("/static/*", site.Asset)
	s.app.Use("/static", filesystem.New(filesystem.Config{Root: web.StaticFS(), MaxAge: 3600}))
	// Uploaded images never change: each upload gets a new name. A photo
	// stored before smaller copies were made is served for its copies' names.
	s.app.Get("/media/products/:file", s.mediaCopyFallback)
	s.app.Static("/media", s.Catalog.MediaDir(), fiber.Static{MaxAge: 365 * 24 * 3600, Browse: false})

	s.app.Use(s.gate.Authenticate, noStore, s.idempotency)
	if d.Config.PageCacheTTL > 0 {
		s.pages = newPageCache(d.Config.PageCacheTTL, d.Redis, d.Logger)
		s.pages.listen(stop)
		s.app.Use(s.pages.handle)
	}

	installHumaErrors()
	hc := huma.DefaultConfig("Miaohui API", "1.0.0")
	hc.Info.Description = "The JSON API of Miaohui, the online temple-fair marketplace. Money is integer fen; errors are RFC 9457 problem details."
	hc.Servers = []*huma.Server{{URL: "/"}}
	hc.DocsPath = "" // the reference UI would load scripts from a CDN
	hc.CreateHooks = nil
	hc.AllowAdditionalPropertiesByDefault = true
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "the token from POST /api/v1/auth/login"},
		"cookie": {Type: "apiKey", In: "cookie", Name: account.SessionCookie, Description: "browser session; unsafe methods also need the X-CSRF-Token header"},
	}
	s.api = humafiber.New(s.app, hc)

	auth.Routes(s.api)
	catalog.NewHandler(svc.Catalog, account.ActorOf).Routes(s.api)
	orders.NewHandler(svc.Orders, account.ActorOf).Routes(s.api)
	orders.NewWebhookHandler(svc.Orders, d.Config.StripeWebhookSecret).Routes(s.api)
	orders.NewFlashHandler(svc.Orders, svc.Admission, account.ActorOf).Routes(s.api)
	orders.NewCouponHandler(svc.Orders, svc.Admission, account.ActorOf).Routes(s.api)
	site.Routes(s.app)
	// Unmatched paths fall through to Fiber's 404, answered by handleError.
	return s, nil
}

// copyName is a photo copy's file name: ID-WIDTH.EXT.
var copyName = regexp.MustCompile(`^([0-9A-Za-z]+)-[0-9]+(\.jpg|\.png)$`)

// mediaCopyFallback serves the photo itself for a copy that was never made
// (photos uploaded before copies were); everything else goes on to the files.
func (s *Server) mediaCopyFallback(c *fiber.Ctx) error {
	m := copyName.FindStringSubmatch(c.Params("file"))
	if m == nil {
		return c.Next()
	}
	dir := filepath.Join(s.Catalog.MediaDir(), "products")
	if _, err := os.Stat(filepath.Join(dir, c.Params("file"))); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return c.Next()
	}
	if _, err := os.Stat(filepath.Join(dir, m[1]+m[2])); err != nil {
		return c.Next()
	}
	c.Path("/media/products/" + m[1] + m[2])
	return c.Next()
}

// App is the Fiber application (tests drive it with App().Test).
func (s *Server) App() *fiber.App { return s.app }

// API is the huma API (its OpenAPI document).
func (s *Server) API() huma.API { return s.api }

// Listen opens the server's address, explaining the usual failure: another
// program (or another fair) already has the port.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is already in use by another program; choose another address with FAIR_HTTP_ADDR, e.g. FAIR_HTTP_ADDR=:8081: %w", addr, err)
	}
	return ln, err
}

// Serve serves requests on ln until ctx ends, then shuts down gracefully
// within timeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.app.ShutdownWithContext(sctx)
}

// Close stops what the server started itself (the services stay open).
func (s *Server) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	return nil
}

func (s *Server) sweepLimiters() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.userLimits.sweep(now)
			s.ipLimits.sweep(now)
			s.gate.Sweep(now)
		}
	}
}

func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := fiber.Map{"database": "ok", "queue": "ok"}
	status := http.StatusOK
	if err := s.DB.PingContext(ctx); err != nil {
		checks["database"], status = err.Error(), http.StatusServiceUnavailable
	}
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		checks["queue"], status = err.Error(), http.StatusServiceUnavailable
	}
	return c.Status(status).JSON(checks)
}

// handleError is the one error handler for routes outside huma: API paths get
// problem+json, pages get an HTML page in the visitor's language.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := problemFor(c.UserContext(), err)
	if p.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, itoa(p.retryAfter))
	}
	if wantsHTML(c) {
		return s.site.Error(c, p.Status, err, p.Detail)
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).JSON(p, "application/problem+json")
}

// wantsHTML tells page requests (outside the API) from API and tool requests.
func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	if strings.HasPrefix(p, "/api/") || p == "/openapi.json" || p == "/metrics" {
		return false
	}
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/html") || c.Method() == http.MethodPost && strings.HasPrefix(c.Get(fiber.HeaderContentType), "application/x-www-form-urlencoded")
}
