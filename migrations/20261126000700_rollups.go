package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Rollups: the sales figures of the dashboards and the totals API, kept up to
// date in the transactions that pay, refund and redeem orders, so that a
// fair of 500,000 orders is summed from a few thousand rows. Order lines
// keep their product's category as it was at checkout. The rows are filled
// from the existing orders by orders.RebuildRollups right after this
// migration (see app's migrateUp).
//
// Rows are spread over a few shards per key (the shard is a hash of the
// order id) so that the payments of one busy stall do not queue on one row.

// Rollups is the name of this migration: whoever applies it fills the rollups.
const Rollups = "20261126000700"

func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE order_items ADD COLUMN category TEXT NOT NULL DEFAULT ''`,
			`UPDATE order_items SET category = (SELECT p.category FROM products AS p WHERE p.id = order_items.product_id)`,
			`CREATE TABLE rollup_stalls (
				stall_id     TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				fulfillment  TEXT NOT NULL,
				shard        INTEGER NOT NULL,
				fair_id      TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				orders       BIGINT NOT NULL DEFAULT 0,
				paid         BIGINT NOT NULL DEFAULT 0,
				refunded     BIGINT NOT NULL DEFAULT 0,
				redeemed     BIGINT NOT NULL DEFAULT 0,
				PRIMARY KEY (stall_id, fulfillment, shard)
			)`,
			`CREATE INDEX rollup_stalls_fair_idx ON rollup_stalls (fair_id)`,
			// scope_id is the fair's id (the fair's rows) or a stall's id;
			// hour counts hours since the Unix epoch (UTC+8 days are whole hours).
			`CREATE TABLE rollup_hours (
				scope_id  TEXT NOT NULL,
				hour      BIGINT NOT NULL,
				shard     INTEGER NOT NULL,
				fair_id   TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				orders    BIGINT NOT NULL DEFAULT 0,
				paid      BIGINT NOT NULL DEFAULT 0,
				refunded  BIGINT NOT NULL DEFAULT 0,
				-- buyers whose first paid order in the scope was paid in this hour
				participants  BIGINT NOT NULL DEFAULT 0,
				PRIMARY KEY (scope_id, hour, shard)
			)`,
			`CREATE INDEX rollup_hours_fair_idx ON rollup_hours (fair_id)`,
			`CREATE TABLE rollup_categories (
				stall_id  TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				category  TEXT NOT NULL,
				shard     INTEGER NOT NULL,
				fair_id   TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				units     BIGINT NOT NULL DEFAULT 0,
				paid      BIGINT NOT NULL DEFAULT 0,
				refunded  BIGINT NOT NULL DEFAULT 0,
				PRIMARY KEY (stall_id, category, shard)
			)`,
			`CREATE INDEX rollup_categories_fair_idx ON rollup_categories (fair_id)`,
			// The distinct paying buyers of a fair (scope_id = fair id) and of
			// each stall: who is new among them counts in rollup_hours.participants.
			`CREATE TABLE rollup_buyers (
				scope_id  TEXT NOT NULL,
				buyer_id  TEXT NOT NULL,
				fair_id   TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				PRIMARY KEY (scope_id, buyer_id)
			)`,
			`CREATE INDEX rollup_buyers_fair_idx ON rollup_buyers (fair_id)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE rollup_buyers`,
			`DROP TABLE rollup_categories`,
			`DROP TABLE rollup_hours`,
			`DROP TABLE rollup_stalls`,
			`ALTER TABLE order_items DROP COLUMN category`,
		)
	})
}
