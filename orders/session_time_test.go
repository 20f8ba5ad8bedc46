package orders

import (
	"testing"
	"time"
)

func TestSessionExpiry(t *testing.T) {
	// Stripe accepts a Checkout Session's expires_at 30 minutes to 24 hours
	// ahead: the payment's own expiry is moved into that range, with a
	// margin, for any moment of the 5-minute period the session is opened in.
	period := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		due  time.Time
		want time.Time
	}{
		{"WindowShorterThanStripeAllows", period.Add(15 * time.Minute), period.Add(37 * time.Minute)},
		{"AlreadyPast", period.Add(-time.Minute), period.Add(37 * time.Minute)},
		{"JustAtTheMinimum", period.Add(37 * time.Minute), period.Add(37 * time.Minute)},
		{"Inside", period.Add(2 * time.Hour), period.Add(2 * time.Hour)},
		{"JustAtTheMaximum", period.Add(24*time.Hour - 2*time.Minute), period.Add(24*time.Hour - 2*time.Minute)},
		{"LongerThanStripeAllows", period.Add(24 * time.Hour), period.Add(24*time.Hour - 2*time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sessionExpiry(c.due, period)
			if !got.Equal(c.want) {
				t.Errorf("sessionExpiry(period%+v) = period%+v, want period%+v", c.due.Sub(period), got.Sub(period), c.want.Sub(period))
			}
			// Within Stripe's bounds from the first to the last moment of the period.
			for _, now := range []time.Time{period, period.Add(sessionPeriod - time.Second)} {
				if left := got.Sub(now); left < 30*time.Minute || left > 24*time.Hour {
					t.Errorf("opened at period%+v, the session would live %v", now.Sub(period), left)
				}
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
	// A session is created under a key of the period it is opened in.
	period := time.Date(2026, 12, 3, 12, 5, 0, 0, time.UTC)
	if got := openKey(p, period); got != "cs-01PAY-2-20261203T1205" {
		t.Errorf("open key %q, want cs-01PAY-2-20261203T1205", got)
	}
}
