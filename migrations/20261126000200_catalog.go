package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Catalog: fairs and their categories, merchant applications, stalls, products
// with images, and the property-season listings (unit types, viewing slots,
// bookings). Stock, prices and slot bookings are kept in range by CHECK
// constraints, so no code path can push them past their bounds.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		stmts := []string{
			`CREATE TABLE fairs (
				id                     TEXT PRIMARY KEY,
				slug                   TEXT NOT NULL,
				name                   TEXT NOT NULL,
				name_en                TEXT NOT NULL DEFAULT '',
				description            TEXT NOT NULL DEFAULT '',
				description_en         TEXT NOT NULL DEFAULT '',
				kind                   TEXT NOT NULL CHECK (kind IN ('temple_fair', 'property_season')),
				starts_at              TIMESTAMPTZ NOT NULL,
				ends_at                TIMESTAMPTZ NOT NULL,
				commission_bps         INTEGER NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
				payment_window_seconds INTEGER NOT NULL DEFAULT 0 CHECK (payment_window_seconds >= 0),
				organizer_id           TEXT NOT NULL REFERENCES users (id),
				published              BOOLEAN NOT NULL,
				created_at             TIMESTAMPTZ NOT NULL,
				updated_at             TIMESTAMPTZ NOT NULL,
				CHECK (ends_at > starts_at)
			)`,
			`CREATE UNIQUE INDEX fairs_slug_key ON fairs (slug)`,
			`CREATE INDEX fairs_organizer_idx ON fairs (organizer_id)`,
			`CREATE TABLE categories (
				id        TEXT PRIMARY KEY,
				fair_id   TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				slug      TEXT NOT NULL,
				name      TEXT NOT NULL,
				name_en   TEXT NOT NULL,
				position  INTEGER NOT NULL
			)`,
			`CREATE UNIQUE INDEX categories_fair_slug_key ON categories (fair_id, slug)`,
			`CREATE TABLE applications (
				id           TEXT PRIMARY KEY,
				fair_id      TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				merchant_id  TEXT NOT NULL REFERENCES users (id),
				stall_name   TEXT NOT NULL,
				description  TEXT NOT NULL DEFAULT '',
				status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
				reason       TEXT NOT NULL DEFAULT '',
				created_at   TIMESTAMPTZ NOT NULL,
				decided_at   TIMESTAMPTZ
			)`,
			// A merchant applies to a fair once.
			`CREATE UNIQUE INDEX applications_fair_merchant_key ON applications (fair_id, merchant_id)`,
			`CREATE INDEX applications_merchant_idx ON applications (merchant_id)`,
			`CREATE TABLE stalls (
				id              TEXT PRIMARY KEY,
				fair_id         TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				merchant_id     TEXT NOT NULL REFERENCES users (id),
				application_id  TEXT NOT NULL REFERENCES applications (id),
				name            TEXT NOT NULL,
				description     TEXT NOT NULL DEFAULT '',
				booth           TEXT NOT NULL,
				status          TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
				address         TEXT NOT NULL DEFAULT '',
				district        TEXT NOT NULL DEFAULT '',
				created_at      TIMESTAMPTZ NOT NULL,
				updated_at      TIMESTAMPTZ NOT NULL
			)`,
			`CREATE UNIQUE INDEX stalls_fair_merchant_key ON stalls (fair_id, merchant_id)`,
			`CREATE UNIQUE INDEX stalls_fair_booth_key ON stalls (fair_id, booth)`,
			`CREATE INDEX stalls_merchant_idx ON stalls (merchant_id)`,
			`CREATE TABLE products (
				id            TEXT PRIMARY KEY,
				fair_id       TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				stall_id      TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				category      TEXT NOT NULL DEFAULT '',
				title         TEXT NOT NULL CHECK (length(title) > 0),
				description   TEXT NOT NULL DEFAULT '',
				price         BIGINT NOT NULL CHECK (price >= 0),
				currency      TEXT NOT NULL CHECK (currency = 'CNY'),
				stock         BIGINT NOT NULL CHECK (stock >= 0),
				kind          TEXT NOT NULL CHECK (kind IN ('goods', 'voucher')),
				fulfillment   TEXT NOT NULL CHECK (fulfillment IN ('ship', 'pickup')),
				offset_value  BIGINT NOT NULL DEFAULT 0 CHECK (offset_value >= 0),
				valid_until   TIMESTAMPTZ,
				active        BOOLEAN NOT NULL DEFAULT TRUE,
				created_at    TIMESTAMPTZ NOT NULL,
				updated_at    TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX products_fair_idx ON products (fair_id, id)`,
			`CREATE INDEX products_stall_idx ON products (stall_id, id)`,
			`CREATE TABLE product_images (
				id            TEXT PRIMARY KEY,
				product_id    TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
				file          TEXT NOT NULL,
				content_type  TEXT NOT NULL,
				size          BIGINT NOT NULL,
				width         INTEGER NOT NULL,
				height        INTEGER NOT NULL,
				created_at    TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX product_images_product_idx ON product_images (product_id, id)`,
			`CREATE TABLE unit_types (
				id               TEXT PRIMARY KEY,
				stall_id         TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				name             TEXT NOT NULL,
				area_m2          DOUBLE PRECISION NOT NULL CHECK (area_m2 > 0),
				price_per_m2     BIGINT NOT NULL CHECK (price_per_m2 >= 0),
				units_available  INTEGER NOT NULL CHECK (units_available >= 0),
				created_at       TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX unit_types_stall_idx ON unit_types (stall_id, id)`,
			`CREATE TABLE viewing_slots (
				id          TEXT PRIMARY KEY,
				stall_id    TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				starts_at   TIMESTAMPTZ NOT NULL,
				ends_at     TIMESTAMPTZ NOT NULL,
				capacity    INTEGER NOT NULL CHECK (capacity > 0),
				booked      INTEGER NOT NULL DEFAULT 0,
				created_at  TIMESTAMPTZ NOT NULL,
				CHECK (booked >= 0 AND booked <= capacity),
				CHECK (ends_at > starts_at)
			)`,
			`CREATE INDEX viewing_slots_stall_idx ON viewing_slots (stall_id, starts_at)`,
			`CREATE TABLE bookings (
				id            TEXT PRIMARY KEY,
				slot_id       TEXT NOT NULL REFERENCES viewing_slots (id) ON DELETE CASCADE,
				stall_id      TEXT NOT NULL REFERENCES stalls (id) ON DELETE CASCADE,
				user_id       TEXT NOT NULL REFERENCES users (id),
				status        TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
				created_at    TIMESTAMPTZ NOT NULL,
				cancelled_at  TIMESTAMPTZ
			)`,
			// One live booking per shopper per development.
			`CREATE UNIQUE INDEX bookings_one_per_development ON bookings (stall_id, user_id) WHERE status = 'booked'`,
			`CREATE INDEX bookings_user_idx ON bookings (user_id, id)`,
		}
		// Search that finds Chinese substrings (q=臭干 finds 泰州臭干) differs by
		// database: SQLite keeps an FTS5 trigram index in step with products by
		// triggers; PostgreSQL indexes the same text with pg_trgm.
		if IsPostgres(db) {
			stmts = append(stmts,
				`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
				`CREATE INDEX products_search_idx ON products USING gin ((title || ' ' || description) gin_trgm_ops)`,
			)
		} else {
			stmts = append(stmts,
				`CREATE VIRTUAL TABLE products_fts USING fts5(title, description, content='products', content_rowid='rowid', tokenize='trigram')`,
				`CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
					INSERT INTO products_fts (rowid, title, description) VALUES (new.rowid, new.title, new.description);
				END`,
				`CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
					INSERT INTO products_fts (products_fts, rowid, title, description) VALUES ('delete', old.rowid, old.title, old.description);
				END`,
				`CREATE TRIGGER products_fts_update AFTER UPDATE OF title, description ON products BEGIN
					INSERT INTO products_fts (products_fts, rowid, title, description) VALUES ('delete', old.rowid, old.title, old.description);
					INSERT INTO products_fts (rowid, title, description) VALUES (new.rowid, new.title, new.description);
				END`,
			)
		}
		return execAll(ctx, db, stmts...)
	}, func(ctx context.Context, db *bun.DB) error {
		stmts := []string{}
		if !IsPostgres(db) {
			stmts = append(stmts, `DROP TABLE products_fts`)
		}
		stmts = append(stmts,
			`DROP TABLE bookings`, `DROP TABLE viewing_slots`, `DROP TABLE unit_types`,
			`DROP TABLE product_images`, `DROP TABLE products`, `DROP TABLE stalls`,
			`DROP TABLE applications`, `DROP TABLE categories`, `DROP TABLE fairs`,
		)
		return execAll(ctx, db, stmts...)
	})
}
