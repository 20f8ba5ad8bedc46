package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"

	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

// The dashboards: the organizer's live view of a fair's sales, the
// merchant's of a stall's, and the organizers' view of the job queues. The
// figures are rendered on the server; the charts are drawn by
// /static/dashboard.js (with the vendored Chart.js) from the data the page
// embeds as JSON, and refreshed from the totals API every few seconds.

// dashboardTopStalls is how many stalls the fair's bar chart shows.
const dashboardTopStalls = 20

// dashboardArchivedLimit is how many archived tasks a queue lists.
const dashboardArchivedLimit = 50

// dashboardPageRoutes mounts the dashboards.
func (s *Site) dashboardPageRoutes(r fiber.Router) {
	r.Get("/organizer/fairs/:slug/dashboard", s.fairDashboardPage)
	r.Get("/merchant/stalls/:id/dashboard", s.stallDashboardPage)
	r.Get("/organizer/queues", s.queuesPage)
	r.Post("/organizer/queues/:queue/archived/:id/run", s.runArchivedSubmit)
}

// dashboardData is the JSON the page embeds for its script: the totals as
// the API gives them (money in fen), so the refresh reads the same shape.
type dashboardData struct {
	Kind     string            `json:"kind"` // fair or stall
	API      string            `json:"api"`  // the totals to poll
	Interval int               `json:"interval_ms"`
	Lang     string            `json:"lang"`
	Labels   map[string]string `json:"labels"`
	Top      int               `json:"top"`
	Totals   any               `json:"totals"`
}

// dashChart is one chart of a dashboard with its table as CSV.
type dashChart struct {
	Name, Title, CSV string
	Tall             bool
	Empty            bool // no figures yet: the page shows "no sales" from the start
}

// dashboardView is a fair's or a stall's dashboard page.
type dashboardView struct {
	Fair   fairCard
	Stall  *catalog.Stall
	Totals totalsView
	CSV    string
	Back   string
	Charts []dashChart
	Data   dashboardData
	// Compare sets the fair beside its previous edition (nil for a first one).
	Compare *editionCompare
}

func dashboardLabels(p *Page) map[string]string {
	l := map[string]string{"gmv": p.T("totals.gmv"), "orders": p.T("totals.orders")}
	for _, k := range []string{"live", "stale", "uncategorized", "online", "offline", "booth", "orders_unit", "redeemed", "ordered", "left",
		"vouchers_sold", "vouchers_redeemed", "vouchers_refunded", "bookings", "coupon_discount", "coupon_gmv", "coupon_ratio"} {
		l[k] = p.T("dash." + k)
	}
	return l
}

// dashCharts lists the charts a dashboard shows: by stall for a fair only,
// flash sales where there are some, developments in property seasons.
func dashCharts(p *Page, csvURL string, fair bool, b orders.Breakdown, property bool) []dashChart {
	chart := func(name, title, table string) dashChart {
		return dashChart{Name: name, Title: title, CSV: csvURL + "?table=" + table}
	}
	cs := []dashChart{chart("by-day", p.T("dash.gmv_by_day"), "day"), chart("by-hour", p.T("dash.gmv_by_hour"), "hour")}
	if fair {
		c := chart("by-stall", p.T("dash.top_stalls", "N", dashboardTopStalls), "stall")
		c.Tall = true
		cs = append(cs, c)
	}
	cs = append(cs, chart("by-category", p.T("dash.by_category"), "category"), chart("by-fulfillment", p.T("dash.online_offline"), "fulfillment"))
	if len(b.FlashSales) > 0 {
		cs = append(cs, chart("flash-sales", p.T("dash.flash_sales"), "flash_sale"))
	}
	if property {
		cs = append(cs, chart("developments", p.T("dash.developments"), "development"))
	}
	return cs
}

// emptyCharts marks the charts that have no figures, so that the page shows
// their "no sales" line as it loads rather than after its script has run,
// which would move everything below. byDay and byStall count the days and
// stalls with sales; the breakdown gives the rest.
func emptyCharts(cs []dashChart, byDay, byStall int, b orders.Breakdown) {
	n := map[string]int{"by-day": byDay, "by-hour": len(b.ByHour), "by-stall": byStall, "by-category": len(b.ByCategory),
		"by-fulfillment": len(b.ByFulfillment), "flash-sales": len(b.FlashSales), "developments": len(b.Developments)}
	for i := range cs {
		cs[i].Empty = n[cs[i].Name] == 0
	}
}

func (s *Site) fairDashboardPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "dash.title")
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	t, err := s.orders.FairTotals(ctx, a, slug) // the fair's organizer only
	if err != nil {
		return err
	}
	esc := url.PathEscape(f.Slug)
	csvURL := "/api/v1/fairs/" + esc + "/totals.csv"
	v := dashboardView{
		Fair: fairCardOf(p, f), CSV: csvURL, Back: "/organizer/fairs/" + esc, Totals: fairTotalsOf(t),
		Charts:  dashCharts(p, csvURL, true, t.Breakdown, f.Kind == catalog.KindPropertySeason),
		Compare: editionCompareOf(p, t),
	}
	emptyCharts(v.Charts, len(t.ByDay), len(t.ByStall), t.Breakdown)
	if len(t.Coupons) > 0 {
		// The fair's campaigns: what each took off and the sales it pulled.
		v.Charts = append(v.Charts, dashChart{Name: "coupons", Title: p.T("dash.coupons"), CSV: csvURL + "?table=coupon", Tall: len(t.Coupons) > 4})
	}
	embedded := *t
	embedded.ByStall = topStalls(t.ByStall) // the page draws the top ones; the refresh reads them all
	v.Data = dashboardData{
		Kind: "fair", API: "/api/v1/fairs/" + esc + "/totals", Interval: 5000, Lang: p.Lang, Labels: dashboardLabels(p),
		Top: dashboardTopStalls, Totals: &embedded,
	}
	p.Title = p.T("dash.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, http.StatusOK, "dashboard", p)
}

