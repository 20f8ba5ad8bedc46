package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
	"miaohui/orders"
)

// The after-sales pages (售后): the buyer asks on their orders page and
// escalates there (申请平台介入); the merchant answers on the stall's
// after-sales page; the fair's organizer searches orders, refunds and
// decides escalated requests at the order desk. As everywhere, the orders
// service decides who may do what.

// afterSalePageRoutes mounts the after-sales pages and the order desk.
func (s *Site) afterSalePageRoutes(r fiber.Router) {
	r.Post("/orders/:id/after-sales", s.openAfterSaleSubmit)
	r.Post("/after-sales/:id/escalate", s.escalateAfterSaleSubmit)

	r.Get("/merchant/stalls/:id/after-sales", s.stallAfterSalesPage)
	r.Post("/merchant/after-sales/:id/accept", s.acceptAfterSaleSubmit)
	r.Post("/merchant/after-sales/:id/reject", s.rejectAfterSaleSubmit)

	r.Get("/organizer/fairs/:slug/orders", s.orderDeskPage)
	r.Post("/organizer/orders/:id/refund", s.deskRefundSubmit)
	r.Post("/organizer/after-sales/:id/decide", s.decideAfterSaleSubmit)
}

// afterSaleCard is a request as the pages show it.
type afterSaleCard struct {
	ID, OrderID, OrderRef, Kind, KindLabel, Status, StatusLabel string
	Amount, Refunded, Reason, ReplyReason, DecisionReason       string
	Created, ReplyBy                                            string
	Photos                                                      []string
	Return, Open, Escalated, CanEscalate, Restocked             bool
}

func afterSaleCardOf(p *Page, as *orders.AfterSale) afterSaleCard {
	return afterSaleCard{
		ID: as.ID, OrderID: as.OrderID, OrderRef: orderRef(as.OrderID), Kind: as.Kind, KindLabel: p.T("aftersale.kind." + as.Kind),
		Status: as.Status, StatusLabel: p.T("aftersale.status." + as.Status),
		Amount: orders.Yuan(as.Amount), Refunded: orders.Yuan(as.RefundAmount), Reason: as.Reason,
		ReplyReason: as.ReplyReason, DecisionReason: as.DecisionReason, Photos: as.Photos,
		Created: dateTimeText(as.CreatedAt, p.Lang), ReplyBy: dateTimeText(as.ReplyBy, p.Lang),
		Return: as.Kind == orders.AfterSaleReturn, Open: as.Status == orders.AfterSaleOpen,
		Escalated: as.Status == orders.AfterSaleEscalated, CanEscalate: as.CanEscalate, Restocked: as.Restocked,
	}
}

// afterSaleRefundable are the order statuses a buyer may ask after-sales on.
var afterSaleRefundable = map[string]bool{
	orders.StatusPaid: true, orders.StatusShipped: true, orders.StatusRedeemed: true,
	orders.StatusCompleted: true, orders.StatusPartiallyRefunded: true,
}

