package catalog

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Fair kinds.
const (
	KindTempleFair     = "temple_fair"
	KindPropertySeason = "property_season"
)

// Fair statuses, derived from the time and whether the fair is published.
const (
	FairDraft    = "draft"
	FairUpcoming = "upcoming"
	FairOpen     = "open"
	FairClosed   = "closed"
)

// Fair is one edition of an online fair run by an organizer.
type Fair struct {
	bun.BaseModel `bun:"table:fairs"`

	ID                   string    `bun:",pk" json:"id"`
	Slug                 string    `json:"slug"`
	Name                 string    `json:"name" doc:"name in Chinese"`
	NameEN               string    `bun:"name_en" json:"name_en"`
	Description          string    `json:"description"`
	DescriptionEN        string    `bun:"description_en" json:"description_en"`
	Kind                 string    `json:"kind" enum:"temple_fair,property_season"`
	StartsAt             time.Time `json:"starts_at"`
	EndsAt               time.Time `json:"ends_at"`
	CommissionBPS        int       `bun:"commission_bps" json:"commission_bps" doc:"platform commission in basis points (1/100 of a percent)"`
	PaymentWindowSeconds int       `json:"payment_window_seconds" doc:"unpaid orders are cancelled after this; 0 means the platform default"`
	OrganizerID          string    `json:"organizer_id"`
	Published            bool      `json:"published"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
	// PreviousFairID is the edition this one follows (nil for a first one).
	PreviousFairID *string `bun:"previous_fair_id" json:"-"`

	Status string `bun:"-" json:"status" enum:"draft,upcoming,open,closed"`
	// Previous is the slug of the edition before this one (往届), if any.
	Previous string `bun:"-" json:"previous,omitempty" doc:"the slug of the previous edition of the fair, when it has one"`
}

// StatusAt is the fair's status at now.
func (f *Fair) StatusAt(now time.Time) string {
	switch {
	case !f.Published:
		return FairDraft
	case now.Before(f.StartsAt):
		return FairUpcoming
	case now.Before(f.EndsAt):
		return FairOpen
	}
	return FairClosed
}

// Window is when the fair sells, for the flash sales it bounds.
func (f *Fair) Window() FairWindow {
	return FairWindow{StartsAt: f.StartsAt, EndsAt: f.EndsAt, Closed: !f.Published}
}

// FairWindow is when a fair's flash sales may sell: within its dates, and
// not at all while it is closed (unpublished, or the sale's stall suspended).
type FairWindow struct {
	StartsAt, EndsAt time.Time
	Closed           bool
}

// Open reports whether the window admits purchases at now.
func (w FairWindow) Open(now time.Time) bool {
	return !w.Closed && !now.Before(w.StartsAt) && now.Before(w.EndsAt)
}

// LocalName is the fair's name in lang, falling back to Chinese.
func (f *Fair) LocalName(lang string) string {
	if lang == "en" && f.NameEN != "" {
		return f.NameEN
	}
	return f.Name
}

// LocalDescription is the fair's description in lang, falling back to Chinese.
func (f *Fair) LocalDescription(lang string) string {
	if lang == "en" && f.DescriptionEN != "" {
		return f.DescriptionEN
	}
	return f.Description
}

// PaymentWindow is how long an order of this fair may stay unpaid, given the
// platform default.
func (f *Fair) PaymentWindow(platform time.Duration) time.Duration {
	if f.PaymentWindowSeconds > 0 {
		return time.Duration(f.PaymentWindowSeconds) * time.Second
	}
	return platform
}

// FairInput is what an organizer sets on a fair; nil fields are left as they
// are when editing.
type FairInput struct {
	Slug                 *string
	Name                 *string
	NameEN               *string
	Description          *string
	DescriptionEN        *string
	Kind                 *string
	StartsAt             *time.Time
	EndsAt               *time.Time
	CommissionBPS        *int
	PaymentWindowSeconds *int
	Published            *bool
}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{1,62}[a-z0-9])$`)

