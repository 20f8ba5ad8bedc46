package migrations

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// SQLiteDSN is the data source name of the embedded database file at path.
// WAL lets readers run beside the single writer, busy_timeout makes writers
// queue instead of failing, and _txlock=immediate takes the write lock at
// BEGIN so two transactions never deadlock upgrading a read lock.
func SQLiteDSN(path string) string {
	// A URI filename: '%', '?' and '#' in the path are escaped, or SQLite
	// would read them as an escape, the start of the options or a fragment.
	path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// IsPostgresURL reports whether url selects PostgreSQL.
func IsPostgresURL(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// OpenDB opens url (postgres://…, or a SQLite file: DSN; empty means the SQLite
// file fair.db in dataDir) and checks that it answers.
func OpenDB(url, dataDir string) (*bun.DB, error) {
	var db *bun.DB
	switch {
	case IsPostgresURL(url):
		sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(url), pgdriver.WithTimeout(10*time.Second)))
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(32)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db = bun.NewDB(sqldb, pgdialect.New())
	case url == "" || strings.HasPrefix(url, "file:"):
		if url == "" {
			if err := os.MkdirAll(dataDir, 0o750); err != nil {
				return nil, fmt.Errorf("data dir: %w", err)
			}
			url = SQLiteDSN(filepath.Join(dataDir, "fair.db"))
		}
		sqldb, err := sql.Open(sqliteshim.ShimName, url)
		if err != nil {
			return nil, err
		}
		// One writer at a time is SQLite's rule; a small pool keeps readers
		// concurrent while busy_timeout queues the writers.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		sqldb.SetConnMaxLifetime(0)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	default:
		return nil, ErrUnsupportedURL
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("database not reachable: %w", err)
	}
	return db, nil
}
