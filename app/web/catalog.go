package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The catalog's pages: the storefront shoppers browse (fairs, stalls,
// products, viewings of developments), the merchant console and the
// organizer console. Handlers read the form, call the catalog service as the
// signed-in actor and then redirect (303) or show the page again with
// localised errors; who may do what is decided by the service.
//
// Form values shown on a page live in Page.Form under "<form>.<input>" and
// field errors in Page.Errors under "<form>.<field>", so that the several
// forms of one page keep apart.

// catalogPageRoutes mounts the catalog's pages. It is mounted before the
// other pages: its "/" (the list of fairs) is the home page.
func (s *Site) catalogPageRoutes(r fiber.Router) {
	r.Get("/", s.fairsPage)
	r.Get("/fairs/:slug", s.fairPage)
	r.Get("/fairs/:slug/search", s.searchPage)
	r.Get("/stalls/:id", s.stallPage)
	r.Get("/products/:id", s.productPage)
	r.Post("/slots/:id/book", s.bookSubmit)
	r.Post("/bookings/:id/cancel", s.cancelBookingSubmit)

	r.Get("/merchant", s.merchantPage)
	r.Post("/merchant/applications", s.applySubmit)
	r.Get("/merchant/stalls/:id", s.merchantStallPage)
	r.Post("/merchant/stalls/:id", s.stallProfileSubmit)
	r.Post("/merchant/stalls/:id/products", s.newProductSubmit)
	r.Post("/merchant/stalls/:id/unit-types", s.addUnitTypeSubmit)
	r.Post("/merchant/stalls/:id/unit-types/:unit/remove", s.removeUnitTypeSubmit)
	r.Post("/merchant/stalls/:id/slots", s.addSlotSubmit)
	r.Post("/merchant/stalls/:id/staff", s.addStaffSubmit)
	r.Post("/merchant/stalls/:id/staff/:user/remove", s.removeStaffSubmit)
	r.Get("/merchant/products/:id", s.productEditorPage)
	r.Post("/merchant/products/:id", s.productSubmit)
	r.Post("/merchant/products/:id/images", s.imageSubmit)
	r.Post("/merchant/products/:id/images/:image/remove", s.removeImageSubmit)

	r.Get("/organizer", s.organizerPage)
	r.Post("/organizer/fairs", s.newFairSubmit)
	r.Get("/organizer/fairs/:slug", s.organizerFairPage)
	r.Post("/organizer/fairs/:slug", s.fairSubmit)
	r.Post("/organizer/fairs/:slug/applications/:id/approve", s.approveSubmit)
	r.Post("/organizer/fairs/:slug/applications/:id/reject", s.rejectSubmit)
	r.Post("/organizer/fairs/:slug/stalls/:id/:action", s.stallStatusSubmit)
}

// ---- Storefront ----

// fairsView is the home page: the published fairs.
type fairsView struct {
	Fairs   []fairCard
	NextURL string
}

func (s *Site) fairsPage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := s.page(c, "home.title")
	// As anybody sees it: an organizer's drafts belong in the console.
	fairs, next, err := s.catalog.Fairs(ctx, catalog.Actor{}, catalog.Page{Limit: 30, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	v := fairsView{}
	for i := range fairs {
		v.Fairs = append(v.Fairs, fairCardOf(p, &fairs[i]))
	}
	if next != nil {
		v.NextURL = "/?cursor=" + url.QueryEscape(*next)
	}
	p.Data = v
	return s.render(c, http.StatusOK, "home", p)
}

// fairView is a fair's home page, and the search page of its products.
type fairView struct {
	Fair        fairCard
	Description string
	StartsAt    string
	EndsAt      string
	Categories  []option
	Stalls      []stallCard
	Products    []productCard
	NextURL     string
	// The search page's query.
	Q, Category, Kind string
	Kinds             []option
	Map               *mapView // the fair page's floor plan, when there is one
	// The search page's filters as chips (links), and for an empty result
	// the link that clears the filters and the fair's popular items.
	CategoryChips, KindChips []chip
	ClearURL                 string
	Popular                  []productCard
}

// chip is one choice of a filter, as a link to the search with it.
type chip struct {
	Label, Href string
	Current     bool
}

func (s *Site) fairPage(c *fiber.Ctx) error {
	ctx, a, slug := c.UserContext(), account.ActorOf(c.UserContext()), c.Params("slug")
	p := s.page(c, "fair.title")
	v, f, err := s.fairViewOf(c, p, slug)
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
		if st.Status == catalog.StallActive {
			v.Stalls = append(v.Stalls, stallCard{ID: st.ID, Name: st.Name, Booth: st.Booth, District: st.District})
		}
	}
	products, next, err := s.catalog.Products(ctx, a, slug, catalog.ProductQuery{Page: catalog.Page{Limit: 24}})
	if err != nil {
		return err
	}
	v.Products = productCards(p, products, names)
	if next != nil {
		v.NextURL = searchURL(f.Slug, "", "", "", *next)
	}
	plan, mapStalls, err := s.catalog.FloorPlanStalls(ctx, a, slug)
	if err != nil {
		return err
	}
	iw, ih := s.catalog.MapImageSize(plan)
	v.Map = mapViewOf(p, plan, iw, ih, mapStalls, nil)
	p.Title = v.Fair.Name
	cover := s.assets.url("icon-512.png")
	for _, pr := range products {
		if img := coverURL(&pr); img != "" {
			cover = img
			break
		}
	}
	s.share(c, p, v.Fair.Name, f.LocalDescription(p.Lang), cover, v.Fair.Dates)
	p.Data = v
	return s.render(c, http.StatusOK, "fair", p)
}

