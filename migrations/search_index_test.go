package migrations_test

import (
	"testing"
	"time"

	"miaohui/migrations"
	"miaohui/migrations/testdb"
)

// TestMigrateSearchIndex applies the search index onto a database that
// already holds products and an order: their terms and units sold are filled
// in; rolled back, the table and the column go.
func TestMigrateSearchIndex(t *testing.T) {
	ctx := ctxFor(t)
	db := testdb.OpenEmpty(t)
	const name = "20261203000500"

	migrateBefore(t, ctx, db, name)
	now := time.Now().UTC().Truncate(time.Second)
	for _, s := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ('u1', 'o@example.com', 'o', 'organizer', 'x', ?), ('u2', 'm@example.com', 'm', 'merchant', 'x', ?)`, []any{now, now}},
		{`INSERT INTO fairs (id, slug, name, kind, starts_at, ends_at, commission_bps, organizer_id, published, created_at, updated_at) VALUES ('f1', 'f1', '庙会', 'temple_fair', ?, ?, 500, 'u1', TRUE, ?, ?)`, []any{now, now.Add(time.Hour), now, now}},
		{`INSERT INTO applications (id, fair_id, merchant_id, stall_name, status, created_at) VALUES ('a1', 'f1', 'u2', '靖江小吃', 'approved', ?)`, []any{now}},
		{`INSERT INTO stalls (id, fair_id, merchant_id, application_id, name, booth, status, created_at, updated_at) VALUES ('s1', 'f1', 'u2', 'a1', '靖江小吃', 'A-001', 'active', ?, ?)`, []any{now, now}},
		{`INSERT INTO products (id, fair_id, stall_id, title, description, price, currency, stock, kind, fulfillment, created_at, updated_at) VALUES ('p1', 'f1', 's1', '蟹黄汤包', '现包现蒸', 4800, 'CNY', 9, 'goods', 'pickup', ?, ?), ('p2', 'f1', 's1', '冰糖葫芦', '', 500, 'CNY', 9, 'goods', 'pickup', ?, ?)`, []any{now, now, now, now}},
		{`INSERT INTO payments (id, buyer_id, fair_id, provider, status, amount, currency, expires_at, created_at, updated_at) VALUES ('pay1', 'u1', 'f1', 'sandbox', 'succeeded', 9600, 'CNY', ?, ?, ?)`, []any{now, now, now}},
		{`INSERT INTO orders (id, payment_id, fair_id, stall_id, buyer_id, status, fulfillment, total, currency, platform_fee, merchant_share, created_at, expires_at) VALUES ('o1', 'pay1', 'f1', 's1', 'u1', 'paid', 'pickup', 9600, 'CNY', 480, 9120, ?, ?), ('o2', 'pay1', 'f1', 's1', 'u1', 'cancelled', 'pickup', 4800, 'CNY', 240, 4560, ?, ?)`, []any{now, now, now, now}},
		{`INSERT INTO order_items (id, order_id, product_id, title, kind, unit_price, quantity, line_total) VALUES ('i1', 'o1', 'p1', '蟹黄汤包', 'goods', 4800, 2, 9600), ('i2', 'o2', 'p1', '蟹黄汤包', 'goods', 4800, 1, 4800)`, nil},
	} {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			t.Fatalf("%v\n%s", err, s.q)
		}
	}

	applied, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if len(applied) == 0 || applied[0] != name {
		t.Fatalf("Up applied %v, want %s first", applied, name)
	}
	weight := func(term, product string) int {
		t.Helper()
		var w int
		if err := db.QueryRowContext(ctx, `SELECT weight FROM search_terms WHERE fair_id = 'f1' AND term = ? AND product_id = ?`, term, product).Scan(&w); err != nil {
			return 0
		}
		return w
	}
	for _, c := range []struct {
		term, product string
		want          int
	}{
		{"汤包", "p1", 4}, {"蟹", "p1", 12}, {"蟹黄", "p1", 12}, {"包", "p1", 5}, {"靖江", "p1", 2}, {"现蒸", "p1", 1},
		{"p:xiehuangtangbao", "p1", 12}, {"p:tangbao", "p1", 4}, {"i:tb", "p1", 4}, {"i:jjxc", "p1", 2},
		{"葫芦", "p2", 4}, {"靖江", "p2", 2}, {"汤包", "p2", 0},
	} {
		if got := weight(c.term, c.product); got != c.want {
			t.Errorf("term %s of %s: weight %d, want %d", c.term, c.product, got, c.want)
		}
	}
	var sold1, sold2 int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT sold FROM products WHERE id = 'p1'), (SELECT sold FROM products WHERE id = 'p2')`).Scan(&sold1, &sold2); err != nil {
		t.Fatal(err)
	}
	if sold1 != 2 || sold2 != 0 {
		t.Errorf("sold %d and %d, want 2 (the cancelled order's unit not counted) and 0", sold1, sold2)
	}

	if _, err := migrations.Down(ctx, db); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT COUNT(*) FROM search_terms`); err == nil {
		t.Error("search_terms is still there after Down")
	}
	if _, err := db.ExecContext(ctx, `SELECT sold FROM products`); err == nil {
		t.Error("products.sold is still there after Down")
	}
}
