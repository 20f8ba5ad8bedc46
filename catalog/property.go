package catalog

import (
	"context"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// UnitType is a floor plan (户型) a development offers.
type UnitType struct {
	bun.BaseModel `bun:"table:unit_types"`

	ID             string    `bun:",pk" json:"id"`
	StallID        string    `json:"stall_id"`
	Name           string    `json:"name" example:"三室两厅"`
	AreaM2         float64   `bun:"area_m2" json:"area_m2"`
	PricePerM2     int64     `bun:"price_per_m2" json:"price_per_m2" doc:"in fen"`
	UnitsAvailable int       `json:"units_available"`
	CreatedAt      time.Time `json:"created_at"`
}

// ViewingSlot is a time a development receives visitors (看房), for up to
// Capacity bookings.
type ViewingSlot struct {
	bun.BaseModel `bun:"table:viewing_slots"`

	ID        string    `bun:",pk" json:"id"`
	StallID   string    `json:"stall_id"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	Capacity  int       `json:"capacity"`
	Booked    int       `json:"booked"`
	CreatedAt time.Time `json:"created_at"`
}

// Full reports whether no place is left.
func (v ViewingSlot) Full() bool { return v.Booked >= v.Capacity }

// Booking statuses.
const (
	BookingBooked    = "booked"
	BookingCancelled = "cancelled"
)

// Booking is a shopper's place in a viewing slot; one live booking per
// shopper per development.
type Booking struct {
	bun.BaseModel `bun:"table:bookings"`

	ID          string     `bun:",pk" json:"id"`
	SlotID      string     `json:"slot_id"`
	StallID     string     `json:"stall_id"`
	UserID      string     `json:"user_id"`
	Status      string     `json:"status" enum:"booked,cancelled"`
	CreatedAt   time.Time  `json:"created_at"`
	CancelledAt *time.Time `json:"cancelled_at,omitempty"`
	// UserName and UserEmail say who booked, in the merchant's list.
	UserName  string `bun:"-" json:"user_name,omitempty"`
	UserEmail string `bun:"-" json:"user_email,omitempty"`

	Slot *ViewingSlot `bun:"rel:belongs-to,join:slot_id=id" json:"slot,omitempty"`
}

// ownDevelopment loads a stall of a property season for its merchant.
func (s *Service) ownDevelopment(ctx context.Context, db bun.IDB, a Actor, stallID string) (StallAccess, error) {
	sa, err := s.ownStall(ctx, db, a, stallID)
	if err != nil {
		return StallAccess{}, err
	}
	if sa.Fair.Kind != KindPropertySeason {
		return StallAccess{}, Fail(ErrConflict, "only developments of a property season have unit types and viewings")
	}
	return sa, nil
}

// UnitTypeInput describes a floor plan.
type UnitTypeInput struct {
	Name           string
	AreaM2         float64
	PricePerM2     int64
	UnitsAvailable int
}

// AddUnitType adds a floor plan to the merchant's own development.
func (s *Service) AddUnitType(ctx context.Context, a Actor, stallID string, in UnitTypeInput) (*UnitType, error) {
	in.Name = strings.TrimSpace(in.Name)
	var c Check
	c.That(in.Name != "" && utf8.RuneCountInString(in.Name) <= 40, "name", "must be 1 to 40 characters")
	c.That(in.AreaM2 > 0 && in.AreaM2 <= 10000 && !math.IsNaN(in.AreaM2), "area_m2", "must be between 0 and 10000")
	c.That(in.PricePerM2 >= 0 && in.PricePerM2 <= MaxPrice, "price_per_m2", "must be a whole number of fen from 0 to 10000000000")
	c.That(in.UnitsAvailable >= 0 && in.UnitsAvailable <= 100000, "units_available", "must be from 0 to 100000")
	if err := c.Err(); err != nil {
		return nil, err
	}
	var u *UnitType
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.ownDevelopment(ctx, tx, a, stallID)
		if err != nil {
			return err
		}
		u = &UnitType{ID: NewID(), StallID: stallID, Name: in.Name, AreaM2: math.Round(in.AreaM2*100) / 100, PricePerM2: in.PricePerM2, UnitsAvailable: in.UnitsAvailable, CreatedAt: s.now()}
		if _, err := tx.NewInsert().Model(u).Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, u.CreatedAt, a, sa.Fair.ID, "unit_type.add", stallID, Change{After: u})
	})
	return u, err
}

// RemoveUnitType deletes a floor plan of the merchant's own development.
func (s *Service) RemoveUnitType(ctx context.Context, a Actor, stallID, id string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.ownDevelopment(ctx, tx, a, stallID)
		if err != nil {
			return err
		}
		res, err := tx.NewDelete().Model((*UnitType)(nil)).Where("id = ? AND stall_id = ?", id, stallID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return Fail(ErrNotFound, "unit type")
		}
		return Audit(ctx, tx, s.now(), a, sa.Fair.ID, "unit_type.remove", stallID, map[string]string{"unit_type_id": id})
	})
}

// UnitTypes lists a visible development's floor plans.
func (s *Service) UnitTypes(ctx context.Context, a Actor, stallID string) ([]UnitType, error) {
	if _, err := s.stallAccess(ctx, s.db, a, stallID); err != nil {
		return nil, err
	}
	var rows []UnitType
	err := s.db.NewSelect().Model(&rows).Where("stall_id = ?", stallID).OrderExpr("id ASC").Scan(ctx)
	return rows, err
}

// SlotInput describes a viewing slot.
type SlotInput struct {
	StartsAt time.Time
	EndsAt   time.Time
	Capacity int
}

// AddSlot publishes a viewing slot of the merchant's own development.
func (s *Service) AddSlot(ctx context.Context, a Actor, stallID string, in SlotInput) (*ViewingSlot, error) {
	var c Check
	c.That(!in.StartsAt.IsZero() && in.StartsAt.After(s.now()), "starts_at", "must be in the future")
	c.That(in.EndsAt.After(in.StartsAt), "ends_at", "must be after starts_at")
	c.That(in.EndsAt.Sub(in.StartsAt) <= 12*time.Hour, "ends_at", "a slot lasts at most 12 hours")
	c.That(in.Capacity >= 1 && in.Capacity <= 1000, "capacity", "must be from 1 to 1000")
	if err := c.Err(); err != nil {
		return nil, err
	}
	var v *ViewingSlot
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.ownDevelopment(ctx, tx, a, stallID)
		if err != nil {
			return err
		}
		v = &ViewingSlot{ID: NewID(), StallID: stallID, StartsAt: in.StartsAt.UTC(), EndsAt: in.EndsAt.UTC(), Capacity: in.Capacity, CreatedAt: s.now()}
		if _, err := tx.NewInsert().Model(v).Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, v.CreatedAt, a, sa.Fair.ID, "slot.add", stallID, Change{After: v})
	})
	return v, err
}

// Slots lists a visible development's viewing slots that have not ended.
func (s *Service) Slots(ctx context.Context, a Actor, stallID string) ([]ViewingSlot, error) {
	if _, err := s.stallAccess(ctx, s.db, a, stallID); err != nil {
		return nil, err
	}
	var rows []ViewingSlot
	err := s.db.NewSelect().Model(&rows).Where("stall_id = ? AND ends_at > ?", stallID, s.now()).Order("starts_at").Scan(ctx)
	return rows, err
}

// ErrSlotFull is a booking of a slot with no place left.
var ErrSlotFull = Fail(ErrConflict, "this viewing slot is full")

// Book takes a place in a viewing slot for the signed-in user: one live
// booking per development, never more bookings than the slot's capacity.
func (s *Service) Book(ctx context.Context, a Actor, slotID string) (*Booking, error) {
	if a.UserID == "" {
		return nil, ErrUnauthorized
	}
	var b *Booking
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		v := new(ViewingSlot)
		if err := tx.NewSelect().Model(v).Where("id = ?", slotID).Scan(ctx); err != nil {
			return notFound(err, "viewing slot")
		}
		sa, err := s.stallAccess(ctx, tx, a, v.StallID)
		if err != nil {
			return hidden(err, "viewing slot")
		}
		if !sa.Public() {
			return Fail(ErrNotFound, "viewing slot")
		}
		if !v.StartsAt.After(s.now()) {
			return ErrSlotStarted
		}
		// The conditional update is the capacity check: it takes a place only
		// if one is left, whatever else runs at the same time.
		res, err := tx.NewUpdate().Model((*ViewingSlot)(nil)).Set("booked = booked + 1").
			Where("id = ? AND booked < capacity", slotID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrSlotFull
		}
		b = &Booking{ID: NewID(), SlotID: slotID, StallID: v.StallID, UserID: a.UserID, Status: BookingBooked, CreatedAt: s.now()}
		if _, err := tx.NewInsert().Model(b).Exec(ctx); err != nil {
			if IsUniqueViolation(err) {
				return ErrAlreadyBooked
			}
			return err
		}
		v.Booked++
		b.Slot = v
		return nil
	})
	return b, err
}

// CancelBooking frees the user's place; cancelling twice is ErrConflict.
func (s *Service) CancelBooking(ctx context.Context, a Actor, id string) (*Booking, error) {
	var b Booking
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := ForUpdate(tx.NewSelect().Model(&b).Where("id = ? AND user_id = ?", id, a.UserID)).Scan(ctx); err != nil {
			return notFound(err, "booking")
		}
		if b.Status != BookingBooked {
			return Fail(ErrConflict, "the booking is already cancelled")
		}
		now := s.now()
		b.Status, b.CancelledAt = BookingCancelled, &now
		res, err := tx.NewUpdate().Model(&b).Column("status", "cancelled_at").WherePK().Where("status = ?", BookingBooked).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return Fail(ErrConflict, "the booking is already cancelled")
		}
		_, err = tx.NewUpdate().Model((*ViewingSlot)(nil)).Set("booked = booked - 1").Where("id = ?", b.SlotID).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// MyBookings lists the user's bookings with their slots, newest first.
func (s *Service) MyBookings(ctx context.Context, a Actor) ([]Booking, error) {
	var rows []Booking
	err := s.db.NewSelect().Model(&rows).Relation("Slot").Where("booking.user_id = ?", a.UserID).OrderExpr("booking.id DESC").Scan(ctx)
	return rows, err
}

// SlotBookings lists who booked a development's slots, for its merchant.
func (s *Service) SlotBookings(ctx context.Context, a Actor, stallID string) ([]Booking, error) {
	if _, err := s.ownDevelopment(ctx, s.db, a, stallID); err != nil {
		return nil, err
	}
	var rows []Booking
	err := s.db.NewSelect().Model(&rows).Relation("Slot").
		Where("booking.stall_id = ? AND booking.status = ?", stallID, BookingBooked).OrderExpr("booking.id ASC").Scan(ctx)
	if err != nil || len(rows) == 0 || s.people == nil {
		return rows, err
	}
	ids := make([]string, len(rows))
	for i, b := range rows {
		ids[i] = b.UserID
	}
	who, err := s.people.Contacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		c := who[rows[i].UserID]
		rows[i].UserName, rows[i].UserEmail = c.Name, c.Email
	}
	return rows, nil
}
