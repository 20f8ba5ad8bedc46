package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
	"miaohui/orders"
)

// The money pages: a merchant's statement of a stall (its paid orders with
// commission, refunds, subsidy, net and payout status, over a period of
// days) with the link to connect a payout account, and an organizer's
// payables of a fair (what each stall is owed). They read the same service
// methods as the API's statement and payables.

// statementPageRoutes mounts the statement and payables pages.
func (s *Site) statementPageRoutes(r fiber.Router) {
	r.Get("/merchant/stalls/:id/statement", s.statementPage)
	r.Post("/merchant/stalls/:id/payout-account", s.payoutAccountSubmit)
	r.Get("/organizer/fairs/:slug/payables", s.payablesPage)
}

// moneyFigures is a statement's or the payables' totals, formatted.
type moneyFigures struct {
	Orders                                                              int64
	Gross, Commission, Subsidy, Refunded, Net, PaidOut, Owed, Held, Due string
}

func moneyFiguresOf(t orders.StatementTotals) moneyFigures {
	return moneyFigures{
		Orders: t.Orders, Gross: orders.Yuan(t.Gross), Commission: orders.Yuan(t.Commission), Subsidy: orders.Yuan(t.Subsidy),
		Refunded: orders.Yuan(t.Refunded), Net: orders.Yuan(t.Net), PaidOut: orders.Yuan(t.PaidOut), Owed: orders.Yuan(t.Owed),
		Held: orders.Yuan(t.Held), Due: orders.Yuan(t.Due),
	}
}

// statementLineRow is one line of the statement page.
type statementLineRow struct {
	OrderID, Ref, PaidAt                               string
	Gross, Commission, Subsidy, Refunded, Net, PaidOut string
	Status, StatusLabel                                string
	HasSubsidy, HasRefund                              bool
}

// statementView is the merchant's statement page.
type statementView struct {
	Stall          *catalog.Stall
	Fair           fairCard
	From, To       string // the filter's days (YYYY-MM-DD), as typed
	Lines          []statementLineRow
	Totals         moneyFigures
	CSV, NextURL   string
	Sandbox        bool // payouts are simulated: no account to connect
	CanConnect     bool
	ConnectAction  string
	StatementsPath string
}

// periodOfDays reads the filter's days (Asia/Shanghai): from the start of
// from to the end of to. A day that does not read is reported by its field.
func periodOfDays(from, to string) (orders.Period, error) {
	var p orders.Period
	var c catalog.Check
	day := func(field, v string, next bool) *time.Time {
		if v == "" {
			return nil
		}
		t, err := time.ParseInLocation(time.DateOnly, v, catalog.FairZone)
		c.That(err == nil, field, "must be a date")
		if err != nil {
			return nil
		}
		if next {
			t = t.AddDate(0, 0, 1)
		}
		t = t.UTC()
		return &t
	}
	p.From, p.To = day("from", from, false), day("to", to, true)
	c.That(p.From == nil || p.To == nil || p.From.Before(*p.To), "to", "must not be before from")
	return p, c.Err()
}

func (s *Site) statementPage(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "statement.title")
	sa, err := s.catalog.Stall(ctx, a, id)
	if err != nil {
		return err
	}
	esc := url.PathEscape(id)
	v := statementView{
		Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), From: c.Query("from"), To: c.Query("to"),
		Sandbox: s.orders.Provider().Name() == "sandbox", ConnectAction: "/merchant/stalls/" + esc + "/payout-account",
		StatementsPath: "/merchant/stalls/" + esc + "/statement",
	}
	v.CanConnect = !v.Sandbox
	period, perr := periodOfDays(v.From, v.To)
	if perr != nil {
		p.Error = p.T("statement.bad_period")
		v.From, v.To = "", ""
	}
	st, err := s.orders.StallStatement(ctx, a, id, period, catalog.Page{Limit: 50, Cursor: c.Query("cursor")})
	var ve *catalog.ValidationError
	if errors.As(err, &ve) { // a stale cursor: start again
		st, err = s.orders.StallStatement(ctx, a, id, period, catalog.Page{Limit: 50})
	}
	if err != nil {
		return err
	}
	q := url.Values{}
	if v.From != "" {
		q.Set("from", period.From.Format(time.RFC3339))
	}
	if v.To != "" {
		q.Set("to", period.To.Format(time.RFC3339))
	}
	v.CSV = "/api/v1/stalls/" + esc + "/statement.csv"
	if len(q) > 0 {
		v.CSV += "?" + q.Encode()
	}
	if st.NextCursor != nil {
		nq := url.Values{"cursor": {*st.NextCursor}}
		if v.From != "" {
			nq.Set("from", v.From)
		}
		if v.To != "" {
			nq.Set("to", v.To)
		}
		v.NextURL = v.StatementsPath + "?" + nq.Encode()
	}
	for _, l := range st.Lines {
		v.Lines = append(v.Lines, statementLineRow{
			OrderID: l.OrderID, Ref: orderRef(l.OrderID), PaidAt: dateTimeText(l.PaidAt, p.Lang),
			Gross: orders.Yuan(l.Gross), Commission: orders.Yuan(l.Commission), Subsidy: orders.Yuan(l.Subsidy),
			Refunded: orders.Yuan(l.Refunded), Net: orders.Yuan(l.Net), PaidOut: orders.Yuan(l.PaidOut),
			Status: l.PayoutStatus, StatusLabel: p.T("payout." + l.PayoutStatus),
			HasSubsidy: l.Subsidy != 0, HasRefund: l.Refunded != 0,
		})
	}
	v.Totals = moneyFiguresOf(st.Totals)
	p.Title = p.T("statement.title_of", "Name", sa.Stall.Name)
	p.Data = v
	status := http.StatusOK
	if perr != nil {
		status = http.StatusUnprocessableEntity
	}
	return s.render(c, status, "merchant_statement", p)
}

// orderRef is the short reference of an order the pages show.
func orderRef(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// payoutAccountSubmit sends the merchant to Stripe to connect (or finish
// connecting) the stall's payout account; Stripe sends them back to the
// statement.
func (s *Site) payoutAccountSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	back := "/merchant/stalls/" + url.PathEscape(id) + "/statement"
	a, ok, err := s.console(c, catalog.RoleMerchant, back)
	if !ok {
		return err
	}
	link, err := s.orders.PayoutAccountLink(c.UserContext(), a, id, c.BaseURL()+back)
	switch {
	case err == nil:
		return c.Redirect(link, http.StatusSeeOther)
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.payouts_simulated")
	case errors.Is(err, orders.ErrProvider):
		s.log.Warn("payout account link: payment provider", "stall", id, "err", err)
		flash(c, "err.provider")
	default:
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// payableRow is one stall of the payables page.
type payableRow struct {
	StallID, Name string
	moneyFigures
}

// payablesView is the organizer's payables page.
type payablesView struct {
	Fair   fairCard
	Items  []payableRow
	Totals moneyFigures
	CSV    string
}

func (s *Site) payablesPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "payables.title")
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	pay, err := s.orders.FairPayables(ctx, a, slug) // the fair's organizer only
	if err != nil {
		return err
	}
	v := payablesView{Fair: fairCardOf(p, f), Totals: moneyFiguresOf(pay.Totals), CSV: "/api/v1/fairs/" + url.PathEscape(f.Slug) + "/payables.csv"}
	for _, it := range pay.Items {
		v.Items = append(v.Items, payableRow{StallID: it.StallID, Name: it.Name, moneyFigures: moneyFiguresOf(it.StatementTotals)})
	}
	p.Title = p.T("payables.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, http.StatusOK, "organizer_payables", p)
}
