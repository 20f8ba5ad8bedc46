package migrations_test

import (
	"testing"
	"time"

	"miaohui/migrations"
	"miaohui/migrations/testdb"
)

// TestMigrateAdminRole applies the admin role onto a database that already
// holds users with sessions, then rolls it back on its own.
func TestMigrateAdminRole(t *testing.T) {
	ctx := ctxFor(t)
	db := testdb.OpenEmpty(t)
	const name = "20261203000100"

	migrateBefore(t, ctx, db, name)
	now := time.Now().UTC().Truncate(time.Second)
	exec := func(q string, args ...any) error {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	addUser := func(id, role string) error {
		return exec(`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, id+"@example.com", id, role, "$argon2id$x", now)
	}
	if err := addUser("org", "organizer"); err != nil {
		t.Fatal(err)
	}
	if err := exec(`INSERT INTO sessions (id, user_id, token_hash, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"s1", "org", "hash1", "csrf1", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := addUser("root", "admin"); err == nil {
		t.Fatal("an admin was stored before the migration")
	}

	applied, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if len(applied) == 0 || applied[0] != name {
		t.Fatalf("Up applied %v, want %s first", applied, name)
	}
	if n, err := countRows(t, ctx, db, "sessions"); err != nil || n != 1 {
		t.Fatalf("sessions after the migration: %d, %v; want the one kept", n, err)
	}
	if err := addUser("root", "admin"); err != nil {
		t.Fatalf("admin refused after the migration: %v", err)
	}
	if err := addUser("wiz", "wizard"); err == nil {
		t.Error("an unknown role was stored")
	}
	if err := exec(`INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"dup2", "org@example.com", "dup", "shopper", "x", now); err == nil {
		t.Error("the unique email index is gone")
	}
	// The other tables still reference users, cascades included.
	if err := exec(`INSERT INTO sessions (id, user_id, token_hash, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		"s2", "nobody", "hash2", "csrf2", now, now.Add(time.Hour)); err == nil {
		t.Error("a session of an unknown user was stored")
	}
	if err := exec(`DELETE FROM users WHERE id = ?`, "org"); err != nil {
		t.Fatal(err)
	}
	if n, err := countRows(t, ctx, db, "sessions"); err != nil || n != 0 {
		t.Errorf("sessions after their user was deleted: %d, %v; want none", n, err)
	}

	// Rolled back (the last group is this migration and those after it,
	// undone last first), admins become organizers.
	undone, err := migrations.Down(ctx, db)
	if err != nil {
		t.Fatalf("Down: %v", err)
	}
	if len(undone) == 0 || undone[len(undone)-1] != name {
		t.Fatalf("Down rolled back %v, want %s last", undone, name)
	}
	var role string
	if err := db.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, "root").Scan(&role); err != nil || role != "organizer" {
		t.Errorf("the admin after Down: role %q, %v; want organizer", role, err)
	}
	if err := addUser("root2", "admin"); err == nil {
		t.Error("an admin was stored after Down")
	}
}
