package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
)

// The organizer's console at the scale of a big fair: the fair page's
// applications and stalls are paged, searched and filtered by status (each
// list by its own query parameters, so both keep their place), pending
// applications are approved or rejected many at a time, booth numbers are
// set, and the fair's audit log has a page of its own.

// consolePageSize is how many rows a console list shows per page.
const consolePageSize = 50

// consolePageRoutes mounts the console's bulk decision and audit pages.
func (s *Site) consolePageRoutes(r fiber.Router) {
	r.Post("/organizer/fairs/:slug/applications/bulk", s.bulkSubmit)
	r.Get("/organizer/fairs/:slug/audit", s.auditPage)
}

// consoleList is the state of one paged list of the console: its search,
// status filter and the links to the first and next pages.
type consoleList struct {
	Q, Status   string
	Statuses    []option
	Next, First string // "" when there is none (First: on the first page)
	Cursor      string
}

// listState reads a list's parameters, named with prefix ("a" for the
// applications, "s" for the stalls).
func listState(c *fiber.Ctx, prefix string) consoleList {
	return consoleList{Q: strings.TrimSpace(c.Query(prefix + "q")), Status: c.Query(prefix + "status"), Cursor: c.Query(prefix + "cursor")}
}

// links fills the list's page links: the query of the page with this
// list moved to the next page (or back to its first), the other list kept.
func (l *consoleList) links(c *fiber.Ctx, base, prefix, anchor string, next *string) {
	q := url.Values{}
	for _, k := range []string{"aq", "astatus", "acursor", "sq", "sstatus", "scursor"} {
		if v := c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	if next != nil {
		q.Set(prefix+"cursor", *next)
		l.Next = base + "?" + q.Encode() + anchor
	}
	if l.Cursor != "" {
		q.Del(prefix + "cursor")
		l.First = base + "?" + q.Encode() + anchor
	}
}

// consoleLists fills the fair page's lists: a page of applications and of
// stalls, as their parameters ask, and the count of pending applications.
func (s *Site) consoleLists(c *fiber.Ctx, p *Page, a catalog.Actor, f *catalog.Fair, v *organizerFairView) error {
	ctx := c.UserContext()
	base := "/organizer/fairs/" + url.PathEscape(f.Slug)
	al := listState(c, "a")
	apps, next, err := s.catalog.SearchApplications(ctx, a, f.Slug, catalog.ApplicationQuery{Status: al.Status, Q: al.Q, Page: catalog.Page{Limit: consolePageSize, Cursor: al.Cursor}})
	if err != nil {
		return err
	}
	al.links(c, base, "a", "#applications", next)
	al.Statuses = []option{{"", p.T("console.all")}}
	for _, st := range []string{catalog.ApplicationPending, catalog.ApplicationApproved, catalog.ApplicationRejected} {
		al.Statuses = append(al.Statuses, option{st, p.T("application.status." + st)})
	}
	// Each row names its merchant's email: what the organizer searches by.
	ids := make([]string, 0, len(apps))
	for _, app := range apps {
		ids = append(ids, app.MerchantID)
	}
	who := map[string]catalog.Contact{}
	if len(ids) > 0 {
		if who, err = s.accounts.Contacts(ctx, ids); err != nil {
			return err
		}
	}
	for _, app := range apps {
		row := applicationRowOf(p, app, f)
		row.Email = who[app.MerchantID].Email
		v.Applications = append(v.Applications, row)
	}
	if v.Pending, err = s.catalog.PendingApplications(ctx, a, f.Slug); err != nil {
		return err
	}
	sl := listState(c, "s")
	stalls, next, err := s.catalog.SearchStalls(ctx, a, f.Slug, catalog.StallQuery{Status: sl.Status, Q: sl.Q, Page: catalog.Page{Limit: consolePageSize, Cursor: sl.Cursor}})
	if err != nil {
		return err
	}
	sl.links(c, base, "s", "#stalls", next)
	sl.Statuses = []option{{"", p.T("console.all")}, {catalog.StallActive, p.T("stall.status.active")}, {catalog.StallSuspended, p.T("stall.status.suspended")}}
	for _, st := range stalls {
		v.Stalls = append(v.Stalls, stallRowOf(p, st, f))
	}
	v.AppList, v.StallList = al, sl
	return nil
}

// bulkSubmit approves or rejects the applications ticked on the fair page.
func (s *Site) bulkSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	back := "/organizer/fairs/" + url.PathEscape(slug)
	a, ok, err := s.console(c, catalog.RoleOrganizer, back)
	if !ok {
		return err
	}
	// Back to the list as it was filtered.
	keep := url.Values{}
	for _, k := range []string{"aq", "astatus"} {
		if v := strings.TrimSpace(c.FormValue(k)); v != "" {
			keep.Set(k, v)
		}
	}
	list := back
	if len(keep) > 0 {
		list += "?" + keep.Encode()
	}
	var ids []string
	if args := c.Request().PostArgs(); args != nil {
		for _, v := range args.PeekMulti("ids") {
			ids = append(ids, string(v))
		}
	}
	if len(ids) == 0 {
		flash(c, "err.bulk_none")
		return c.Redirect(list+"#applications", http.StatusSeeOther)
	}
	action := c.FormValue("action")
	results, err := s.catalog.BulkDecide(c.UserContext(), a, slug, ids, action, c.FormValue("reason"))
	if err == nil {
		done := 0
		for _, r := range results {
			if r.OK {
				done++
			}
		}
		msg := "flash.bulk_done"
		if done < len(results) {
			msg = "flash.bulk_partly"
		}
		flash(c, msg)
		return c.Redirect(list+"#applications", http.StatusSeeOther)
	}
	fm := s.organizerFairForm(c, a, slug, "bulk", "reason")
	return s.finish(c, err, "", back, fm)
}

