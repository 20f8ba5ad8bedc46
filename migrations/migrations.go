// Package migrations holds Miaohui's schema as Bun migrations compiled into the
// binary. One set runs on both SQLite and PostgreSQL; where the two need
// different SQL a migration says so and keeps both variants side by side.
package migrations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// Migrations is the registry every migration file adds itself to.
var Migrations = migrate.NewMigrations()

// lockWait bounds how long a process waits for another one that is migrating
// the same database (several `fair serve` processes starting together).
const lockWait = 60 * time.Second

// Migrator returns a migrator for db over the embedded migrations.
func Migrator(db *bun.DB) *migrate.Migrator {
	return migrate.NewMigrator(db, Migrations, migrate.WithMarkAppliedOnSuccess(true))
}

// Up applies every migration not yet applied and returns their names.
func Up(ctx context.Context, db *bun.DB) ([]string, error) {
	m := Migrator(db)
	if err := initTables(ctx, m); err != nil {
		return nil, err
	}
	if err := lock(ctx, m); err != nil {
		return nil, err
	}
	defer m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // best effort: the lock row is removed on the next success
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate up: %w", err)
	}
	return names(group.Migrations), nil
}

// Down rolls back the last group of applied migrations and returns their
// names in the order they were undone, newest first.
func Down(ctx context.Context, db *bun.DB) ([]string, error) {
	m := Migrator(db)
	if err := initTables(ctx, m); err != nil {
		return nil, err
	}
	if err := lock(ctx, m); err != nil {
		return nil, err
	}
	defer m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck
	group, err := m.Rollback(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate down: %w", err)
	}
	undone := names(group.Migrations)
	slices.Reverse(undone) // Rollback undoes the newest first
	return undone, nil
}

// Status lists every known migration with whether it has been applied.
func Status(ctx context.Context, db *bun.DB) (migrate.MigrationSlice, error) {
	m := Migrator(db)
	if err := initTables(ctx, m); err != nil {
		return nil, err
	}
	return m.MigrationsWithStatus(ctx)
}

// initTables creates the migrator's own tables. On PostgreSQL two processes
// running CREATE TABLE IF NOT EXISTS at once can collide in the catalog; the
// loser retries and then finds the tables there.
func initTables(ctx context.Context, m *migrate.Migrator) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = m.Init(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		}
	}
	return fmt.Errorf("migrate init: %w", err)
}

func lock(ctx context.Context, m *migrate.Migrator) error {
	deadline := time.Now().Add(lockWait)
	for {
		err := m.Lock(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (another process is migrating, or a crashed one left the lock row in bun_migration_locks)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func names(ms migrate.MigrationSlice) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// execAll runs statements in one transaction.
func execAll(ctx context.Context, db *bun.DB, stmts ...string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range stmts {
			if strings.TrimSpace(s) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%w\n-- in statement:\n%s", err, s)
			}
		}
		return nil
	})
}

// IsPostgres reports whether db speaks PostgreSQL (otherwise it is SQLite).
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name() == dialect.PG
}

// ErrUnsupportedURL is returned for a database URL that is neither SQLite nor PostgreSQL.
var ErrUnsupportedURL = errors.New("database URL must start with postgres://, postgresql:// or file:")
