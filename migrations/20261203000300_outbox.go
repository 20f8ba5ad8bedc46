package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Outbox: what must follow a payment, refund, cancellation, shipping or
// redemption (payouts and their reversals, notices, flash units back on
// sale) is written in the transaction that causes it and handed to the
// queue afterwards by a relay, so a crash or a Redis outage between the
// commit and the enqueue loses nothing. A relay claims rows (claim, a token
// of its own, until claimed_until) so that several workers hand each row over
// once; delivered_at is set when the queue has it, done_at when its task has
// run (a task lost with Redis after delivery is offered again). The partial
// index keeps the relay's scan to the rows not done (both databases have
// partial indexes).
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE outbox (
				id             TEXT PRIMARY KEY,
				kind           TEXT NOT NULL CHECK (kind IN ('payout', 'reverse', 'notice', 'restock')),
				order_id       TEXT NOT NULL DEFAULT '',
				refund_id      TEXT NOT NULL DEFAULT '',
				event          TEXT NOT NULL DEFAULT '',
				sale_id        TEXT NOT NULL DEFAULT '',
				buyer_id       TEXT NOT NULL DEFAULT '',
				units          INTEGER NOT NULL DEFAULT 0,
				created_at     TIMESTAMPTZ NOT NULL,
				claim          TEXT NOT NULL DEFAULT '',
				claimed_until  TIMESTAMPTZ,
				attempts       INTEGER NOT NULL DEFAULT 0,
				last_error     TEXT NOT NULL DEFAULT '',
				delivered_at   TIMESTAMPTZ,
				done_at        TIMESTAMPTZ
			)`,
			`CREATE INDEX outbox_pending_idx ON outbox (created_at) WHERE done_at IS NULL`,
			`CREATE INDEX outbox_done_idx ON outbox (done_at)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `DROP TABLE outbox`)
	})
}
