package account

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/trustelem/zxcvbn"
	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// User is an account. Emails are stored normalised (trimmed, lower case).
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID           string       `bun:",pk" json:"id"`
	Email        string       `json:"email"`
	Name         string       `json:"name"`
	Role         catalog.Role `json:"role" enum:"shopper,merchant,organizer"`
	PasswordHash string       `json:"-"`
	Lang         string       `json:"-"`
	CreatedAt    time.Time    `json:"created_at"`
}

// Actor is the user as the domain services see them.
func (u User) Actor() catalog.Actor { return catalog.Actor{UserID: u.ID, Role: u.Role} }

// Session is one sign-in: its token is returned once at login (as the bearer
// token and the session cookie) and only its SHA-256 is stored.
type Session struct {
	bun.BaseModel `bun:"table:sessions"`

	ID        string `bun:",pk"`
	UserID    string
	TokenHash string
	CSRFToken string `bun:"csrf_token"`
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt bun.NullTime

	User *User `bun:"rel:belongs-to,join:user_id=id"`
}

// Account errors beyond the shared ones.
var (
	// ErrBadCredentials is a login with an unknown email or a wrong password;
	// the two are not told apart.
	ErrBadCredentials = catalog.Fail(catalog.ErrUnauthorized, "email or password is wrong")
	// ErrEmailTaken is a registration with an email already in use.
	ErrEmailTaken = catalog.Fail(catalog.ErrConflict, "this email is already registered")
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 30 * 24 * time.Hour

// Accounts registers users, signs them in and out and resolves tokens.
type Accounts struct {
	db     *bun.DB
	now    catalog.Clock
	params *argon2id.Params
	// dummyHash is compared against on unknown emails so that a login takes
	// as long whether or not the account exists.
	dummyHash string
	signer    *signer
	// revoked is told of every session signed out, for the processes' lists
	// of revoked tokens.
	revoked func(ctx context.Context, sessionID string, expiresAt time.Time)
}

// NewAccounts returns the account service; memoryKiB and iterations set the
// argon2id cost.
func NewAccounts(ctx context.Context, db *bun.DB, now catalog.Clock, memoryKiB, iterations uint32) (*Accounts, error) {
	p := &argon2id.Params{Memory: memoryKiB, Iterations: iterations, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	dummy, err := argon2id.CreateHash("not a password of anybody", p)
	if err != nil {
		return nil, err
	}
	sg, err := loadSigner(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return &Accounts{db: db, now: now, params: p, dummyHash: dummy, signer: sg,
		revoked: func(context.Context, string, time.Time) {}}, nil
}

// NewUser is what registration and the operator CLI ask for.
type NewUser struct {
	Email    string
	Password string
	Name     string
	Role     catalog.Role
	Lang     string
}

// NormalizeEmail trims and lower-cases an address and checks its form.
func NormalizeEmail(raw string) (string, bool) {
	e := strings.ToLower(strings.TrimSpace(raw))
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") || len(e) > 254 {
		return e, false
	}
	return e, true
}

// Register creates a shopper or merchant account; organizers and admins come
// only from CreateUser (the operator CLI).
func (a *Accounts) Register(ctx context.Context, in NewUser) (User, error) {
	if in.Role == "" {
		in.Role = catalog.RoleShopper
	}
	if in.Role != catalog.RoleShopper && in.Role != catalog.RoleMerchant {
		return User{}, catalog.Invalid("role", "must be shopper or merchant; organizers and admins are created by the operator")
	}
	return a.CreateUser(ctx, in)
}

// CreateUser validates and stores a new user of any role.
func (a *Accounts) CreateUser(ctx context.Context, in NewUser) (User, error) {
	email, ok := NormalizeEmail(in.Email)
	name := strings.TrimSpace(in.Name)
	var c catalog.Check
	c.That(ok, "email", "must be a valid email address")
	c.That(name != "" && utf8.RuneCountInString(name) <= 80, "name", "must be 1 to 80 characters")
	c.That(in.Role.Valid(), "role", "must be shopper, merchant, organizer or admin")
	if msg := passwordProblem(in.Password, email, name); msg != "" {
		c.That(false, "password", msg)
	}
	if err := c.Err(); err != nil {
		return User{}, err
	}
	hash, err := argon2id.CreateHash(in.Password, a.params)
	if err != nil {
		return User{}, err
	}
	lang := in.Lang
	if lang != "en" {
		lang = "zh-CN"
	}
	u := User{ID: catalog.NewID(), Email: email, Name: name, Role: in.Role, PasswordHash: hash, Lang: lang, CreatedAt: a.now()}
	if _, err := a.db.NewInsert().Model(&u).Exec(ctx); err != nil {
		if catalog.IsUniqueViolation(err) {
			return User{}, ErrEmailTaken
		}
		return User{}, err
	}
	return u, nil
}

// passwordProblem says why a password is not acceptable, or "" if it is.
// Beyond length, zxcvbn rejects the common passwords of its frequency lists,
// keyboard walks, repeats and guesses built from the user's own email or name.
func passwordProblem(pw, email, name string) string {
	n := utf8.RuneCountInString(pw)
	if n < 8 {
		return "must be at least 8 characters"
	}
	if n > 128 {
		return "must be at most 128 characters"
	}
	inputs := []string{email, name, "miaohui", "taizhou", "fair", "password"}
	if local, _, ok := strings.Cut(email, "@"); ok {
		inputs = append(inputs, local)
	}
	if zxcvbn.PasswordStrength(pw, inputs).Score < 2 {
		return "is too common or too easy to guess; use a longer phrase"
	}
	return ""
}

// Login checks email and password and opens a new session; the token it
// returns is shown once and never stored.
func (a *Accounts) Login(ctx context.Context, email, password string) (User, Session, string, error) {
	email, _ = NormalizeEmail(email)
	var u User
	err := a.db.NewSelect().Model(&u).Where("email = ?", email).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = argon2id.ComparePasswordAndHash(password, a.dummyHash)
		return User{}, Session{}, "", ErrBadCredentials
	}
	if err != nil {
		return User{}, Session{}, "", err
	}
	match, err := argon2id.ComparePasswordAndHash(password, u.PasswordHash)
	if err != nil {
		return User{}, Session{}, "", err
	}
	if !match {
		return User{}, Session{}, "", ErrBadCredentials
	}
	s, token, err := a.StartSession(ctx, u.ID)
	return u, s, token, err
}

// StartSession opens a new session for userID and returns it with its token.
func (a *Accounts) StartSession(ctx context.Context, userID string) (Session, string, error) {
	var role catalog.Role
	if err := a.db.NewSelect().Model((*User)(nil)).Column("role").Where("id = ?", userID).Scan(ctx, &role); err != nil {
		return Session{}, "", err
	}
	now := a.now()
	s, token := a.NewSession(catalog.NewID(), userID, role, now, now.Add(SessionTTL).Truncate(time.Second))
	if _, err := a.db.NewInsert().Model(&s).Exec(ctx); err != nil {
		return Session{}, "", err
	}
	return s, token, nil
}

// NewSession returns the session id of userID, created at now and ending at
// exp, with its token, without storing it (tools insert many at once).
func (a *Accounts) NewSession(id, userID string, role catalog.Role, now, exp time.Time) (Session, string) {
	token := a.signer.issue(tokenClaims{SessionID: id, UserID: userID, Role: role, ExpiresAt: exp})
	return Session{ID: id, UserID: userID, TokenHash: hashToken(token), CSRFToken: a.signer.csrf(id), CreatedAt: now, ExpiresAt: exp}, token
}

// RevokedSessions lists the sessions signed out that have not expired yet,
// for a starting process's list of revoked tokens.
func (a *Accounts) RevokedSessions(ctx context.Context) (map[string]time.Time, error) {
	var rows []Session
	err := a.db.NewSelect().Model(&rows).Column("id", "expires_at").Where("revoked_at IS NOT NULL AND expires_at > ?", a.now()).Scan(ctx)
	out := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		out[r.ID] = r.ExpiresAt
	}
	return out, err
}