func (s *Site) searchPage(c *fiber.Ctx) error {
	ctx, a, slug := c.UserContext(), account.ActorOf(c.UserContext()), c.Params("slug")
	p := s.page(c, "search.title")
	v, f, err := s.fairViewOf(c, p, slug)
	if err != nil {
		return err
	}
	v.Q, v.Category, v.Kind = strings.TrimSpace(c.Query("q")), c.Query("category"), c.Query("kind")
	products, next, err := s.catalog.Products(ctx, a, slug, catalog.ProductQuery{Q: v.Q, Category: v.Category, Kind: v.Kind, Page: catalog.Page{Limit: 24, Cursor: c.Query("cursor")}})
	status, err := s.formFailed(p, "search", err, "")
	if err != nil {
		return err
	}
	v.CategoryChips = append([]chip{{Label: p.T("search.all"), Href: searchURL(f.Slug, v.Q, "", v.Kind, ""), Current: v.Category == ""}}, chipsOf(v.Categories, v.Category, func(val string) string { return searchURL(f.Slug, v.Q, val, v.Kind, "") })...)
	v.KindChips = append([]chip{{Label: p.T("search.all"), Href: searchURL(f.Slug, v.Q, v.Category, "", ""), Current: v.Kind == ""}}, chipsOf(v.Kinds, v.Kind, func(val string) string { return searchURL(f.Slug, v.Q, v.Category, val, "") })...)
	if status == 0 {
		status = http.StatusOK
		names, err := s.stallNamesOf(ctx, products)
		if err != nil {
			return err
		}
		v.Products = productCards(p, products, names)
		if len(products) == 0 {
			if v.Q != "" || v.Category != "" || v.Kind != "" {
				v.ClearURL = searchURL(f.Slug, "", "", "", "")
			}
			popular, _, err := s.catalog.Products(ctx, a, slug, catalog.ProductQuery{Page: catalog.Page{Limit: 6}})
			if err != nil {
				return err
			}
			names, err := s.stallNamesOf(ctx, popular)
			if err != nil {
				return err
			}
			v.Popular = productCards(p, popular, names)
		}
		for i := range v.Products {
			if hl := products[i].Highlight; len(hl) > 0 {
				v.Products[i].Marked = markedTitle(products[i].Title, hl)
			}
		}
		if next != nil {
			v.NextURL = searchURL(f.Slug, v.Q, v.Category, v.Kind, *next)
		}
	}
	if v.Q != "" {
		p.Title = p.T("search.title_q", "Q", v.Q)
	}
	p.Data = v
	return s.render(c, status, "search", p)
}

// chipsOf makes a filter's options chips, the chosen one current.
func chipsOf(opts []option, chosen string, href func(value string) string) []chip {
	out := make([]chip, len(opts))
	for i, o := range opts {
		out[i] = chip{Label: o.Label, Href: href(o.Value), Current: o.Value == chosen}
	}
	return out
}

// stallNamesOf names the stalls of products, for their cards.
func (s *Site) stallNamesOf(ctx context.Context, products []catalog.Product) (map[string]string, error) {
	ids := make([]string, 0, len(products))
	for _, pr := range products {
		ids = append(ids, pr.StallID)
	}
	stalls, err := s.catalog.StallsByID(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(stalls))
	for id, st := range stalls {
		names[id] = st.Name
	}
	return names, nil
}

// fairViewOf loads what the fair page and the search page share.
func (s *Site) fairViewOf(c *fiber.Ctx, p *Page, slug string) (fairView, *catalog.Fair, error) {
	ctx := c.UserContext()
	f, err := s.catalog.Fair(ctx, account.ActorOf(ctx), slug)
	if err != nil {
		return fairView{}, nil, err
	}
	cats, err := s.catalog.Categories(ctx, f.ID)
	if err != nil {
		return fairView{}, nil, err
	}
	v := fairView{
		Fair:        fairCardOf(p, f),
		Description: f.LocalDescription(p.Lang),
		StartsAt:    dateTimeText(f.StartsAt, p.Lang),
		EndsAt:      dateTimeText(f.EndsAt, p.Lang),
		Categories:  categoryOptions(p, cats),
		Kinds:       []option{{catalog.KindGoods, p.T("product.kind.goods")}, {catalog.KindVoucher, p.T("product.kind.voucher")}},
	}
	return v, f, nil
}

// stallView is a stall's public page; for a development also its floor
// plans and viewings.
type stallView struct {
	Stall       *catalog.Stall
	Fair        fairCard
	Development bool
	Owner       bool // the viewer runs the stall
	Products    []productCard
	Units       []unitRow
	Slots       []slotRow
	Booking     *bookingRow // the viewer's live booking here
	Back        string
	Flash       []flashBanner // the stall's live and coming flash sales
}

func (s *Site) stallPage(c *fiber.Ctx) error {
	ctx, a, id := c.UserContext(), account.ActorOf(c.UserContext()), c.Params("id")
	p := s.page(c, "stall.title")
	sa, err := s.catalog.Stall(ctx, a, id)
	if err != nil {
		return err
	}
	products, err := s.catalog.StallProducts(ctx, a, id)
	if err != nil {
		return err
	}
	v := stallView{
		Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), Development: sa.Fair.Kind == catalog.KindPropertySeason,
		Owner: sa.Merchant, Products: productCards(p, products, nil), Back: "/stalls/" + id,
	}
	if v.Development {
		units, err := s.catalog.UnitTypes(ctx, a, id)
		if err != nil {
			return err
		}
		v.Units = unitRows(units)
		slots, err := s.catalog.Slots(ctx, a, id)
		if err != nil {
			return err
		}
		if a.UserID != "" {
			mine, err := s.catalog.MyBookings(ctx, a)
			if err != nil {
				return err
			}
			for _, b := range mine {
				if b.StallID == id && b.Status == catalog.BookingBooked && b.Slot != nil {
					v.Booking = &bookingRow{ID: b.ID, SlotID: b.SlotID, Time: slotTimeText(b.Slot.StartsAt, b.Slot.EndsAt, p.Lang)}
					break
				}
			}
		}
		v.Slots = s.slotRows(p, slots, v.Booking)
	}
	if sa.Public() {
		normal := map[string]int64{}
		for _, pr := range products {
			normal[pr.ID] = pr.Price
		}
		if v.Flash, err = s.flashBanners(ctx, p, sa, "", normal); err != nil {
			return err
		}
	}
	p.Title = sa.Stall.Name
	cover := ""
	for _, pr := range products {
		if img := coverURL(&pr); img != "" {
			cover = img
			break
		}
	}
	s.share(c, p, sa.Stall.Name+" · "+v.Fair.Name, sa.Stall.Description, cover, v.Fair.Dates)
	p.Data = v
	return s.render(c, http.StatusOK, "stall", p)
}

// productView is a product's page.
type productView struct {
	Product     *catalog.Product
	Price       string
	Stall       *catalog.Stall
	Fair        fairCard
	Fulfillment string
	Voucher     string // the voucher's terms
	Hidden      bool
	Owner       bool
	Images      []imageView
	Flash       []flashBanner // the product's live and coming flash sales
	// SwitchFair: adding it failed as the cart holds another fair's
	// products; the page offers to empty the cart and add it.
	SwitchFair bool
}

func (s *Site) productPage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := s.page(c, "product.title")
	pr, sa, err := s.catalog.Product(ctx, account.ActorOf(ctx), c.Params("id"))
	if err != nil {
		return err
	}
	v := productView{
		Product: pr, Price: orders.Yuan(pr.Price), Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair),
		Fulfillment: p.T("product.fulfillment." + pr.Fulfillment), Hidden: !pr.Active || !sa.Public(), Owner: sa.Merchant, Images: imageViews(pr.Images),
	}
	if pr.Kind == catalog.KindVoucher {
		v.Voucher = voucherTerms(p, pr)
		v.Fulfillment = p.T("product.fulfillment.office")
	}
	v.SwitchFair = c.Query("switch") == "1"
	if !v.Hidden {
		if v.Flash, err = s.flashBanners(ctx, p, sa, pr.ID, map[string]int64{pr.ID: pr.Price}); err != nil {
			return err
		}
	}
	p.Title = pr.Title
	s.share(c, p, pr.Title+" · "+sa.Stall.Name, pr.Description, coverURL(pr), v.Price)
	p.Data = v
	return s.render(c, http.StatusOK, "product", p)
}

