package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Editions (往届与本届): a fair held again is a new fair whose
// PreviousFairID points at the edition before it. Each fair has at most one
// next edition, so a fair's editions form a line (its series). Merchants of
// an earlier edition re-enrol their stall in a later one; on approval the
// stall's products come along.

// maxEditions bounds a walk along a series (a fair held yearly for a century).
const maxEditions = 100

// ErrHasNextEdition is starting a next edition of a fair that has one.
var ErrHasNextEdition = Fail(ErrConflict, "this fair already has a next edition")

// EditionInput is what an organizer sets on a next edition; the rest is the
// previous edition's.
type EditionInput struct {
	Slug     string
	StartsAt time.Time
	EndsAt   time.Time
}

// CreateEdition starts the next edition of the organizer's fair: a new fair
// in the same series with the fair's settings (names, descriptions, kind,
// commission, payment window, publication, categories and the floor plan's
// booths, without their stalls) and in's slug and dates. The next edition
// starts after this one started and has not ended yet.
func (s *Service) CreateEdition(ctx context.Context, a Actor, slug string, in EditionInput) (*Fair, error) {
	var nf *Fair
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		old, err := s.ownFair(ctx, tx, a, slug)
		if err != nil {
			return err
		}
		now := s.now()
		in.Slug = strings.TrimSpace(in.Slug)
		in.StartsAt, in.EndsAt = in.StartsAt.UTC(), in.EndsAt.UTC()
		var c Check
		c.That(slugPattern.MatchString(in.Slug), "slug", "must be 3 to 64 lower-case letters, digits or dashes, starting and ending with a letter or digit")
		c.That(!in.StartsAt.IsZero(), "starts_at", "is required")
		c.That(in.StartsAt.After(old.StartsAt), "starts_at", "must be after the start of the previous edition")
		c.That(in.EndsAt.After(in.StartsAt), "ends_at", "must be after starts_at")
		c.That(in.EndsAt.After(now), "ends_at", "must be in the future")
		if err := c.Err(); err != nil {
			return err
		}
		// Editions of one fair take turns on its row: one next edition each.
		var locked string
		if err := ForUpdate(tx.NewSelect().Model((*Fair)(nil)).Column("id").Where("id = ?", old.ID)).Scan(ctx, &locked); err != nil {
			return err
		}
		if next, err := nextEdition(ctx, tx, old.ID); err != nil {
			return err
		} else if next != nil {
			return Failf(ErrHasNextEdition, "%q", next.Slug)
		}
		nf = &Fair{
			ID: NewID(), Slug: in.Slug, Name: old.Name, NameEN: old.NameEN, Description: old.Description, DescriptionEN: old.DescriptionEN,
			Kind: old.Kind, StartsAt: in.StartsAt, EndsAt: in.EndsAt, CommissionBPS: old.CommissionBPS,
			PaymentWindowSeconds: old.PaymentWindowSeconds, OrganizerID: old.OrganizerID, Published: old.Published,
			CreatedAt: now, UpdatedAt: now, PreviousFairID: &old.ID, Previous: old.Slug,
		}
		if _, err := tx.NewInsert().Model(nf).Exec(ctx); err != nil {
			if IsUniqueViolation(err) {
				var n int
				if err := tx.NewSelect().Model((*Fair)(nil)).ColumnExpr("COUNT(*)").Where("slug = ?", nf.Slug).Scan(ctx, &n); err == nil && n == 0 {
					return ErrHasNextEdition // another request started it first
				}
				return Failf(ErrSlugTaken, "%q", nf.Slug)
			}
			return err
		}
		if err := copyCategories(ctx, tx, old, nf); err != nil {
			return err
		}
		if err := copyFloorPlan(ctx, tx, old.ID, nf.ID, now); err != nil {
			return err
		}
		// Both fairs' logs tell it: the one that was held again, and the
		// new edition, which begins with it.
		detail := map[string]any{"previous": old.Slug, "slug": nf.Slug, "starts_at": nf.StartsAt, "ends_at": nf.EndsAt}
		if err := Audit(ctx, tx, now, a, old.ID, "fair.edition", nf.ID, detail); err != nil {
			return err
		}
		return Audit(ctx, tx, now, a, nf.ID, "fair.edition", nf.ID, detail)
	})
	if err != nil {
		return nil, err
	}
	nf.Status = nf.StatusAt(s.now())
	return nf, nil
}