// withAfterSales adds to the buyer's order cards their after-sales
// requests and whether a new one may be asked.
func (s *Site) withAfterSales(ctx context.Context, p *Page, a catalog.Actor, cards []orderCard, list []orders.Order) error {
	ids := make([]string, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	byOrder, err := s.orders.BuyerAfterSalesOf(ctx, a, ids)
	if err != nil {
		return err
	}
	for i := range cards {
		o := &list[i]
		rows := byOrder[o.ID]
		busy := false
		for j := range rows {
			cards[i].AfterSales = append(cards[i].AfterSales, afterSaleCardOf(p, &rows[j]))
			switch rows[j].Status {
			case orders.AfterSaleOpen, orders.AfterSaleRejected, orders.AfterSaleEscalated:
				busy = true
			}
		}
		cards[i].CanAfterSale = !busy && afterSaleRefundable[o.Status] && o.Refundable() > 0 && !(o.RedeemedAt != nil && cards[i].Voucher)
		cards[i].Refundable = orders.Yuan(o.Refundable())
	}
	return nil
}

// openAfterSaleSubmit is the buyer's 申请售后 form.
func (s *Site) openAfterSaleSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.shopper(c, "/orders")
	if !ok {
		return err
	}
	back := "/orders#order-" + id
	fen, ok := parseCents(c.FormValue("amount"))
	if !ok || fen == 0 {
		flash(c, "err.aftersale_amount")
		return c.Redirect(back, http.StatusSeeOther)
	}
	_, err = s.orders.OpenAfterSale(c.UserContext(), a, id, orders.AfterSaleInput{Kind: c.FormValue("kind"), Amount: fen, Reason: c.FormValue("reason")})
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		flash(c, "flash.aftersale_opened")
	case errors.As(err, &ve) && ve.Fields[0].Field == "amount":
		flash(c, "err.aftersale_amount")
	case errors.As(err, &ve):
		flash(c, "err.aftersale_reason")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.aftersale_conflict")
	default:
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// escalateAfterSaleSubmit is the buyer's 申请平台介入 button.
func (s *Site) escalateAfterSaleSubmit(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/orders")
	if !ok {
		return err
	}
	as, err := s.orders.EscalateAfterSale(c.UserContext(), a, c.Params("id"))
	switch {
	case err == nil:
		flash(c, "flash.aftersale_escalated")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.aftersale_not_yet")
		return c.Redirect("/orders", http.StatusSeeOther)
	default:
		return err
	}
	return c.Redirect("/orders#order-"+as.OrderID, http.StatusSeeOther)
}

// ---- The merchant's after-sales ----

// stallAfterSalesView is a stall's after-sales page.
type stallAfterSalesView struct {
	Stall   *catalog.Stall
	Fair    fairCard
	Filter  string
	Filters []option
	Items   []afterSaleCard
	NextURL string
	Back    string
}

// afterSaleStatuses are the statuses the lists filter by.
var afterSaleStatuses = []string{orders.AfterSaleOpen, orders.AfterSaleAccepted, orders.AfterSaleRejected, orders.AfterSaleEscalated, orders.AfterSaleDecided}

func validFilter(v string, valid []string) string {
	for _, s := range valid {
		if s == v {
			return v
		}
	}
	return ""
}

func (s *Site) stallAfterSalesPage(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "aftersale.stall_title")
	sa, err := s.catalog.Stall(ctx, a, id)
	if err != nil {
		return err
	}
	filter := validFilter(c.Query("status"), afterSaleStatuses)
	list, next, err := s.orders.StallAfterSales(ctx, a, id, orders.AfterSaleFilter{Status: filter}, catalog.Page{Limit: 20, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	base := "/merchant/stalls/" + url.PathEscape(id) + "/after-sales"
	v := stallAfterSalesView{Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), Filter: filter, Back: base}
	if filter != "" {
		v.Back += "?status=" + url.QueryEscape(filter)
	}
	v.Filters = append(v.Filters, option{"", p.T("search.all")})
	for _, st := range afterSaleStatuses {
		v.Filters = append(v.Filters, option{st, p.T("aftersale.status." + st)})
	}
	for i := range list {
		v.Items = append(v.Items, afterSaleCardOf(p, &list[i]))
	}
	if next != nil {
		q := url.Values{"cursor": {*next}}
		if filter != "" {
			q.Set("status", filter)
		}
		v.NextURL = base + "?" + q.Encode()
	}
	p.Title = p.T("aftersale.stall_title_of", "Name", sa.Stall.Name)
	p.Data = v
	return s.render(c, http.StatusOK, "merchant_after_sales", p)
}

// merchantAfterSale starts a merchant's answer: the request (the service
// decides who may see it) and the page to return to.
func (s *Site) merchantAfterSale(c *fiber.Ctx) (catalog.Actor, *orders.AfterSale, string, bool, error) {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return a, nil, "", false, err
	}
	as, err := s.orders.AfterSale(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return a, nil, "", false, err
	}
	base := "/merchant/stalls/" + url.PathEscape(as.StallID) + "/after-sales"
	back := safeNext(c.FormValue("back"))
	if back != base && !strings.HasPrefix(back, base+"?") {
		back = base
	}
	return a, as, back + "#as-" + as.ID, true, nil
}

