package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Checkout session: a Stripe payment is now paid on a Stripe Checkout page.
// The payment keeps the page's address (checkout_url), the PaymentIntent
// behind the session once Stripe has made it (provider_intent: refunds and
// charge events name it), and how many sessions were opened before the
// current one (provider_attempt: a session that expired while the payment
// window lasts is replaced by a new one, under a new idempotency key).
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE payments ADD COLUMN checkout_url TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE payments ADD COLUMN provider_intent TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE payments ADD COLUMN provider_attempt INTEGER NOT NULL DEFAULT 0`,
			`CREATE INDEX payments_provider_intent_idx ON payments (provider_intent)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP INDEX payments_provider_intent_idx`,
			`ALTER TABLE payments DROP COLUMN provider_attempt`,
			`ALTER TABLE payments DROP COLUMN provider_intent`,
			`ALTER TABLE payments DROP COLUMN checkout_url`,
		)
	})
}