// copyCategories gives the next edition the categories of the previous one
// (the defaults of its kind if it had none).
func copyCategories(ctx context.Context, tx bun.IDB, old, nf *Fair) error {
	cats, err := categories(ctx, tx, old.ID)
	if err != nil {
		return err
	}
	if len(cats) == 0 {
		cats = DefaultCategories(nf)
	}
	for i := range cats {
		cats[i].ID, cats[i].FairID = NewID(), nf.ID
	}
	_, err = tx.NewInsert().Model(&cats).Exec(ctx)
	return err
}

// copyFloorPlan gives the next edition the previous one's floor plan: its
// image and booths, with no stall standing at any booth yet.
func copyFloorPlan(ctx context.Context, tx bun.IDB, oldID, newID string, now time.Time) error {
	m := new(fairMap)
	if err := tx.NewSelect().Model(m).Where("fair_id = ?", oldID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return err
	}
	var booths []Booth
	if err := json.Unmarshal([]byte(m.Booths), &booths); err != nil {
		return fmt.Errorf("floor plan of fair %s: %w", oldID, err)
	}
	for i := range booths {
		booths[i].StallID = ""
	}
	if booths == nil {
		booths = []Booth{}
	}
	b, err := json.Marshal(booths)
	if err != nil {
		return err
	}
	_, err = tx.NewInsert().Model(&fairMap{FairID: newID, ImageURL: m.ImageURL, Booths: string(b), UpdatedAt: now}).Exec(ctx)
	return err
}