// answerFlash reports an answer's outcome; it returns the error to raise
// when there is no message for it.
func (s *Site) answerFlash(c *fiber.Ctx, err error, ok string) error {
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		flash(c, ok)
	case errors.As(err, &ve) && ve.Fields[0].Field == "reason":
		flash(c, "err.aftersale_reason")
	case errors.As(err, &ve) && ve.Fields[0].Field == "restock":
		flash(c, "err.aftersale_restock")
	case errors.As(err, &ve):
		flash(c, "err.aftersale_amount")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.aftersale_state")
	case errors.Is(err, orders.ErrProvider):
		s.log.Warn("after-sales refund: payment provider", "err", err)
		flash(c, "err.provider")
	default:
		return err
	}
	return nil
}

func (s *Site) acceptAfterSaleSubmit(c *fiber.Ctx) error {
	a, as, back, ok, err := s.merchantAfterSale(c)
	if !ok {
		return err
	}
	_, err = s.orders.AcceptAfterSale(c.UserContext(), a, as.ID, orders.AfterSaleAnswer{Reason: c.FormValue("reason"), Restock: c.FormValue("restock") != ""})
	if err := s.answerFlash(c, err, "flash.aftersale_accepted"); err != nil {
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

func (s *Site) rejectAfterSaleSubmit(c *fiber.Ctx) error {
	a, as, back, ok, err := s.merchantAfterSale(c)
	if !ok {
		return err
	}
	_, err = s.orders.RejectAfterSale(c.UserContext(), a, as.ID, c.FormValue("reason"))
	if err := s.answerFlash(c, err, "flash.aftersale_rejected"); err != nil {
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// ---- The organizer's order desk ----

// orderDeskView is the order desk of one fair.
type orderDeskView struct {
	Fair                   fairCard
	Q, Status, StallID     string
	Statuses, Stalls       []option
	Orders                 []orderCard
	Escalated              []afterSaleCard
	NextURL, Back, Invalid string
	Searched               bool
}

func (s *Site) orderDeskPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "desk.title")
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	escalated, _, err := s.orders.FairAfterSales(ctx, a, slug, orders.AfterSaleFilter{Status: orders.AfterSaleEscalated}, catalog.Page{Limit: 50})
	if err != nil {
		return err
	}
	v := orderDeskView{Fair: fairCardOf(p, f), Q: strings.TrimSpace(c.Query("q")), Status: validFilter(c.Query("status"), orderStatuses)}
	stalls, err := catalog.StallsOfFair(ctx, s.db, f.ID)
	if err != nil {
		return err
	}
	v.Stalls = append(v.Stalls, option{"", p.T("search.all")})
	for _, st := range stalls {
		v.Stalls = append(v.Stalls, option{st.ID, st.Name})
		if st.ID == c.Query("stall_id") {
			v.StallID = st.ID
		}
	}
	v.Statuses = append(v.Statuses, option{"", p.T("search.all")})
	for _, st := range orderStatuses {
		v.Statuses = append(v.Statuses, option{st, p.T("order.status." + st)})
	}
	for i := range escalated {
		v.Escalated = append(v.Escalated, afterSaleCardOf(p, &escalated[i]))
	}
	base := "/organizer/fairs/" + url.PathEscape(f.Slug) + "/orders"
	q := url.Values{}
	for k, val := range map[string]string{"q": v.Q, "status": v.Status, "stall_id": v.StallID} {
		if val != "" {
			q.Set(k, val)
		}
	}
	v.Back, v.Searched = base, len(q) > 0
	if len(q) > 0 {
		v.Back += "?" + q.Encode()
	}
	list, next, err := s.orders.FairOrders(ctx, a, slug, orders.DeskQuery{Q: v.Q, Status: v.Status, StallID: v.StallID}, catalog.Page{Limit: 20, Cursor: c.Query("cursor")})
	var ve *catalog.ValidationError
	switch {
	case errors.As(err, &ve):
		v.Invalid = p.T("desk.bad_query")
	case err != nil:
		return err
	}
	names := map[string]string{}
	for _, st := range stalls {
		names[st.ID] = st.Name
	}
	buyers := make([]string, len(list))
	for i := range list {
		buyers[i] = list[i].BuyerID
	}
	who, err := s.catalog.Contacts(ctx, buyers)
	if err != nil {
		return err
	}
	for i := range list {
		o := &list[i]
		oc := orderCardOf(p, o, names[o.StallID], false)
		oc.Buyer = who[o.BuyerID].Email
		oc.CanRefund = afterSaleRefundable[o.Status] && o.Refundable() > 0 && !(o.RedeemedAt != nil && oc.Voucher)
		oc.Refundable = orders.Yuan(o.Refundable())
		v.Orders = append(v.Orders, oc)
	}
	if next != nil {
		nq := url.Values{}
		for k, vals := range q {
			nq[k] = vals
		}
		nq.Set("cursor", *next)
		v.NextURL = base + "?" + nq.Encode()
	}
	p.Title = p.T("desk.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, http.StatusOK, "organizer_orders", p)
}

// deskBack is the order desk page a form of it returns to.
func deskBack(c *fiber.Ctx, slug, anchor string) string {
	base := "/organizer/fairs/" + url.PathEscape(slug) + "/orders"
	back := safeNext(c.FormValue("back"))
	if back != base && !strings.HasPrefix(back, base+"?") {
		back = base
	}
	return back + anchor
}

// deskRefundSubmit is the organizer's refund of an order from the desk.
func (s *Site) deskRefundSubmit(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, "/organizer")
	if !ok {
		return err
	}
	ctx := c.UserContext()
	o, err := s.orders.Order(ctx, a, c.Params("id"))
	if err != nil {
		return err
	}
	f, err := s.catalog.FairByID(ctx, s.db, o.FairID)
	if err != nil {
		return err
	}
	back := deskBack(c, f.Slug, "#order-"+o.ID)
	var amount *orders.Money
	if v := strings.TrimSpace(c.FormValue("amount")); v != "" {
		fen, ok := parseCents(v)
		if !ok || fen == 0 {
			flash(c, "err.refund_amount")
			return c.Redirect(back, http.StatusSeeOther)
		}
		amount = &fen
	}
	_, err = s.orders.RefundOrder(ctx, a, o.ID, amount, c.FormValue("reason"))
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		flash(c, "flash.refunded")
	case errors.As(err, &ve) && ve.Fields[0].Field == "reason":
		flash(c, "err.refund_reason")
	case errors.As(err, &ve):
		flash(c, "err.refund_amount")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.not_refundable")
	case errors.Is(err, orders.ErrProvider):
		s.log.Warn("refund: payment provider", "order", o.ID, "err", err)
		flash(c, "err.provider")
	default:
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// decideAfterSaleSubmit is the organizer's decision on an escalated request.
func (s *Site) decideAfterSaleSubmit(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, "/organizer")
	if !ok {
		return err
	}
	ctx := c.UserContext()
	as, err := s.orders.AfterSale(ctx, a, c.Params("id"))
	if err != nil {
		return err
	}
	f, err := s.catalog.FairByID(ctx, s.db, as.FairID)
	if err != nil {
		return err
	}
	back := deskBack(c, f.Slug, "#as-"+as.ID)
	fen := int64(0)
	if v := strings.TrimSpace(c.FormValue("refund_amount")); v != "" {
		if fen, ok = parseCents(v); !ok {
			flash(c, "err.aftersale_amount")
			return c.Redirect(back, http.StatusSeeOther)
		}
	}
	_, err = s.orders.DecideAfterSale(ctx, a, as.ID, orders.AfterSaleAnswer{RefundAmount: fen, Reason: c.FormValue("reason"), Restock: c.FormValue("restock") != ""})
	if err := s.answerFlash(c, err, "flash.aftersale_decided"); err != nil {
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}
