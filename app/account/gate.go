package account

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"hash/maphash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"miaohui/catalog"
)

// ErrCSRF is a cookie-authenticated unsafe request without the session's CSRF token.
var ErrCSRF = errors.New("missing or wrong CSRF token: send the X-CSRF-Token header (or the _csrf form field) given with your session")

// Gate tells who sent a request: the session of an ordinary request from the
// database, and on the flash-sale purchase path from the token's signature and
// this process's list of revoked sessions, kept current through Redis.
type Gate struct {
	accounts *Accounts
	revoked  *revocations
	verified *verifiedTokens
}

// NewGate fills the list of revoked sessions from the database and keeps it
// current from Redis until stop closes; signing out publishes there.
func NewGate(ctx context.Context, accounts *Accounts, rdb redis.UniversalClient, stop <-chan struct{}) (*Gate, error) {
	g := &Gate{accounts: accounts, revoked: &revocations{}, verified: newVerifiedTokens()}
	known, err := accounts.RevokedSessions(ctx)
	if err != nil {
		return nil, err
	}
	for id, exp := range known {
		g.revoked.add(id, exp)
	}
	sub := rdb.Subscribe(context.WithoutCancel(ctx), revokedChannel)
	go func() {
		<-stop
		sub.Close()
	}()
	go func() {
		for msg := range sub.Channel() {
			id, exp, ok := strings.Cut(msg.Payload, " ")
			if !ok {
				continue
			}
			if unix, err := strconv.ParseInt(exp, 10, 64); err == nil {
				g.revoked.add(id, time.Unix(unix, 0))
			}
		}
	}()
	accounts.revoked = func(ctx context.Context, id string, exp time.Time) {
		g.revoked.add(id, exp)
		if err := rdb.Publish(ctx, revokedChannel, id+" "+strconv.FormatInt(exp.Unix(), 10)).Err(); err != nil {
			Log(ctx).Warn("revocation not published", "session_id", id, "err", err)
		}
	}
	return g, nil
}

// Sweep forgets revoked and verified tokens that expired before now.
func (g *Gate) Sweep(now time.Time) {
	g.revoked.sweep(now)
	g.verified.sweep(now)
}

// Authenticate resolves the bearer token or session cookie, if any, and
// enforces CSRF for cookie-authenticated unsafe requests. It never rejects an
// anonymous request: handlers decide what needs a user.
func (g *Gate) Authenticate(c *fiber.Ctx) error {
	token, fromCookie := "", false
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || rest == "" {
			return catalog.Fail(catalog.ErrUnauthorized, "the Authorization header must be \"Bearer <token>\"")
		}
		token = strings.TrimSpace(rest)
	} else if v := c.Cookies(SessionCookie); v != "" {
		token, fromCookie = v, true
	}
	unsafe := !(c.Method() == http.MethodGet || c.Method() == http.MethodHead || c.Method() == http.MethodOptions)
	if unsafe && !sameOrigin(c) {
		return catalog.Fail(ErrCSRF, "cross-origin request refused")
	}
	if token == "" {
		return c.Next()
	}
	u, sess, err := g.accounts.Authenticate(c.UserContext(), token)
	if err != nil {
		if fromCookie && err == catalog.ErrUnauthorized {
			// A stale cookie is simply no session.
			c.ClearCookie(SessionCookie)
			return c.Next()
		}
		if err == catalog.ErrUnauthorized {
			return catalog.Fail(catalog.ErrUnauthorized, "the token is unknown, expired or revoked")
		}
		return err
	}
	if fromCookie && unsafe && !validCSRF(c, sess.CSRFToken) {
		return ErrCSRF
	}
	c.SetUserContext(WithAuth(c.UserContext(), Auth{User: u, Session: sess, Cookie: fromCookie}))
	return c.Next()
}

// sameOrigin refuses unsafe requests that a browser says come from another site.
func sameOrigin(c *fiber.Ctx) bool {
	origin := c.Get("Origin")
	if origin == "" {
		return true
	}
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
	return host == c.Hostname()
}

// validCSRF checks the CSRF token sent in the X-CSRF-Token header or, from
// a page's form, in the posted body's _csrf field; never in the URL, where
// logs, history and Referer headers would carry it.
func validCSRF(c *fiber.Ctx, want string) bool {
	got := c.Get("X-CSRF-Token")
	if got == "" {
		got = postedCSRF(c)
	}
	return got != "" && constantTimeEqual(got, want)
}