// Authenticate resolves a bearer token or session cookie to its user and
// session; unknown, revoked and expired tokens are ErrUnauthorized.
func (a *Accounts) Authenticate(ctx context.Context, token string) (User, Session, error) {
	if token == "" || len(token) > 200 {
		return User{}, Session{}, catalog.ErrUnauthorized
	}
	// One query: the live session and its user.
	var s Session
	err := a.db.NewSelect().Model(&s).Relation("User").
		Where("session.token_hash = ?", hashToken(token)).
		Where("session.revoked_at IS NULL").
		Where("session.expires_at > ?", a.now()).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) || err == nil && s.User == nil {
		return User{}, Session{}, catalog.ErrUnauthorized
	}
	if err != nil {
		return User{}, Session{}, err
	}
	u := *s.User
	s.User = nil
	return u, s, nil
}

// Logout revokes a session; its token stops working at once, on every
// process (they hear of it through Redis).
func (a *Accounts) Logout(ctx context.Context, sessionID string) error {
	var s Session
	err := a.db.NewUpdate().Model(&s).
		Set("revoked_at = ?", a.now()).
		Where("id = ?", sessionID).
		Where("revoked_at IS NULL").
		Returning("id, expires_at").
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	a.revoked(ctx, s.ID, s.ExpiresAt)
	return nil
}

// SetLang records the language a user chose, for emails and pages.
func (a *Accounts) SetLang(ctx context.Context, userID, lang string) error {
	_, err := a.db.NewUpdate().Model((*User)(nil)).Set("lang = ?", lang).Where("id = ?", userID).Exec(ctx)
	return err
}

// PurgeSessions deletes sessions that expired or were revoked more than a day
// ago and returns how many went.
func (a *Accounts) PurgeSessions(ctx context.Context) (int64, error) {
	cutoff := a.now().Add(-24 * time.Hour)
	res, err := a.db.NewDelete().Model((*Session)(nil)).
		Where("expires_at < ? OR revoked_at < ?", cutoff, cutoff).
		Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
