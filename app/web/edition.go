package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
	"miaohui/orders"
)

// Editions on the pages (往届与本届): the organizer starts a fair's next
// edition from its console; a merchant re-enrols a stall of an earlier
// edition in one step (一键报名本届); the dashboard sets this edition beside
// the previous one; applications carry licence documents.

// editionPageRoutes mounts the editions' forms.
func (s *Site) editionPageRoutes(r fiber.Router) {
	r.Post("/organizer/fairs/:slug/editions", s.nextEditionSubmit)
	r.Post("/merchant/reenrol", s.reEnrolSubmit)
	r.Post("/merchant/applications/:id/documents", s.documentSubmit)
}

// editionInputs are the inputs of the next-edition form.
var editionInputs = []string{"slug", "starts_at", "ends_at"}

// editionsView is the editions part of a fair's console: the edition before
// it and the one after it, or the form that starts the next one.
type editionsView struct {
	Previous     string // its slug, "" for a first edition
	PreviousName string
	Next         *fairCard
}

// editionsOf reads a fair's neighbouring editions for its console and fills
// the next-edition form's defaults: a year on, the slug's year moved on too.
func (s *Site) editionsOf(ctx context.Context, p *Page, a catalog.Actor, f *catalog.Fair) (editionsView, error) {
	var v editionsView
	if f.Previous != "" {
		v.Previous = f.Previous
		if prev, err := s.catalog.Fair(ctx, a, f.Previous); err == nil {
			v.PreviousName = prev.LocalName(p.Lang)
		}
	}
	next, err := s.catalog.NextEdition(ctx, a, f)
	if err != nil {
		return v, err
	}
	if next != nil {
		card := fairCardOf(p, next)
		v.Next = &card
		return v, nil
	}
	defaults(p, "edition", map[string]string{
		"slug": nextSlug(f.Slug), "starts_at": InputTime(f.StartsAt.AddDate(1, 0, 0)), "ends_at": InputTime(f.EndsAt.AddDate(1, 0, 0)),
	})
	return v, nil
}

var slugYear = regexp.MustCompile(`(^|-)(\d{4})$`)

// nextSlug suggests the next edition's slug: taizhou-2026 → taizhou-2027,
// else taizhou → taizhou-2.
func nextSlug(slug string) string {
	if m := slugYear.FindStringSubmatchIndex(slug); m != nil {
		year, _ := strconv.Atoi(slug[m[4]:m[5]])
		return slug[:m[4]] + strconv.Itoa(year+1)
	}
	return slug + "-2"
}

func (s *Site) nextEditionSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	back := "/organizer/fairs/" + url.PathEscape(slug)
	a, ok, err := s.console(c, catalog.RoleOrganizer, back)
	if !ok {
		return err
	}
	in := catalog.EditionInput{Slug: c.FormValue("slug")}
	var check catalog.Check
	var okStart, okEnd bool
	in.StartsAt, okStart = parseInputTime(c.FormValue("starts_at"))
	in.EndsAt, okEnd = parseInputTime(c.FormValue("ends_at"))
	check.That(okStart, "starts_at", "must be a date and time")
	check.That(okEnd, "ends_at", "must be a date and time")
	next := ""
	if err = check.Err(); err == nil {
		var f *catalog.Fair
		if f, err = s.catalog.CreateEdition(c.UserContext(), a, slug, in); err == nil {
			next = "/organizer/fairs/" + url.PathEscape(f.Slug)
		}
	}
	fm := s.organizerFairForm(c, a, slug, "edition", editionInputs...)
	fm.conflict, fm.field = "err.edition_conflict", "slug"
	return s.finish(c, err, "flash.edition_created", next, fm)
}

// reEnrolRow is a stall of the merchant's that may re-enrol in a later
// edition of its fair.
type reEnrolRow struct {
	StallID, StallName, From, Into, IntoSlug, IntoDates, IntoStatus, IntoStatusLabel string
	Products                                                                         int
}

// reEnrolRows lists the merchant's one-step re-enrolments.
func (s *Site) reEnrolRows(ctx context.Context, p *Page, a catalog.Actor) ([]reEnrolRow, error) {
	res, err := s.catalog.ReEnrolments(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]reEnrolRow, 0, len(res))
	for _, r := range res {
		into := fairCardOf(p, &r.Into)
		n, err := s.catalog.StallProducts(ctx, a, r.Stall.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, reEnrolRow{StallID: r.Stall.ID, StallName: r.Stall.Name, From: r.From.LocalName(p.Lang),
			Into: into.Name, IntoSlug: into.Slug, IntoDates: into.Dates, IntoStatus: into.Status, IntoStatusLabel: into.StatusLabel, Products: len(n)})
	}
	return out, nil
}

