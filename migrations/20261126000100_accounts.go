package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Accounts: users, their sessions (bearer tokens and cookies) and the in-app inbox.
// Times are TIMESTAMPTZ on both databases: PostgreSQL stores them natively, SQLite
// keeps the UTC text Bun writes, which sorts in time order.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE users (
				id            TEXT PRIMARY KEY,
				email         TEXT NOT NULL,
				name          TEXT NOT NULL,
				role          TEXT NOT NULL CHECK (role IN ('shopper', 'merchant', 'organizer')),
				password_hash TEXT NOT NULL,
				lang          TEXT NOT NULL DEFAULT 'zh-CN',
				created_at    TIMESTAMPTZ NOT NULL
			)`,
			// Emails are stored normalised to lower case, so this index makes them
			// unique regardless of the case a user typed.
			`CREATE UNIQUE INDEX users_email_key ON users (email)`,
			`CREATE TABLE sessions (
				id          TEXT PRIMARY KEY,
				user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				token_hash  TEXT NOT NULL,
				csrf_token  TEXT NOT NULL,
				created_at  TIMESTAMPTZ NOT NULL,
				expires_at  TIMESTAMPTZ NOT NULL,
				revoked_at  TIMESTAMPTZ
			)`,
			`CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash)`,
			`CREATE INDEX sessions_user_id_idx ON sessions (user_id)`,
			`CREATE INDEX sessions_expires_at_idx ON sessions (expires_at)`,
			`CREATE TABLE notifications (
				id          TEXT PRIMARY KEY,
				user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				event_key   TEXT NOT NULL,
				kind        TEXT NOT NULL,
				title       TEXT NOT NULL,
				body        TEXT NOT NULL,
				created_at  TIMESTAMPTZ NOT NULL,
				read_at     TIMESTAMPTZ
			)`,
			// One inbox entry per event and recipient, however often its task runs.
			`CREATE UNIQUE INDEX notifications_event_key ON notifications (user_id, event_key)`,
			`CREATE INDEX notifications_user_idx ON notifications (user_id, id)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE notifications`,
			`DROP TABLE sessions`,
			`DROP TABLE users`,
		)
	})
}
