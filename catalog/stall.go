package catalog

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Application statuses.
const (
	ApplicationPending  = "pending"
	ApplicationApproved = "approved"
	ApplicationRejected = "rejected"
)

// Application is a merchant's request to open a stall at a fair (商家入驻).
type Application struct {
	bun.BaseModel `bun:"table:applications"`

	ID          string     `bun:",pk" json:"id"`
	FairID      string     `json:"fair_id"`
	MerchantID  string     `json:"merchant_id"`
	StallName   string     `json:"stall_name"`
	Description string     `json:"description"`
	Status      string     `json:"status" enum:"pending,approved,rejected"`
	Reason      string     `json:"reason,omitempty" doc:"why it was rejected"`
	CreatedAt   time.Time  `json:"created_at"`
	DecidedAt   *time.Time `json:"decided_at" nullable:"true"`
	// FromStallID is the merchant's stall of an earlier edition this
	// application re-enrols (see ReEnrol).
	FromStallID *string `bun:"from_stall_id" json:"from_stall,omitempty" doc:"the stall of an earlier edition it re-enrols"`
}

// Stall statuses.
const (
	StallActive    = "active"
	StallSuspended = "suspended"
)

// Stall is a merchant's place at a fair: online, and at a booth of the offline
// fair. In a property season a stall is a housing development (楼盘).
type Stall struct {
	bun.BaseModel `bun:"table:stalls"`

	ID            string    `bun:",pk" json:"id"`
	FairID        string    `json:"fair_id"`
	MerchantID    string    `json:"merchant_id"`
	ApplicationID string    `json:"application_id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	Booth         string    `json:"booth" doc:"booth number at the offline fair"`
	Status        string    `json:"status" enum:"active,suspended"`
	StatusReason  string    `json:"status_reason,omitempty" doc:"why the organizer last suspended or reinstated it"`
	Address       string    `json:"address,omitempty" doc:"property seasons: the development's address"`
	District      string    `json:"district,omitempty" doc:"property seasons: the district"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Apply files a merchant's application to an open or upcoming fair; another
// application while one is pending or approved is ErrConflict (after a
// rejection the merchant may apply again).
func (s *Service) Apply(ctx context.Context, a Actor, slug, stallName, description string) (*Application, error) {
	if a.Role != RoleMerchant {
		return nil, Fail(ErrForbidden, "only merchants apply for stalls")
	}
	stallName, description = strings.TrimSpace(stallName), strings.TrimSpace(description)
	var c Check
	c.That(stallName != "" && utf8.RuneCountInString(stallName) <= 60, "stall_name", "must be 1 to 60 characters")
	c.That(utf8.RuneCountInString(description) <= 2000, "description", "must be at most 2000 characters")
	if err := c.Err(); err != nil {
		return nil, err
	}
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.Status == FairClosed {
		return nil, ErrFairEnded
	}
	app := &Application{ID: NewID(), FairID: f.ID, MerchantID: a.UserID, StallName: stallName, Description: description, Status: ApplicationPending, CreatedAt: s.now()}
	if _, err := s.db.NewInsert().Model(app).Exec(ctx); err != nil {
		if IsUniqueViolation(err) {
			return nil, ErrAlreadyApplied
		}
		return nil, err
	}
	s.applicationSubmitted(ctx, app, f)
	return app, nil
}

// Applications lists a fair's applications for its organizer, optionally of
// one status, oldest first.
func (s *Service) Applications(ctx context.Context, a Actor, slug, status string, p Page) ([]Application, *string, error) {
	return s.SearchApplications(ctx, a, slug, ApplicationQuery{Status: status, Page: p})
}

// MyApplications lists a merchant's own applications, newest first.
func (s *Service) MyApplications(ctx context.Context, a Actor) ([]Application, error) {
	var rows []Application
	err := s.db.NewSelect().Model(&rows).Where("merchant_id = ?", a.UserID).OrderExpr("id DESC").Scan(ctx)
	return rows, err
}

// decidable loads a pending application for the organizer of its fair.
func (s *Service) decidable(ctx context.Context, tx bun.Tx, a Actor, id string) (*Application, *Fair, error) {
	app := new(Application)
	if err := ForUpdate(tx.NewSelect().Model(app).Where("id = ?", id)).Scan(ctx); err != nil {
		return nil, nil, notFound(err, "application")
	}
	f, err := s.FairByID(ctx, tx, app.FairID)
	if err != nil {
		return nil, nil, err
	}
	if f.OrganizerID != a.UserID {
		// Another organizer's applications are not theirs to see.
		return nil, nil, Fail(ErrNotFound, "application")
	}
	if app.Status != ApplicationPending {
		return nil, nil, Failf(ErrConflict, "the application was already %s", app.Status)
	}
	return app, f, nil
}

// Approve accepts a pending application and opens its stall with the next
// free booth number of the fair (the organizer may change it: SetBooth).
func (s *Service) Approve(ctx context.Context, a Actor, id string) (*Application, *Stall, error) {
	var app *Application
	var st *Stall
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var f *Fair
		var err error
		if app, f, err = s.decidable(ctx, tx, a, id); err != nil {
			return err
		}
		// Booth numbers count the fair's stalls: approvals of one fair take
		// turns on the fair's row.
		var locked string
		if err := ForUpdate(tx.NewSelect().Model((*Fair)(nil)).Column("id").Where("id = ?", f.ID)).Scan(ctx, &locked); err != nil {
			return err
		}
		now := s.now()
		app.Status, app.DecidedAt = ApplicationApproved, &now
		if _, err := tx.NewUpdate().Model(app).Column("status", "decided_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		booth, err := nextBooth(ctx, tx, f)
		if err != nil {
			return err
		}
		st = &Stall{
			ID: NewID(), FairID: f.ID, MerchantID: app.MerchantID, ApplicationID: app.ID,
			Name: app.StallName, Description: app.Description, Booth: booth,
			Status: StallActive, CreatedAt: now, UpdatedAt: now,
		}
		if _, err := tx.NewInsert().Model(st).Exec(ctx); err != nil {
			return err
		}
		if err := Audit(ctx, tx, now, a, f.ID, "application.approve", app.ID, map[string]string{"stall_id": st.ID, "stall_name": st.Name, "booth": st.Booth}); err != nil {
			return err
		}
		return s.reEnrol(ctx, tx, a, app, st) // a re-enrolment brings its products
	})
	if err != nil {
		return nil, nil, err
	}
	_ = s.events.ApplicationDecided(ctx, app) // the notice is best effort; the stall is open
	return app, st, nil
}