// bookSubmit books a viewing slot for the signed-in visitor.
func (s *Site) bookSubmit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	back := safeNext(c.FormValue("back"))
	if _, ok := account.From(ctx); !ok {
		return c.Redirect("/login?next="+url.QueryEscape(back), http.StatusSeeOther)
	}
	b, err := s.catalog.Book(ctx, account.ActorOf(ctx), c.Params("id"))
	switch {
	case err == nil:
		flash(c, "flash.booked")
		return c.Redirect("/stalls/"+url.PathEscape(b.StallID)+"#viewings", http.StatusSeeOther)
	case errors.Is(err, catalog.ErrSlotFull):
		flash(c, "err.slot_full")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.booking_conflict")
	default:
		return err
	}
	return c.Redirect(back+"#viewings", http.StatusSeeOther)
}

// cancelBookingSubmit cancels the visitor's own booking.
func (s *Site) cancelBookingSubmit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	back := safeNext(c.FormValue("back"))
	if _, ok := account.From(ctx); !ok {
		return c.Redirect("/login?next="+url.QueryEscape(back), http.StatusSeeOther)
	}
	b, err := s.catalog.CancelBooking(ctx, account.ActorOf(ctx), c.Params("id"))
	switch {
	case err == nil:
		flash(c, "flash.booking_cancelled")
		return c.Redirect("/stalls/"+url.PathEscape(b.StallID)+"#viewings", http.StatusSeeOther)
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.booking_cancelled")
	default:
		return err
	}
	return c.Redirect(back+"#viewings", http.StatusSeeOther)
}

// ---- Merchant console ----

// merchantView is the merchant's dashboard.
type merchantView struct {
	Applications []applicationRow
	Stalls       []stallRow
	Fairs        []option // fairs the merchant may still apply to
	ReEnrol      []reEnrolRow
	Today        []stallToday
}

// stallToday is an active stall's day on the merchant's console: what it
// opens on, before the stalls and the application form.
type stallToday struct {
	ID, Name, GMV            string
	Orders, ToRedeem, ToShip int64
}

func (s *Site) merchantPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return err
	}
	return s.showMerchant(c, s.page(c, "merchant.title"), a, http.StatusOK)
}

func (s *Site) showMerchant(c *fiber.Ctx, p *Page, a catalog.Actor, status int) error {
	ctx := c.UserContext()
	apps, err := s.catalog.MyApplications(ctx, a)
	if err != nil {
		return err
	}
	stalls, err := s.catalog.MyStalls(ctx, a)
	if err != nil {
		return err
	}
	fairs, _, err := s.catalog.Fairs(ctx, a, catalog.Page{Limit: catalog.MaxLimit})
	if err != nil {
		return err
	}
	byID := map[string]*catalog.Fair{}
	for i := range fairs {
		byID[fairs[i].ID] = &fairs[i]
	}
	fairOf := func(id string) (*catalog.Fair, error) {
		if f, ok := byID[id]; ok {
			return f, nil
		}
		f, err := s.catalog.FairByID(ctx, s.catalog.DB(), id)
		if err == nil {
			byID[id] = f
		}
		return f, err
	}
	v := merchantView{}
	applied := map[string]bool{}
	for _, app := range apps {
		applied[app.FairID] = applied[app.FairID] || app.Status != catalog.ApplicationRejected // a rejected merchant may apply again
		f, err := fairOf(app.FairID)
		if err != nil {
			return err
		}
		v.Applications = append(v.Applications, applicationRowOf(p, app, f))
	}
	for _, st := range stalls {
		f, err := fairOf(st.FairID)
		if err != nil {
			return err
		}
		v.Stalls = append(v.Stalls, stallRowOf(p, st, f))
		if st.Status == catalog.StallActive {
			d, err := s.orders.StallToday(ctx, a, st.ID)
			if err != nil {
				return err
			}
			v.Today = append(v.Today, stallToday{ID: st.ID, Name: st.Name, GMV: orders.Yuan(d.GMV), Orders: d.Orders, ToRedeem: d.ToRedeem, ToShip: d.ToShip})
		}
	}
	for _, f := range fairs {
		if f.Published && f.Status != catalog.FairClosed && !applied[f.ID] {
			v.Fairs = append(v.Fairs, option{f.Slug, f.LocalName(p.Lang) + " · " + p.T("kind."+f.Kind)})
		}
	}
	if v.ReEnrol, err = s.reEnrolRows(ctx, p, a); err != nil {
		return err
	}
	if err := s.attachDocuments(ctx, v.Applications); err != nil {
		return err
	}
	p.Data = v
	return s.render(c, status, "merchant", p)
}

func (s *Site) applySubmit(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return err
	}
	slug := c.FormValue("fair")
	if slug == "" {
		err = catalog.Invalid("fair", "is required")
	} else {
		err = s.applyWithDocument(c, a, slug) // with its licence document, if one was chosen
		if errors.Is(err, catalog.ErrNotFound) {
			err = catalog.Invalid("fair", "no such fair")
		}
	}
	return s.finish(c, err, "flash.applied", "/merchant", form{
		name: "apply", inputs: []string{"fair", "stall_name", "description"}, conflict: "err.apply_conflict", title: "merchant.title",
		show: func(p *Page, status int) error { return s.showMerchant(c, p, a, status) },
	})
}

// merchantStallView is the console page of one of the merchant's stalls.
type merchantStallView struct {
	Stall       *catalog.Stall
	Fair        fairCard
	Development bool
	Products    []productRow
	Categories  []option
	Units       []unitRow
	Slots       []slotRow
	Bookings    []bookingRow
	Staff       []catalog.StaffMember
	// ProductFormOpen unfolds the new-product form when it came back with errors.
	ProductFormOpen bool
}

func (s *Site) merchantStallPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	return s.showMerchantStall(c, s.page(c, "mstall.title"), a, c.Params("id"), http.StatusOK)
}

