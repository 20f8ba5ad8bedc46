package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Editions (往届与本届): a fair's next edition points at the one before it
// (previous_fair_id; one next edition per fair, so a series is a line). A
// merchant may apply again after a rejection: only a pending or approved
// application blocks another one. An application may re-enrol a stall of an
// earlier edition (from_stall_id), and carries the licence documents its
// merchant uploads (application_documents; the files live under the data
// directory, outside the public media).
//
// The new columns name no foreign key: SQLite cannot drop a column that is
// part of one, and the services check both links themselves.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE fairs ADD COLUMN previous_fair_id TEXT`,
			`CREATE UNIQUE INDEX fairs_previous_key ON fairs (previous_fair_id) WHERE previous_fair_id IS NOT NULL`,
			`ALTER TABLE applications ADD COLUMN from_stall_id TEXT`,
			`DROP INDEX applications_fair_merchant_key`,
			// One live application per merchant and fair; rejected ones stay
			// as history beside it.
			`CREATE UNIQUE INDEX applications_fair_merchant_live_key ON applications (fair_id, merchant_id) WHERE status IN ('pending', 'approved')`,
			`CREATE INDEX applications_fair_merchant_idx ON applications (fair_id, merchant_id)`,
			`CREATE TABLE application_documents (
				id              TEXT PRIMARY KEY,
				application_id  TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
				name            TEXT NOT NULL,
				file            TEXT NOT NULL,
				content_type    TEXT NOT NULL,
				size            BIGINT NOT NULL CHECK (size > 0),
				created_at      TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX application_documents_application_idx ON application_documents (application_id, id)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE application_documents`,
			`DROP INDEX applications_fair_merchant_idx`,
			`DROP INDEX applications_fair_merchant_live_key`,
			// The old schema keeps one application per merchant and fair:
			// the rejected ones a later application superseded go.
			`DELETE FROM applications WHERE status = 'rejected' AND EXISTS (
				SELECT 1 FROM applications AS later
				WHERE later.fair_id = applications.fair_id AND later.merchant_id = applications.merchant_id AND later.id > applications.id)`,
			`CREATE UNIQUE INDEX applications_fair_merchant_key ON applications (fair_id, merchant_id)`,
			`ALTER TABLE applications DROP COLUMN from_stall_id`,
			`DROP INDEX fairs_previous_key`,
			`ALTER TABLE fairs DROP COLUMN previous_fair_id`,
		)
	})
}
