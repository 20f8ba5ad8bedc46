package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Booth operations (线下参展): a shopper's one pass per fair, whose code
// redeems all their pickups at a booth at once; a stall's staff (核销员), who
// may list its orders, redeem and record booth sales; and the sales made at
// the booth itself, which the totals count as offline; and the fair's floor
// plan.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE fair_passes (
				id          TEXT PRIMARY KEY,
				fair_id     TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				buyer_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				code        TEXT NOT NULL UNIQUE,
				created_at  TIMESTAMPTZ NOT NULL,
				UNIQUE (fair_id, buyer_id)
			)`,
			`CREATE TABLE stall_staff (
				stall_id    TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				created_at  TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (stall_id, user_id)
			)`,
			`CREATE INDEX stall_staff_user_idx ON stall_staff (user_id)`,
			`CREATE TABLE offline_sales (
				id          TEXT PRIMARY KEY,
				stall_id    TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				fair_id     TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				amount      BIGINT NOT NULL CHECK (amount > 0),
				note        TEXT NOT NULL DEFAULT '',
				buyer_id    TEXT,
				recorded_by TEXT NOT NULL,
				created_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX offline_sales_stall_idx ON offline_sales (stall_id)`,
			`CREATE INDEX offline_sales_fair_idx ON offline_sales (fair_id)`,
			`CREATE INDEX orders_pickup_code_idx ON orders (pickup_code)`,
			// The fair's floor plan: its booths as rectangles, a JSON list
			// (TEXT on both databases: it is read and written whole).
			`CREATE TABLE fair_maps (
				fair_id     TEXT PRIMARY KEY REFERENCES fairs (id) ON DELETE CASCADE,
				image_url   TEXT NOT NULL DEFAULT '',
				booths      TEXT NOT NULL DEFAULT '[]',
				updated_at  TIMESTAMPTZ NOT NULL
			)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE fair_maps`,
			`DROP INDEX orders_pickup_code_idx`,
			`DROP TABLE offline_sales`,
			`DROP TABLE stall_staff`,
			`DROP TABLE fair_passes`,
		)
	})
}