func (s *Site) showMerchantStall(c *fiber.Ctx, p *Page, a catalog.Actor, id string, status int) error {
	ctx := c.UserContext()
	sa, err := s.catalog.Stall(ctx, a, id)
	if err != nil {
		return err
	}
	if !sa.Merchant {
		return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant may manage it")
	}
	products, err := s.catalog.StallProducts(ctx, a, id)
	if err != nil {
		return err
	}
	cats, err := s.catalog.Categories(ctx, sa.Fair.ID)
	if err != nil {
		return err
	}
	v := merchantStallView{Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), Development: sa.Fair.Kind == catalog.KindPropertySeason, Categories: categoryOptions(p, cats)}
	for k := range p.Errors {
		v.ProductFormOpen = v.ProductFormOpen || strings.HasPrefix(k, "product.")
	}
	for _, pr := range products {
		v.Products = append(v.Products, productRowOf(pr))
	}
	if v.Development {
		units, err := s.catalog.UnitTypes(ctx, a, id)
		if err != nil {
			return err
		}
		v.Units = unitRows(units)
		slots, err := s.catalog.Slots(ctx, a, id)
		if err != nil {
			return err
		}
		v.Slots = s.slotRows(p, slots, nil)
		bookings, err := s.catalog.SlotBookings(ctx, a, id)
		if err != nil {
			return err
		}
		for _, b := range bookings {
			// The booking's reference is the random tail of its id.
			row := bookingRow{ID: b.ID, Ref: b.ID[max(len(b.ID)-8, 0):], SlotID: b.SlotID, Booked: dateTimeText(b.CreatedAt, p.Lang)}
			if b.Slot != nil {
				row.Time = slotTimeText(b.Slot.StartsAt, b.Slot.EndsAt, p.Lang)
			}
			v.Bookings = append(v.Bookings, row)
		}
	}
	if v.Staff, err = s.catalog.Staff(ctx, a, id); err != nil {
		return err
	}
	st := sa.Stall
	defaults(p, "stall", map[string]string{"name": st.Name, "description": st.Description, "address": st.Address, "district": st.District})
	kind := catalog.KindGoods
	if v.Development {
		kind = catalog.KindVoucher
	}
	defaults(p, "product", map[string]string{"kind": kind, "fulfillment": catalog.ShipDelivery, "stock": "0", "active": "on"})
	defaults(p, "slot", map[string]string{"capacity": "10"})
	p.Title = p.T("mstall.title_of", "Name", st.Name)
	p.Data = v
	return s.render(c, status, "merchant_stall", p)
}

// merchantStallForm is a form of a stall's console page.
func (s *Site) merchantStallForm(c *fiber.Ctx, a catalog.Actor, id, name string, inputs ...string) form {
	return form{name: name, inputs: inputs, title: "mstall.title", show: func(p *Page, status int) error {
		return s.showMerchantStall(c, p, a, id, status)
	}}
}

func (s *Site) stallProfileSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/stalls/"+id)
	if !ok {
		return err
	}
	name, desc := c.FormValue("name"), c.FormValue("description")
	_, err = s.catalog.UpdateStall(c.UserContext(), a, id, catalog.StallInput{Name: &name, Description: &desc, Address: formPtr(c, "address"), District: formPtr(c, "district")})
	return s.finish(c, err, "flash.saved", "/merchant/stalls/"+url.PathEscape(id),
		s.merchantStallForm(c, a, id, "stall", "name", "description", "address", "district"))
}

func (s *Site) newProductSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/stalls/"+id)
	if !ok {
		return err
	}
	in, err := productInput(c)
	next := ""
	if err == nil {
		var pr *catalog.Product
		if pr, err = s.catalog.CreateProduct(c.UserContext(), a, id, in); err == nil {
			next = "/merchant/products/" + url.PathEscape(pr.ID)
		}
	}
	return s.finish(c, err, "flash.product_created", next, s.merchantStallForm(c, a, id, "product", productInputs...))
}

func (s *Site) addUnitTypeSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/stalls/"+id)
	if !ok {
		return err
	}
	var chk catalog.Check
	area, okArea := parseCents(c.FormValue("area_m2"))
	chk.That(okArea, "area_m2", "must be a number with at most two decimals")
	price, okPrice := parseCents(c.FormValue("price_per_m2"))
	chk.That(okPrice, "price_per_m2", "must be an amount in yuan with at most two decimals")
	units, okUnits := parseCount(c.FormValue("units_available"))
	chk.That(okUnits && units <= math.MaxInt32, "units_available", "must be a whole number")
	err = chk.Err()
	if err == nil {
		_, err = s.catalog.AddUnitType(c.UserContext(), a, id, catalog.UnitTypeInput{
			Name: c.FormValue("name"), AreaM2: float64(area) / 100, PricePerM2: price, UnitsAvailable: int(units),
		})
	}
	return s.finish(c, err, "flash.unit_added", "/merchant/stalls/"+url.PathEscape(id)+"#units",
		s.merchantStallForm(c, a, id, "unit", "name", "area_m2", "price_per_m2", "units_available"))
}

func (s *Site) removeUnitTypeSubmit(c *fiber.Ctx) error {
	return s.removeSubmit(c, "/merchant/stalls/", "unit", "#units", "flash.unit_removed", s.catalog.RemoveUnitType)
}

func (s *Site) addSlotSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/stalls/"+id)
	if !ok {
		return err
	}
	var chk catalog.Check
	starts, okStart := parseInputTime(c.FormValue("starts_at"))
	chk.That(okStart, "starts_at", "must be a date and time")
	ends, okEnd := parseInputTime(c.FormValue("ends_at"))
	chk.That(okEnd, "ends_at", "must be a date and time")
	capacity, okCap := parseCount(c.FormValue("capacity"))
	chk.That(okCap && capacity <= math.MaxInt32, "capacity", "must be a whole number")
	err = chk.Err()
	if err == nil {
		_, err = s.catalog.AddSlot(c.UserContext(), a, id, catalog.SlotInput{StartsAt: starts, EndsAt: ends, Capacity: int(capacity)})
	}
	return s.finish(c, err, "flash.slot_added", "/merchant/stalls/"+url.PathEscape(id)+"#slots",
		s.merchantStallForm(c, a, id, "slot", "starts_at", "ends_at", "capacity"))
}

// addStaffSubmit lets a registered user work the stall's booth (核销员).
func (s *Site) addStaffSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/stalls/"+id)
	if !ok {
		return err
	}
	_, err = s.catalog.AddStaff(c.UserContext(), a, id, c.FormValue("email"))
	return s.finish(c, err, "flash.staff_added", "/merchant/stalls/"+url.PathEscape(id)+"#staff",
		s.merchantStallForm(c, a, id, "staff", "email"))
}

func (s *Site) removeStaffSubmit(c *fiber.Ctx) error {
	return s.removeSubmit(c, "/merchant/stalls/", "user", "#staff", "flash.staff_removed", s.catalog.RemoveStaff)
}

// productEditorView is the console page of one product.
type productEditorView struct {
	Product     *catalog.Product
	Stall       *catalog.Stall
	Fair        fairCard
	Development bool
	Categories  []option
	Images      []imageView
	CanAddImage bool
	MaxImages   int
	MaxBytes    int
}