// reEnrolSubmit files the re-enrolment of one of the merchant's stalls in a
// later edition: the stall's profile goes with it, its products follow on
// approval.
func (s *Site) reEnrolSubmit(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return err
	}
	_, err = s.catalog.ReEnrol(c.UserContext(), a, c.FormValue("fair"), c.FormValue("stall"), "", "")
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		flash(c, "flash.reenrolled")
	case errors.Is(err, catalog.ErrConflict), errors.Is(err, catalog.ErrNotFound), errors.As(err, &ve):
		flash(c, "err.reenrol_failed")
	default:
		return err
	}
	return c.Redirect("/merchant#applications", http.StatusSeeOther)
}

// postedDocument is the licence document of an apply form, checked: nil
// when none was chosen.
func postedDocument(c *fiber.Ctx) ([]byte, string, error) {
	fh, err := c.FormFile("document")
	if err != nil || fh.Size == 0 && fh.Filename == "" {
		return nil, "", nil // the document is optional
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, catalog.MaxDocumentBytes+1))
	if err != nil {
		return nil, "", err
	}
	if _, err := catalog.CheckDocument(data); err != nil {
		return nil, "", err
	}
	return data, fh.Filename, nil
}

// documentSubmit attaches a licence document to one of the merchant's
// applications (after a one-step re-enrolment, say).
func (s *Site) documentSubmit(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return err
	}
	id := c.Params("id")
	data, name, err := postedDocument(c)
	if err == nil && data == nil {
		err = catalog.Invalid("document", "is required")
	}
	if err == nil {
		_, err = s.catalog.AddDocument(c.UserContext(), a, id, name, data)
	}
	return s.finish(c, err, "flash.document_added", "/merchant#app-"+url.PathEscape(id), form{
		name: "document", conflict: "err.document_conflict", title: "merchant.title", values: map[string]string{"id": id},
		show: func(p *Page, status int) error { return s.showMerchant(c, p, a, status) },
	})
}

// applyWithDocument files an application and attaches the form's licence
// document, checked before anything is filed.
func (s *Site) applyWithDocument(c *fiber.Ctx, a catalog.Actor, slug string) error {
	data, name, err := postedDocument(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	app, err := s.catalog.Apply(ctx, a, slug, c.FormValue("stall_name"), c.FormValue("description"))
	if err != nil || data == nil {
		return err
	}
	_, err = s.catalog.AddDocument(ctx, a, app.ID, name, data)
	return err
}

// attachDocuments gives each application row its licence documents.
func (s *Site) attachDocuments(ctx context.Context, rows []applicationRow) error {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	docs, err := s.catalog.DocumentsOf(ctx, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].Documents = docs[rows[i].ID]
	}
	return nil
}

// editionCompare is the dashboard's side-by-side of this edition and the
// previous one.
type editionCompare struct {
	Previous     string // the previous edition's name
	PreviousSlug string
	Rows         []compareRow
}

// compareRow is one figure of both editions and its change in percent.
type compareRow struct {
	Label, Field, Current, Previous, Change string
	Up, Down                                bool
}

// editionCompareOf sets a fair's totals beside its previous edition's, or
// nil for a first edition.
func editionCompareOf(p *Page, t *orders.Totals) *editionCompare {
	prev := t.PreviousEdition
	if prev == nil {
		return nil
	}
	row := func(label, field string, cur, was int64, money bool) compareRow {
		r := compareRow{Label: p.T(label), Field: field, Current: strconv.FormatInt(cur, 10), Previous: strconv.FormatInt(was, 10), Change: "—"}
		if money {
			r.Current, r.Previous = orders.Yuan(orders.Money(cur)), orders.Yuan(orders.Money(was))
		}
		if was != 0 {
			r.Change = percentChange(cur, was)
			r.Up, r.Down = cur > was, cur < was
		}
		return r
	}
	return &editionCompare{Previous: prev.Name, PreviousSlug: prev.Slug, Rows: []compareRow{
		row("totals.gmv", "gmv", int64(t.GMV), int64(prev.GMV), true),
		row("totals.paid_orders", "paid_orders", t.PaidOrders, prev.PaidOrders, false),
		row("totals.participants", "participants", t.Participants, prev.Participants, false),
		row("totals.merchants", "merchants", t.Merchants, prev.Merchants, false),
	}}
}

// percentChange is (cur − was) / was in percent to one decimal, signed:
// "+12.5%", "-3.0%", computed in integers (was ≠ 0).
func percentChange(cur, was int64) string {
	tenths := (cur - was) * 1000 / was // tenths of a percent, towards zero
	rem := (cur - was) * 1000 % was
	if 2*abs64(rem) >= abs64(was) { // round half away from zero
		if (cur-was < 0) != (was < 0) {
			tenths--
		} else {
			tenths++
		}
	}
	sign := "+"
	if tenths < 0 {
		sign, tenths = "-", -tenths
	}
	return fmt.Sprintf("%s%d.%d%%", sign, tenths/10, tenths%10)
}

func abs64(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
