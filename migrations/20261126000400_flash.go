package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Flash sales (抢购): offers taken out of a product's stock, the tickets
// admitted in Redis and turned into orders, and reminders. The database stays
// the source of truth: `sold` counts the units in live flash orders and a
// CHECK keeps it within the offer's quantity whatever Redis says; an order is
// made from a ticket at most once (unique ticket_id).
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE flash_sales (
				id              TEXT PRIMARY KEY,
				fair_id         TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				stall_id        TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				product_id      TEXT NOT NULL REFERENCES products (id),
				price           BIGINT NOT NULL CHECK (price > 0),
				quantity        INTEGER NOT NULL CHECK (quantity >= 0),
				sold            INTEGER NOT NULL DEFAULT 0,
				per_user_limit  INTEGER NOT NULL CHECK (per_user_limit > 0),
				starts_at       TIMESTAMPTZ NOT NULL,
				ends_at         TIMESTAMPTZ NOT NULL,
				withdrawn       BOOLEAN NOT NULL DEFAULT FALSE,
				settled         BOOLEAN NOT NULL DEFAULT FALSE,
				created_at      TIMESTAMPTZ NOT NULL,
				updated_at      TIMESTAMPTZ NOT NULL,
				CHECK (sold >= 0 AND sold <= quantity),
				CHECK (ends_at > starts_at)
			)`,
			`CREATE INDEX flash_sales_fair_idx ON flash_sales (fair_id, starts_at)`,
			`CREATE INDEX flash_sales_stall_idx ON flash_sales (stall_id)`,
			`CREATE TABLE flash_tickets (
				id          TEXT PRIMARY KEY,
				sale_id     TEXT NOT NULL REFERENCES flash_sales (id) ON DELETE CASCADE,
				user_id     TEXT NOT NULL REFERENCES users (id),
				quantity    INTEGER NOT NULL CHECK (quantity > 0),
				status      TEXT NOT NULL CHECK (status IN ('queued', 'ordered', 'rejected')),
				order_id    TEXT,
				reason      TEXT NOT NULL DEFAULT '',
				admitted_at TIMESTAMPTZ NOT NULL,
				created_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX flash_tickets_sale_user_idx ON flash_tickets (sale_id, user_id)`,
			`ALTER TABLE orders ADD COLUMN flash_sale_id TEXT`,
			`ALTER TABLE orders ADD COLUMN ticket_id TEXT`,
			`CREATE UNIQUE INDEX orders_ticket_key ON orders (ticket_id) WHERE ticket_id IS NOT NULL`,
			`CREATE INDEX orders_flash_sale_idx ON orders (flash_sale_id) WHERE flash_sale_id IS NOT NULL`,
			`CREATE TABLE flash_reminders (
				sale_id     TEXT NOT NULL REFERENCES flash_sales (id) ON DELETE CASCADE,
				user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
				created_at  TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (sale_id, user_id)
			)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE flash_reminders`,
			`DROP INDEX orders_flash_sale_idx`,
			`DROP INDEX orders_ticket_key`,
			`ALTER TABLE orders DROP COLUMN ticket_id`,
			`ALTER TABLE orders DROP COLUMN flash_sale_id`,
			`DROP TABLE flash_tickets`,
			`DROP TABLE flash_sales`,
		)
	})
}