func (s *Site) productEditorPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	return s.showProductEditor(c, s.page(c, "mproduct.title"), a, c.Params("id"), http.StatusOK)
}

func (s *Site) showProductEditor(c *fiber.Ctx, p *Page, a catalog.Actor, id string, status int) error {
	ctx := c.UserContext()
	pr, sa, err := s.catalog.Product(ctx, a, id)
	if err != nil {
		return err
	}
	if !sa.Merchant {
		return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant may edit its products")
	}
	cats, err := s.catalog.Categories(ctx, sa.Fair.ID)
	if err != nil {
		return err
	}
	v := productEditorView{
		Product: pr, Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), Development: sa.Fair.Kind == catalog.KindPropertySeason,
		Categories: categoryOptions(p, cats), Images: imageViews(pr.Images), CanAddImage: len(pr.Images) < catalog.MaxImagesPerItem,
		MaxImages: catalog.MaxImagesPerItem, MaxBytes: catalog.MaxImageBytes,
	}
	f := map[string]string{
		"title": pr.Title, "description": pr.Description, "price": cents(pr.Price), "stock": strconv.FormatInt(pr.Stock, 10),
		"kind": pr.Kind, "fulfillment": pr.Fulfillment, "category": pr.Category, "offset_value": "", "valid_until": "", "active": "",
	}
	if pr.Kind == catalog.KindVoucher {
		f["offset_value"] = cents(pr.OffsetValue)
	}
	if pr.ValidUntil != nil {
		f["valid_until"] = InputTime(*pr.ValidUntil)
	}
	if pr.Active {
		f["active"] = "on"
	}
	defaults(p, "product", f)
	p.Title = p.T("mproduct.title_of", "Title", pr.Title)
	p.Data = v
	return s.render(c, status, "merchant_product", p)
}

// productEditorForm is a form of a product's console page.
func (s *Site) productEditorForm(c *fiber.Ctx, a catalog.Actor, id, name string, inputs ...string) form {
	return form{name: name, inputs: inputs, title: "mproduct.title", show: func(p *Page, status int) error {
		return s.showProductEditor(c, p, a, id, status)
	}}
}

func (s *Site) productSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/products/"+id)
	if !ok {
		return err
	}
	in, err := productInput(c)
	if err == nil {
		_, err = s.catalog.UpdateProduct(c.UserContext(), a, id, in)
	}
	return s.finish(c, err, "flash.saved", "/merchant/products/"+url.PathEscape(id), s.productEditorForm(c, a, id, "product", productInputs...))
}

// imageSubmit stores a photo uploaded as multipart/form-data (field image).
func (s *Site) imageSubmit(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant/products/"+id)
	if !ok {
		return err
	}
	var data []byte
	fh, err := c.FormFile("image")
	if err != nil {
		err = catalog.Invalid("image", "is required")
	} else {
		var f io.ReadCloser
		if f, err = fh.Open(); err == nil {
			data, err = io.ReadAll(io.LimitReader(f, catalog.MaxImageBytes+1))
			f.Close()
		}
		if err == nil {
			_, err = s.catalog.AddImage(c.UserContext(), a, id, data)
		}
	}
	fm := s.productEditorForm(c, a, id, "image")
	fm.conflict = "err.too_many_images"
	return s.finish(c, err, "flash.image_added", "/merchant/products/"+url.PathEscape(id)+"#images", fm)
}

func (s *Site) removeImageSubmit(c *fiber.Ctx) error {
	return s.removeSubmit(c, "/merchant/products/", "image", "#images", "flash.image_removed", s.catalog.RemoveImage)
}

// removeSubmit is a remove button of the merchant's console: it removes the
// item named by the route's param from the stall or product ":id" whose page
// is base+id, and goes back to the page's section fragment.
func (s *Site) removeSubmit(c *fiber.Ctx, base, param, fragment, flashID string, remove func(ctx context.Context, a catalog.Actor, id, item string) error) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, base+id)
	if !ok {
		return err
	}
	if err := remove(c.UserContext(), a, id, c.Params(param)); err != nil {
		return err
	}
	flash(c, flashID)
	return c.Redirect(base+url.PathEscape(id)+fragment, http.StatusSeeOther)
}

// ---- Organizer console ----

// organizerView is the organizer's list of fairs.
type organizerView struct {
	Fairs []fairCard
	Kinds []option
	// Pending counts each fair's applications waiting for a decision, by
	// slug; PendingTotal is their sum, what the console opens on.
	Pending      map[string]int64
	PendingTotal int64
}

func (s *Site) organizerPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, "/organizer")
	if !ok {
		return err
	}
	return s.showOrganizer(c, s.page(c, "organizer.title"), a, http.StatusOK)
}

func (s *Site) showOrganizer(c *fiber.Ctx, p *Page, a catalog.Actor, status int) error {
	fairs, err := s.catalog.OrganizedFairs(c.UserContext(), a)
	if err != nil {
		return err
	}
	v := organizerView{Kinds: fairKinds(p), Pending: map[string]int64{}}
	ids := make([]string, len(fairs))
	for i := range fairs {
		v.Fairs = append(v.Fairs, fairCardOf(p, &fairs[i]))
		ids[i] = fairs[i].ID
	}
	pending, err := catalog.PendingApplications(c.UserContext(), s.db, ids)
	if err != nil {
		return err
	}
	for _, f := range fairs {
		if n := pending[f.ID]; n > 0 {
			v.Pending[f.Slug] = n
			v.PendingTotal += n
		}
	}
	defaults(p, "fair", map[string]string{"kind": catalog.KindTempleFair, "commission": "5", "published": "on"})
	p.Data = v
	return s.render(c, status, "organizer", p)
}

func (s *Site) newFairSubmit(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, "/organizer")
	if !ok {
		return err
	}
	in, err := fairInput(c)
	next := ""
	if err == nil {
		var f *catalog.Fair
		if f, err = s.catalog.CreateFair(c.UserContext(), a, in); err == nil {
			next = "/organizer/fairs/" + url.PathEscape(f.Slug)
		}
	}
	return s.finish(c, err, "flash.fair_created", next, form{
		name: "fair", inputs: fairInputs, conflict: "err.slug_taken", field: "slug", title: "organizer.title",
		show: func(p *Page, status int) error { return s.showOrganizer(c, p, a, status) },
	})
}

// organizerFairView is the console page of one fair: its settings, the
// application queue and its stalls.
type organizerFairView struct {
	Fair         fairCard
	Kinds        []option
	Applications []applicationRow // one page, searched and filtered (AppList)
	Pending      int
	Stalls       []stallRow // one page, searched and filtered (StallList)
	AppList      consoleList
	StallList    consoleList
	Editions     editionsView
}

