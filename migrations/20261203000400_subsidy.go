package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Subsidy: the part of an order's price the fair's organizer pays the
// merchant instead of the buyer (a coupon the organizer funds). Statements
// and payables add it to what the stall is owed; orders made before coupons
// have none.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `ALTER TABLE orders ADD COLUMN subsidy BIGINT NOT NULL DEFAULT 0`)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `ALTER TABLE orders DROP COLUMN subsidy`)
	})
}
