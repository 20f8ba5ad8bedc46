package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Orders: carts, checkouts with their one payment, orders per stall with the
// prices copied at checkout, refunds, payouts, webhook events applied, and
// stored responses of idempotent requests. Amounts are integer fen; CHECK
// constraints keep refunds within what was paid.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE stalls ADD COLUMN stripe_account_id TEXT NOT NULL DEFAULT ''`,
			`CREATE TABLE cart_items (
				user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
				fair_id     TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				quantity    INTEGER NOT NULL CHECK (quantity > 0),
				updated_at  TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (user_id, product_id)
			)`,
			`CREATE TABLE payments (
				id             TEXT PRIMARY KEY,
				buyer_id       TEXT NOT NULL REFERENCES users (id),
				fair_id        TEXT NOT NULL REFERENCES fairs (id),
				provider       TEXT NOT NULL CHECK (provider IN ('sandbox', 'stripe')),
				status         TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
				amount         BIGINT NOT NULL CHECK (amount > 0),
				currency       TEXT NOT NULL,
				provider_ref   TEXT NOT NULL DEFAULT '',
				client_secret  TEXT NOT NULL DEFAULT '',
				expires_at     TIMESTAMPTZ NOT NULL,
				created_at     TIMESTAMPTZ NOT NULL,
				updated_at     TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX payments_pending_idx ON payments (status, expires_at)`,
			`CREATE INDEX payments_provider_ref_idx ON payments (provider_ref)`,
			`CREATE TABLE orders (
				id                TEXT PRIMARY KEY,
				payment_id        TEXT NOT NULL REFERENCES payments (id),
				fair_id           TEXT NOT NULL REFERENCES fairs (id),
				stall_id          TEXT NOT NULL REFERENCES stalls (id),
				buyer_id          TEXT NOT NULL REFERENCES users (id),
				status            TEXT NOT NULL CHECK (status IN ('pending_payment', 'paid', 'shipped', 'redeemed', 'completed', 'cancelled', 'refunded', 'partially_refunded')),
				fulfillment       TEXT NOT NULL CHECK (fulfillment IN ('ship', 'pickup')),
				total             BIGINT NOT NULL CHECK (total > 0),
				currency          TEXT NOT NULL,
				platform_fee      BIGINT NOT NULL CHECK (platform_fee >= 0),
				merchant_share    BIGINT NOT NULL CHECK (merchant_share >= 0),
				refunded          BIGINT NOT NULL DEFAULT 0,
				refund_pending    BIGINT NOT NULL DEFAULT 0,
				shipping_address  TEXT NOT NULL DEFAULT '',
				tracking          TEXT NOT NULL DEFAULT '',
				pickup_code       TEXT NOT NULL DEFAULT '',
				created_at        TIMESTAMPTZ NOT NULL,
				expires_at        TIMESTAMPTZ NOT NULL,
				paid_at           TIMESTAMPTZ,
				shipped_at        TIMESTAMPTZ,
				redeemed_at       TIMESTAMPTZ,
				cancelled_at      TIMESTAMPTZ,
				CHECK (platform_fee + merchant_share = total),
				CHECK (refunded >= 0 AND refund_pending >= 0 AND refunded + refund_pending <= total)
			)`,
			`CREATE INDEX orders_payment_idx ON orders (payment_id)`,
			`CREATE INDEX orders_buyer_idx ON orders (buyer_id, id)`,
			`CREATE INDEX orders_stall_idx ON orders (stall_id, id)`,
			`CREATE INDEX orders_fair_status_idx ON orders (fair_id, status)`,
			`CREATE TABLE order_items (
				id            TEXT PRIMARY KEY,
				order_id      TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
				product_id    TEXT NOT NULL REFERENCES products (id),
				title         TEXT NOT NULL,
				kind          TEXT NOT NULL,
				unit_price    BIGINT NOT NULL CHECK (unit_price >= 0),
				quantity      INTEGER NOT NULL CHECK (quantity > 0),
				line_total    BIGINT NOT NULL CHECK (line_total >= 0),
				offset_value  BIGINT NOT NULL DEFAULT 0,
				valid_until   TIMESTAMPTZ
			)`,
			`CREATE INDEX order_items_order_idx ON order_items (order_id)`,
			// One deposit voucher per buyer per development: the row lives while the
			// voucher order is unpaid, paid or redeemed, and goes when it is
			// cancelled or refunded.
			`CREATE TABLE voucher_holds (
				buyer_id  TEXT NOT NULL REFERENCES users (id),
				stall_id  TEXT NOT NULL REFERENCES stalls (id),
				order_id  TEXT NOT NULL REFERENCES orders (id),
				PRIMARY KEY (buyer_id, stall_id)
			)`,
			`CREATE TABLE refunds (
				id            TEXT PRIMARY KEY,
				order_id      TEXT NOT NULL REFERENCES orders (id),
				payment_id    TEXT NOT NULL REFERENCES payments (id),
				amount        BIGINT NOT NULL CHECK (amount > 0),
				reason        TEXT NOT NULL,
				status        TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
				provider_ref  TEXT NOT NULL DEFAULT '',
				created_by    TEXT NOT NULL,
				created_at    TIMESTAMPTZ NOT NULL,
				updated_at    TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX refunds_order_idx ON refunds (order_id)`,
			`CREATE TABLE transfers (
				order_id      TEXT PRIMARY KEY REFERENCES orders (id),
				stall_id      TEXT NOT NULL REFERENCES stalls (id),
				amount        BIGINT NOT NULL CHECK (amount >= 0),
				reversed      BIGINT NOT NULL DEFAULT 0 CHECK (reversed >= 0),
				provider_ref  TEXT NOT NULL DEFAULT '',
				created_at    TIMESTAMPTZ NOT NULL,
				CHECK (reversed <= amount)
			)`,
			// A payment provider's event is applied once: its id is stored in the
			// same transaction as its effect.
			`CREATE TABLE payment_events (
				id           TEXT PRIMARY KEY,
				type         TEXT NOT NULL,
				received_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE idempotency_keys (
				user_id       TEXT NOT NULL,
				key           TEXT NOT NULL,
				request_hash  TEXT NOT NULL,
				status        INTEGER NOT NULL,
				response      TEXT NOT NULL,
				created_at    TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (user_id, key)
			)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE idempotency_keys`, `DROP TABLE payment_events`, `DROP TABLE transfers`,
			`DROP TABLE refunds`, `DROP TABLE voucher_holds`, `DROP TABLE order_items`,
			`DROP TABLE orders`, `DROP TABLE payments`, `DROP TABLE cart_items`,
			`ALTER TABLE stalls DROP COLUMN stripe_account_id`,
		)
	})
}
