package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// The audit log: every organizer's and merchant's action that changes a
// fair, stall, product, order or money, with who did it and the values
// before and after, listed per fair.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE audit_entries (
				id          TEXT PRIMARY KEY,
				fair_id     TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				at          TIMESTAMPTZ NOT NULL,
				actor_id    TEXT NOT NULL,
				action      TEXT NOT NULL,
				subject     TEXT NOT NULL,
				detail      TEXT NOT NULL DEFAULT '{}'
			)`,
			`CREATE INDEX audit_entries_fair_idx ON audit_entries (fair_id, id)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `DROP TABLE audit_entries`)
	})
}