// Reject declines a pending application with a reason the merchant sees.
func (s *Service) Reject(ctx context.Context, a Actor, id, reason string) (*Application, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return nil, Invalid("reason", "must be 1 to 500 characters")
	}
	var app *Application
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if app, _, err = s.decidable(ctx, tx, a, id); err != nil {
			return err
		}
		now := s.now()
		app.Status, app.Reason, app.DecidedAt = ApplicationRejected, reason, &now
		if _, err = tx.NewUpdate().Model(app).Column("status", "reason", "decided_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, now, a, app.FairID, "application.reject", app.ID, map[string]string{"stall_name": app.StallName, "reason": reason})
	})
	if err != nil {
		return nil, err
	}
	_ = s.events.ApplicationDecided(ctx, app)
	return app, nil
}

// StallAccess says how the actor relates to a stall.
type StallAccess struct {
	Stall     *Stall
	Fair      *Fair
	Merchant  bool // the actor runs the stall
	Organizer bool // the actor runs the stall's fair
	Staff     bool // the actor works the stall's booth (核销员); set by BoothStall only
}

// Public reports whether anyone may see the stall.
func (sa StallAccess) Public() bool {
	return sa.Stall.Status == StallActive && sa.Fair.Published
}

func (s *Service) stallAccess(ctx context.Context, db bun.IDB, a Actor, id string) (StallAccess, error) {
	st := new(Stall)
	if err := db.NewSelect().Model(st).Where("id = ?", id).Scan(ctx); err != nil {
		return StallAccess{}, notFound(err, "stall")
	}
	f, err := s.FairByID(ctx, db, st.FairID)
	if err != nil {
		return StallAccess{}, err
	}
	sa := StallAccess{Stall: st, Fair: f, Merchant: a.UserID != "" && st.MerchantID == a.UserID, Organizer: a.UserID != "" && f.OrganizerID == a.UserID}
	if !sa.Public() && !sa.Merchant && !sa.Organizer {
		return StallAccess{}, Fail(ErrNotFound, "stall")
	}
	return sa, nil
}

// ownStall loads a stall for its merchant; others get ErrForbidden if they can
// see it and ErrNotFound if they cannot.
func (s *Service) ownStall(ctx context.Context, db bun.IDB, a Actor, id string) (StallAccess, error) {
	sa, err := s.stallAccess(ctx, db, a, id)
	if err != nil {
		return StallAccess{}, err
	}
	if !sa.Merchant {
		return StallAccess{}, Fail(ErrForbidden, "only the stall's merchant may do this")
	}
	return sa, nil
}

// Stall returns a stall visible to the actor; why it was suspended or
// reinstated only to its merchant and its fair's organizer.
func (s *Service) Stall(ctx context.Context, a Actor, id string) (StallAccess, error) {
	sa, err := s.stallAccess(ctx, s.db, a, id)
	if err == nil && !sa.Merchant && !sa.Organizer {
		sa.Stall.StatusReason = ""
	}
	return sa, err
}