// nextEdition is the fair following fairID, or nil.
func nextEdition(ctx context.Context, db bun.IDB, fairID string) (*Fair, error) {
	f := new(Fair)
	if err := db.NewSelect().Model(f).Where("previous_fair_id = ?", fairID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return f, nil
}

// previousSlugs fills the Previous slug of each fair that follows another.
func previousSlugs(ctx context.Context, db bun.IDB, fairs ...*Fair) error {
	var ids []string
	for _, f := range fairs {
		if f.PreviousFairID != nil {
			ids = append(ids, *f.PreviousFairID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []struct {
		ID   string
		Slug string
	}
	if err := db.NewSelect().Model((*Fair)(nil)).Column("id", "slug").Where("id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return fmt.Errorf("previous editions: %w", err)
	}
	slugs := make(map[string]string, len(rows))
	for _, r := range rows {
		slugs[r.ID] = r.Slug
	}
	for _, f := range fairs {
		if f.PreviousFairID != nil {
			f.Previous = slugs[*f.PreviousFairID]
		}
	}
	return nil
}

func ptrs[T any](rows []T) []*T {
	out := make([]*T, len(rows))
	for i := range rows {
		out[i] = &rows[i]
	}
	return out
}

// earlierEditions lists the ids of the editions before fairID, the latest
// first.
func earlierEditions(ctx context.Context, db bun.IDB, fairID string) ([]string, error) {
	var out []string
	id := fairID
	for range maxEditions {
		var prev *string
		err := db.NewSelect().Model((*Fair)(nil)).Column("previous_fair_id").Where("id = ?", id).Scan(ctx, &prev)
		if err != nil {
			return nil, fmt.Errorf("earlier editions: %w", err)
		}
		if prev == nil {
			break
		}
		out = append(out, *prev)
		id = *prev
	}
	return out, nil
}

// PreviousEdition is the edition before fair f, or nil (for other domains'
// reports, which compare the two).
func PreviousEdition(ctx context.Context, db bun.IDB, f *Fair) (*Fair, error) {
	if f.PreviousFairID == nil {
		return nil, nil
	}
	prev := new(Fair)
	if err := db.NewSelect().Model(prev).Where("id = ?", *f.PreviousFairID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	return prev, nil
}

// NextEdition is the edition following fair f, or nil; drafts only for their
// organizer.
func (s *Service) NextEdition(ctx context.Context, a Actor, f *Fair) (*Fair, error) {
	next, err := nextEdition(ctx, s.db, f.ID)
	if err != nil || next == nil {
		return nil, err
	}
	if !next.Published && next.OrganizerID != a.UserID {
		return nil, nil
	}
	next.Status = next.StatusAt(s.now())
	next.Previous = f.Slug
	return next, nil
}

// ReEnrol files a merchant's application to a fair for their stall of an
// earlier edition of it (fromStall): the application carries the stall's
// profile (stallName and description, when given, replace its name and
// description) and, once approved, the new stall gets copies of the old
// one's products. A stall that is not the merchant's is ErrNotFound; one of
// another series, or of this edition or a later one, is invalid.
func (s *Service) ReEnrol(ctx context.Context, a Actor, slug, fromStall, stallName, description string) (*Application, error) {
	if a.Role != RoleMerchant {
		return nil, Fail(ErrForbidden, "only merchants apply for stalls")
	}
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.Status == FairClosed {
		return nil, ErrFairEnded
	}
	old := new(Stall)
	if err := s.db.NewSelect().Model(old).Where("id = ?", strings.TrimSpace(fromStall)).Scan(ctx); err != nil {
		return nil, notFound(err, "stall")
	}
	if old.MerchantID != a.UserID {
		return nil, Fail(ErrNotFound, "stall")
	}
	earlier, err := earlierEditions(ctx, s.db, f.ID)
	if err != nil {
		return nil, err
	}
	inSeries := false
	for _, id := range earlier {
		inSeries = inSeries || id == old.FairID
	}
	if !inSeries {
		return nil, Invalid("from_stall", "must be your stall at an earlier edition of this fair")
	}
	if stallName = strings.TrimSpace(stallName); stallName == "" {
		stallName = old.Name
	}
	if description = strings.TrimSpace(description); description == "" {
		description = old.Description
	}
	var c Check
	c.That(utf8.RuneCountInString(stallName) <= 60, "stall_name", "must be 1 to 60 characters")
	c.That(utf8.RuneCountInString(description) <= 2000, "description", "must be at most 2000 characters")
	if err := c.Err(); err != nil {
		return nil, err
	}
	app := &Application{ID: NewID(), FairID: f.ID, MerchantID: a.UserID, StallName: stallName, Description: description,
		Status: ApplicationPending, CreatedAt: s.now(), FromStallID: &old.ID}
	if _, err := s.db.NewInsert().Model(app).Exec(ctx); err != nil {
		if IsUniqueViolation(err) {
			return nil, ErrAlreadyApplied
		}
		return nil, err
	}
	return app, nil
}

// reEnrol gives a stall opened by an approved re-enrolment what the stall it
// re-enrols had: its address and district, a development's floor plans
// (unit types; its viewing slots are dated, and stay), and copies of its
// products —
// titles, descriptions, prices, kinds, fulfilment, stock as it stands, photos
// (files copied), categories matched by slug, else by name, among the new
// fair's. Flash sales are not copied. It runs in the approval's transaction
// (by a, the organizer), and records what it copied in the fair's audit log.
func (s *Service) reEnrol(ctx context.Context, tx bun.Tx, a Actor, app *Application, st *Stall) error {
	if app.FromStallID == nil {
		return nil
	}
	old := new(Stall)
	if err := tx.NewSelect().Model(old).Where("id = ?", *app.FromStallID).Scan(ctx); err != nil {
		return notFound(err, "the re-enrolled stall")
	}
	if old.Address != "" || old.District != "" {
		st.Address, st.District = old.Address, old.District
		if _, err := tx.NewUpdate().Model(st).Column("address", "district").WherePK().Exec(ctx); err != nil {
			return err
		}
	}
	var units []UnitType
	if err := tx.NewSelect().Model(&units).Where("stall_id = ?", old.ID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return err
	}
	for i := range units {
		units[i].ID, units[i].StallID, units[i].CreatedAt = NewID(), st.ID, s.now()
	}
	if len(units) > 0 {
		if _, err := tx.NewInsert().Model(&units).Exec(ctx); err != nil {
			return err
		}
	}
	var products []Product
	err := tx.NewSelect().Model(&products).
		Relation("Images", func(q *bun.SelectQuery) *bun.SelectQuery { return q.OrderExpr("id ASC") }).
		Where("product.stall_id = ?", old.ID).OrderExpr("product.id ASC").Scan(ctx)
	if err != nil {
		return err
	}
	if err := Audit(ctx, tx, s.now(), a, st.FairID, "stall.reenrol", st.ID, map[string]any{
		"from_stall": old.ID, "from_fair": old.FairID, "products": len(products), "unit_types": len(units),
	}); err != nil {
		return err
	}
	if len(products) == 0 {
		return nil
	}
	category, err := categoryMapping(ctx, tx, old.FairID, st.FairID)
	if err != nil {
		return err
	}
	now := s.now()
	var images []Image
	for i := range products {
		p := &products[i]
		oldImages := p.Images
		p.ID, p.FairID, p.StallID, p.Category = NewID(), st.FairID, st.ID, category[p.Category]
		p.CreatedAt, p.UpdatedAt, p.Images = now, now, nil
		if p.Kind == KindVoucher && p.ValidUntil != nil && !p.ValidUntil.After(now) {
			p.Active = false // an expired voucher waits for its merchant to give it new dates
		}
		for _, img := range oldImages {
			cp := img
			cp.ID, cp.ProductID, cp.CreatedAt = NewID(), p.ID, now
			cp.File = "products/" + cp.ID + filepath.Ext(img.File)
			copied, err := s.copyImageFiles(img.File, cp.File)
			if err != nil {
				return err
			}
			if copied {
				images = append(images, cp)
			}
		}
	}
	if _, err := tx.NewInsert().Model(&products).Exec(ctx); err != nil {
		return err
	}
	if len(images) > 0 {
		if _, err := tx.NewInsert().Model(&images).Exec(ctx); err != nil {
			return err
		}
	}
	return indexProducts(ctx, tx, "p.stall_id = ?", st.ID)
}

// categoryMapping maps the category slugs of fair from to those of fair to:
// the same slug, else the category of the same name; "" when none matches.
func categoryMapping(ctx context.Context, db bun.IDB, from, to string) (map[string]string, error) {
	olds, err := categories(ctx, db, from)
	if err != nil {
		return nil, err
	}
	news, err := categories(ctx, db, to)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, o := range olds {
		for _, n := range news {
			if n.Slug == o.Slug {
				out[o.Slug] = n.Slug
				break
			}
		}
		if _, ok := out[o.Slug]; ok {
			continue
		}
		for _, n := range news {
			if n.Name == o.Name || n.NameEN != "" && n.NameEN == o.NameEN {
				out[o.Slug] = n.Slug
				break
			}
		}
	}
	return out, nil
}

// copyImageFiles copies a photo's file and its smaller copies to file to.
// A copy that was never made is skipped (the photo itself is served for
// it); a photo whose file is gone is not copied at all (copied false).
func (s *Service) copyImageFiles(from, to string) (copied bool, err error) {
	cp := func(from, to string) (bool, error) {
		data, err := os.ReadFile(filepath.Join(s.mediaDir, filepath.FromSlash(from)))
		if err != nil {
			if os.IsNotExist(err) {
				return false, nil
			}
			return false, fmt.Errorf("copy photo: %w", err)
		}
		return true, writeFileAtomic(filepath.Join(s.mediaDir, filepath.FromSlash(to)), data)
	}
	if copied, err = cp(from, to); err != nil || !copied {
		return false, err
	}
	for _, w := range ImageWidths {
		if _, err := cp(variantFile(from, w), variantFile(to, w)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// ReEnrolment is a stall of a merchant's that may re-enrol in a later
// edition of its fair: one that is open or upcoming and where the merchant
// has no stall nor a live application.
type ReEnrolment struct {
	Stall Stall // the stall of the earlier edition
	From  Fair  // its fair
	Into  Fair  // the edition it may re-enrol in
}

// ReEnrolments lists, for each open or upcoming edition following a fair
// where the merchant had a stall, the merchant's latest stall of the series,
// unless they have already applied there or have a stall there.
func (s *Service) ReEnrolments(ctx context.Context, a Actor) ([]ReEnrolment, error) {
	if a.Role != RoleMerchant {
		return nil, nil
	}
	stalls, err := s.MyStalls(ctx, a)
	if err != nil || len(stalls) == 0 {
		return nil, err
	}
	apps, err := s.MyApplications(ctx, a)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{} // fairs the merchant is in, or applied to
	for _, app := range apps {
		if app.Status != ApplicationRejected {
			taken[app.FairID] = true
		}
	}
	for _, st := range stalls {
		taken[st.FairID] = true
	}
	now := s.now()
	best := map[string]ReEnrolment{} // by the fair re-enrolled in
	var order []string
	for _, st := range stalls {
		from, err := s.FairByID(ctx, s.db, st.FairID)
		if err != nil {
			return nil, err
		}
		// Every later edition of the stall's fair; the nearest earlier stall wins.
		cur := from
		for range maxEditions {
			next, err := nextEdition(ctx, s.db, cur.ID)
			if err != nil {
				return nil, err
			}
			if next == nil {
				break
			}
			next.Status, next.Previous = next.StatusAt(now), cur.Slug
			if !taken[next.ID] && next.Published && next.Status != FairClosed {
				if prev, ok := best[next.ID]; !ok || prev.From.StartsAt.Before(from.StartsAt) {
					if !ok {
						order = append(order, next.ID)
					}
					best[next.ID] = ReEnrolment{Stall: st, From: *from, Into: *next}
				}
			}
			cur = next
		}
	}
	out := make([]ReEnrolment, 0, len(order))
	for _, id := range order {
		out = append(out, best[id])
	}
	return out, nil
}
