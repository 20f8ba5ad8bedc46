package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Coupons (消费券, 满减): campaigns funded by a fair's organizer or by one
// stall's merchant, the coupons buyers claim from them, and which orders
// used them. The database is the source of truth whatever Redis admitted:
// `claimed` never exceeds `quantity` (CHECK), and a buyer's coupons of one
// campaign are numbered 1..per_user_limit (the unique key stops a second
// claim of the same number). A coupon used at checkout names its payment
// (a checkout's orders are cancelled together) and coupon_uses says how much
// of it went to each order. Orders keep their subtotal and discount beside
// their total (= subtotal − discount); older orders had no discount.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE coupon_campaigns (
				id              TEXT PRIMARY KEY,
				fair_id         TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				stall_id        TEXT REFERENCES stalls (id) ON DELETE CASCADE,
				funded_by       TEXT NOT NULL CHECK (funded_by IN ('organizer', 'merchant')),
				title           TEXT NOT NULL,
				discount        BIGINT NOT NULL CHECK (discount > 0),
				min_spend       BIGINT NOT NULL CHECK (min_spend >= 0),
				quantity        INTEGER NOT NULL CHECK (quantity > 0),
				claimed         INTEGER NOT NULL DEFAULT 0,
				per_user_limit  INTEGER NOT NULL CHECK (per_user_limit > 0),
				releases_at     TIMESTAMPTZ NOT NULL,
				valid_until     TIMESTAMPTZ NOT NULL,
				categories      TEXT NOT NULL DEFAULT '',
				created_by      TEXT NOT NULL,
				created_at      TIMESTAMPTZ NOT NULL,
				CHECK (claimed >= 0 AND claimed <= quantity),
				CHECK (valid_until > releases_at)
			)`,
			`CREATE INDEX coupon_campaigns_fair_idx ON coupon_campaigns (fair_id, releases_at)`,
			`CREATE INDEX coupon_campaigns_stall_idx ON coupon_campaigns (stall_id)`,
			`CREATE TABLE coupons (
				id           TEXT PRIMARY KEY,
				campaign_id  TEXT NOT NULL REFERENCES coupon_campaigns (id) ON DELETE CASCADE,
				fair_id      TEXT NOT NULL,
				stall_id     TEXT,
				user_id      TEXT NOT NULL REFERENCES users (id),
				n            INTEGER NOT NULL CHECK (n > 0),
				discount     BIGINT NOT NULL,
				min_spend    BIGINT NOT NULL,
				valid_until  TIMESTAMPTZ NOT NULL,
				status       TEXT NOT NULL CHECK (status IN ('unused', 'used')),
				payment_id   TEXT,
				claimed_at   TIMESTAMPTZ NOT NULL,
				used_at      TIMESTAMPTZ
			)`,
			`CREATE UNIQUE INDEX coupons_claim_key ON coupons (campaign_id, user_id, n)`,
			`CREATE INDEX coupons_user_idx ON coupons (user_id, id)`,
			`CREATE INDEX coupons_payment_idx ON coupons (payment_id) WHERE payment_id IS NOT NULL`,
			`CREATE TABLE coupon_uses (
				coupon_id  TEXT NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
				order_id   TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
				amount     BIGINT NOT NULL CHECK (amount >= 0),
				PRIMARY KEY (coupon_id, order_id)
			)`,
			`CREATE INDEX coupon_uses_order_idx ON coupon_uses (order_id)`,
			`ALTER TABLE orders ADD COLUMN subtotal BIGINT NOT NULL DEFAULT 0`,
			`ALTER TABLE orders ADD COLUMN discount BIGINT NOT NULL DEFAULT 0`,
			`UPDATE orders SET subtotal = total`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE orders DROP COLUMN discount`,
			`ALTER TABLE orders DROP COLUMN subtotal`,
			`DROP TABLE coupon_uses`,
			`DROP TABLE coupons`,
			`DROP TABLE coupon_campaigns`,
		)
	})
}