// StallIn is Stall read through db (a transaction of the caller's: on SQLite a
// transaction must not wait for a second connection of the pool).
func (s *Service) StallIn(ctx context.Context, db bun.IDB, a Actor, id string) (StallAccess, error) {
	return s.stallAccess(ctx, db, a, id)
}

// Stalls lists a fair's stalls: active ones for everyone, all of them for its
// organizer.
func (s *Service) Stalls(ctx context.Context, a Actor, slug string, p Page) ([]Stall, *string, error) {
	return s.SearchStalls(ctx, a, slug, StallQuery{Page: p})
}

// MyStalls lists the stalls a merchant runs.
func (s *Service) MyStalls(ctx context.Context, a Actor) ([]Stall, error) {
	var rows []Stall
	err := s.db.NewSelect().Model(&rows).Where("merchant_id = ?", a.UserID).OrderExpr("id DESC").Scan(ctx)
	return rows, err
}

// StallInput is the stall profile a merchant edits; nil fields stay.
type StallInput struct {
	Name        *string
	Description *string
	Address     *string
	District    *string
}

// UpdateStall edits the stall profile; only its merchant may.
func (s *Service) UpdateStall(ctx context.Context, a Actor, id string, in StallInput) (*Stall, error) {
	var st *Stall
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.ownStall(ctx, tx, a, id)
		if err != nil {
			return err
		}
		st = sa.Stall
		before := stallProfile(st)
		oldName := st.Name
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = strings.TrimSpace(*v)
			}
		}
		set(&st.Name, in.Name)
		set(&st.Description, in.Description)
		set(&st.Address, in.Address)
		set(&st.District, in.District)
		var c Check
		c.That(st.Name != "" && utf8.RuneCountInString(st.Name) <= 60, "name", "must be 1 to 60 characters")
		c.That(utf8.RuneCountInString(st.Description) <= 2000, "description", "must be at most 2000 characters")
		c.That(utf8.RuneCountInString(st.Address) <= 200, "address", "must be at most 200 characters")
		c.That(utf8.RuneCountInString(st.District) <= 50, "district", "must be at most 50 characters")
		if err := c.Err(); err != nil {
			return err
		}
		renamed := st.Name != oldName
		st.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(st).Column("name", "description", "address", "district", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		if err := Audit(ctx, tx, st.UpdatedAt, a, st.FairID, "stall.update", st.ID, Change{Before: before, After: stallProfile(st)}); err != nil {
			return err
		}
		if !renamed {
			return nil
		}
		return indexProducts(ctx, tx, "p.stall_id = ?", st.ID) // its products are found by its name
	})
	return st, err
}

// stallProfile is the part of a stall its merchant edits, for the audit log.
func stallProfile(st *Stall) map[string]string {
	return map[string]string{"name": st.Name, "description": st.Description, "address": st.Address, "district": st.District}
}

// SetStallStatus suspends or reinstates a stall; only the fair's organizer
// may. A suspension needs a reason (1 to 500 characters), a reinstatement
// may give one; the merchant is told either, with it. A suspended stall's
// products are hidden and cannot be bought; orders already paid are not
// touched.
func (s *Service) SetStallStatus(ctx context.Context, a Actor, id, status, reason string) (*Stall, error) {
	reason = strings.TrimSpace(reason)
	var c Check
	c.That(status == StallActive || status == StallSuspended, "status", "must be active or suspended")
	c.That(status != StallSuspended || reason != "", "reason", "must say why the stall is suspended")
	c.That(utf8.RuneCountInString(reason) <= 500, "reason", "must be at most 500 characters")
	if err := c.Err(); err != nil {
		return nil, err
	}
	var st *Stall
	changed := false
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.stallAccess(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if !sa.Organizer {
			return Fail(ErrForbidden, "only the fair's organizer may suspend a stall")
		}
		st = sa.Stall
		if st.Status == status {
			return nil // already so: nothing changes, nobody is told again
		}
		changed = true
		st.Status, st.StatusReason, st.UpdatedAt = status, reason, s.now()
		if _, err = tx.NewUpdate().Model(st).Column("status", "status_reason", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		action := "stall.suspend"
		if status == StallActive {
			action = "stall.reinstate"
		}
		return Audit(ctx, tx, st.UpdatedAt, a, st.FairID, action, st.ID, map[string]string{"reason": reason, "stall_name": st.Name})
	})
	if err != nil {
		return nil, err
	}
	if changed {
		_ = s.events.FairChanged(ctx, st.FairID)         // its flash sales stop or resume selling
		_ = s.events.StallStatusChanged(ctx, st, reason) // the notice is best effort
	}
	return st, nil
}
