package catalog

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// StaffMember is a registered user a stall's merchant lets work its booth
// (核销员): staff list the stall's orders, redeem pickups and record booth
// sales, and nothing else.
type StaffMember struct {
	bun.BaseModel `bun:"table:stall_staff"`

	StallID   string    `bun:",pk" json:"stall_id"`
	UserID    string    `bun:",pk" json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	Name      string    `bun:"-" json:"name"`
	Email     string    `bun:"-" json:"email"`
}

// isStaff reports whether userID works at the stall.
func isStaff(ctx context.Context, db bun.IDB, stallID, userID string) (bool, error) {
	if userID == "" {
		return false, nil
	}
	return db.NewSelect().Model((*StaffMember)(nil)).Where("stall_id = ? AND user_id = ?", stallID, userID).Exists(ctx)
}

// BoothStall is Stall read through db, also telling whether the actor works
// the stall's booth as staff (a lookup the other stall reads skip).
func (s *Service) BoothStall(ctx context.Context, db bun.IDB, a Actor, id string) (StallAccess, error) {
	sa, err := s.stallAccess(ctx, db, a, id)
	if err != nil || sa.Merchant {
		return sa, err
	}
	sa.Staff, err = isStaff(ctx, db, id, a.UserID)
	return sa, err
}

// CanWorkBooth reports whether the actor may list the stall's orders, redeem
// and record booth sales: its merchant or its staff (from BoothStall).
func (sa StallAccess) CanWorkBooth() bool { return sa.Merchant || sa.Staff }

// AddStaff lets the registered user with email work the stall's booth; only
// the stall's merchant may. Adding someone twice changes nothing.
func (s *Service) AddStaff(ctx context.Context, a Actor, stallID, email string) (*StaffMember, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, Invalid("email", "is required")
	}
	sa, err := s.ownStall(ctx, s.db, a, stallID)
	if err != nil {
		return nil, err
	}
	userID, err := s.people.UserIDByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, Invalid("email", "is not a registered user")
	}
	if userID == a.UserID {
		return nil, Invalid("email", "is the stall's merchant")
	}
	m := &StaffMember{StallID: stallID, UserID: userID, CreatedAt: s.now()}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(m).On("CONFLICT (stall_id, user_id) DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // already staff: nothing changed
		}
		return Audit(ctx, tx, m.CreatedAt, a, sa.Fair.ID, "staff.add", stallID, map[string]string{"user_id": userID})
	})
	if err != nil {
		return nil, err
	}
	if err := s.db.NewSelect().Model(m).WherePK().Scan(ctx); err != nil {
		return nil, err
	}
	who, err := s.people.Contacts(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	m.Name, m.Email = who[userID].Name, who[userID].Email
	return m, nil
}

// RemoveStaff ends a user's work at the stall; only its merchant may.
func (s *Service) RemoveStaff(ctx context.Context, a Actor, stallID, userID string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.ownStall(ctx, tx, a, stallID)
		if err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*StaffMember)(nil)).Where("stall_id = ? AND user_id = ?", stallID, userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return Fail(ErrNotFound, "staff member")
		}
		return Audit(ctx, tx, s.now(), a, sa.Fair.ID, "staff.remove", stallID, map[string]string{"user_id": userID})
	})
}

// Staff lists the stall's staff for its merchant, oldest first.
func (s *Service) Staff(ctx context.Context, a Actor, stallID string) ([]StaffMember, error) {
	if _, err := s.ownStall(ctx, s.db, a, stallID); err != nil {
		return nil, err
	}
	rows := []StaffMember{}
	if err := s.db.NewSelect().Model(&rows).Where("stall_id = ?", stallID).OrderExpr("created_at ASC, user_id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return rows, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].UserID
	}
	who, err := s.people.Contacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Name, rows[i].Email = who[rows[i].UserID].Name, who[rows[i].UserID].Email
	}
	return rows, nil
}

// StaffStalls lists the stalls the actor works at as staff.
func (s *Service) StaffStalls(ctx context.Context, a Actor) ([]Stall, error) {
	rows := []Stall{}
	err := s.db.NewSelect().Model(&rows).
		Where("id IN (SELECT stall_id FROM stall_staff WHERE user_id = ?)", a.UserID).OrderExpr("id ASC").Scan(ctx)
	return rows, err
}
