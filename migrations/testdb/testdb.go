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
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
// temporary directory, or a new database on TEST_DATABASE_URL's server.
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

	// Each test gets a database of its own, copied from TEST_DATABASE_URL's
	// database (where make test installed pg_trgm), so tests run in parallel.
	u, err := neturl.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	template := strings.TrimPrefix(u.Path, "/")
	name := "t_" + randomHex(8)
	admin := *u
	admin.Path = "/postgres"
	adminDB := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(admin.String())))
	defer adminDB.Close()
	if _, err := adminDB.Exec("CREATE DATABASE " + name + " TEMPLATE " + template); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		adminDB := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(admin.String())))
		defer adminDB.Close()
		if _, err := adminDB.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	own := *u
	own.Path = "/" + name
	url := own.String()
	db, err := migrations.OpenDB(url, "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
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

// NewRedis returns an empty Redis for t: an in-process miniredis, or a
// database of its own on TEST_REDIS_URL's server (make test starts it with
// thousands of databases; a counter in database 0 hands them out).
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin := redis.NewClient(opt)
	defer admin.Close()
	dbs := 16
	if cfg, err := admin.ConfigGet(ctx, "databases").Result(); err == nil {
		if n, err := strconv.Atoi(cfg["databases"]); err == nil {
			dbs = n
		}
	}
	n, err := admin.Incr(ctx, "testdb:next").Result()
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	opt.DB = 1 + int(n)%(dbs-1)
	client := redis.NewClient(opt)
	if err := client.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("flush redis: %v", err)
	}
	t.Cleanup(func() {
		client.FlushDB(context.Background())
		client.Close()
	})
	return &Redis{URL: fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB), Client: client}
}
