package migrations_test

import (
	"context"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"miaohui/migrations"
	"miaohui/migrations/testdb"
)

// accountTables are the tables the accounts migration creates.
var accountTables = []string{"users", "sessions", "notifications"}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// known is the name of every embedded migration, oldest first.
func known(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range migrations.Migrations.Sorted() {
		out = append(out, m.Name)
	}
	if len(out) == 0 {
		t.Fatal("no migrations are registered")
	}
	return out
}

// appliedNames returns the migrations Status reports as applied, and fails
// the test unless every other one is pending.
func appliedNames(t *testing.T, ctx context.Context, db *bun.DB) []string {
	t.Helper()
	ms, err := migrations.Status(ctx, db)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(ms) != len(known(t)) {
		t.Fatalf("Status lists %d migrations, want %d", len(ms), len(known(t)))
	}
	var out []string
	for _, m := range ms {
		if m.IsApplied() {
			if m.MigratedAt.IsZero() {
				t.Errorf("%s is applied without a time", m.Name)
			}
			out = append(out, m.Name)
		}
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// useAccountTables writes and reads a row of each account table through plain SQL.
func useAccountTables(t *testing.T, ctx context.Context, db *bun.DB, suffix string) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	userID, sessID, noteID := "u_"+suffix, "s_"+suffix, "n_"+suffix
	email := suffix + "@example.com"
	if _, err := db.ExecContext(ctx,
		`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		userID, email, "庙会用户", "shopper", "$argon2id$x", now); err != nil {
		t.Fatalf("insert user: %v", err)
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO sessions (id, user_id, token_hash, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		sessID, userID, "hash_"+suffix, "csrf_"+suffix, now, now.Add(time.Hour)); err != nil {
		t.Fatalf("insert session: %v", err)
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO notifications (id, user_id, event_key, kind, title, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		noteID, userID, "welcome", "welcome", "欢迎", "body", now); err != nil {
		t.Fatalf("insert notification: %v", err)
	}

	var name, role, lang string
	if err := db.QueryRowContext(ctx, `SELECT name, role, lang FROM users WHERE id = ?`, userID).Scan(&name, &role, &lang); err != nil {
		t.Fatalf("select user: %v", err)
	}
	if name != "庙会用户" || role != "shopper" || lang != "zh-CN" {
		t.Errorf("user row: name %q role %q lang %q", name, role, lang)
	}
	var sessUser string
	if err := db.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE token_hash = ? AND revoked_at IS NULL`, "hash_"+suffix).Scan(&sessUser); err != nil {
		t.Fatalf("select session: %v", err)
	}
	if sessUser != userID {
		t.Errorf("session user %q, want %q", sessUser, userID)
	}
	var kind string
	if err := db.QueryRowContext(ctx, `SELECT kind FROM notifications WHERE user_id = ? AND read_at IS NULL`, userID).Scan(&kind); err != nil {
		t.Fatalf("select notification: %v", err)
	}
	if kind != "welcome" {
		t.Errorf("notification kind %q", kind)
	}

	// The constraints the application relies on.
	if _, err := db.ExecContext(ctx,
		`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"dup_"+suffix, email, "dup", "shopper", "x", now); err == nil {
		t.Error("a second user with the same email was stored")
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"wizard_"+suffix, "wizard_"+email, "wiz", "wizard", "x", now); err == nil {
		t.Error("a user with role wizard was stored")
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"admin_"+suffix, "admin_"+email, "root", "admin", "x", now); err != nil {
		t.Errorf("a user with role admin was refused: %v", err)
	} else if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, "admin_"+suffix); err != nil {
		t.Fatalf("delete the admin: %v", err)
	}
	if _, err := db.ExecContext(ctx,
		`INSERT INTO notifications (id, user_id, event_key, kind, title, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		"n2_"+suffix, userID, "welcome", "welcome", "again", "again", now); err == nil {
		t.Error("a second notification for the same event was stored")
	}
}

func countRows(t *testing.T, ctx context.Context, db *bun.DB, table string) (int, error) {
	t.Helper()
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

func TestMigrateUpStatusDownUp(t *testing.T) {
	ctx := ctxFor(t)
	db := testdb.OpenEmpty(t)
	all := known(t)

	// Before anything: every migration is pending and no table exists.
	if got := appliedNames(t, ctx, db); len(got) != 0 {
		t.Fatalf("fresh database has applied migrations %v", got)
	}
	for _, table := range accountTables {
		if _, err := countRows(t, ctx, db, table); err == nil {
			t.Fatalf("table %s exists before migrating", table)
		}
	}

	applied, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if !equal(applied, all) {
		t.Fatalf("Up applied %v, want %v", applied, all)
	}
	if got := appliedNames(t, ctx, db); !equal(got, all) {
		t.Fatalf("Status after Up: applied %v, want %v", got, all)
	}
	useAccountTables(t, ctx, db, "first")

	// Up again changes nothing.
	again, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("second Up applied %v, want nothing", again)
	}
	if n, err := countRows(t, ctx, db, "users"); err != nil || n != 1 {
		t.Fatalf("users after second Up: %d rows, err %v; want the one row kept", n, err)
	}

	// Down rolls back the last group: here, everything Up applied together.
	undone, err := migrations.Down(ctx, db)
	if err != nil {
		t.Fatalf("Down: %v", err)
	}
	if len(undone) != len(all) {
		t.Fatalf("Down rolled back %v, want all of %v", undone, all)
	}
	for i := range undone { // newest first
		if undone[i] != all[len(all)-1-i] {
			t.Fatalf("Down rolled back %v, want the reverse of %v", undone, all)
		}
	}
	if got := appliedNames(t, ctx, db); len(got) != 0 {
		t.Fatalf("Status after Down: applied %v, want none", got)
	}
	for _, table := range accountTables {
		if _, err := countRows(t, ctx, db, table); err == nil {
			t.Errorf("table %s still exists after Down", table)
		}
	}

	// Down with nothing applied is a no-op, not an error.
	none, err := migrations.Down(ctx, db)
	if err != nil {
		t.Fatalf("Down on an empty schema: %v", err)
	}
	if len(none) != 0 {
		t.Fatalf("Down on an empty schema rolled back %v", none)
	}

	// Up re-applies everything, onto empty tables.
	reapplied, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("Up after Down: %v", err)
	}
	if !equal(reapplied, all) {
		t.Fatalf("Up after Down applied %v, want %v", reapplied, all)
	}
	if got := appliedNames(t, ctx, db); !equal(got, all) {
		t.Fatalf("Status after re-Up: applied %v, want %v", got, all)
	}
	for _, table := range accountTables {
		if n, err := countRows(t, ctx, db, table); err != nil || n != 0 {
			t.Fatalf("%s after re-Up: %d rows, err %v; want an empty table", table, n, err)
		}
	}
	useAccountTables(t, ctx, db, "second")
}

func TestMigrateUpTwiceIsNoOp(t *testing.T) {
	ctx := ctxFor(t)
	db := testdb.OpenEmpty(t)
	first, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if !equal(first, known(t)) {
		t.Fatalf("Up applied %v, want %v", first, known(t))
	}
	before, err := migrations.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	second, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if len(second) != 0 {
		t.Fatalf("second Up applied %v", second)
	}
	after, err := migrations.Status(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if after[i].GroupID != before[i].GroupID || !after[i].MigratedAt.Equal(before[i].MigratedAt) {
			t.Errorf("%s changed: group %d→%d, migrated %s→%s", after[i].Name,
				before[i].GroupID, after[i].GroupID, before[i].MigratedAt, after[i].MigratedAt)
		}
	}
	// The lock taken for the run is released: a later Down does not wait for it.
	start := time.Now()
	if _, err := migrations.Down(ctx, db); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Down waited %s for a lock", d)
	}
}

