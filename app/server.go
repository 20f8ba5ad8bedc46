// Package app is Miaohui's composition root: configuration, the HTTP server
// and its middleware, accounts and authentication, the mapping of domain
// errors to HTTP, the web pages, and the `fair` command.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

// Deps are the parts a Server is built from.
type Deps struct {
	Config Config
	Logger *slog.Logger
	DB     *bun.DB
	Redis  redis.UniversalClient
	Now    catalog.Clock
}

// Server is the HTTP face of Miaohui: the JSON API under /api/v1 (described
// at /openapi.json), the web pages, and the operational endpoints.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *bun.DB
	rdb      redis.UniversalClient
	now      catalog.Clock
	accounts *Accounts
	catalog  *catalog.Service
	orders   *orders.Service
	events   *jobs.OrderEvents
	flash    *orders.Admission
	inbox    *jobs.Inbox
	enqueue  *jobs.Enqueuer
	limiter  *RateLimiter
	metrics  *Metrics
	web      *Web
	app      *fiber.App
	api      huma.API

	revoked    *revocations
	verified   *verifiedTokens
	userLimits *limiters
	ipLimits   *limiters
	stop       chan struct{}
}

// NewServer builds the server and mounts every route.
func NewServer(d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = catalog.SystemClock
	}
	accounts, err := NewAccounts(context.Background(), d.DB, d.Now, d.Config.PasswordMemoryKiB, d.Config.PasswordIterations)
	if err != nil {
		return nil, err
	}
	web, err := NewWeb()
	if err != nil {
		return nil, err
	}
	provider, err := NewProvider(d.Config)
	if err != nil {
		return nil, err
	}
	// Tasks are queued over the client's autopipeliner: a flash sale's
	// winners, queued together once its burst is over, share round trips.
	var queueRedis redis.UniversalClient = d.Redis
	if ap, err := d.Redis.AutoPipeline(); err == nil {
		queueRedis = ap
	}
	enqueue := jobs.NewEnqueuer(queueRedis, d.Logger)
	events := jobs.NewOrderEvents(enqueue, d.DB)
	cat := catalog.NewService(d.DB, d.Now, d.Config.DataDir, events)
	s := &Server{
		cfg:        d.Config,
		log:        d.Logger,
		db:         d.DB,
		rdb:        d.Redis,
		now:        d.Now,
		accounts:   accounts,
		catalog:    cat,
		orders:     orders.NewService(d.DB, cat, provider, events, d.Now, d.Config.PaymentWindow),
		events:     events,
		inbox:      jobs.NewInbox(d.DB, d.Now).WithUsers(accounts),
		enqueue:    enqueue,
		limiter:    &RateLimiter{rdb: d.Redis},
		revoked:    &revocations{},
		verified:   newVerifiedTokens(),
		userLimits: &limiters{rps: d.Config.FlashUserRPS},
		ipLimits:   &limiters{rps: d.Config.FlashIPRPS},
		stop:       make(chan struct{}),
		metrics:    NewMetrics(asynq.NewInspectorFromRedisClient(d.Redis)),
		web:        web,
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
	s.flash = orders.NewAdmission(d.Redis, s.orders, d.Now)
	if err := s.watchRevocations(); err != nil {
		return nil, err
	}
	s.app = fiber.New(fcfg)
	// The purchase path comes first, before the general middleware.
	s.app.Post(purchaseRoute, s.flashPurchase)
	go s.sweepLimiters()
	s.app.Use(requestid.New(), s.observe, s.recoverPanic, securityHeaders())

	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	s.app.Get("/readyz", s.ready)
	s.app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})))
	s.app.Use("/static", filesystem.New(filesystem.Config{Root: staticFS(), MaxAge: 3600}))
	// Uploaded images never change: each upload gets a new name.
	s.app.Static("/media", s.catalog.MediaDir(), fiber.Static{MaxAge: 365 * 24 * 3600, Browse: false})

	s.app.Use(s.authenticate, s.idempotency)

	installHumaErrors()
	hc := huma.DefaultConfig("Miaohui API", "1.0.0")
	hc.Info.Description = "The JSON API of Miaohui, the online temple-fair marketplace. Money is integer fen; errors are RFC 9457 problem details."
	hc.Servers = []*huma.Server{{URL: "/"}}
	hc.DocsPath = "" // the reference UI would load scripts from a CDN
	hc.CreateHooks = nil
	hc.AllowAdditionalPropertiesByDefault = true
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "the token from POST /api/v1/auth/login"},
		"cookie": {Type: "apiKey", In: "cookie", Name: sessionCookie, Description: "browser session; unsafe methods also need the X-CSRF-Token header"},
	}
	s.api = humafiber.New(s.app, hc)

	s.accountRoutes(s.api)
	catalog.NewHandler(s.catalog, actorOf).Routes(s.api)
	orders.NewHandler(s.orders, actorOf).Routes(s.api)
	orders.NewWebhookHandler(s.orders, d.Config.StripeWebhookSecret).Routes(s.api)
	orders.NewFlashHandler(s.orders, s.flash, actorOf).Routes(s.api)
	s.pageRoutes(s.app)
	// Unmatched paths fall through to Fiber's 404, answered by handleError.
	return s, nil
}

