package account

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/hibiken/asynq"

	"miaohui/catalog"
	"miaohui/jobs"
)

// SessionCookie is the browser session's cookie.
const SessionCookie = "fair_session"

// Limiter refuses keys that went over limit attempts within window, with a
// *RateLimitedError.
type Limiter interface {
	Allow(ctx context.Context, limit int, window time.Duration, keys ...string) error
}

// Enqueuer queues background tasks after the work that causes them.
type Enqueuer interface {
	Enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) error
}

// Handler serves sign-up, sign-in and the signed-in user's account: the JSON
// API and, through SignUp and SignIn, the pages' forms.
type Handler struct {
	accounts *Accounts
	inbox    *jobs.Inbox
	enqueue  Enqueuer
	limiter  Limiter
	attempts int
}

// NewHandler returns the handler; attempts is how many sign-ins and
// registrations a minute one address may make (see SignIn for the limits
// per account).
func NewHandler(accounts *Accounts, inbox *jobs.Inbox, enqueue Enqueuer, limiter Limiter, attempts int) *Handler {
	return &Handler{accounts: accounts, inbox: inbox, enqueue: enqueue, limiter: limiter, attempts: attempts}
}

type registerInput struct {
	Body struct {
		Email    string       `json:"email" maxLength:"254" example:"shopper@example.com"`
		Password string       `json:"password" maxLength:"256"`
		Name     string       `json:"name" maxLength:"200"`
		Role     catalog.Role `json:"role,omitempty" enum:"shopper,merchant" doc:"shopper (default) or merchant"`
	}
}

type loginInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254" example:"shopper@example.com"`
		Password string `json:"password" maxLength:"256"`
	}
}

type authBody struct {
	User      User      `json:"user"`
	Token     string    `json:"token" doc:"bearer token: send as Authorization: Bearer <token>"`
	CSRFToken string    `json:"csrf_token" doc:"for browser requests authenticated by the session cookie: send as X-CSRF-Token"`
	ExpiresAt time.Time `json:"expires_at"`
}

type authOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      authBody
}

var bearer = catalog.Signed

// Routes registers the account operations on api.
func (s *Handler) Routes(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "register", Method: http.MethodPost, Path: "/api/v1/auth/register",
		Summary: "Register a shopper or merchant account", Tags: []string{"Accounts"},
		DefaultStatus: http.StatusCreated, Errors: []int{409, 422, 429},
	}, func(ctx context.Context, in *registerInput) (*authOutput, error) {
		u, sess, token, err := s.SignUp(ctx, NewUser{Email: in.Body.Email, Password: in.Body.Password, Name: in.Body.Name, Role: in.Body.Role})
		if err != nil {
			return nil, err
		}
		return s.authOutput(ctx, u, sess, token), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login",
		Summary: "Sign in: returns a bearer token and sets the session cookie", Tags: []string{"Accounts"},
		Errors: []int{401, 422, 429},
	}, func(ctx context.Context, in *loginInput) (*authOutput, error) {
		u, sess, token, err := s.SignIn(ctx, in.Body.Email, in.Body.Password)
		if err != nil {
			return nil, err
		}
		return s.authOutput(ctx, u, sess, token), nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout",
		Summary: "Sign out: the token and cookie stop working", Tags: []string{"Accounts"},
		DefaultStatus: http.StatusNoContent, Security: bearer, Errors: []int{401, 403},
	}, func(ctx context.Context, _ *struct{}) (*struct {
		SetCookie http.Cookie `header:"Set-Cookie"`
	}, error) {
		a, err := Require(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.accounts.Logout(ctx, a.Session.ID); err != nil {
			return nil, err
		}
		out := &struct {
			SetCookie http.Cookie `header:"Set-Cookie"`
		}{SetCookie: ClearedSessionCookie(RequestFrom(ctx).Secure)}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/v1/me",
		Summary: "The signed-in user", Tags: []string{"Accounts"}, Security: bearer, Errors: []int{401},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body User }, error) {
		a, err := Require(ctx)
		if err != nil {
			return nil, err
		}
		return &struct{ Body User }{a.User}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "my-notifications", Method: http.MethodGet, Path: "/api/v1/me/notifications",
		Summary: "The signed-in user's inbox, newest first", Tags: []string{"Accounts"}, Security: bearer, Errors: []int{401},
	}, func(ctx context.Context, in *catalog.PageQuery) (*struct {
		Body catalog.List[jobs.Notification]
	}, error) {
		a, err := Require(ctx)
		if err != nil {
			return nil, err
		}
		items, next, err := s.inbox.List(ctx, a.User.ID, in.Page())
		if err != nil {
			return nil, err
		}
		return &struct {
			Body catalog.List[jobs.Notification]
		}{catalog.NewList(items, next)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "read-notification", Method: http.MethodPost, Path: "/api/v1/me/notifications/{id}/read",
		Summary: "Mark one notification read", Tags: []string{"Accounts"}, Security: bearer, Errors: []int{401, 403, 404},
	}, func(ctx context.Context, in *struct {
		ID string `path:"id"`
	}) (*struct{ Body jobs.Notification }, error) {
		a, err := Require(ctx)
		if err != nil {
			return nil, err
		}
		n, err := s.inbox.MarkRead(ctx, a.User.ID, in.ID)
		if err != nil {
			return nil, err
		}
		return &struct{ Body jobs.Notification }{n}, nil
	})
}

