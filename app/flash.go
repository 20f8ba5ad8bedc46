package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The flash-sale purchase is the one hot path: thousands of phones press 抢购
// in the same second. It runs outside the general middleware and outside
// huma: a verified token is cached (no database), per-account and per-address
// limits live in memory, and admission is one Redis round trip.

const purchaseRoute = "/api/v1/flash-sales/:id/purchase"

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

// cannedProblem is an answer a busy sale gives often, rendered once.
type cannedProblem struct {
	status int
	body   []byte
}

var cannedProblems = func() map[error]cannedProblem {
	out := map[error]cannedProblem{}
	for _, err := range []error{orders.ErrSoldOut, orders.ErrLimitReached, orders.ErrNotStarted, orders.ErrEnded, orders.ErrFairClosed, orders.ErrFairNotOpen} {
		p := problemFor(context.Background(), err)
		b, _ := json.Marshal(p)
		out[err] = cannedProblem{p.Status, b}
	}
	return out
}()

// The headers every purchase answer carries, in canonical form.
var (
	headerNoSniff  = [2][]byte{[]byte(fiber.HeaderXContentTypeOptions), []byte("nosniff")}
	headerNoStore  = [2][]byte{[]byte(fiber.HeaderCacheControl), []byte("no-store")}
	contentProblem = []byte("application/problem+json")
	contentJSON    = []byte(fiber.MIMEApplicationJSON)
)

// fastStart begins a request of the fast path (a flash purchase, a coupon
// claim): the headers every answer carries, the signed-in buyer, the
// per-account and per-address limits, and the id in the path. When ok is
// false the problem is written and err is what the handler returns.
func (s *Server) fastStart(c *fiber.Ctx) (u catalog.Actor, id string, ok bool, err error) {
	h := &c.Response().Header
	h.SetCanonical(headerNoSniff[0], headerNoSniff[1])
	h.SetCanonical(headerNoStore[0], headerNoStore[1])
	if u, err = s.gate.FlashActor(c); err != nil {
		return u, "", false, s.writeProblem(c, err)
	}
	if s.userLimits.rps > 0 || s.ipLimits.rps > 0 {
		now := time.Now()
		if !s.userLimits.allow(u.UserID, now) || !s.ipLimits.allow(c.IP(), now) {
			return u, "", false, s.writeProblem(c, &account.RateLimitedError{RetryAfter: 1})
		}
	}
	id = c.Params("id")
	if err := purchaseURLText(c, id); err != nil {
		return u, "", false, s.writeProblem(c, err)
	}
	return u, id, true, nil
}

// oneUnit is the body nearly every purchase sends.
var oneUnit = []byte(`{"quantity":1}`)

// flashPurchase answers POST /api/v1/flash-sales/{id}/purchase.
func (s *Server) flashPurchase(c *fiber.Ctx) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.Logger.Error("panic", "route", purchaseRoute, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = s.writeProblem(c, fmt.Errorf("panic: %v", r))
		}
		s.metrics.observePurchase(c.Response().StatusCode(), time.Since(start))
	}()
	h := &c.Response().Header
	ctx := c.UserContext()
	u, id, ok, err := s.fastStart(c)
	if !ok {
		return err
	}
	quantity := 1
	if body := c.Body(); !bytes.Equal(body, oneUnit) {
		var in struct {
			Quantity *int `json:"quantity"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return s.writeProblem(c, newProblem(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON: "+err.Error()))
		}
		var bad inputErrors
		checkJSON(body, &bad)
		if err := bad.err(); err != nil {
			return s.writeProblem(c, err)
		}
		if in.Quantity == nil {
			return s.writeProblem(c, catalog.Invalid("quantity", "is required"))
		}
		quantity = *in.Quantity
	}
	t, err := s.Admission.Purchase(ctx, u.UserID, id, quantity)
	if err != nil {
		if cp, ok := cannedProblems[err]; ok {
			c.Status(cp.status)
			h.SetContentTypeBytes(contentProblem)
			return c.Send(cp.body)
		}
		return s.writeProblem(c, err)
	}
	c.Status(http.StatusAccepted)
	h.SetContentTypeBytes(contentJSON)
	return c.SendString(`{"ticket":"` + t.ID + `","status":"queued"}`)
}

// purchaseURLText checks the purchase's URL as checkInput checks the other
// routes': an id of plain characters without a query string costs one loop.
func purchaseURLText(c *fiber.Ctx, id string) error {
	var bad inputErrors
	for i := 0; i < len(id); i++ {
		if b := id[i]; b <= ' ' || b >= 0x7f || b == '%' {
			seg := id
			if d, err := url.PathUnescape(id); err == nil {
				seg = d
			}
			if msg := textProblem([]byte(seg), false); msg != "" {
				bad.add("id", msg)
			}
			break
		}
	}
	if len(c.Request().URI().QueryString()) > 0 {
		checkArgs(c.Request().URI().QueryArgs(), false, "query", &bad)
	}
	return bad.err()
}

// writeProblem answers err as problem+json (the fast path has no error handler).
func (s *Server) writeProblem(c *fiber.Ctx, err error) error {
	p := problemFor(account.WithLogger(c.UserContext(), s.Logger), err)
	if p.retryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, itoa(p.retryAfter))
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(p.Status).JSON(p, "application/problem+json")
}
