package account

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/jobs"
)

// A forgotten password is reset by a link sent to the account's email (and
// inbox): it carries the user, an expiry and an HMAC, under the deployment's
// signing key, over both and the user's current password hash. Setting a new
// password changes the hash, so a link works once; it also revokes the
// user's sessions. Nothing about the link is stored.

// ResetLinkTTL is how long a password reset link works.
const ResetLinkTTL = time.Hour

const resetPrefix = "r1"

// ErrResetLink is a password reset link that is forged, expired or used.
var ErrResetLink = errors.New("the password reset link is invalid, expired or used")

func (a *Accounts) resetMAC(u User, exp string) string {
	return a.signer.mac("reset", u.ID, exp, u.PasswordHash)
}

// PasswordResetToken returns a token that lets the user of email set a new
// password until ResetLinkTTL from now; ok is false when there is no such
// user.
func (a *Accounts) PasswordResetToken(ctx context.Context, email string) (User, string, bool, error) {
	email, _ = NormalizeEmail(email)
	var u User
	err := a.db.NewSelect().Model(&u).Where("email = ?", email).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", false, nil
	}
	if err != nil {
		return User{}, "", false, err
	}
	exp := strconv.FormatInt(a.now().Add(ResetLinkTTL).Unix(), 10)
	return u, strings.Join([]string{resetPrefix, u.ID, exp, a.resetMAC(u, exp)}, "."), true, nil
}

// ResetPassword sets a new password with a reset token and revokes the
// user's sessions. A bad, expired or used token is ErrResetLink; a weak
// password a validation error on "password".
func (a *Accounts) ResetPassword(ctx context.Context, token, password string) (User, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != resetPrefix || len(token) > 200 {
		return User{}, ErrResetLink
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return User{}, ErrResetLink
	}
	var u User
	if err := a.db.NewSelect().Model(&u).Where("id = ?", parts[1]).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, ErrResetLink
		}
		return User{}, err
	}
	if !hmac.Equal([]byte(parts[3]), []byte(a.resetMAC(u, parts[2]))) {
		return User{}, ErrResetLink
	}
	if p := passwordProblem(password, u.Email, u.Name); p != "" {
		return User{}, catalog.Invalid("password", p)
	}
	hash, err := argon2id.CreateHash(password, a.params)
	if err != nil {
		return User{}, err
	}
	now := a.now()
	err = a.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// The hash the link was made with must still be there: two uses of
		// one link at once change it once.
		res, err := tx.NewUpdate().Model((*User)(nil)).Set("password_hash = ?", hash).
			Where("id = ? AND password_hash = ?", u.ID, u.PasswordHash).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrResetLink
		}
		_, err = tx.NewUpdate().Model((*Session)(nil)).Set("revoked_at = ?", now).
			Where("user_id = ? AND revoked_at IS NULL", u.ID).Exec(ctx)
		return err
	})
	if err != nil {
		return User{}, err
	}
	u.PasswordHash = hash
	return u, nil
}

// RequestPasswordReset sends the user of email, if there is one, a link to
// set a new password: a notification (inbox and email) whose link starts
// with publicURL. It answers the same whether or not the email is known, and
// is rate-limited like registration.
func (s *Handler) RequestPasswordReset(ctx context.Context, email, publicURL string) error {
	norm, _ := NormalizeEmail(email)
	if err := s.limiter.Allow(ctx, s.attempts, authWindow, "reset:ip:"+RequestFrom(ctx).IP, "reset:acct:"+norm); err != nil {
		return err
	}
	u, token, ok, err := s.accounts.PasswordResetToken(ctx, email)
	if err != nil || !ok {
		return err
	}
	link := strings.TrimRight(publicURL, "/") + "/password/reset?token=" + url.QueryEscape(token)
	task, opts := jobs.NewNotifyTask(jobs.NotifyPayload{UserID: u.ID, EventKey: "password_reset:" + strconv.FormatInt(s.accounts.now().UnixNano(), 10), Kind: "password_reset",
		Params: map[string]string{"Name": u.Name, "Link": link, "Minutes": strconv.Itoa(int(ResetLinkTTL / time.Minute))}})
	if err := s.enqueue.Enqueue(ctx, task, opts...); err != nil {
		Log(ctx).Warn("password reset not queued", "user_id", u.ID, "err", err)
		return err
	}
	return nil
}
