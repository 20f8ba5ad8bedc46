package account

import (
	"context"
	"log/slog"

	"miaohui/catalog"
)

type ctxKey int

const (
	loggerKey ctxKey = iota
	authKey
	requestKey
)

// Request is what handlers need to know of the connection a request came on.
type Request struct {
	IP     string // client address (X-Forwarded-For only from trusted proxies)
	Secure bool   // reached over TLS, so cookies get the Secure flag
	Lang   string // page language, zh-CN or en
}

// WithRequest returns ctx carrying r and the request's logger.
func WithRequest(ctx context.Context, r Request, log *slog.Logger) context.Context {
	ctx = context.WithValue(ctx, requestKey, r)
	return WithLogger(ctx, log)
}

// WithLogger returns ctx carrying log.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, log)
}

// RequestFrom is the connection of the request ctx belongs to.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey).(Request)
	return r
}

// Log returns the request's logger (carrying its request id), or the default.
func Log(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// Auth is who sent a request, and how.
type Auth struct {
	User    User
	Session Session
	// Cookie is true when the session came from the cookie (so unsafe
	// requests need the CSRF token) rather than a bearer header.
	Cookie bool
}

// From returns the signed-in user of ctx's request, if any.
func From(ctx context.Context) (Auth, bool) {
	a, ok := ctx.Value(authKey).(Auth)
	return a, ok
}

// WithAuth returns ctx carrying a.
func WithAuth(ctx context.Context, a Auth) context.Context {
	return context.WithValue(ctx, authKey, a)
}

// ActorOf is who sent the request, as the domain services see them (the zero
// Actor when nobody is signed in).
func ActorOf(ctx context.Context) catalog.Actor {
	if a, ok := From(ctx); ok {
		return a.User.Actor()
	}
	return catalog.Actor{}
}

// Require returns the signed-in user or catalog.ErrUnauthorized.
func Require(ctx context.Context) (Auth, error) {
	a, ok := From(ctx)
	if !ok {
		return Auth{}, catalog.Fail(catalog.ErrUnauthorized, "sign in first")
	}
	return a, nil
}