// postedCSRF is the _csrf field of a form-encoded or multipart body.
func postedCSRF(c *fiber.Ctx) string {
	ct := c.Request().Header.ContentType()
	switch {
	case bytes.HasPrefix(ct, []byte(fiber.MIMEApplicationForm)):
		return string(c.Request().PostArgs().Peek("_csrf"))
	case bytes.HasPrefix(ct, []byte(fiber.MIMEMultipartForm)):
		form, err := c.MultipartForm()
		if err != nil || len(form.Value["_csrf"]) == 0 {
			return ""
		}
		return form.Value["_csrf"][0]
	}
	return ""
}

// FlashActor authenticates the purchase by the token's signature and the list
// of revoked sessions: no database, no Redis. Cookie sessions need their CSRF
// token here too.
func (g *Gate) FlashActor(c *fiber.Ctx) (catalog.Actor, error) {
	now := g.accounts.now()
	// A bearer token seen before: its claims without copying the header.
	var bearer []byte
	if h := c.Request().Header.Peek(fiber.HeaderAuthorization); len(h) > 0 {
		scheme, rest, _ := bytes.Cut(h, []byte(" "))
		if !bytes.EqualFold(scheme, []byte("Bearer")) || len(bytes.TrimSpace(rest)) == 0 {
			return catalog.Actor{}, catalog.ErrUnauthorized
		}
		bearer = bytes.TrimSpace(rest)
		if f, hit := g.verified.get(bearer, now); hit {
			if g.revoked.has(f.session) {
				return catalog.Actor{}, catalog.Fail(catalog.ErrUnauthorized, "the token is unknown, expired or revoked")
			}
			return catalog.Actor{UserID: string(f.user), Role: roleOf(f.role)}, nil
		}
	}
	// A new bearer token, or a session cookie: checked by its signature,
	// then remembered.
	token, fromCookie := string(bearer), false
	if bearer == nil {
		if v := c.Cookies(SessionCookie); v != "" {
			token, fromCookie = v, true
			if !sameOrigin(c) {
				return catalog.Actor{}, ErrCSRF
			}
		}
	}
	if token == "" {
		return catalog.Actor{}, catalog.Fail(catalog.ErrUnauthorized, "sign in first")
	}
	if fromCookie { // a bearer token was looked up above
		if f, hit := g.verified.get([]byte(token), now); hit {
			return g.cookieActor(c, string(f.session), string(f.user), roleOf(f.role))
		}
	}
	claims, ok := g.accounts.signer.verify(token, now)
	if !ok {
		return catalog.Actor{}, catalog.Fail(catalog.ErrUnauthorized, "the token is unknown, expired or revoked")
	}
	g.verified.put(token, claims.ExpiresAt)
	if fromCookie {
		return g.cookieActor(c, claims.SessionID, claims.UserID, claims.Role)
	}
	if g.revoked.has([]byte(claims.SessionID)) {
		return catalog.Actor{}, catalog.Fail(catalog.ErrUnauthorized, "the token is unknown, expired or revoked")
	}
	return catalog.Actor{UserID: claims.UserID, Role: claims.Role}, nil
}

// cookieActor is the user of a verified session cookie, if the session is
// not revoked and the request carries its CSRF token.
func (g *Gate) cookieActor(c *fiber.Ctx, sessionID, userID string, role catalog.Role) (catalog.Actor, error) {
	if g.revoked.has([]byte(sessionID)) {
		return catalog.Actor{}, catalog.Fail(catalog.ErrUnauthorized, "the token is unknown, expired or revoked")
	}
	if !validCSRF(c, g.accounts.signer.csrf(sessionID)) {
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
	case string(catalog.RoleAdmin):
		return catalog.RoleAdmin
	}
	return catalog.Role(b)
}

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

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// RateLimitedError is a request refused by a rate limit.
type RateLimitedError struct{ RetryAfter int }

func (e *RateLimitedError) Error() string { return "too many requests" }

// GetHeaders lets huma set Retry-After from the handler's error.
func (e *RateLimitedError) GetHeaders() http.Header {
	return http.Header{"Retry-After": {strconv.Itoa(e.RetryAfter)}}
}