func (in FairInput) apply(f *Fair) error {
	var c Check
	if in.Slug != nil {
		f.Slug = strings.TrimSpace(*in.Slug)
		c.That(slugPattern.MatchString(f.Slug), "slug", "must be 3 to 64 lower-case letters, digits or dashes, starting and ending with a letter or digit")
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
	}
	if in.NameEN != nil {
		f.NameEN = strings.TrimSpace(*in.NameEN)
	}
	if in.Description != nil {
		f.Description = strings.TrimSpace(*in.Description)
	}
	if in.DescriptionEN != nil {
		f.DescriptionEN = strings.TrimSpace(*in.DescriptionEN)
	}
	if in.Kind != nil {
		f.Kind = *in.Kind
	}
	if in.StartsAt != nil {
		f.StartsAt = in.StartsAt.UTC()
	}
	if in.EndsAt != nil {
		f.EndsAt = in.EndsAt.UTC()
	}
	if in.CommissionBPS != nil {
		f.CommissionBPS = *in.CommissionBPS
	}
	if in.PaymentWindowSeconds != nil {
		f.PaymentWindowSeconds = *in.PaymentWindowSeconds
	}
	if in.Published != nil {
		f.Published = *in.Published
	}
	c.That(f.Name != "" && utf8.RuneCountInString(f.Name) <= 100, "name", "must be 1 to 100 characters")
	c.That(utf8.RuneCountInString(f.NameEN) <= 100, "name_en", "must be at most 100 characters")
	c.That(utf8.RuneCountInString(f.Description) <= 5000, "description", "must be at most 5000 characters")
	c.That(utf8.RuneCountInString(f.DescriptionEN) <= 5000, "description_en", "must be at most 5000 characters")
	c.That(f.Kind == KindTempleFair || f.Kind == KindPropertySeason, "kind", "must be temple_fair or property_season")
	c.That(!f.StartsAt.IsZero(), "starts_at", "is required")
	c.That(f.EndsAt.After(f.StartsAt), "ends_at", "must be after starts_at")
	c.That(f.CommissionBPS >= 0 && f.CommissionBPS <= 10000, "commission_bps", "must be between 0 and 10000")
	c.That(f.PaymentWindowSeconds == 0 || f.PaymentWindowSeconds >= 60 && f.PaymentWindowSeconds <= 86400, "payment_window_seconds", "must be 0 (the platform default) or between 60 and 86400")
	return c.Err()
}

// CreateFair creates a fair owned by the organizer acting, with the default
// categories of its kind. It is published unless in.Published is false.
func (s *Service) CreateFair(ctx context.Context, a Actor, in FairInput) (*Fair, error) {
	if a.Role != RoleOrganizer {
		return nil, Fail(ErrForbidden, "only organizers create fairs")
	}
	now := s.now()
	f := &Fair{ID: NewID(), OrganizerID: a.UserID, Published: true, CreatedAt: now, UpdatedAt: now}
	var c Check
	c.That(in.Slug != nil, "slug", "is required")
	c.That(in.Name != nil, "name", "is required")
	c.That(in.Kind != nil, "kind", "is required")
	c.That(in.StartsAt != nil, "starts_at", "is required")
	c.That(in.EndsAt != nil, "ends_at", "is required")
	c.That(in.CommissionBPS != nil, "commission_bps", "is required")
	if err := c.Err(); err != nil {
		return nil, err
	}
	if err := in.apply(f); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(f).Exec(ctx); err != nil {
			if IsUniqueViolation(err) {
				return Failf(ErrSlugTaken, "%q", f.Slug)
			}
			return err
		}
		cats := DefaultCategories(f)
		if _, err := tx.NewInsert().Model(&cats).Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, now, a, f.ID, "fair.create", f.ID, Change{After: f})
	})
	if err != nil {
		return nil, err
	}
	f.Status = f.StatusAt(now)
	return f, nil
}

// UpdateFair edits a fair; only its organizer may. The kind cannot change once
// the fair has stalls.
func (s *Service) UpdateFair(ctx context.Context, a Actor, slug string, in FairInput) (*Fair, error) {
	var f *Fair
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if f, err = s.ownFair(ctx, tx, a, slug); err != nil {
			return err
		}
		before := *f
		kindChanged := in.Kind != nil && *in.Kind != f.Kind
		if kindChanged {
			n, err := tx.NewSelect().Model((*Stall)(nil)).Where("fair_id = ?", f.ID).Count(ctx)
			if err != nil {
				return err
			}
			if n > 0 {
				return ErrKindLocked
			}
		}
		if err := in.apply(f); err != nil {
			return err
		}
		if kindChanged {
			if _, err := tx.NewDelete().Model((*Category)(nil)).Where("fair_id = ?", f.ID).Exec(ctx); err != nil {
				return err
			}
			cats := DefaultCategories(f)
			if _, err := tx.NewInsert().Model(&cats).Exec(ctx); err != nil {
				return err
			}
		}
		f.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(f).WherePK().Exec(ctx); err != nil {
			if IsUniqueViolation(err) {
				return Failf(ErrSlugTaken, "%q", f.Slug)
			}
			return err
		}
		return Audit(ctx, tx, f.UpdatedAt, a, f.ID, "fair.update", f.ID, Diff(&before, f))
	})
	if err != nil {
		return nil, err
	}
	f.Status = f.StatusAt(s.now())
	// Its dates and publication bound its flash sales: admission must follow
	// at once, on every server. The change is saved either way; the sales'
	// own checks (ticket to order, payment) still refuse a closed fair.
	_ = s.events.FairChanged(ctx, f.ID)
	return f, nil
}

