package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The flash sales' (抢购) pages: a sale's own page, where shoppers watch the
// countdown and grab; a fair's coming and live sales; the merchant's sales
// of a stall, with the forms that create, edit and withdraw them; and the
// organizer's live progress of a fair's sales.
//
// The purchase itself goes to the JSON fast path (POST
// /api/v1/flash-sales/{id}/purchase) from the sale page's script; the page
// shows times and status without it. The lists are pages of their own and,
// with ?part=1, the same list alone, which the fair page and the two
// consoles pull in with a script (their handlers live elsewhere); without
// JavaScript those pages link to the lists instead.

// flashPageRoutes mounts the flash sales' pages.
func (s *Site) flashPageRoutes(r fiber.Router) {
	r.Get("/flash-sales/:id", s.flashSalePage)
	r.Post("/flash-sales/:id/remind", s.flashRemindSubmit)
	r.Get("/fairs/:slug/flash-sales", s.fairFlashPage)

	r.Get("/merchant/stalls/:id/flash-sales", s.stallFlashPage)
	r.Post("/merchant/stalls/:id/flash-sales", s.newFlashSaleSubmit)
	r.Post("/merchant/flash-sales/:id", s.flashSaleSubmit)
	r.Post("/merchant/flash-sales/:id/withdraw", s.withdrawFlashSaleSubmit)

	r.Get("/organizer/fairs/:slug/flash-sales", s.organizerFlashPage)
}

// flashCard is a flash sale as its page and the lists show it.
type flashCard struct {
	ID, ProductID, Title, Image, Price, NormalPrice string
	Status, StatusLabel                             string
	StallID, Stall                                  string
	Starts, Ends                                    string // times as read
	Countdown                                       string // the countdown's text without JavaScript
	StartsMS, EndsMS                                int64
	Quantity, Remaining, Sold, Limit                int
	SoldOut                                         bool
	// The merchant's edit form, for a sale that has not started.
	Editable   bool
	EditOpen   bool
	Edit       map[string]string
	EditErrors map[string]string
}

// flashCardOf describes a sale as of now; remaining is what is left to win.
func flashCardOf(p *Page, f *catalog.FlashSale, remaining int) flashCard {
	fc := flashCard{
		ID: f.ID, ProductID: f.ProductID, Title: f.Title, Price: orders.Yuan(f.Price),
		Status: f.Status, StatusLabel: p.T("fs.status." + f.Status), StallID: f.StallID,
		Starts: dateTimeText(f.StartsAt, p.Lang), Ends: dateTimeText(f.EndsAt, p.Lang),
		StartsMS: f.StartsAt.UnixMilli(), EndsMS: f.EndsAt.UnixMilli(),
		Quantity: f.Quantity, Remaining: max(remaining, 0), Limit: f.PerUserLimit,
	}
	fc.Sold = max(fc.Quantity-fc.Remaining, 0)
	fc.SoldOut = f.Status == catalog.FlashLive && fc.Remaining == 0
	switch f.Status {
	case catalog.FlashUpcoming:
		fc.Countdown = p.T("fs.starts_at", "Time", fc.Starts)
	case catalog.FlashLive:
		fc.Countdown = p.T("fs.ends_at", "Time", fc.Ends)
	default:
		fc.Countdown = fc.StatusLabel
	}
	return fc
}

// flashTexts are the countdown's texts, with {t} for the time left and {n}
// for a number of days.
type flashTexts struct{ Before, During, After, Days string }

func flashTextsOf(p *Page) flashTexts {
	return flashTexts{
		Before: p.T("fs.starts_in", "Time", "{t}"), During: p.T("fs.ends_in", "Time", "{t}"),
		After: p.T("fs.status.ended"), Days: p.T("fs.days", "N", "{n}"),
	}
}

// ---- A sale's page ----

// flashSaleView is a sale's page.
type flashSaleView struct {
	Sale        flashCard
	Fair        fairCard
	Stall       *catalog.Stall
	Images      []imageView
	Description string
	NowMS       int64
	Texts       flashTexts
	Script      map[string]string // the messages the script shows
	SignIn      string            // where a visitor signs in to grab
	Owner       bool              // the viewer runs the stall
	Reminded    bool
	Won         int // units the viewer won in this sale (live orders)
	Orders      []flashOrderRow
}

