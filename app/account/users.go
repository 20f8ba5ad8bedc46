package account

import (
	"context"

	"miaohui/catalog"
	"miaohui/jobs"
)

// The accounts as the background workers read them (jobs.Users): whom a
// notification goes to and who the organizers are.

var _ jobs.Users = (*Accounts)(nil)

// Recipient returns a user's email address, name and language.
func (a *Accounts) Recipient(ctx context.Context, userID string) (jobs.Recipient, error) {
	var u User
	if err := a.db.NewSelect().Model(&u).Column("email", "name", "lang").Where("id = ?", userID).Scan(ctx); err != nil {
		return jobs.Recipient{}, catalog.NotFound(err, "user")
	}
	return jobs.Recipient{Email: u.Email, Name: u.Name, Lang: u.Lang}, nil
}

// WithRole lists the ids of the users of one role, oldest first.
func (a *Accounts) WithRole(ctx context.Context, role catalog.Role) ([]string, error) {
	var ids []string
	err := a.db.NewSelect().Model((*User)(nil)).Column("id").Where("role = ?", role).OrderExpr("id ASC").Scan(ctx, &ids)
	return ids, err
}
