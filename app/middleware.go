package app

import (
	"fmt"
	"log/slog"
	"miaohui/app/account"
	"miaohui/app/web"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

// observe logs each request once and records its metrics; errors are turned
// into responses here so the status logged is the one sent.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	rid, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	l := s.Logger.With("request_id", rid)
	c.SetUserContext(account.WithRequest(c.UserContext(), account.Request{IP: c.IP(), Secure: c.Protocol() == "https", Lang: web.Lang(c)}, l))

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
			account.Log(c.UserContext()).Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
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

// personalPrefixes are the API paths whose answers are about the caller.
var personalPrefixes = []string{"/api/v1/me", "/api/v1/cart", "/api/v1/checkout", "/api/v1/orders", "/api/v1/auth/"}

// noStore keeps personal answers out of shared and browser caches: every
// answer to a signed-in request, and every answer on a personal path, says
// Cache-Control: no-store unless its handler sets a policy of its own.
func noStore(c *fiber.Ctx) error {
	_, signedIn := account.From(c.UserContext())
	if signedIn || personalPath(c.Path()) {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

func personalPath(p string) bool {
	for _, pre := range personalPrefixes {
		if strings.HasPrefix(p, pre) && (len(p) == len(pre) || pre[len(pre)-1] == '/' || p[len(pre)] == '/' || p[len(pre)] == '.') {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
