package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// The organizer's console at the scale of an 800-stall fair: indexes that
// page a fair's applications and stalls (all of them, or one status) in id
// order and its audit log newest first (all of it, one action or one actor);
// and the reason a stall was last suspended or reinstated, which its
// merchant is told and the console shows.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE INDEX applications_fair_idx ON applications (fair_id, id)`,
			`CREATE INDEX applications_fair_status_idx ON applications (fair_id, status, id)`,
			`CREATE INDEX stalls_fair_idx ON stalls (fair_id, id)`,
			`CREATE INDEX stalls_fair_status_idx ON stalls (fair_id, status, id)`,
			`CREATE INDEX audit_entries_fair_action_idx ON audit_entries (fair_id, action, id)`,
			`CREATE INDEX audit_entries_fair_actor_idx ON audit_entries (fair_id, actor_id, id)`,
			`ALTER TABLE stalls ADD COLUMN status_reason TEXT NOT NULL DEFAULT ''`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE stalls DROP COLUMN status_reason`,
			`DROP INDEX audit_entries_fair_actor_idx`,
			`DROP INDEX audit_entries_fair_action_idx`,
			`DROP INDEX stalls_fair_status_idx`,
			`DROP INDEX stalls_fair_idx`,
			`DROP INDEX applications_fair_status_idx`,
			`DROP INDEX applications_fair_idx`,
		)
	})
}
