package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"miaohui/catalog"
	"miaohui/orders"
)

// The flash-sale purchase is the one hot path: thousands of phones press 抢购
// in the same second. It runs outside the general middleware and outside
// huma: a verified token is cached (no database), per-account and per-address
// limits live in memory, and admission is one Redis round trip.

const purchaseRoute = "/api/v1/flash-sales/:id/purchase"

// revokedChannel carries the ids of sessions signed out to every process.
const revokedChannel = "fair:sessions:revoked"

// revocations is this process's list of signed-out sessions that have not
// expired, kept from the database at start and from Redis after. It is read
// with the request's bytes, and not at all while it is empty.
type revocations struct {
	mu sync.RWMutex
	m  map[string]time.Time // session id → expiry
	n  atomic.Int64
}

func (r *revocations) add(id string, exp time.Time) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]time.Time{}
	}
	if _, ok := r.m[id]; !ok {
		r.n.Add(1)
	}
	r.m[id] = exp
	r.mu.Unlock()
}

func (r *revocations) has(id []byte) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.RLock()
	_, ok := r.m[string(id)]
	r.mu.RUnlock()
	return ok
}

func (r *revocations) sweep(now time.Time) {
	r.mu.Lock()
	for id, exp := range r.m {
		if now.After(exp) {
			delete(r.m, id)
			r.n.Add(-1)
		}
	}
	r.mu.Unlock()
}

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
	for _, err := range []error{orders.ErrSoldOut, orders.ErrLimitReached, orders.ErrNotStarted, orders.ErrEnded} {
		p := problemFor(context.Background(), err)
		b, _ := json.Marshal(p)
		out[err] = cannedProblem{p.Status, b}
	}
	return out
}()

// verifiedTokens remembers the tokens whose signature was checked, so that a
// buyer pressing again costs a lookup in a compact set instead of an HMAC. A
// token is found by the tail of its signature (random to anyone without the
// key) and must match the whole token's seeded hash; its claims are read
// from the token itself, which carries them. Plain maps in shards are read
// with the request's bytes without copying them.
type verifiedTokens struct {
	seed   maphash.Seed
	shards [16]struct {
		mu sync.RWMutex
		m  map[tokenKey]verifiedToken
	}
}

type tokenKey [16]byte

type verifiedToken struct {
	sum uint64 // the whole token's hash
	exp int64  // its expiry, in Unix seconds
}

func newVerifiedTokens() *verifiedTokens { return &verifiedTokens{seed: maphash.MakeSeed()} }

// keyOf is a token's last bytes, or false for a token too short to be one.
func keyOf[T string | []byte](token T) (k tokenKey, ok bool) {
	if len(token) < len(k) {
		return k, false
	}
	copy(k[:], token[len(token)-len(k):])
	return k, true
}

func (v *verifiedTokens) shard(k tokenKey) int { return int(k[len(k)-1]) % len(v.shards) }

// get returns the fields of a token verified before and not yet expired:
// slices of the token.
func (v *verifiedTokens) get(token []byte, now time.Time) (tokenFields[[]byte], bool) {
	k, ok := keyOf(token)
	if !ok {
		return tokenFields[[]byte]{}, false
	}
	sh := &v.shards[v.shard(k)]
	sh.mu.RLock()
	e, ok := sh.m[k]
	sh.mu.RUnlock()
	if !ok || now.Unix() >= e.exp || e.sum != maphash.Bytes(v.seed, token) {
		return tokenFields[[]byte]{}, false
	}
	return splitToken(token)
}

// put remembers a token whose signature was checked.
func (v *verifiedTokens) put(token string, exp time.Time) {
	k, ok := keyOf(token)
	if !ok {
		return
	}
	sh := &v.shards[v.shard(k)]
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[tokenKey]verifiedToken, 1024) // room for a sale's first burst
	}
	sh.m[k] = verifiedToken{sum: maphash.String(v.seed, token), exp: exp.Unix()}
	sh.mu.Unlock()
}