// flashOrderRow is one of the viewer's orders won in the sale.
type flashOrderRow struct {
	ID, PaymentID, Status, StatusLabel, Deadline string
	Quantity                                     int
	Unpaid                                       bool
}

func (s *Site) flashSalePage(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("id")
	a := account.ActorOf(ctx)
	p := s.page(c, "fs.title")
	f, err := s.catalog.FlashSaleByID(ctx, s.db, a, id, false)
	if err != nil {
		return err
	}
	sa, err := s.catalog.Stall(ctx, a, f.StallID)
	if err != nil {
		return err
	}
	v := flashSaleView{
		Sale: flashCardOf(p, f, s.flash.Remaining(ctx, f)), Fair: fairCardOf(p, sa.Fair), Stall: sa.Stall,
		NowMS: s.now().UnixMilli(), Texts: flashTextsOf(p), Owner: sa.Merchant,
		SignIn: "/login?next=" + url.QueryEscape("/flash-sales/"+f.ID),
	}
	// The product may since have been hidden; the sale still shows.
	if pr, _, err := s.catalog.Product(ctx, a, f.ProductID); err == nil {
		v.Sale.NormalPrice, v.Sale.Image, v.Images, v.Description = orders.Yuan(pr.Price), coverURL(pr), imageViews(pr.Images), pr.Description
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	if a.UserID != "" {
		if v.Reminded, err = s.flashReminded(ctx, f.ID, a.UserID); err != nil {
			return err
		}
		if v.Orders, v.Won, err = s.flashOrdersOf(ctx, p, f.ID, a.UserID); err != nil {
			return err
		}
	}
	v.Script = flashScriptTexts(p)
	p.Title = f.Title
	s.share(c, p, p.T("share.flash_title", "Title", f.Title), v.Description, v.Sale.Image,
		p.T("share.flash_price", "Price", v.Sale.Price, "Normal", v.Sale.NormalPrice, "Time", v.Sale.Starts))
	p.Data = v
	return s.render(c, http.StatusOK, "flash_sale", p)
}

// flashScriptTexts are the messages the sale page's script shows, localised.
func flashScriptTexts(p *Page) map[string]string {
	m := map[string]string{
		"remaining":  p.T("fs.remaining_n", "N", "{n}"),
		"pay_by":     p.T("fs.pay_by", "Time", "{t}"),
		"grab_again": p.T("fs.grab_again", "N", "{n}"),
	}
	for _, k := range []string{
		"status.upcoming", "status.live", "status.ended", "status.withdrawn", "sold_out", "opening",
		"grab", "grab_again_any", "grab_soon", "grab_sending", "grab_waiting", "grab_done", "grab_sold_out", "grab_ended",
		"queued", "ordered", "pay_now", "see_orders", "rejected", "rejected.sold_out", "slow", "sign_in", "reminded",
		"err.sold_out", "err.limit_reached", "err.not_started", "err.ended", "err.rate_limited", "err.insufficient_stock",
		"err.unauthenticated", "err.forbidden", "err.not_found", "err.network", "err.generic",
	} {
		m[k] = p.T("fs." + k)
	}
	return m
}

// flashReminded reports whether the user asked to be told of the start.
func (s *Site) flashReminded(ctx context.Context, saleID, userID string) (bool, error) {
	return s.catalog.IsReminded(ctx, saleID, userID)
}

// flashOrdersOf lists the user's live orders won in the sale, newest first,
// and the units they hold.
func (s *Site) flashOrdersOf(ctx context.Context, p *Page, saleID, userID string) ([]flashOrderRow, int, error) {
	list, err := s.orders.FlashOrders(ctx, catalog.Actor{UserID: userID}, saleID, 20)
	if err != nil {
		return nil, 0, err
	}
	var rows []flashOrderRow
	won := 0
	for _, o := range list {
		r := flashOrderRow{ID: o.ID, PaymentID: o.PaymentID, Status: o.Status, StatusLabel: p.T("order.status." + o.Status),
			Deadline: dateTimeText(o.ExpiresAt, p.Lang), Unpaid: o.Status == orders.StatusPendingPayment}
		for _, it := range o.Items {
			r.Quantity += it.Quantity
		}
		won += r.Quantity
		rows = append(rows, r)
	}
	return rows, won, nil
}

// flashRemindSubmit subscribes the visitor to the sale's start: the remind
// button's form when the script does not send it to the API itself.
func (s *Site) flashRemindSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	back := "/flash-sales/" + url.PathEscape(id)
	a, ok, err := s.shopper(c, back)
	if !ok {
		return err
	}
	switch err := s.catalog.Remind(c.UserContext(), a, id); {
	case err == nil:
		flash(c, "flash.fs_reminded")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.fs_remind_started")
	default:
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// ---- A fair's sales ----

// flashListView is a list of sales: a fair's, a stall's or the organizer's.
type flashListView struct {
	Fair     fairCard
	Stall    *catalog.Stall
	Sales    []flashCard
	NowMS    int64
	Texts    flashTexts
	Statuses map[string]string // status labels, for the script
	Part     bool              // the list alone, for another page
}

func (s *Site) flashListViewOf(p *Page, fair *catalog.Fair) flashListView {
	v := flashListView{Fair: fairCardOf(p, fair), NowMS: s.now().UnixMilli(), Texts: flashTextsOf(p), Statuses: map[string]string{}}
	for _, st := range []string{catalog.FlashUpcoming, catalog.FlashLive, catalog.FlashEnded, catalog.FlashWithdrawn} {
		v.Statuses[st] = p.T("fs.status." + st)
	}
	v.Statuses["sold_out"] = p.T("fs.sold_out")
	return v
}

// fairFlashPage lists a fair's coming and live sales. Its part is empty
// (204) when there are none, so the fair page leaves the section out.
func (s *Site) fairFlashPage(c *fiber.Ctx) error {
	ctx, slug := c.UserContext(), c.Params("slug")
	a, part := account.ActorOf(ctx), c.Query("part") != ""
	p := s.listPage(c, part, "fs.list_title")
	fair, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	sales, err := s.catalog.FlashSales(ctx, a, slug, false)
	if err != nil {
		return err
	}
	if part && len(sales) == 0 {
		return c.SendStatus(http.StatusNoContent)
	}
	v := s.flashListViewOf(p, fair)
	v.Part = part
	names := s.stallNames(ctx, a)
	for i := range sales {
		fc := flashCardOf(p, &sales[i], s.flash.Remaining(ctx, &sales[i]))
		fc.Stall = names(fc.StallID)
		if pr, _, err := s.catalog.Product(ctx, a, fc.ProductID); err == nil {
			fc.NormalPrice, fc.Image = orders.Yuan(pr.Price), coverURL(pr)
		}
		v.Sales = append(v.Sales, fc)
	}
	p.Title = p.T("fs.list_title_of", "Name", v.Fair.Name)
	p.Data = v
	if part {
		return s.renderPart(c, "flash_fair", "fs-fair-list", p)
	}
	return s.render(c, http.StatusOK, "flash_fair", p)
}

// ---- The merchant's sales ----

func (s *Site) stallFlashPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	part := c.Query("part") != ""
	return s.showStallFlash(c, s.listPage(c, part, "mfs.title"), a, c.Params("id"), part, http.StatusOK)
}

// showStallFlash shows the stall's sales to its merchant, newest start
// first, withdrawn and ended ones too; the edit form of a sale posted back
// with errors comes open with what was posted.
func (s *Site) showStallFlash(c *fiber.Ctx, p *Page, a catalog.Actor, stallID string, part bool, status int) error {
	ctx := c.UserContext()
	sa, err := s.catalog.Stall(ctx, a, stallID)
	if err != nil {
		return err
	}
	if !sa.Merchant {
		return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant manages its flash sales")
	}
	sales, err := s.catalog.StallFlashSales(ctx, a, stallID)
	if err != nil {
		return err
	}
	products, err := s.catalog.StallProducts(ctx, a, stallID)
	if err != nil {
		return err
	}
	byID := map[string]*catalog.Product{}
	for i := range products {
		byID[products[i].ID] = &products[i]
	}
	v := s.flashListViewOf(p, sa.Fair)
	v.Stall, v.Part = sa.Stall, part
	for i := range sales {
		f := &sales[i]
		fc := flashCardOf(p, f, s.flash.Remaining(ctx, f))
		if pr := byID[f.ProductID]; pr != nil {
			fc.NormalPrice, fc.Image = orders.Yuan(pr.Price), coverURL(pr)
		}
		fc.Editable = f.Status == catalog.FlashUpcoming
		fc.Edit = map[string]string{
			"price": cents(f.Price), "quantity": strconv.Itoa(f.Quantity), "per_user_limit": strconv.Itoa(f.PerUserLimit),
			"starts_at": InputTime(f.StartsAt), "ends_at": InputTime(f.EndsAt),
		}
		fc.EditErrors = map[string]string{}
		if p.Form["fsale.sale_id"] == f.ID {
			fc.EditOpen = true
			for k := range fc.Edit {
				fc.Edit[k] = p.Form["fsale."+k]
				if msg, ok := p.Errors["fsale."+k]; ok {
					fc.EditErrors[k] = msg
				}
			}
		}
		v.Sales = append(v.Sales, fc)
	}
	p.Title = p.T("mfs.title_of", "Name", sa.Stall.Name)
	p.Data = v
	if part {
		return s.renderPart(c, "flash_stall", "fs-stall-list", p)
	}
	return s.render(c, status, "flash_stall", p)
}

// flashInput reads a sale's form: the flash price in yuan with at most two
// decimals (read without floating point), whole numbers, and the times as
// Shanghai dates and times.
func flashInput(c *fiber.Ctx) (catalog.FlashInput, error) {
	var chk catalog.Check
	price, ok := parseCents(c.FormValue("price"))
	chk.That(ok && price > 0, "price", "must be an amount in yuan with at most two decimals")
	quantity, okQty := parseCount(c.FormValue("quantity"))
	chk.That(okQty && quantity >= 1 && quantity <= catalog.MaxFlashQuantity, "quantity", "must be a whole number from 1 to 1000000")
	limit, okLimit := parseCount(c.FormValue("per_user_limit"))
	chk.That(okLimit && limit >= 1 && limit <= 100, "per_user_limit", "must be a whole number from 1 to 100")
	starts, okStart := parseInputTime(c.FormValue("starts_at"))
	chk.That(okStart, "starts_at", "must be a date and time")
	ends, okEnd := parseInputTime(c.FormValue("ends_at"))
	chk.That(okEnd, "ends_at", "must be a date and time")
	q, l := int(quantity), int(limit)
	return catalog.FlashInput{Price: &price, Quantity: &q, PerUserLimit: &l, StartsAt: &starts, EndsAt: &ends}, chk.Err()
}

// flashConflict is the message of a sale form's conflict: the sale has
// started, or the product has not that much stock.
func flashConflict(err error) string {
	if errors.Is(err, catalog.ErrFlashStarted) {
		return "err.fs_started"
	}
	return "err.fsale_stock"
}

// newFlashSaleSubmit offers one of the stall's goods in a flash sale: the
// stall console's form, one per product.
func (s *Site) newFlashSaleSubmit(c *fiber.Ctx) error {
	stallID := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/stalls/"+stallID)
	if !ok {
		return err
	}
	ctx := c.UserContext()
	in, err := flashInput(c)
	in.ProductID = c.FormValue("product_id")
	if err == nil {
		// The product must be this stall's: the form came from its console.
		pr, _, perr := s.catalog.Product(ctx, a, in.ProductID)
		switch {
		case errors.Is(perr, catalog.ErrNotFound) || perr == nil && pr.StallID != stallID:
			err = catalog.Invalid("product_id", "is not one of the stall's products")
		case perr != nil:
			return perr
		}
	}
	next := ""
	if err == nil {
		var f *catalog.FlashSale
		f, err = s.flash.ScheduleSale(ctx, a, in)
		if f != nil && err != nil {
			// A new sale has no state in Redis yet: the first purchase
			// builds it from the database.
			s.log.Warn("flash sale created: admission state not set", "sale", f.ID, "err", err)
			err = nil
		}
		if err == nil {
			next = "/merchant/stalls/" + url.PathEscape(stallID) + "/flash-sales#sale-" + f.ID
		}
	}
	fm := s.merchantStallForm(c, a, stallID, "fsale", flashInputs...)
	fm.conflict = flashConflict(err)
	return s.finish(c, err, "flash.fs_created", next, fm)
}

// merchantFlashSale starts a merchant's form on a sale: it loads the sale as
// the merchant sees it (withdrawn ones too).
func (s *Site) merchantFlashSale(c *fiber.Ctx) (catalog.Actor, *catalog.FlashSale, bool, error) {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return a, nil, false, err
	}
	f, err := s.catalog.FlashSaleByID(c.UserContext(), s.db, a, c.Params("id"), false)
	if err != nil {
		return a, nil, false, err
	}
	return a, f, true, nil
}

