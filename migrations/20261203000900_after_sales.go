package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// After-sales (售后): a buyer's request for a refund or a return on a paid
// order, answered by the stall's merchant and, when escalated, decided by
// the fair's organizer. An order has at most one unresolved request (open,
// rejected and not yet escalated, or escalated): the partial unique index
// says so to both databases. Outbox notices name the request they concern
// (after_sale_id), and the organizer's order desk lists a fair's orders
// newest first (orders_fair_idx).
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE after_sales (
				id              TEXT PRIMARY KEY,
				order_id        TEXT NOT NULL REFERENCES orders (id),
				fair_id         TEXT NOT NULL,
				stall_id        TEXT NOT NULL,
				buyer_id        TEXT NOT NULL,
				kind            TEXT NOT NULL CHECK (kind IN ('refund', 'return')),
				amount          BIGINT NOT NULL CHECK (amount > 0),
				currency        TEXT NOT NULL,
				reason          TEXT NOT NULL,
				photos          TEXT NOT NULL DEFAULT '[]',
				status          TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'rejected', 'escalated', 'decided')),
				reply_by        TIMESTAMPTZ NOT NULL,
				reply_reason    TEXT NOT NULL DEFAULT '',
				decision_reason TEXT NOT NULL DEFAULT '',
				refund_amount   BIGINT NOT NULL DEFAULT 0,
				refund_id       TEXT,
				restocked       BOOLEAN NOT NULL DEFAULT FALSE,
				created_at      TIMESTAMPTZ NOT NULL,
				updated_at      TIMESTAMPTZ NOT NULL,
				replied_at      TIMESTAMPTZ,
				escalated_at    TIMESTAMPTZ,
				decided_at      TIMESTAMPTZ
			)`,
			`CREATE UNIQUE INDEX after_sales_unresolved_idx ON after_sales (order_id) WHERE status IN ('open', 'rejected', 'escalated')`,
			`CREATE INDEX after_sales_order_idx ON after_sales (order_id)`,
			`CREATE INDEX after_sales_buyer_idx ON after_sales (buyer_id, id)`,
			`CREATE INDEX after_sales_stall_idx ON after_sales (stall_id, id)`,
			`CREATE INDEX after_sales_fair_idx ON after_sales (fair_id, status, id)`,
			`ALTER TABLE outbox ADD COLUMN after_sale_id TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX orders_fair_idx ON orders (fair_id, id)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP INDEX orders_fair_idx`,
			`ALTER TABLE outbox DROP COLUMN after_sale_id`,
			`DROP TABLE after_sales`,
		)
	})
}
