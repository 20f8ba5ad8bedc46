package migrations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
)

// Admin role: users may now have the role 'admin', who runs the platform's
// background queues (created by the operator CLI only). Rolling back turns
// admins into organizers, who held that power before.
//
// The databases differ here. PostgreSQL drops and re-adds the column's CHECK
// (named users_role_check by default). SQLite cannot alter a CHECK in
// place, so the users table is rebuilt (SQLite's documented procedure): on
// one connection with foreign keys off, a new table with the new CHECK takes
// the rows, the old one is dropped and the new one renamed; the other tables'
// REFERENCES users then point at it, and foreign_key_check confirms it.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return setUserRoles(ctx, db, `'shopper', 'merchant', 'organizer', 'admin'`)
	}, func(ctx context.Context, db *bun.DB) error {
		if _, err := db.ExecContext(ctx, `UPDATE users SET role = 'organizer' WHERE role = 'admin'`); err != nil {
			return err
		}
		return setUserRoles(ctx, db, `'shopper', 'merchant', 'organizer'`)
	})
}

// setUserRoles makes roles (a quoted SQL list) the only roles users may have.
func setUserRoles(ctx context.Context, db *bun.DB, roles string) error {
	if IsPostgres(db) {
		return execAll(ctx, db,
			`ALTER TABLE users DROP CONSTRAINT users_role_check`,
			`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN (`+roles+`))`,
		)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// PRAGMA foreign_keys is a no-op inside a transaction: set it before.
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`) //nolint:errcheck // the connection goes back to the pool as it came
	return conn.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range []string{
			`CREATE TABLE users_rebuilt (
				id            TEXT PRIMARY KEY,
				email         TEXT NOT NULL,
				name          TEXT NOT NULL,
				role          TEXT NOT NULL CHECK (role IN (` + roles + `)),
				password_hash TEXT NOT NULL,
				lang          TEXT NOT NULL DEFAULT 'zh-CN',
				created_at    TIMESTAMPTZ NOT NULL
			)`,
			`INSERT INTO users_rebuilt (id, email, name, role, password_hash, lang, created_at)
				SELECT id, email, name, role, password_hash, lang, created_at FROM users`,
			`DROP TABLE users`,
			`ALTER TABLE users_rebuilt RENAME TO users`,
			`CREATE UNIQUE INDEX users_email_key ON users (email)`,
		} {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%w\n-- in statement:\n%s", err, s)
			}
		}
		var table string
		err := tx.QueryRowContext(ctx, `PRAGMA foreign_key_check`).Scan(&table, new(any), new(any), new(any))
		if err == nil {
			return fmt.Errorf("rebuilding users broke a reference from %s", table)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	})
}
