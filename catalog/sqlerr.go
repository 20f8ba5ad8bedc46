package catalog

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// NotFound is the error of a lookup by id: "no rows" becomes ErrNotFound
// naming what was missing (a 404); any other error is the database's and is
// passed on wrapped, to be logged and answered with a bare 500; nil stays nil.
func NotFound(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Failf(ErrNotFound, "%s", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either database.
func IsUniqueViolation(err error) bool {
	var pg pgdriver.Error
	if errors.As(err, &pg) {
		return pg.Field('C') == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// IsCheckViolation reports whether err is a CHECK-constraint violation on
// either database (stock below zero, for one).
func IsCheckViolation(err error) bool {
	var pg pgdriver.Error
	if errors.As(err, &pg) {
		return pg.Field('C') == "23514"
	}
	return err != nil && strings.Contains(err.Error(), "CHECK constraint failed")
}

// ForUpdate locks the selected rows until the transaction ends on PostgreSQL.
// SQLite needs nothing: its transactions begin IMMEDIATE and hold the
// database's write lock throughout.
func ForUpdate(q *bun.SelectQuery) *bun.SelectQuery {
	if q.Dialect().Name() == dialect.PG {
		return q.For("UPDATE")
	}
	return q
}
