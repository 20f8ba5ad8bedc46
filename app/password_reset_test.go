package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"miaohui/app/account"
	"miaohui/catalog"
)

// TestPasswordReset checks the reset link's token: it expires, a changed
// or foreign one is refused, a weak password is refused and keeps the link,
// and a reset revokes the user's sessions and works once.
func TestPasswordReset(t *testing.T) {
	ctx := context.Background()
	token := func(t *testing.T, e *testEnv, email string) string {
		t.Helper()
		_, tok, ok, err := e.srv.Accounts.PasswordResetToken(ctx, email)
		if err != nil || !ok {
			t.Fatalf("token for %s: %v %v", email, ok, err)
		}
		return tok
	}
	const fresh = "moonlit river lanterns drifting"
	t.Run("UnknownEmail", func(t *testing.T) {
		e := newTestEnv(t)
		if _, _, ok, err := e.srv.Accounts.PasswordResetToken(ctx, "nobody@example.com"); ok || err != nil {
			t.Fatalf("ok %v, err %v for an unknown email", ok, err)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.createUser("reset-expired@example.com", catalog.RoleShopper)
		tok := token(t, e, u.Email)
		e.clock.Advance(account.ResetLinkTTL)
		if _, err := e.srv.Accounts.ResetPassword(ctx, tok, fresh); !errors.Is(err, account.ErrResetLink) {
			t.Fatalf("an expired link: %v, want ErrResetLink", err)
		}
	})
	t.Run("Forged", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.createUser("reset-forged@example.com", catalog.RoleShopper)
		other := e.createUser("reset-other@example.com", catalog.RoleShopper)
		tok := token(t, e, u.Email)
		for name, bad := range map[string]string{
			"another user": strings.Replace(tok, u.ID, other.ID, 1),
			"later expiry": func() string { p := strings.Split(tok, "."); p[2] += "9"; return strings.Join(p, ".") }(),
			"a MAC char":   tok[:len(tok)-1] + "A",
			"empty":        "",
		} {
			if _, err := e.srv.Accounts.ResetPassword(ctx, bad, fresh); !errors.Is(err, account.ErrResetLink) {
				t.Errorf("%s: %v, want ErrResetLink", name, err)
			}
		}
	})
	t.Run("WeakPasswordKeepsTheLink", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.createUser("reset-weak@example.com", catalog.RoleShopper)
		tok := token(t, e, u.Email)
		var ve *catalog.ValidationError
		if _, err := e.srv.Accounts.ResetPassword(ctx, tok, "password1"); !errors.As(err, &ve) {
			t.Fatalf("a weak password: %v, want a validation error", err)
		}
		if _, err := e.srv.Accounts.ResetPassword(ctx, tok, fresh); err != nil {
			t.Fatalf("the link after a weak password: %v", err)
		}
	})
	t.Run("RevokesSessionsAndWorksOnce", func(t *testing.T) {
		e := newTestEnv(t)
		u := e.createUser("reset-once@example.com", catalog.RoleShopper)
		_, _, session, err := e.srv.Accounts.Login(ctx, u.Email, testPassword)
		if err != nil {
			t.Fatal(err)
		}
		tok := token(t, e, u.Email)
		e.clock.Advance(time.Minute)
		if _, err := e.srv.Accounts.ResetPassword(ctx, tok, fresh); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.srv.Accounts.Authenticate(ctx, session); err == nil {
			t.Error("a session opened before the reset still works")
		}
		if _, err := e.srv.Accounts.ResetPassword(ctx, tok, "another moonlit river lantern"); !errors.Is(err, account.ErrResetLink) {
			t.Errorf("the link a second time: %v, want ErrResetLink", err)
		}
		if _, _, _, err := e.srv.Accounts.Login(ctx, u.Email, fresh); err != nil {
			t.Errorf("the new password: %v", err)
		}
	})
}
