package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"miaohui/catalog"
)

// The flash-sale purchase is the one hot path: thousands of phones press 抢购
// in the same second. It runs outside the general middleware and outside
// huma: a verified token is cached (no database), per-account and per-address
// limits live in memory, and admission is one Redis round trip.

const purchaseRoute = "/api/v1/flash-sales/:id/purchase"

// tokenCacheTTL bounds how long a revoked token may still buy on another
// process; the process that signs a token out forgets it at once.
const tokenCacheTTL = 30 * time.Second

type cachedToken struct {
	user    User
	session Session
	until   int64 // unix nanos
}

// tokenCache remembers verified tokens by their hash.
type tokenCache struct{ m sync.Map }

func (tc *tokenCache) get(hash string, now time.Time) (*cachedToken, bool) {
	v, ok := tc.m.Load(hash)
	if !ok {
		return nil, false
	}
	ct := v.(*cachedToken)
	if now.UnixNano() > ct.until || !now.Before(ct.session.ExpiresAt) {
		tc.m.Delete(hash)
		return nil, false
	}
	return ct, true
}

func (tc *tokenCache) put(hash string, u User, s Session, now time.Time) {
	tc.m.Store(hash, &cachedToken{user: u, session: s, until: now.Add(tokenCacheTTL).UnixNano()})
}

func (tc *tokenCache) forget(hash string) { tc.m.Delete(hash) }

// limiters hands out one token bucket per key, forgetting idle ones.
type limiters struct {
	rps  int
	m    sync.Map // key → *limiterEntry
	size atomic.Int64
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen atomic.Int64
}

func (l *limiters) allow(key string, now time.Time) bool {
	if l.rps <= 0 {
		return true
	}
	v, ok := l.m.Load(key)
	if !ok {
		v, ok = l.m.LoadOrStore(key, &limiterEntry{lim: rate.NewLimiter(rate.Limit(l.rps), l.rps)})
		if !ok {
			l.size.Add(1)
		}
	}
	e := v.(*limiterEntry)
	e.seen.Store(now.UnixNano())
	return e.lim.AllowN(now, 1)
}

// sweep forgets keys idle for a minute.
func (l *limiters) sweep(now time.Time) {
	cutoff := now.Add(-time.Minute).UnixNano()
	l.m.Range(func(k, v any) bool {
		if v.(*limiterEntry).seen.Load() < cutoff {
			l.m.Delete(k)
			l.size.Add(-1)
		}
		return true
	})
}

// flashPurchase answers POST /api/v1/flash-sales/{id}/purchase.
func (s *Server) flashPurchase(c *fiber.Ctx) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "route", purchaseRoute, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = s.writeProblem(c, fmt.Errorf("panic: %v", r))
		}
		status := c.Response().StatusCode()
		s.metrics.observe(http.MethodPost, purchaseRoute, status, time.Since(start))
	}()
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "no-store")
	ctx := c.UserContext()

	u, err := s.flashUser(c)
	if err != nil {
		return s.writeProblem(c, err)
	}
	now := time.Now()
	if !s.userLimits.allow(u.ID, now) || !s.ipLimits.allow(c.IP(), now) {
		return s.writeProblem(c, &RateLimitedError{RetryAfter: 1})
	}
	var in struct {
		Quantity *int `json:"quantity"`
	}
	if err := json.Unmarshal(c.Body(), &in); err != nil {
		return s.writeProblem(c, newProblem(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON: "+err.Error()))
	}
	if in.Quantity == nil {
		return s.writeProblem(c, catalog.Invalid("quantity", "is required"))
	}
	t, err := s.flash.Purchase(ctx, u.ID, c.Params("id"), *in.Quantity)
	if err != nil {
		return s.writeProblem(c, err)
	}
	c.Status(http.StatusAccepted)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.SendString(`{"ticket":"` + t.ID + `","status":"queued"}`)
}

// flashUser authenticates the purchase from the token cache, asking the
// database only on a miss. Cookie sessions need their CSRF token here too.
func (s *Server) flashUser(c *fiber.Ctx) (User, error) {
	token, fromCookie := "", false
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || rest == "" {
			return User{}, catalog.ErrUnauthorized
		}
		token = strings.TrimSpace(rest)
	} else if v := c.Cookies(sessionCookie); v != "" {
		token, fromCookie = v, true
		if !s.sameOrigin(c) {
			return User{}, ErrCSRF
		}
	}
	if token == "" {
		return User{}, fmt.Errorf("sign in first: %w", catalog.ErrUnauthorized)
	}
	hash := hashToken(token)
	now := s.now()
	ct, ok := s.tokens.get(hash, now)
	if !ok {
		u, sess, err := s.accounts.Authenticate(c.UserContext(), token)
		if err != nil {
			return User{}, err
		}
		s.tokens.put(hash, u, sess, now)
		ct = &cachedToken{user: u, session: sess}
	}
	if fromCookie && !validCSRF(c, ct.session.CSRFToken) {
		return User{}, ErrCSRF
	}
	return ct.user, nil
}

// writeProblem answers err as problem+json (the fast path has no error handler).
func (s *Server) writeProblem(c *fiber.Ctx, err error) error {
	p := problemFor(context.WithValue(c.UserContext(), loggerKey, s.log), err)
	if p.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, itoa(p.retryAfter))
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).JSON(p, "application/problem+json")
}