// secondHandle opens another connection pool onto the same database as db,
// as another process would.
func secondHandle(t *testing.T, ctx context.Context, db *bun.DB) *bun.DB {
	t.Helper()
	var url string
	if migrations.IsPostgres(db) {
		// The same database and schema as db, whichever way testdb isolates tests.
		var dbName, schema string
		if err := db.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&dbName, &schema); err != nil {
			t.Fatal(err)
		}
		u, err := neturl.Parse(os.Getenv("TEST_DATABASE_URL"))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + dbName
		q := u.Query()
		q.Del("search_path")
		if schema != "public" {
			q.Set("search_path", schema+",public")
		}
		u.RawQuery = q.Encode()
		url = u.String()
	} else {
		var seq int
		var name, file string
		if err := db.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
			t.Fatal(err)
		}
		if file == "" {
			t.Fatal("the test database is not a file")
		}
		url = migrations.SQLiteDSN(file)
	}
	other, err := migrations.OpenDB(url, "")
	if err != nil {
		t.Fatalf("open a second handle: %v", err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// TestMigrateConcurrentUp runs two Up calls at once on one fresh database, as
// two `fair serve` processes starting together do. "after init" first creates
// the bookkeeping tables (Status does), so it checks the migration lock alone.
func TestMigrateConcurrentUp(t *testing.T) {
	for _, mode := range []string{"same handle", "two handles", "two handles after init"} {
		t.Run(mode, func(t *testing.T) {
			ctx := ctxFor(t)
			db := testdb.OpenEmpty(t)
			dbs := []*bun.DB{db, db}
			if mode != "same handle" {
				dbs[1] = secondHandle(t, ctx, db)
			}
			if mode == "two handles after init" {
				if _, err := migrations.Status(ctx, db); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			results := make([][]string, len(dbs))
			errs := make([]error, len(dbs))
			start := make(chan struct{})
			for i, h := range dbs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i], errs[i] = migrations.Up(ctx, h)
				}()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Up #%d: %v", i, err)
				}
			}
			if t.Failed() {
				return
			}
			// Between them they applied each migration exactly once.
			all := known(t)
			count := map[string]int{}
			for _, r := range results {
				for _, name := range r {
					count[name]++
				}
			}
			for _, name := range all {
				if count[name] != 1 {
					t.Errorf("%s applied %d times (results %v)", name, count[name], results)
				}
			}
			if got := appliedNames(t, ctx, db); !equal(got, all) {
				t.Fatalf("Status: applied %v, want %v", got, all)
			}
			ms, err := migrations.Status(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			var rows int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM bun_migrations").Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != len(all) {
				t.Errorf("bun_migrations has %d rows, want %d", rows, len(all))
			}
			groups := map[int64]bool{}
			for _, m := range ms {
				groups[m.GroupID] = true
			}
			if len(groups) != 1 {
				t.Errorf("migrations applied in groups %v, want one", groups)
			}
			var locks int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM bun_migration_locks").Scan(&locks); err != nil {
				t.Fatal(err)
			}
			if locks != 0 {
				t.Errorf("%d lock rows left behind", locks)
			}
			useAccountTables(t, ctx, dbs[len(dbs)-1], "concurrent")
		})
	}
}

// A data directory whose name has URI characters in it still gets its own
// database file (a '#' once cut the path short, so two such directories
// shared one file).
func TestSQLiteDSNEscapesPath(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"fair#01", "fair?x=1", "fair%20"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "fair.db")
			db, err := migrations.OpenDB(migrations.SQLiteDSN(path), "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(ctx, "CREATE TABLE probe (id INTEGER)"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the database is not at %s: %v", path, err)
			}
		})
	}
}

// migrateBefore applies every migration named before name, as an older
// release did, so that a test can apply name onto rows that release wrote.
func migrateBefore(t *testing.T, ctx context.Context, db *bun.DB, name string) {
	t.Helper()
	older := migrate.NewMigrations()
	for _, m := range migrations.Migrations.Sorted() {
		if m.Name < name {
			older.Add(m)
		}
	}
	m := migrate.NewMigrator(db, older, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatalf("older migrations: %v", err)
	}
}