func (s *Handler) authOutput(ctx context.Context, u User, sess Session, token string) *authOutput {
	return &authOutput{
		SetCookie: NewSessionCookie(token, sess.ExpiresAt, RequestFrom(ctx).Secure),
		Body:      authBody{User: u, Token: token, CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt},
	}
}

// authWindow is the rate-limit window of logins and registrations.
const authWindow = time.Minute

// accountFailureWindow is the window of an account's failed sign-ins from all
// addresses, which may number accountFailureFactor times the per-minute
// attempts (100 by default).
const (
	accountFailureWindow = 15 * time.Minute
	accountFailureFactor = 10
)

// SignUp rate-limits, creates the account, opens its first session and
// queues the welcome notification.
func (s *Handler) SignUp(ctx context.Context, in NewUser) (User, Session, string, error) {
	email, _ := NormalizeEmail(in.Email)
	if err := s.limiter.Allow(ctx, s.attempts, authWindow, "register:ip:"+RequestFrom(ctx).IP, "register:acct:"+email); err != nil {
		return User{}, Session{}, "", err
	}
	in.Lang = RequestFrom(ctx).Lang
	u, err := s.accounts.Register(ctx, in)
	if err != nil {
		return User{}, Session{}, "", err
	}
	task, opts := jobs.NewNotifyTask(jobs.NotifyPayload{UserID: u.ID, EventKey: "welcome", Kind: "welcome", Params: map[string]string{"Name": u.Name}})
	if err := s.enqueue.Enqueue(ctx, task, opts...); err != nil {
		Log(ctx).Warn("welcome notification not queued", "user_id", u.ID, "err", err)
	}
	sess, token, err := s.accounts.StartSession(ctx, u.ID)
	return u, sess, token, err
}

// SignIn rate-limits, checks the password and opens a session; the session
// the request came with, if any, is revoked so a fixed cookie never survives
// a login.
//
// The limits slow a password guesser without letting him lock the owner out:
//   - per client address, and per (account, address) pair, every attempt
//     counts, attempts a minute (FAIR_AUTH_ATTEMPTS_PER_MINUTE). An address
//     over either limit is refused before its password is hashed.
//   - per account across all addresses only FAILED attempts count, ten times
//     attempts per 15 minutes: past that budget a wrong password is answered
//     429, so guessing from many addresses is slowed too. The password is
//     checked before this budget is applied, so the right password from an
//     address that is not itself limited always gets in: the owner is never
//     locked out by someone else's failures.
func (s *Handler) SignIn(ctx context.Context, email, password string) (User, Session, string, error) {
	norm, _ := NormalizeEmail(email)
	ip := RequestFrom(ctx).IP
	if err := s.limiter.Allow(ctx, s.attempts, authWindow, "login:ip:"+ip, "login:pair:"+ip+"|"+norm); err != nil {
		return User{}, Session{}, "", err
	}
	u, sess, token, err := s.accounts.Login(ctx, email, password)
	if errors.Is(err, ErrBadCredentials) {
		// Allow counts one attempt: called on failures only, it counts failures.
		if err := s.limiter.Allow(ctx, accountFailureFactor*s.attempts, accountFailureWindow, "login:fail:acct:"+norm); err != nil {
			return User{}, Session{}, "", err
		}
	}
	if err != nil {
		return User{}, Session{}, "", err
	}
	if old, ok := From(ctx); ok && old.Cookie {
		if err := s.accounts.Logout(ctx, old.Session.ID); err != nil {
			return User{}, Session{}, "", err
		}
	}
	return u, sess, token, nil
}

// NewSessionCookie is the cookie that carries a session token.
func NewSessionCookie(token string, expires time.Time, secure bool) http.Cookie {
	return http.Cookie{Name: SessionCookie, Value: token, Path: "/", Expires: expires, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

// ClearedSessionCookie removes the session cookie.
func ClearedSessionCookie(secure bool) http.Cookie {
	return http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}