// flashSaleSubmit changes a sale that has not started.
func (s *Site) flashSaleSubmit(c *fiber.Ctx) error {
	a, f, ok, err := s.merchantFlashSale(c)
	if !ok {
		return err
	}
	ctx := c.UserContext()
	back := "/merchant/stalls/" + url.PathEscape(f.StallID) + "/flash-sales"
	in, err := flashInput(c)
	var updated *catalog.FlashSale
	if err == nil {
		updated, err = s.flash.RescheduleSale(ctx, a, f.ID, in)
		if updated != nil && err != nil {
			return err
		}
	}
	if errors.Is(err, catalog.ErrFlashStarted) {
		flash(c, "err.fs_started")
		return c.Redirect(back+"#sale-"+f.ID, http.StatusSeeOther)
	}
	return s.finish(c, err, "flash.fs_saved", back+"#sale-"+f.ID, form{
		name: "fsale", inputs: flashInputs, values: map[string]string{"sale_id": f.ID}, conflict: flashConflict(err), title: "mfs.title",
		show: func(p *Page, status int) error { return s.showStallFlash(c, p, a, f.StallID, false, status) },
	})
}

// withdrawFlashSaleSubmit withdraws a sale before it starts; its units go
// back to the product's stock.
func (s *Site) withdrawFlashSaleSubmit(c *fiber.Ctx) error {
	a, f, ok, err := s.merchantFlashSale(c)
	if !ok {
		return err
	}
	_, err = s.flash.WithdrawSale(c.UserContext(), a, f.ID)
	switch {
	case err == nil:
		flash(c, "flash.fs_withdrawn")
	case errors.Is(err, catalog.ErrFlashStarted):
		flash(c, "err.fs_started")
	default:
		return err
	}
	return c.Redirect("/merchant/stalls/"+url.PathEscape(f.StallID)+"/flash-sales#sale-"+f.ID, http.StatusSeeOther)
}