func topStalls(all []orders.StallTotal) []orders.StallTotal {
	if len(all) > dashboardTopStalls {
		return all[:dashboardTopStalls]
	}
	return all
}

func (s *Site) stallDashboardPage(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "dash.stall_title")
	sa, err := s.catalog.Stall(ctx, a, id)
	if err != nil {
		return err
	}
	if !sa.Merchant {
		return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant sees its dashboard")
	}
	t, err := s.orders.StallTotalsFor(ctx, a, id)
	if err != nil {
		return err
	}
	esc := url.PathEscape(id)
	csvURL := "/api/v1/stalls/" + esc + "/totals.csv"
	v := dashboardView{
		Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), Back: "/merchant/stalls/" + esc + "/orders", CSV: csvURL,
		Totals: totalsView{GMV: orders.Yuan(t.GMV), Refunded: orders.Yuan(t.Refunded), PaidOrders: t.PaidOrders, Participants: t.Participants},
		Charts: dashCharts(p, csvURL, false, t.Breakdown, sa.Fair.Kind == catalog.KindPropertySeason),
		Data: dashboardData{
			Kind: "stall", API: "/api/v1/stalls/" + esc + "/totals", Interval: 5000, Lang: p.Lang, Labels: dashboardLabels(p),
			Totals: t,
		},
	}
	emptyCharts(v.Charts, len(t.ByDay), 0, t.Breakdown)
	p.Title = p.T("dash.stall_title_of", "Name", sa.Stall.Name)
	p.Data = v
	return s.render(c, http.StatusOK, "dashboard", p)
}

// ---- Queues ----

// queueRow is one queue's health.
type queueRow struct {
	Name                                                    string
	Label                                                   string // the queue's name in the page's language
	Size, Pending, Active, Scheduled, Retry, Archived, Done int
	Processed, Failed                                       int // today (UTC, as Asynq counts)
	Paused, Unused                                          bool
	Tasks                                                   []archivedTask
	More                                                    bool
}

// archivedTask is a task that ran out of retries.
type archivedTask struct {
	ID, Type, LastErr, FailedAt string
}

// queuesView is the queues page.
type queuesView struct {
	Queues []queueRow
}

// queueNames are the queues, highest priority first.
var queueNames = []string{jobs.QueueCritical, jobs.QueueDefault, jobs.QueueLow}

// queuesPage shows the health of the queues and their archived tasks. The
// queues are the whole platform's (every fair's payments, orders and
// notifications): this page and the re-run of archived tasks are for admins
// only, never a fair's organizer.
func (s *Site) queuesPage(c *fiber.Ctx) error {
	if _, ok, err := s.console(c, catalog.RoleAdmin, c.OriginalURL()); !ok {
		return err
	}
	p := s.page(c, "queues.title")
	in := asynq.NewInspectorFromRedisClient(s.rdb) // shares the client: not closed
	existing, err := in.Queues()
	if err != nil {
		return err
	}
	var v queuesView
	for _, q := range queueNames {
		row := queueRow{Name: q, Label: p.T("queues.name." + q), Unused: !slices.Contains(existing, q)} // nothing was ever queued on it
		var info *asynq.QueueInfo
		if !row.Unused {
			if info, err = in.GetQueueInfo(q); err != nil {
				return err
			}
		}
		if info != nil {
			row.Size, row.Pending, row.Active, row.Scheduled = info.Size, info.Pending, info.Active, info.Scheduled
			row.Retry, row.Archived, row.Done = info.Retry, info.Archived, info.Completed
			row.Processed, row.Failed, row.Paused = info.Processed, info.Failed, info.Paused
		}
		if row.Archived > 0 {
			tasks, err := in.ListArchivedTasks(q, asynq.PageSize(dashboardArchivedLimit))
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				return err
			}
			for _, t := range tasks {
				at := archivedTask{ID: t.ID, Type: t.Type, LastErr: t.LastErr}
				if !t.LastFailedAt.IsZero() {
					at.FailedAt = dateTimeText(t.LastFailedAt, p.Lang)
				}
				row.Tasks = append(row.Tasks, at)
			}
			row.More = row.Archived > len(row.Tasks)
		}
		v.Queues = append(v.Queues, row)
	}
	p.Data = v
	return s.render(c, http.StatusOK, "dashboard_queues", p)
}

// runArchivedSubmit puts an archived task back in its queue to run now.
func (s *Site) runArchivedSubmit(c *fiber.Ctx) error {
	if _, ok, err := s.console(c, catalog.RoleAdmin, "/organizer/queues"); !ok {
		return err
	}
	q, id := c.Params("queue"), c.Params("id")
	known := false
	for _, n := range queueNames {
		known = known || n == q
	}
	if !known {
		return fiber.NewError(http.StatusNotFound, "unknown queue")
	}
	in := asynq.NewInspectorFromRedisClient(s.rdb)
	info, err := in.GetTaskInfo(q, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound),
		err == nil && info.State != asynq.TaskStateArchived:
		flash(c, "err.task_gone") // run already, or deleted
	case err != nil:
		return err
	default:
		if err := in.RunTask(q, id); err != nil {
			return err
		}
		s.log.Info("archived task run again", "queue", q, "task", id, "type", info.Type)
		flash(c, "flash.task_run")
	}
	return c.Redirect("/organizer/queues#queue-"+q, http.StatusSeeOther)
}