// App is the Fiber application (tests drive it with App().Test).
func (s *Server) App() *fiber.App { return s.app }

// API is the huma API (its OpenAPI document).
func (s *Server) API() huma.API { return s.api }

// Catalog is the catalog service.
func (s *Server) Catalog() *catalog.Service { return s.catalog }

// Orders is the orders service.
func (s *Server) Orders() *orders.Service { return s.orders }

// Accounts is the account service.
func (s *Server) Accounts() *Accounts { return s.accounts }

// Listen serves on the configured address until ctx ends, then drains
// in-flight requests for up to timeout.
func (s *Server) Listen(ctx context.Context, addr string, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listen(addr) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.app.ShutdownWithContext(sctx)
}

// Flash is the flash-sale admission engine.
func (s *Server) Flash() *orders.Admission { return s.flash }

// Close releases what the server opened itself.
func (s *Server) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	return s.enqueue.Close()
}

// watchRevocations fills the list of revoked sessions from the database and
// keeps it current from Redis; signing out publishes there.
func (s *Server) watchRevocations() error {
	ctx := context.Background()
	known, err := s.accounts.RevokedSessions(ctx)
	if err != nil {
		return err
	}
	for id, exp := range known {
		s.revoked.add(id, exp)
	}
	sub := s.rdb.Subscribe(ctx, revokedChannel)
	go func() {
		<-s.stop
		sub.Close()
	}()
	go func() {
		for msg := range sub.Channel() {
			id, exp, ok := strings.Cut(msg.Payload, " ")
			if !ok {
				continue
			}
			if unix, err := strconv.ParseInt(exp, 10, 64); err == nil {
				s.revoked.add(id, time.Unix(unix, 0))
			}
		}
	}()
	s.accounts.revoked = func(ctx context.Context, id string, exp time.Time) {
		s.revoked.add(id, exp)
		if err := s.rdb.Publish(ctx, revokedChannel, id+" "+strconv.FormatInt(exp.Unix(), 10)).Err(); err != nil {
			logFrom(ctx).Warn("revocation not published", "session_id", id, "err", err)
		}
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
			s.revoked.sweep(now)
			s.verified.sweep(now)
		}
	}
}

func (s *Server) ready(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := fiber.Map{"database": "ok", "queue": "ok"}
	status := http.StatusOK
	if err := s.db.PingContext(ctx); err != nil {
		checks["database"], status = err.Error(), http.StatusServiceUnavailable
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
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
		page := s.newPage(c, "error.title")
		switch {
		case p.Status == http.StatusNotFound:
			page.Error = page.T("error.not_found")
		case p.Status == http.StatusForbidden && errors.Is(err, ErrCSRF):
			page.Error = page.T("err.csrf")
		case p.Status == http.StatusForbidden:
			page.Error = page.T("error.forbidden")
		case p.Status >= 500:
			page.Error = page.T("error.internal")
		default:
			page.Error = p.Detail
		}
		return s.render(c, p.Status, "error", page)
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

// workerDeps are what the background handlers need, from the same services
// the server uses.
func (s *Server) workerDeps() (jobs.Deps, error) {
	d := jobs.Deps{
		DB: s.db, Now: s.now, Logger: s.log, PurgeSessions: s.accounts.PurgeSessions, Users: s.accounts,
		Orders: s.orders, Admission: s.flash, Catalog: s.catalog, Enqueuer: s.enqueue,
	}
	if s.cfg.SMTPURL != "" {
		m, err := jobs.NewSMTPMailer(s.cfg.SMTPURL, mailFrom)
		if err != nil {
			return d, err
		}
		d.Mailer = m
	}
	return d, nil
}

// mailFrom is the sender of notification emails.
const mailFrom = "庙会 Miaohui <no-reply@miaohui.cn>"