// ---- The organizer's progress ----

// organizerFlashPage shows the progress of each of the fair's sales, ended
// ones too; the page's script keeps the live ones current.
func (s *Site) organizerFlashPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	ctx, part := c.UserContext(), c.Query("part") != ""
	p := s.listPage(c, part, "ofs.title")
	fair, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	if fair.OrganizerID != a.UserID {
		return catalog.Fail(catalog.ErrForbidden, "only the fair's organizer follows its flash sales")
	}
	sales, err := s.catalog.FlashSales(ctx, a, slug, true)
	if err != nil {
		return err
	}
	stalls, _, err := s.catalog.Stalls(ctx, a, slug, catalog.Page{Limit: catalog.MaxLimit})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, st := range stalls {
		names[st.ID] = st.Name
	}
	v := s.flashListViewOf(p, fair)
	v.Part = part
	// Live sales first, then the coming ones, then those that ended.
	for _, want := range []string{catalog.FlashLive, catalog.FlashUpcoming, catalog.FlashEnded} {
		for i := range sales {
			if sales[i].Status != want {
				continue
			}
			fc := flashCardOf(p, &sales[i], s.flash.Remaining(ctx, &sales[i]))
			fc.Stall = names[fc.StallID]
			v.Sales = append(v.Sales, fc)
		}
	}
	p.Title = p.T("ofs.title_of", "Name", v.Fair.Name)
	p.Data = v
	if part {
		return s.renderPart(c, "flash_organizer", "fs-organizer-list", p)
	}
	return s.render(c, http.StatusOK, "flash_organizer", p)
}

// ---- Pieces ----

// listPage starts a list page, or the data of its part: a part leaves the
// flash message for the page it is part of.
func (s *Site) listPage(c *fiber.Ctx, part bool, titleID string) *Page {
	if part {
		return s.newPage(c, titleID)
	}
	return s.page(c, titleID)
}

// renderPart writes one template of a page alone (no layout), for a page
// that pulls it in.
func (s *Site) renderPart(c *fiber.Ctx, page, name string, p *Page) error {
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("no page template %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(http.StatusOK).Send(buf.Bytes())
}
