package migrations

import (
	"context"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Search index: search_terms holds per product the terms of its title,
// description and stall name (every character and adjacent pair, and the
// title's and stall name's pinyin: see catalog's searchindex.go), so that
// queries of one, two or more characters, several words and pinyin are
// answered from an index. Products also count the units sold (checked out
// and not given back), which the search ranks by. The migration fills both
// from the existing rows: the terms through the catalog's own tokenizer.
//
// The databases differ in two places. PostgreSQL compares terms in the "C"
// collation (byte order, as SQLite's BINARY), so that a pinyin prefix is a
// range of the index whatever the database's locale; SQLite keeps the rows
// in the primary key itself (WITHOUT ROWID), which is the index the queries
// read. The key puts the weight (where the term was found) before the
// product, so the products of a term found in one place are a range of it.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		table := `CREATE TABLE search_terms (
				fair_id     TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				term        TEXT NOT NULL,
				product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
				weight      INTEGER NOT NULL,
				PRIMARY KEY (fair_id, term, weight, product_id)
			)`
		if IsPostgres(db) {
			table = `CREATE TABLE search_terms (
				fair_id     TEXT NOT NULL REFERENCES fairs (id) ON DELETE CASCADE,
				term        TEXT COLLATE "C" NOT NULL,
				product_id  TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
				weight      INTEGER NOT NULL,
				PRIMARY KEY (fair_id, term, weight, product_id)
			)`
		} else {
			table += ` WITHOUT ROWID`
		}
		err := execAll(ctx, db,
			table,
			`CREATE INDEX search_terms_product_idx ON search_terms (product_id)`,
			`ALTER TABLE products ADD COLUMN sold BIGINT NOT NULL DEFAULT 0`,
			// The broadest searches walk a fair's products best sold first.
			`CREATE INDEX products_sold_idx ON products (fair_id, sold DESC, id)`,
		)
		if err != nil {
			return err
		}
		return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := catalog.RecountSold(ctx, tx, ""); err != nil {
				return err
			}
			return catalog.RebuildSearchIndex(ctx, tx, "")
		})
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE search_terms`,
			`DROP INDEX products_sold_idx`,
			`ALTER TABLE products DROP COLUMN sold`,
		)
	})
}
