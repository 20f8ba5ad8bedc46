package orders

import (
	"testing"
	"time"
)

func TestSessionExpiry(t *testing.T) {
	// Stripe accepts a Checkout Session's expires_at 30 minutes to 24 hours
	// ahead: the payment's own expiry is moved into that range, with a margin.
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		due  time.Time
		want time.Time
	}{
		{"WindowShorterThanStripeAllows", now.Add(15 * time.Minute), now.Add(32 * time.Minute)},
		{"AlreadyPast", now.Add(-time.Minute), now.Add(32 * time.Minute)},
		{"JustAtTheMinimum", now.Add(32 * time.Minute), now.Add(32 * time.Minute)},
		{"Inside", now.Add(2 * time.Hour), now.Add(2 * time.Hour)},
		{"JustAtTheMaximum", now.Add(24*time.Hour - 2*time.Minute), now.Add(24*time.Hour - 2*time.Minute)},
		{"LongerThanStripeAllows", now.Add(24 * time.Hour), now.Add(24*time.Hour - 2*time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := sessionExpiry(c.due, now); !got.Equal(c.want) {
				t.Errorf("sessionExpiry(now%+v) = now%+v, want now%+v", c.due.Sub(now), got.Sub(now), c.want.Sub(now))
			}
		})
	}
}

func TestSessionKey(t *testing.T) {
	// The first session's key is "cs-" and the payment id; a session that
	// replaces an expired one gets a key of its own.
	p := &Payment{ID: "01PAY"}
	if got := sessionKey("cs-", p); got != "cs-01PAY" {
		t.Errorf("first key %q, want cs-01PAY", got)
	}
	p.ProviderAttempt = 2
	if got := sessionKey("cs-", p); got != "cs-01PAY-2" {
		t.Errorf("third key %q, want cs-01PAY-2", got)
	}
}