// boothSubmit sets a stall's booth number from the fair page.
func (s *Site) boothSubmit(c *fiber.Ctx, a catalog.Actor, slug, id string) error {
	back := "/organizer/fairs/" + url.PathEscape(slug) + "#stalls"
	_, err := s.catalog.SetBooth(c.UserContext(), a, id, c.FormValue("booth"))
	fm := s.organizerFairForm(c, a, slug, "stallbooth", "booth")
	fm.values = map[string]string{"id": id}
	fm.conflict, fm.field = "err.booth_taken", "booth"
	return s.finish(c, err, "flash.booth_saved", back, fm)
}

// auditView is the fair's audit log page.
type auditView struct {
	Fair            fairCard
	Back, CSV       string
	Action, ActorID string
	Items           []auditRow
	Next, First     string
}

// auditRow is one entry of the log as the page shows it.
type auditRow struct {
	At, ActorID, Action, Label, Subject, Detail string
}

func (s *Site) auditPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "audit.title")
	f, err := s.organizersFair(ctx, a, slug)
	if err != nil {
		return err
	}
	in := catalog.AuditQuery{Action: strings.TrimSpace(c.Query("action")), ActorID: strings.TrimSpace(c.Query("actor_id")), Page: catalog.Page{Limit: consolePageSize, Cursor: c.Query("cursor")}}
	rows, next, err := s.catalog.AuditLog(ctx, a, slug, in)
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		return catalog.Fail(catalog.ErrBadRequest, "the filters are too long")
	}
	if err != nil {
		return err
	}
	esc := url.PathEscape(f.Slug)
	base := "/organizer/fairs/" + esc + "/audit"
	q := url.Values{}
	if in.Action != "" {
		q.Set("action", in.Action)
	}
	if in.ActorID != "" {
		q.Set("actor_id", in.ActorID)
	}
	v := auditView{Fair: fairCardOf(p, f), Back: "/organizer/fairs/" + esc, CSV: "/api/v1/fairs/" + esc + "/audit.csv?" + q.Encode(), Action: in.Action, ActorID: in.ActorID}
	if in.Page.Cursor != "" {
		v.First = base + "?" + q.Encode()
	}
	if next != nil {
		q.Set("cursor", *next)
		v.Next = base + "?" + q.Encode()
	}
	for _, e := range rows {
		label := p.T("audit.action." + e.Action)
		if label == "audit.action."+e.Action {
			label = e.Action
		}
		v.Items = append(v.Items, auditRow{At: dateTimeText(e.At, p.Lang), ActorID: e.ActorID, Action: e.Action, Label: label, Subject: e.Subject, Detail: string(e.Detail)})
	}
	p.Title = p.T("audit.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, http.StatusOK, "organizer_audit", p)
}
