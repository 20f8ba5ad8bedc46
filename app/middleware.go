package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"miaohui/catalog"
)

type ctxKey int

const (
	loggerKey ctxKey = iota
	authKey
	reqKey
)

// reqInfo is what handlers need to know of the connection.
type reqInfo struct {
	IP     string // client address (X-Forwarded-For only from trusted proxies)
	Secure bool   // reached over TLS, so cookies get the Secure flag
	Lang   string // page language, zh-CN or en
}

func reqFrom(ctx context.Context) reqInfo {
	r, _ := ctx.Value(reqKey).(reqInfo)
	return r
}

// logFrom returns the request's logger (carrying its request id), or the default.
func logFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// authInfo is who sent the request, and how.
type authInfo struct {
	User    User
	Session Session
	// Cookie is true when the session came from the cookie (so unsafe
	// requests need the CSRF token) rather than a bearer header.
	Cookie bool
}

func authFrom(ctx context.Context) (authInfo, bool) {
	a, ok := ctx.Value(authKey).(authInfo)
	return a, ok
}

// actorOf is who sent the request, as the domain services see them (the zero
// Actor when nobody is signed in).
func actorOf(ctx context.Context) catalog.Actor {
	if a, ok := authFrom(ctx); ok {
		return a.User.Actor()
	}
	return catalog.Actor{}
}

// requireUser returns the signed-in user or ErrUnauthorized.
func requireUser(ctx context.Context) (authInfo, error) {
	a, ok := authFrom(ctx)
	if !ok {
		return authInfo{}, fmt.Errorf("sign in first: %w", catalog.ErrUnauthorized)
	}
	return a, nil
}

// observe logs each request once and records its metrics; errors are turned
// into responses here so the status logged is the one sent.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	rid, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	l := s.log.With("request_id", rid)
	ctx := context.WithValue(c.UserContext(), loggerKey, l)
	ctx = context.WithValue(ctx, reqKey, reqInfo{IP: c.IP(), Secure: c.Protocol() == "https", Lang: lang(c)})
	c.SetUserContext(ctx)

	err := c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(http.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	if status == http.StatusNotFound && route == "/" && c.Path() != "/" {
		route = "unmatched"
	}
	elapsed := time.Since(start)
	s.metrics.observe(c.Method(), route, status, elapsed)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	l.Log(c.UserContext(), level, "request",
		"method", c.Method(), "path", c.Path(), "route", route, "status", status,
		"duration_ms", float64(elapsed.Microseconds())/1000, "ip", c.IP(), "bytes", len(c.Response().Body()))
	return nil
}

// recoverPanic turns a panic in a handler into a logged 500.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			logFrom(c.UserContext()).Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fiber.NewError(http.StatusInternalServerError, "panic")
		}
	}()
	return c.Next()
}

// securityHeaders sets the usual protective headers; pages load only what
// the binary serves.
func securityHeaders() fiber.Handler {
	return helmet.New(helmet.Config{
		ContentSecurityPolicy:     "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
		ReferrerPolicy:            "strict-origin-when-cross-origin",
		HSTSMaxAge:                31536000,
		CrossOriginEmbedderPolicy: "unsafe-none",
	})
}

// authenticate resolves the bearer token or session cookie, if any, and
// enforces CSRF for cookie-authenticated unsafe requests. It never rejects an
// anonymous request: handlers decide what needs a user.
func (s *Server) authenticate(c *fiber.Ctx) error {
	token, fromCookie := "", false
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || rest == "" {
			return fmt.Errorf("the Authorization header must be \"Bearer <token>\": %w", catalog.ErrUnauthorized)
		}
		token = strings.TrimSpace(rest)
	} else if v := c.Cookies(sessionCookie); v != "" {
		token, fromCookie = v, true
	}
	unsafe := !(c.Method() == http.MethodGet || c.Method() == http.MethodHead || c.Method() == http.MethodOptions)
	if unsafe && !s.sameOrigin(c) {
		return fmt.Errorf("cross-origin request refused: %w", ErrCSRF)
	}
	if token == "" {
		return c.Next()
	}
	u, sess, err := s.accounts.Authenticate(c.UserContext(), token)
	if err != nil {
		if fromCookie && err == catalog.ErrUnauthorized {
			// A stale cookie is simply no session.
			c.ClearCookie(sessionCookie)
			return c.Next()
		}
		if err == catalog.ErrUnauthorized {
			return fmt.Errorf("the token is unknown, expired or revoked: %w", catalog.ErrUnauthorized)
		}
		return err
	}
	if fromCookie && unsafe && !validCSRF(c, sess.CSRFToken) {
		return ErrCSRF
	}
	c.SetUserContext(context.WithValue(c.UserContext(), authKey, authInfo{User: u, Session: sess, Cookie: fromCookie}))
	return c.Next()
}

// sameOrigin refuses unsafe requests that a browser says come from another site.
func (s *Server) sameOrigin(c *fiber.Ctx) bool {
	origin := c.Get("Origin")
	if origin == "" {
		return true
	}
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	return host == c.Hostname()
}

func validCSRF(c *fiber.Ctx, want string) bool {
	got := c.Get("X-CSRF-Token")
	if got == "" {
		got = c.FormValue("_csrf")
	}
	return got != "" && constantTimeEqual(got, want)
}

func itoa(n int) string { return strconv.Itoa(n) }
