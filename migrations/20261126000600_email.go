package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Email: when a notification was also sent by email, so a task that runs
// twice does not mail twice.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `ALTER TABLE notifications ADD COLUMN emailed_at TIMESTAMPTZ`)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `ALTER TABLE notifications DROP COLUMN emailed_at`)
	})
}