func (s *Site) organizerFairPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	return s.showOrganizerFair(c, s.page(c, "ofair.title"), a, c.Params("slug"), http.StatusOK)
}

// organizersFair is the fair at slug for the console of its own organizer;
// any other organizer is refused.
func (s *Site) organizersFair(ctx context.Context, a catalog.Actor, slug string) (*catalog.Fair, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the fair's organizer may manage it")
	}
	return f, nil
}

func (s *Site) showOrganizerFair(c *fiber.Ctx, p *Page, a catalog.Actor, slug string, status int) error {
	ctx := c.UserContext()
	f, err := s.organizersFair(ctx, a, slug)
	if err != nil {
		return err
	}
	v := organizerFairView{Fair: fairCardOf(p, f), Kinds: fairKinds(p)}
	if err := s.consoleLists(c, p, a, f, &v); err != nil {
		return err
	}
	if err := s.attachDocuments(ctx, v.Applications); err != nil {
		return err
	}
	if v.Editions, err = s.editionsOf(ctx, p, a, f); err != nil {
		return err
	}
	published := ""
	if f.Published {
		published = "on"
	}
	defaults(p, "fair", map[string]string{
		"slug": f.Slug, "name": f.Name, "name_en": f.NameEN, "description": f.Description, "description_en": f.DescriptionEN,
		"kind": f.Kind, "starts_at": InputTime(f.StartsAt), "ends_at": InputTime(f.EndsAt), "commission": cents(int64(f.CommissionBPS)), "published": published,
	})
	p.Title = p.T("ofair.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, status, "organizer_fair", p)
}

// organizerFairForm is a form of a fair's console page.
func (s *Site) organizerFairForm(c *fiber.Ctx, a catalog.Actor, slug, name string, inputs ...string) form {
	return form{name: name, inputs: inputs, title: "ofair.title", show: func(p *Page, status int) error {
		return s.showOrganizerFair(c, p, a, slug, status)
	}}
}

func (s *Site) fairSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, "/organizer/fairs/"+slug)
	if !ok {
		return err
	}
	ctx := c.UserContext()
	in, err := fairInput(c)
	next := ""
	if err == nil {
		var f *catalog.Fair
		if f, err = s.catalog.UpdateFair(ctx, a, slug, in); err == nil {
			next = "/organizer/fairs/" + url.PathEscape(f.Slug)
		}
	}
	// A conflict is a taken slug, or a change of kind once stalls exist.
	fm := s.organizerFairForm(c, a, slug, "fair", fairInputs...)
	fm.conflict, fm.field = "err.slug_taken", "slug"
	if errors.Is(err, catalog.ErrConflict) {
		if cur, cerr := s.catalog.Fair(ctx, a, slug); cerr == nil && in.Kind != nil && *in.Kind != cur.Kind {
			fm.conflict, fm.field = "err.kind_locked", "kind"
		}
	}
	return s.finish(c, err, "flash.saved", next, fm)
}

func (s *Site) approveSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	back := "/organizer/fairs/" + url.PathEscape(slug)
	a, ok, err := s.console(c, catalog.RoleOrganizer, back)
	if !ok {
		return err
	}
	_, _, err = s.catalog.Approve(c.UserContext(), a, c.Params("id"))
	switch {
	case err == nil:
		flash(c, "flash.approved")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.already_decided")
	default:
		return err
	}
	return c.Redirect(back+"#applications", http.StatusSeeOther)
}

func (s *Site) rejectSubmit(c *fiber.Ctx) error {
	slug, id := c.Params("slug"), c.Params("id")
	back := "/organizer/fairs/" + url.PathEscape(slug)
	a, ok, err := s.console(c, catalog.RoleOrganizer, back)
	if !ok {
		return err
	}
	_, err = s.catalog.Reject(c.UserContext(), a, id, c.FormValue("reason"))
	if errors.Is(err, catalog.ErrConflict) {
		flash(c, "err.already_decided")
		return c.Redirect(back+"#applications", http.StatusSeeOther)
	}
	fm := s.organizerFairForm(c, a, slug, "reject", "reason")
	fm.values = map[string]string{"id": id}
	return s.finish(c, err, "flash.rejected", back+"#applications", fm)
}

// stallStatusSubmit suspends (with a reason) or reinstates a stall of the
// organizer's fair, or sets its booth number.
func (s *Site) stallStatusSubmit(c *fiber.Ctx) error {
	slug, id := c.Params("slug"), c.Params("id")
	back := "/organizer/fairs/" + url.PathEscape(slug)
	a, ok, err := s.console(c, catalog.RoleOrganizer, back)
	if !ok {
		return err
	}
	status, msg, name := "", "", "suspend"
	switch c.Params("action") {
	case "suspend":
		status, msg = catalog.StallSuspended, "flash.stall_suspended"
	case "reinstate":
		status, msg, name = catalog.StallActive, "flash.stall_reinstated", "reinstate"
	case "booth":
		return s.boothSubmit(c, a, slug, id)
	default:
		return fiber.ErrNotFound
	}
	_, err = s.catalog.SetStallStatus(c.UserContext(), a, id, status, c.FormValue("reason"))
	fm := s.organizerFairForm(c, a, slug, name, "reason")
	fm.values = map[string]string{"id": id}
	return s.finish(c, err, msg, back+"#stalls", fm)
}

// ---- Pieces the pages share ----

// console lets only signed-in users of role through to a console: a visitor
// who is not signed in is sent to sign in (ok false, the redirect written);
// a user of another role gets ErrForbidden.
func (s *Site) console(c *fiber.Ctx, role catalog.Role, next string) (catalog.Actor, bool, error) {
	a, ok := account.From(c.UserContext())
	if !ok {
		return catalog.Actor{}, false, c.Redirect("/login?next="+url.QueryEscape(safeNext(next)), http.StatusSeeOther)
	}
	if a.User.Role != role {
		return catalog.Actor{}, false, catalog.Failf(catalog.ErrForbidden, "this console is for the %s role", role)
	}
	return a.User.Actor(), true, nil
}

// flashCookie carries a message id from a form's redirect to the next page.
const flashCookie = "fair_flash"

// flash leaves the message id for the next page the visitor opens: "flash.*"
// ids report success, "err.*" ids failure.
func flash(c *fiber.Ctx, id string) {
	setCookie(c, http.Cookie{Name: flashCookie, Value: id, Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: account.RequestFrom(c.UserContext()).Secure})
}

