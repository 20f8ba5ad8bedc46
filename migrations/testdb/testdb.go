// Package testdb gives tests a migrated database and a Redis of their own: SQLite
// and an in-process Redis by default, or the PostgreSQL and Redis servers named
// by TEST_DATABASE_URL and TEST_REDIS_URL (as `make test` runs them).
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"miaohui/migrations"
)

// Postgres reports whether the tests run on PostgreSQL.
func Postgres() bool { return os.Getenv("TEST_DATABASE_URL") != "" }

// Open returns a freshly migrated, empty database for t: a SQLite file in a
// temporary directory, or a new schema in TEST_DATABASE_URL's database.
func Open(t testing.TB) *bun.DB {
	t.Helper()
	db, _ := OpenURL(t)
	return db
}

// OpenURL is Open that also returns a URL another process can open the same
// database with (for tests that start `fair` processes).
func OpenURL(t testing.TB) (*bun.DB, string) {
	t.Helper()
	db, url := open(t)
	if _, err := migrations.Up(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db, url
}

// OpenEmpty returns a database with no migrations applied.
func OpenEmpty(t testing.TB) *bun.DB {
	t.Helper()
	db, _ := open(t)
	return db
}

func open(t testing.TB) (*bun.DB, string) {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		url := migrations.SQLiteDSN(filepath.Join(t.TempDir(), "fair.db"))
		db, err := migrations.OpenDB(url, "")
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, url
	}

	schema := "t_" + randomHex(8)
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(base)))
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	// pg_trgm lives in public (make test creates it there), so public stays on the path.
	url := withSearchPath(base, schema)
	db, err := migrations.OpenDB(url, "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
}

func withSearchPath(url, schema string) string {
	sep := "?"
	for _, c := range url {
		if c == '?' {
			sep = "&"
		}
	}
	return url + sep + "search_path=" + schema + ",public"
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Redis holds a Redis for one test.
type Redis struct {
	// URL is redis://… to the server (the in-process one included).
	URL    string
	Client *redis.Client
	// Mini is the in-process server, nil on a real Redis.
	Mini *miniredis.Miniredis
}

// redisMu serialises the tests of one package that use the shared real Redis:
// they flush its database and would see each other's queues.
var redisMu sync.Mutex

// NewRedis returns an empty Redis for t: an in-process miniredis, or a database
// of TEST_REDIS_URL's server chosen per test package and flushed first.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	base := os.Getenv("TEST_REDIS_URL")
	if base == "" {
		mr := miniredis.RunT(t)
		url := "redis://" + mr.Addr() + "/0"
		client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { client.Close() })
		return &Redis{URL: url, Client: client, Mini: mr}
	}
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	// Test packages run in parallel; each gets its own database number.
	wd, _ := os.Getwd()
	h := fnv.New32a()
	h.Write([]byte(filepath.Base(wd)))
	opt.DB = 1 + int(h.Sum32()%15)
	redisMu.Lock()
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.FlushDB(ctx).Err(); err != nil {
		redisMu.Unlock()
		t.Fatalf("flush redis: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		redisMu.Unlock()
	})
	return &Redis{URL: fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB), Client: client}
}