func (v *verifiedTokens) sweep(now time.Time) {
	for i := range v.shards {
		sh := &v.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if now.Unix() >= e.exp {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// The headers every purchase answer carries, in canonical form.
var (
	headerNoSniff  = [2][]byte{[]byte(fiber.HeaderXContentTypeOptions), []byte("nosniff")}
	headerNoStore  = [2][]byte{[]byte(fiber.HeaderCacheControl), []byte("no-store")}
	contentProblem = []byte("application/problem+json")
	contentJSON    = []byte(fiber.MIMEApplicationJSON)
)

// oneUnit is the body nearly every purchase sends.
var oneUnit = []byte(`{"quantity":1}`)

// flashPurchase answers POST /api/v1/flash-sales/{id}/purchase.
func (s *Server) flashPurchase(c *fiber.Ctx) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "route", purchaseRoute, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = s.writeProblem(c, fmt.Errorf("panic: %v", r))
		}
		s.metrics.observePurchase(c.Response().StatusCode(), time.Since(start))
	}()
	h := &c.Response().Header
	h.SetCanonical(headerNoSniff[0], headerNoSniff[1])
	h.SetCanonical(headerNoStore[0], headerNoStore[1])
	ctx := c.UserContext()

	u, err := s.flashUser(c)
	if err != nil {
		return s.writeProblem(c, err)
	}
	if s.userLimits.rps > 0 || s.ipLimits.rps > 0 {
		now := time.Now()
		if !s.userLimits.allow(u.UserID, now) || !s.ipLimits.allow(c.IP(), now) {
			return s.writeProblem(c, &RateLimitedError{RetryAfter: 1})
		}
	}
	quantity := 1
	if body := c.Body(); !bytes.Equal(body, oneUnit) {
		var in struct {
			Quantity *int `json:"quantity"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return s.writeProblem(c, newProblem(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON: "+err.Error()))
		}
		if in.Quantity == nil {
			return s.writeProblem(c, catalog.Invalid("quantity", "is required"))
		}
		quantity = *in.Quantity
	}
	t, err := s.flash.Purchase(ctx, u.UserID, c.Params("id"), quantity)
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

// flashUser authenticates the purchase by the token's signature and the list
// of revoked sessions: no database, no Redis. Cookie sessions need their CSRF
// token here too.
func (s *Server) flashUser(c *fiber.Ctx) (catalog.Actor, error) {
	now := s.now()
	// A bearer token seen before: its claims without copying the header.
	var bearer []byte
	if h := c.Request().Header.Peek(fiber.HeaderAuthorization); len(h) > 0 {
		scheme, rest, _ := bytes.Cut(h, []byte(" "))
		if !bytes.EqualFold(scheme, []byte("Bearer")) || len(bytes.TrimSpace(rest)) == 0 {
			return catalog.Actor{}, catalog.ErrUnauthorized
		}
		bearer = bytes.TrimSpace(rest)
		if f, hit := s.verified.get(bearer, now); hit {
			if s.revoked.has(f.session) {
				return catalog.Actor{}, fmt.Errorf("the token is unknown, expired or revoked: %w", catalog.ErrUnauthorized)
			}
			return catalog.Actor{UserID: string(f.user), Role: roleOf(f.role)}, nil
		}
	}
	// A new bearer token, or a session cookie: checked by its signature,
	// then remembered.
	token, fromCookie := string(bearer), false
	if bearer == nil {
		if v := c.Cookies(sessionCookie); v != "" {
			token, fromCookie = v, true
			if !s.sameOrigin(c) {
				return catalog.Actor{}, ErrCSRF
			}
		}
	}
	if token == "" {
		return catalog.Actor{}, fmt.Errorf("sign in first: %w", catalog.ErrUnauthorized)
	}
	if fromCookie { // a bearer token was looked up above
		if f, hit := s.verified.get([]byte(token), now); hit {
			return s.cookieActor(c, string(f.session), string(f.user), roleOf(f.role))
		}
	}
	claims, ok := s.accounts.signer.verify(token, now)
	if !ok {
		return catalog.Actor{}, fmt.Errorf("the token is unknown, expired or revoked: %w", catalog.ErrUnauthorized)
	}
	s.verified.put(token, claims.ExpiresAt)
	if fromCookie {
		return s.cookieActor(c, claims.SessionID, claims.UserID, claims.Role)
	}
	if s.revoked.has([]byte(claims.SessionID)) {
		return catalog.Actor{}, fmt.Errorf("the token is unknown, expired or revoked: %w", catalog.ErrUnauthorized)
	}
	return catalog.Actor{UserID: claims.UserID, Role: claims.Role}, nil
}

// cookieActor is the user of a verified session cookie, if the session is
// not revoked and the request carries its CSRF token.
func (s *Server) cookieActor(c *fiber.Ctx, sessionID, userID string, role catalog.Role) (catalog.Actor, error) {
	if s.revoked.has([]byte(sessionID)) {
		return catalog.Actor{}, fmt.Errorf("the token is unknown, expired or revoked: %w", catalog.ErrUnauthorized)
	}
	if !validCSRF(c, s.accounts.signer.csrf(sessionID)) {
		return catalog.Actor{}, ErrCSRF
	}
	return catalog.Actor{UserID: userID, Role: role}, nil
}

// roleOf is the role a token names, without copying it for the known ones.
func roleOf(b []byte) catalog.Role {
	switch string(b) {
	case string(catalog.RoleShopper):
		return catalog.RoleShopper
	case string(catalog.RoleMerchant):
		return catalog.RoleMerchant
	case string(catalog.RoleOrganizer):
		return catalog.RoleOrganizer
	}
	return catalog.Role(b)
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