// page starts a catalog page and takes the flash message left for it, if
// any, into Form["_flash"] (its kind, ok or error, in Form["_flash_kind"]),
// where the layout shows it.
func (s *Site) page(c *fiber.Ctx, titleID string) *Page {
	p := s.newPage(c, titleID)
	id := c.Cookies(flashCookie)
	if id == "" {
		return p
	}
	setCookie(c, http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: account.RequestFrom(c.UserContext()).Secure})
	kind := ""
	switch {
	case strings.HasPrefix(id, "flash."):
		kind = "ok"
	case strings.HasPrefix(id, "err."):
		kind = "error"
	}
	if msg := p.T(id); kind != "" && msg != id {
		p.Form["_flash"], p.Form["_flash_kind"] = msg, kind
	}
	return p
}

// productInput reads the product form: price and offset in yuan with at most
// two decimals, the voucher's end as a Shanghai date and time.
func productInput(c *fiber.Ctx) (catalog.ProductInput, error) {
	var chk catalog.Check
	title, desc, kind, category := c.FormValue("title"), c.FormValue("description"), c.FormValue("kind"), c.FormValue("category")
	in := catalog.ProductInput{Title: &title, Description: &desc, Kind: &kind, Category: &category}
	price, ok := parseCents(c.FormValue("price"))
	chk.That(ok, "price", "must be an amount in yuan with at most two decimals")
	in.Price = &price
	stock, ok := parseCount(c.FormValue("stock"))
	chk.That(ok, "stock", "must be a whole number")
	in.Stock = &stock
	if kind == catalog.KindVoucher {
		offset, ok := parseCents(c.FormValue("offset_value"))
		chk.That(ok, "offset_value", "must be an amount in yuan with at most two decimals")
		in.OffsetValue = &offset
		until, ok := parseInputTime(c.FormValue("valid_until"))
		chk.That(ok, "valid_until", "must be a date and time")
		in.ValidUntil = &until
	} else {
		zero := int64(0)
		fulfillment := c.FormValue("fulfillment")
		in.OffsetValue, in.Fulfillment = &zero, &fulfillment
	}
	active := c.FormValue("active") != ""
	in.Active = &active
	return in, chk.Err()
}

// fairInput reads the fair form: times as Shanghai dates and times, the
// commission in percent with at most two decimals (so in basis points).
func fairInput(c *fiber.Ctx) (catalog.FairInput, error) {
	var chk catalog.Check
	str := func(name string) *string { v := c.FormValue(name); return &v }
	in := catalog.FairInput{
		Slug: str("slug"), Name: str("name"), NameEN: str("name_en"),
		Description: str("description"), DescriptionEN: str("description_en"), Kind: str("kind"),
	}
	starts, ok := parseInputTime(c.FormValue("starts_at"))
	chk.That(ok, "starts_at", "must be a date and time")
	ends, ok := parseInputTime(c.FormValue("ends_at"))
	chk.That(ok, "ends_at", "must be a date and time")
	bps, ok := parseCents(c.FormValue("commission"))
	chk.That(ok && bps <= 10000, "commission_bps", "must be a percentage from 0 to 100 with at most two decimals")
	commission, published := int(bps), c.FormValue("published") != ""
	in.StartsAt, in.EndsAt, in.CommissionBPS, in.Published = &starts, &ends, &commission, &published
	return in, chk.Err()
}

// parseCents reads a decimal amount with at most two decimals ("12",
// "12.5", "12.50", optionally after ¥) as hundredths without floating point:
// "12.5" is 1250. Signs, exponents, separators and a third decimal are refused.
func parseCents(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(s, "¥"), "￥"))
	whole, frac, dot := strings.Cut(s, ".")
	if !digits(whole) || len(whole) > 13 || dot && (!digits(frac) || len(frac) > 2) {
		return 0, false
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	return n*100 + f, true
}

// parseCount reads a whole number of at most ten digits.
func parseCount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if !digits(s) || len(s) > 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cents writes hundredths as a decimal for a form: 1250 is "12.50".
func cents(n int64) string {
	return fmt.Sprintf("%d.%02d", n/100, n%100)
}

// inputLayout is how <input type=datetime-local> sends a time.
const inputLayout = "2006-01-02T15:04"

// InputTime is a time as a datetime-local value in Shanghai time.
func InputTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(catalog.FairZone).Format(inputLayout)
}

// parseInputTime reads a datetime-local value as Shanghai time.
func parseInputTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{inputLayout, "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, v, catalog.FairZone); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func dateText(t time.Time, lang string) string {
	t = t.In(catalog.FairZone)
	if lang == "en" {
		return t.Format("2 Jan 2006")
	}
	return t.Format("2006年1月2日")
}

func dateTimeText(t time.Time, lang string) string {
	t = t.In(catalog.FairZone)
	if lang == "en" {
		return t.Format("2 Jan 2006 15:04")
	}
	return t.Format("2006年1月2日 15:04")
}

// slotTimeText is a viewing's time: its day, its start and its end.
func slotTimeText(start, end time.Time, lang string) string {
	start, end = start.In(catalog.FairZone), end.In(catalog.FairZone)
	day := start.Format("Mon 2 Jan")
	if lang != "en" {
		day = start.Format("1月2日") + " 周" + string([]rune("日一二三四五六")[start.Weekday()])
	}
	endText := end.Format("15:04")
	if end.YearDay() != start.YearDay() || end.Year() != start.Year() {
		endText = dateTimeText(end, lang)
	}
	return day + " " + start.Format("15:04") + "–" + endText
}

// option is one choice of a select.
type option struct{ Value, Label string }

func categoryOptions(p *Page, cats []catalog.Category) []option {
	out := make([]option, len(cats))
	for i, c := range cats {
		out[i] = option{c.Slug, c.LocalName(p.Lang)}
	}
	return out
}

func fairKinds(p *Page) []option {
	return []option{{catalog.KindTempleFair, p.T("kind.temple_fair")}, {catalog.KindPropertySeason, p.T("kind.property_season")}}
}

// fairCard is a fair as the lists show it.
type fairCard struct {
	Slug        string
	Name        string
	Kind        string // temple_fair or property_season
	KindLabel   string
	Status      string // draft, upcoming, open or closed
	StatusLabel string
	Dates       string
}

func fairCardOf(p *Page, f *catalog.Fair) fairCard {
	return fairCard{
		Slug: f.Slug, Name: f.LocalName(p.Lang), Kind: f.Kind, KindLabel: p.T("kind." + f.Kind),
		Status: f.Status, StatusLabel: p.T("status." + f.Status),
		Dates: dateText(f.StartsAt, p.Lang) + " – " + dateText(f.EndsAt, p.Lang),
	}
}

// productCard is a product in a grid.
type productCard struct {
	ID, Title, Price, Image, Stall, Badge, Note string
	ImageSet                                    string // srcset: the thumbnail and the medium copy
	// Marked is the title with the search's matches in <mark>, escaped.
	Marked template.HTML
}