// ownFair loads the fair by slug for its organizer; anyone else gets
// ErrForbidden (the fair is public, its management is not).
func (s *Service) ownFair(ctx context.Context, db bun.IDB, a Actor, slug string) (*Fair, error) {
	f, err := s.fairBySlug(ctx, db, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		if !f.Published {
			return nil, Failf(ErrNotFound, "fair %q", slug)
		}
		return nil, Fail(ErrForbidden, "only the fair's organizer may do this")
	}
	return f, nil
}

func (s *Service) fairBySlug(ctx context.Context, db bun.IDB, slug string) (*Fair, error) {
	f := new(Fair)
	if err := db.NewSelect().Model(f).Where("slug = ?", slug).Scan(ctx); err != nil {
		return nil, notFound(err, "fair "+slug)
	}
	f.Status = f.StatusAt(s.now())
	if err := previousSlugs(ctx, db, f); err != nil {
		return nil, err
	}
	return f, nil
}

// FairByID loads a fair by id, whatever its status (for other domains).
func (s *Service) FairByID(ctx context.Context, db bun.IDB, id string) (*Fair, error) {
	f := new(Fair)
	if err := db.NewSelect().Model(f).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "fair")
	}
	f.Status = f.StatusAt(s.now())
	return f, nil
}

// Fair returns a fair by slug; drafts only to their organizer.
func (s *Service) Fair(ctx context.Context, a Actor, slug string) (*Fair, error) {
	f, err := s.fairBySlug(ctx, s.db, slug)
	if err != nil {
		return nil, err
	}
	if !f.Published && f.OrganizerID != a.UserID {
		return nil, Failf(ErrNotFound, "fair %q", slug)
	}
	return f, nil
}

// Fairs lists published fairs (and the actor's own drafts, for organizers),
// newest first.
func (s *Service) Fairs(ctx context.Context, a Actor, p Page) ([]Fair, *string, error) {
	var rows []Fair
	q := s.db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(p.Size() + 1)
	if a.UserID != "" {
		q = q.Where("published OR organizer_id = ?", a.UserID)
	} else {
		q = q.Where("published")
	}
	if p.Cursor != "" {
		q = q.Where("id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	now := s.now()
	for i := range rows {
		rows[i].Status = rows[i].StatusAt(now)
	}
	rows, next := NextCursor(p, rows, func(f Fair) string { return f.ID })
	if err := previousSlugs(ctx, s.db, ptrs(rows)...); err != nil {
		return nil, nil, err
	}
	return rows, next, nil
}

// OrganizedFairs lists the fairs an organizer runs, drafts included.
func (s *Service) OrganizedFairs(ctx context.Context, a Actor) ([]Fair, error) {
	var rows []Fair
	if err := s.db.NewSelect().Model(&rows).Where("organizer_id = ?", a.UserID).OrderExpr("id DESC").Scan(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	for i := range rows {
		rows[i].Status = rows[i].StatusAt(now)
	}
	return rows, previousSlugs(ctx, s.db, ptrs(rows)...)
}

// Category groups a fair's products.
type Category struct {
	bun.BaseModel `bun:"table:categories"`

	ID       string `bun:",pk" json:"id"`
	FairID   string `json:"fair_id"`
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	NameEN   string `bun:"name_en" json:"name_en"`
	Position int    `json:"position"`
}

// LocalName is the category's name in lang.
func (c Category) LocalName(lang string) string {
	if lang == "en" {
		return c.NameEN
	}
	return c.Name
}

var categorySets = map[string][][3]string{
	KindTempleFair: {
		{"food", "美食小吃", "Food & snacks"},
		{"crafts", "非遗手作", "Crafts & heritage"},
		{"clothing", "服饰", "Clothing"},
		{"home", "家居", "Home"},
		{"produce", "农副特产", "Local produce"},
		{"culture", "文创", "Culture & gifts"},
	},
	KindPropertySeason: {
		{"residential", "住宅", "Residential"},
		{"commercial", "商业", "Commercial"},
		{"villa", "别墅", "Villas"},
		{"apartment", "公寓", "Apartments"},
	},
}

// DefaultCategories are the categories a new fair of f's kind starts with.
func DefaultCategories(f *Fair) []Category {
	set := categorySets[f.Kind]
	out := make([]Category, len(set))
	for i, c := range set {
		out[i] = Category{ID: NewID(), FairID: f.ID, Slug: c[0], Name: c[1], NameEN: c[2], Position: i}
	}
	return out
}

// Categories lists a fair's categories in display order.
func (s *Service) Categories(ctx context.Context, fairID string) ([]Category, error) {
	return categories(ctx, s.db, fairID)
}

func categories(ctx context.Context, db bun.IDB, fairID string) ([]Category, error) {
	var rows []Category
	err := db.NewSelect().Model(&rows).Where("fair_id = ?", fairID).Order("position").Scan(ctx)
	return rows, err
}
