package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Settings: values every process of a deployment shares, such as the key
// that signs session tokens.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `DROP TABLE settings`)
	})
}
