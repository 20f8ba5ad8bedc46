package app

import (
	"fmt"
	"log/slog"
	"miaohui/app/account"
	"miaohui/app/web"
	"net/http"
	"runtime/debug"
	"strconv"
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

func itoa(n int) string { return strconv.Itoa(n) }
