package account

import (
	"context"

	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/jobs"
)

// The accounts as the other domains read them: whom a notification goes to
// and who the organizers are (jobs.Users), who booked a viewing (catalog.People).

var (
	_ jobs.Users     = (*Accounts)(nil)
	_ catalog.People = (*Accounts)(nil)
)

// Recipient returns a user's email address, name and language.
func (a *Accounts) Recipient(ctx context.Context, userID string) (jobs.Recipient, error) {
	var u User
	if err := a.db.NewSelect().Model(&u).Column("email", "name", "lang").Where("id = ?", userID).Scan(ctx); err != nil {
		return jobs.Recipient{}, catalog.NotFound(err, "user")
	}
	return jobs.Recipient{Email: u.Email, Name: u.Name, Lang: u.Lang}, nil
}

// Contacts names users to a merchant (catalog.People).
func (a *Accounts) Contacts(ctx context.Context, ids []string) (map[string]catalog.Contact, error) {
	var rows []User
	if err := a.db.NewSelect().Model(&rows).Column("id", "name", "email").Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]catalog.Contact, len(rows))
	for _, u := range rows {
		out[u.ID] = catalog.Contact{Name: u.Name, Email: u.Email}
	}
	return out, nil
}

// UserIDByEmail finds a registered user by email (catalog.People); "" when
// nobody registered with it.
func (a *Accounts) UserIDByEmail(ctx context.Context, email string) (string, error) {
	e, ok := NormalizeEmail(email)
	if !ok {
		return "", nil
	}
	var ids []string
	if err := a.db.NewSelect().Model((*User)(nil)).Column("id").Where("email = ?", e).Scan(ctx, &ids); err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// WithRole lists the ids of the users of one role, oldest first.
func (a *Accounts) WithRole(ctx context.Context, role catalog.Role) ([]string, error) {
	var ids []string
	err := a.db.NewSelect().Model((*User)(nil)).Column("id").Where("role = ?", role).OrderExpr("id ASC").Scan(ctx, &ids)
	return ids, err
}