// markedTitle is title with the ranges (rune offsets) in <mark>; every part
// of it is HTML-escaped.
func markedTitle(title string, ranges [][2]int) template.HTML {
	rs := []rune(title)
	var b strings.Builder
	at := 0
	for _, r := range ranges {
		start, end := max(r[0], at), min(r[1], len(rs))
		if start >= end {
			continue
		}
		b.WriteString(template.HTMLEscapeString(string(rs[at:start])))
		b.WriteString("<mark>")
		b.WriteString(template.HTMLEscapeString(string(rs[start:end])))
		b.WriteString("</mark>")
		at = end
	}
	b.WriteString(template.HTMLEscapeString(string(rs[at:])))
	return template.HTML(b.String()) //nolint:gosec // built from escaped parts
}

func productCards(p *Page, rows []catalog.Product, stallNames map[string]string) []productCard {
	out := make([]productCard, 0, len(rows))
	for _, pr := range rows {
		card := productCard{ID: pr.ID, Title: pr.Title, Price: orders.Yuan(pr.Price), Image: coverURL(&pr), Stall: stallNames[pr.StallID]}
		if len(pr.Images) > 0 {
			card.ImageSet = pr.Images[0].SrcSet
		}
		if pr.Kind == catalog.KindVoucher {
			card.Badge = p.T("product.kind.voucher")
		}
		if !pr.Active {
			card.Note = p.T("product.hidden")
		} else if pr.Stock == 0 {
			card.Note = p.T("product.sold_out")
		}
		out = append(out, card)
	}
	return out
}

// imageView is a product photo on a page.
type imageView struct {
	ID, URL       string
	Medium        string // the copy a phone's product page shows
	SrcSet        string
	Width, Height int
}

func imageViews(imgs []catalog.Image) []imageView {
	out := make([]imageView, len(imgs))
	for i, img := range imgs {
		out[i] = imageView{ID: img.ID, URL: img.URL, Medium: img.MediumURL, SrcSet: img.SrcSet, Width: img.Width, Height: img.Height}
	}
	return out
}

// coverURL is the address of the thumbnail of a product's first photo,
// which the lists show; "" when it has none.
func coverURL(pr *catalog.Product) string {
	if len(pr.Images) == 0 {
		return ""
	}
	return pr.Images[0].ThumbURL
}

// productRow is a product in the merchant's list.
type productRow struct {
	ID, Title, Price, Image string
	Stock                   int64
	Active                  bool
}

func productRowOf(pr catalog.Product) productRow {
	return productRow{ID: pr.ID, Title: pr.Title, Price: orders.Yuan(pr.Price), Image: coverURL(&pr), Stock: pr.Stock, Active: pr.Active}
}

// stallCard is a stall in a fair's list.
type stallCard struct{ ID, Name, Booth, District string }

// stallRow is a stall in a console.
type stallRow struct {
	ID, Name, Booth, Status, StatusLabel, Fair, FairSlug string
	Active                                               bool
	Reason                                               string // why it was last suspended or reinstated
}

func stallRowOf(p *Page, st catalog.Stall, f *catalog.Fair) stallRow {
	return stallRow{
		ID: st.ID, Name: st.Name, Booth: st.Booth, Status: st.Status, StatusLabel: p.T("stall.status." + st.Status),
		Fair: f.LocalName(p.Lang), FairSlug: f.Slug, Active: st.Status == catalog.StallActive, Reason: st.StatusReason,
	}
}

// applicationRow is an application in a console.
type applicationRow struct {
	ID, StallName, Description, Status, StatusLabel, Reason, Created, Fair string
	Pending                                                                bool
	Email                                                                  string             // the merchant's (the organizer's console)
	FromStall                                                              bool               // re-enrols a stall of an earlier edition
	Documents                                                              []catalog.Document // licence documents (the organizer's list)
}

func applicationRowOf(p *Page, a catalog.Application, f *catalog.Fair) applicationRow {
	return applicationRow{
		ID: a.ID, StallName: a.StallName, Description: a.Description, Status: a.Status, StatusLabel: p.T("application.status." + a.Status),
		Reason: a.Reason, Created: dateTimeText(a.CreatedAt, p.Lang), Fair: f.LocalName(p.Lang), Pending: a.Status == catalog.ApplicationPending,
		FromStall: a.FromStallID != nil,
	}
}

// unitRow is a floor plan in a table; Total is area × price per m².
type unitRow struct {
	ID, Name, Area, PricePerM2, Total string
	Units                             int
}

func unitRows(units []catalog.UnitType) []unitRow {
	out := make([]unitRow, len(units))
	for i, u := range units {
		// Areas are kept to hundredths of a m²; the total is computed in
		// integers from those, rounded to the fen.
		area := int64(math.Round(u.AreaM2 * 100))
		out[i] = unitRow{
			ID: u.ID, Name: u.Name, Area: strings.TrimSuffix(strings.TrimRight(cents(area), "0"), "."),
			PricePerM2: orders.Yuan(u.PricePerM2), Total: orders.Yuan((area*u.PricePerM2 + 50) / 100), Units: u.UnitsAvailable,
		}
	}
	return out
}

// slotRow is a viewing slot in a list.
type slotRow struct {
	ID, Time            string
	Capacity, Booked    int
	Left                int
	Full, Started, Mine bool
	Bookable            bool // the viewer may book it now
}

func (s *Site) slotRows(p *Page, slots []catalog.ViewingSlot, mine *bookingRow) []slotRow {
	now := s.now()
	out := make([]slotRow, len(slots))
	for i, v := range slots {
		r := slotRow{ID: v.ID, Time: slotTimeText(v.StartsAt, v.EndsAt, p.Lang), Capacity: v.Capacity, Booked: v.Booked,
			Left: max(v.Capacity-v.Booked, 0), Full: v.Full(), Started: !v.StartsAt.After(now)}
		r.Mine = mine != nil && mine.SlotID == v.ID
		r.Bookable = !r.Full && !r.Started && mine == nil
		out[i] = r
	}
	return out
}

// bookingRow is a viewing booking.
type bookingRow struct{ ID, Ref, SlotID, Time, Booked string }

// searchURL is the search page of a fair with the given filters.
func searchURL(slug, q, category, kind, cursor string) string {
	v := url.Values{}
	for k, val := range map[string]string{"q": q, "category": category, "kind": kind, "cursor": cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return "/fairs/" + url.PathEscape(slug) + "/search?" + v.Encode()
}

// voucherTerms restates what a deposit voucher (认筹券) is: what it costs,
// what it takes off the price at signing, until when, and how it is refunded.
func voucherTerms(p *Page, pr *catalog.Product) string {
	until := ""
	if pr.ValidUntil != nil {
		until = dateTimeText(*pr.ValidUntil, p.Lang)
	}
	return p.T("product.voucher_terms", "Price", orders.Yuan(pr.Price), "Offset", orders.Yuan(pr.OffsetValue), "Until", until) +
		" " + p.T("product.voucher_refund")
}
