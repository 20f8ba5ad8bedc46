package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The orders' pages: the shopper's cart, checkout, the sandbox payment page
// and their orders with pickup codes; the merchant's order list of a stall
// with its fulfilment forms and totals; the organizer's totals of a fair.
// Like the catalog's pages, handlers call the orders service as the
// signed-in actor, which decides who may do what, and answer a form with a
// redirect (303) carrying a flash message, or with the page again.

// orderPageRoutes mounts the orders' pages.
func (s *Site) orderPageRoutes(r fiber.Router) {
	r.Post("/cart/items/:product_id", s.cartItemSubmit)
	r.Post("/cart/clear", s.cartClearSubmit)
	r.Get("/cart", s.cartPage)
	r.Get("/checkout", s.checkoutPage)
	r.Post("/checkout", s.checkoutSubmit)
	r.Get("/pay/:payment_id", s.payPage)
	r.Post("/pay/:payment_id", s.paySubmit)
	r.Get("/orders", s.ordersPage)
	r.Get("/orders/:id/qr.png", s.orderQR)
	r.Post("/orders/:id/cancel", s.cancelOrderSubmit)

	r.Get("/merchant/stalls/:id/orders", s.stallOrdersPage)
	r.Post("/merchant/orders/:id/ship", s.shipSubmit)
	r.Post("/merchant/orders/:id/redeem", s.redeemSubmit)
	r.Post("/merchant/orders/:id/refund", s.refundSubmit)

	r.Get("/organizer/fairs/:slug/totals", s.fairTotalsPage)
}

// ---- Cart ----

// cartView is the cart page, and the summary on the checkout page.
type cartView struct {
	Groups   []cartGroup
	Total    string
	Count    int
	Blocked  bool // a line cannot be bought as it is: checkout would fail
	Ships    bool // a line is delivered by courier unless all is picked up
	FairSlug string
	FairName string
	FairID   string
	// The checkout page's coupons: the buyer's fair coupons (one may be
	// chosen) and their shop coupons of the cart's stalls.
	FairCoupons, ShopCoupons []checkoutCoupon
}

// cartGroup is the lines of one stall.
type cartGroup struct {
	StallID, Stall, Subtotal string
	Lines                    []cartLineView
}

// cartLineView is one line of the cart.
type cartLineView struct {
	ProductID, Title, Image, UnitPrice, LineTotal, Note string
	// Terms restates a voucher's offset, validity and refunds.
	Terms                     string
	Quantity                  int
	Max                       int64
	Voucher, Available, Ships bool
	AtMax                     bool // the stepper's + is off: no more may be bought
}

// cartItemSubmit puts a product in the cart. From a product page (add=1)
// the quantity is added to what the cart holds; from the cart it replaces
// it, and 0 removes the line. With replace=1 the cart is emptied first: the
// shopper chose to switch to this product's fair. The cart's stepper sends
// step=1 or step=-1 instead of a quantity.
//
// The product page's script sends the same form with fetch and
// Accept: application/json; it gets the outcome as JSON (cartReply) and
// stays on the page. Without JavaScript the form leads to the cart.
func (s *Site) cartItemSubmit(c *fiber.Ctx) error {
	ctx, id := c.UserContext(), c.Params("product_id")
	adding := c.FormValue("add") != ""
	back := "/cart"
	if adding {
		back = "/products/" + url.PathEscape(id)
	}
	a, ok, err := s.shopper(c, back)
	if !ok {
		return err
	}
	reply := func(status int, msgID, code string) error {
		if !wantsJSON(c) {
			flash(c, msgID)
			to := back
			if code == "other_fair" && adding {
				to = back + "?switch=1"
			}
			if status < 300 {
				to = "/cart"
			}
			return c.Redirect(to, http.StatusSeeOther)
		}
		p := s.newPage(c, "cart.title")
		return c.Status(status).JSON(cartReply{OK: status < 300, Message: p.T(msgID), Code: code, Count: p.Form["_cart"]})
	}
	cart, err := s.orders.Cart(ctx, a)
	if err != nil {
		return err
	}
	held := 0
	for _, l := range cart.Items {
		if l.ProductID == id {
			held = l.Quantity
		}
	}
	var qty int
	if step := c.FormValue("step"); step != "" && !adding {
		d, err := strconv.Atoi(step)
		if err != nil || (d != 1 && d != -1) {
			return reply(http.StatusUnprocessableEntity, "err.quantity", "quantity")
		}
		qty = min(max(held+d, 0), orders.MaxLineQuantity)
	} else {
		n, okQty := parseCount(c.FormValue("quantity"))
		if !okQty || n > orders.MaxLineQuantity || n == 0 && adding {
			return reply(http.StatusUnprocessableEntity, "err.quantity", "quantity")
		}
		qty = int(n)
	}
	if c.FormValue("replace") != "" {
		if err := s.orders.ClearCart(ctx, a); err != nil {
			return err
		}
		held = 0
	}
	if adding {
		for _, l := range cart.Items {
			if held > 0 && l.ProductID == id && l.Kind != catalog.KindVoucher {
				qty = min(qty+l.Quantity, orders.MaxLineQuantity)
			}
		}
	}
	_, err = s.orders.SetCartItem(ctx, a, id, qty)
	var ve *catalog.ValidationError
	switch {
	case err == nil && qty == 0:
		return reply(http.StatusOK, "flash.cart_removed", "")
	case err == nil && adding:
		return reply(http.StatusOK, "flash.cart_added", "")
	case err == nil:
		return reply(http.StatusOK, "flash.cart_updated", "")
	case errors.Is(err, orders.ErrInsufficientStock):
		return reply(http.StatusConflict, "err.insufficient_stock", "insufficient_stock")
	case errors.As(err, &ve) && qty > 1:
		return reply(http.StatusUnprocessableEntity, "err.voucher_one", "quantity") // the one quantity rule the form does not check
	case errors.As(err, &ve):
		return reply(http.StatusUnprocessableEntity, "err.quantity", "quantity")
	case errors.Is(err, catalog.ErrConflict):
		msg := s.cartConflict(ctx, a, id)
		code := "not_on_sale"
		if msg == "err.cart_other_fair" {
			code = "other_fair"
		}
		return reply(http.StatusConflict, msg, code)
	}
	return err
}

// cartReply is the outcome of a cart form sent by a script: the message to
// show, a code for a failure ("other_fair" offers to empty the cart), and
// the cart's count for the tab bar's badge.
type cartReply struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
	Count   string `json:"count"`
}

// wantsJSON reports whether a form was sent by a script that wants JSON.
func wantsJSON(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "application/json")
}

// cartClearSubmit empties the cart.
func (s *Site) cartClearSubmit(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/cart")
	if !ok {
		return err
	}
	if err := s.orders.ClearCart(c.UserContext(), a); err != nil {
		return err
	}
	flash(c, "flash.cart_cleared")
	return c.Redirect("/cart", http.StatusSeeOther)
}

// cartConflict tells why a product could not go in the cart: the cart holds
// another fair's products, or the product is not on sale.
func (s *Site) cartConflict(ctx context.Context, a catalog.Actor, productID string) string {
	cart, err := s.orders.Cart(ctx, a)
	if err == nil && cart.FairID != "" {
		if p, _, err := s.catalog.Product(ctx, a, productID); err == nil && p.FairID != cart.FairID {
			return "err.cart_other_fair"
		}
	}
	return "err.not_on_sale"
}

func (s *Site) cartPage(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/cart")
	if !ok {
		return err
	}
	p := s.page(c, "cart.title")
	v, err := s.cartViewOf(c.UserContext(), p, a)
	if err != nil {
		return err
	}
	p.Form["_cart"] = countText(v.Count)
	p.Data = v
	return s.render(c, http.StatusOK, "cart", p)
}

// cartViewOf prices the actor's cart and groups its lines by stall, in the
// order the stalls first appear.
func (s *Site) cartViewOf(ctx context.Context, p *Page, a catalog.Actor) (cartView, error) {
	cart, err := s.orders.Cart(ctx, a)
	if err != nil {
		return cartView{}, err
	}
	v := cartView{Total: orders.Yuan(cart.Total)}
	if cart.FairID != "" {
		if f, err := s.catalog.FairByID(ctx, s.catalog.DB(), cart.FairID); err == nil {
			v.FairSlug, v.FairName, v.FairID = f.Slug, f.LocalName(p.Lang), f.ID
		}
	}
	byStall := map[string]int{}
	names := s.stallNames(ctx, a)
	for _, l := range cart.Items {
		line := cartLineView{
			ProductID: l.ProductID, Title: l.Title, UnitPrice: orders.Yuan(l.UnitPrice), LineTotal: orders.Yuan(l.LineTotal),
			Quantity: l.Quantity, Max: min(max(l.Stock, int64(l.Quantity)), orders.MaxLineQuantity), Voucher: l.Kind == catalog.KindVoucher, Available: l.Available,
		}
		if line.Voucher {
			line.Max = 1
		}
		line.AtMax = int64(line.Quantity) >= line.Max
		if pr, _, err := s.catalog.Product(ctx, a, l.ProductID); err == nil {
			line.Image = coverURL(pr)
			line.Ships = pr.Kind == catalog.KindGoods && pr.Fulfillment == catalog.ShipDelivery
			if pr.Kind == catalog.KindVoucher {
				line.Terms = voucherTerms(p, pr)
			}
		}
		switch {
		case l.Available:
		case l.Stock == 0:
			line.Note = p.T("product.sold_out")
		case l.Stock < int64(l.Quantity):
			line.Note = p.T("cart.only_left", "Stock", l.Stock)
		default:
			line.Note = p.T("cart.unavailable")
		}
		v.Blocked = v.Blocked || !l.Available
		v.Ships = v.Ships || line.Ships
		v.Count += l.Quantity
		i, ok := byStall[l.StallID]
		if !ok {
			i = len(v.Groups)
			byStall[l.StallID] = i
			v.Groups = append(v.Groups, cartGroup{StallID: l.StallID, Stall: names(l.StallID)})
		}
		v.Groups[i].Lines = append(v.Groups[i].Lines, line)
	}
	for i := range v.Groups {
		var sum orders.Money
		for _, it := range cart.Items {
			if it.StallID == v.Groups[i].StallID {
				sum += it.LineTotal
			}
		}
		v.Groups[i].Subtotal = orders.Yuan(sum)
	}
	return v, nil
}

// ---- Checkout ----

func (s *Site) checkoutPage(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/checkout")
	if !ok {
		return err
	}
	return s.showCheckout(c, s.page(c, "checkout.title"), a, http.StatusOK)
}

func (s *Site) showCheckout(c *fiber.Ctx, p *Page, a catalog.Actor, status int) error {
	v, err := s.cartViewOf(c.UserContext(), p, a)
	if err != nil {
		return err
	}
	if len(v.Groups) == 0 {
		return c.Redirect("/cart", http.StatusSeeOther)
	}
	def := catalog.ShipPickup
	if v.Ships {
		def = catalog.ShipDelivery
	}
	defaults(p, "checkout", map[string]string{"fulfillment": def})
	stalls := map[string]string{}
	for _, g := range v.Groups {
		stalls[g.StallID] = g.Stall
	}
	if v.FairCoupons, v.ShopCoupons, err = s.checkoutCoupons(c.UserContext(), p, a, v.FairID, stalls, postedCoupons(c)); err != nil {
		return err
	}
	p.Form["_cart"] = countText(v.Count)
	p.Data = v
	return s.render(c, status, "checkout", p)
}

// checkoutSubmit turns the cart into orders and opens their payment. The
// page's script disables the button once the form is sent, so a double tap
// does not check out twice (the second would find the cart empty).
func (s *Site) checkoutSubmit(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/checkout")
	if !ok {
		return err
	}
	in := orders.CheckoutInput{Fulfillment: c.FormValue("fulfillment"), ShippingAddress: c.FormValue("shipping_address"), Coupons: postedCoupons(c)}
	co, err := s.orders.Checkout(c.UserContext(), a, in)
	if err == nil {
		return c.Redirect("/pay/"+url.PathEscape(co.ID), http.StatusSeeOther)
	}
	p := s.page(c, "checkout.title")
	keep(c, p, "checkout", "fulfillment", "shipping_address")
	status := http.StatusConflict
	switch {
	case errors.Is(err, orders.ErrEmptyCart):
		flash(c, "err.cart_empty")
		return c.Redirect("/cart", http.StatusSeeOther)
	case errors.Is(err, orders.ErrVoucherHeld):
		p.Error = p.T("err.voucher_held")
	case errors.Is(err, orders.ErrInsufficientStock):
		p.Error = p.T("err.checkout_stock")
	case errors.Is(err, catalog.ErrConflict):
		p.Error = p.T("err.checkout_conflict")
	case errors.Is(err, orders.ErrNotApplicable):
		p.Error, status = p.T("err.cp_not_applicable"), http.StatusUnprocessableEntity
	case errors.Is(err, orders.ErrProvider):
		s.log.Warn("checkout: payment provider", "err", err)
		p.Error, status = p.T("err.provider"), http.StatusBadGateway
	default:
		if status, err = s.formFailed(p, "checkout", err, ""); err != nil {
			return err
		}
	}
	return s.showCheckout(c, p, a, status)
}

// ---- Payment ----

// payView is the payment page of one checkout.
type payView struct {
	ID, Amount, Status, StatusLabel, Deadline, LeftTemplate string
	ExpiresMS, NowMS                                        int64
	Open                                                    bool // may still be paid
	Sandbox, Stripe                                         bool
	// CheckoutURL is the provider's page where the payer pays (Stripe
	// Checkout); AutoGo sends the browser there on its own, unless the
	// payer just came back from it.
	CheckoutURL string
	AutoGo      bool
	// Unavailable: the provider did not answer when the payment was to be
	// opened; the page offers to try again.
	Unavailable bool
	Orders      []orderCard
}

func (s *Site) payPage(c *fiber.Ctx) error {
	id := c.Params("payment_id")
	a, ok, err := s.shopper(c, "/pay/"+id)
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "pay.title")
	pay, list, err := s.orders.Payment(ctx, a, id)
	if errors.Is(err, orders.ErrProvider) {
		s.log.Warn("pay page: payment provider", "payment", id, "err", err)
		p.Error = p.T("err.provider")
		p.Data = payView{ID: id, Unavailable: true}
		return s.render(c, http.StatusBadGateway, "pay", p)
	}
	if err != nil {
		return err
	}
	now := s.now()
	v := payView{
		ID: pay.ID, Amount: orders.Yuan(pay.Amount), Status: pay.Status, StatusLabel: p.T("pay.status." + pay.Status),
		Deadline: dateTimeText(pay.ExpiresAt, p.Lang), LeftTemplate: p.T("pay.left", "Time", "{t}"),
		ExpiresMS: pay.ExpiresAt.UnixMilli(), NowMS: now.UnixMilli(),
		Open:    (pay.Status == orders.PaymentPending || pay.Status == orders.PaymentFailed) && now.Before(pay.ExpiresAt),
		Sandbox: pay.Provider == "sandbox", Stripe: pay.Provider == "stripe",
		CheckoutURL: pay.CheckoutURL,
	}
	v.AutoGo = v.Open && v.CheckoutURL != "" && c.Query("back") == ""
	if !v.Open && (pay.Status == orders.PaymentPending || pay.Status == orders.PaymentFailed) {
		v.Status, v.StatusLabel = "expired", p.T("pay.status.expired")
	}
	names := s.stallNames(ctx, a)
	for i := range list {
		v.Orders = append(v.Orders, orderCardOf(p, &list[i], names(list[i].StallID), false))
	}
	p.Data = v
	return s.render(c, http.StatusOK, "pay", p)
}

// paySubmit settles a sandbox payment as the payer chose.
func (s *Site) paySubmit(c *fiber.Ctx) error {
	id := c.Params("payment_id")
	back := "/pay/" + url.PathEscape(id)
	a, ok, err := s.shopper(c, back)
	if !ok {
		return err
	}
	outcome := c.FormValue("outcome")
	pay, err := s.orders.CompleteSandbox(c.UserContext(), a.UserID, id, outcome)
	switch {
	case err == nil && pay.Status == orders.PaymentSucceeded:
		flash(c, "flash.paid")
		return c.Redirect("/orders?paid="+url.QueryEscape(id), http.StatusSeeOther)
	case err == nil:
		flash(c, "err.payment_failed")
	case errors.Is(err, orders.ErrNotPayable):
		flash(c, "err.not_payable")
	default:
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// ---- The buyer's orders ----

// ordersView is the buyer's list of orders, at the stage of one tab.
type ordersView struct {
	Orders  []orderCard
	NextURL string
	Stage   string
	Tabs    []orderTab
}

// orderTab is a tab of the buyer's orders: 全部 / 待付款 / 待取货 / 已完成.
type orderTab struct {
	Stage, Label, Href string
	Current            bool
}

// orderCard is an order as its buyer or its merchant sees it.
type orderCard struct {
	ID, Ref, PaymentID, StallID, Stall, Status, StatusLabel string
	Total, Refunded, Refundable, Created, Deadline          string
	Discount, Subsidy                                       string // coupons' discount and its organizer-funded part, when any
	FulfillmentLabel, Address, Tracking, PickupCode         string
	Items                                                   []itemRow
	Pickup, Voucher, Unpaid, ShowCode, ShowQR, New          bool
	Booth                                                   string // the stall's booth, where a pickup is collected
	Flash                                                   bool   // won in a flash sale (抢购)
	// The merchant's forms.
	CanShip, CanRedeem, CanRefund bool
	// After-sales: the buyer's requests, and whether a new one may be asked.
	AfterSales   []afterSaleCard
	CanAfterSale bool
	// Buyer is the buyer's email, on the organizer's order desk.
	Buyer string
}

// itemRow is one line of an order.
type itemRow struct {
	Title, UnitPrice, LineTotal, Terms string
	Quantity                           int
}

// orderCardOf describes an order; the pickup code only for its buyer.
func orderCardOf(p *Page, o *orders.Order, stall string, buyer bool) orderCard {
	oc := orderCard{
		ID: o.ID, Ref: o.ID[max(len(o.ID)-8, 0):], PaymentID: o.PaymentID, StallID: o.StallID, Stall: stall,
		Status: o.Status, StatusLabel: p.T("order.status." + o.Status), Total: orders.Yuan(o.Total),
		Created: dateTimeText(o.CreatedAt, p.Lang), Deadline: dateTimeText(o.ExpiresAt, p.Lang),
		FulfillmentLabel: p.T("product.fulfillment." + o.Fulfillment), Address: o.ShippingAddress, Tracking: o.Tracking,
		Pickup: o.HasCode || o.PickupCode != "", Unpaid: o.Status == orders.StatusPendingPayment,
		Flash: o.FlashSaleID != nil,
	}
	if o.Refunded > 0 {
		oc.Refunded = orders.Yuan(o.Refunded)
	}
	if o.Discount > 0 {
		oc.Discount = orders.Yuan(o.Discount)
	}
	if o.Subsidy > 0 {
		oc.Subsidy = orders.Yuan(o.Subsidy)
	}
	for _, it := range o.Items {
		row := itemRow{Title: it.Title, UnitPrice: orders.Yuan(it.UnitPrice), LineTotal: orders.Yuan(it.LineTotal), Quantity: it.Quantity}
		if it.Kind == catalog.KindVoucher {
			oc.Voucher = true
			until := ""
			if it.ValidUntil != nil {
				until = dateTimeText(*it.ValidUntil, p.Lang)
			}
			row.Terms = p.T("order.voucher_terms", "Offset", orders.Yuan(it.OffsetValue), "Until", until)
		}
		oc.Items = append(oc.Items, row)
	}
	if oc.Voucher {
		oc.FulfillmentLabel = p.T("order.voucher_redeem")
	}
	// A partial refund moves a redeemed order to partially_refunded: the
	// redemption time is what tells it was redeemed.
	usable := (o.Status == orders.StatusPaid || o.Status == orders.StatusPartiallyRefunded) && o.RedeemedAt == nil
	if buyer && oc.Pickup && (usable || o.RedeemedAt != nil) {
		oc.PickupCode, oc.ShowCode, oc.ShowQR = o.PickupCode, true, usable
	}
	return oc
}

func (s *Site) ordersPage(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/orders")
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "orders.title")
	stage := c.Query("stage")
	if !slices.Contains(orders.Stages, stage) {
		stage = ""
	}
	list, next, err := s.orders.BuyerOrdersAt(ctx, a, stage, catalog.Page{Limit: 10, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	s.cartBadge(ctx, p, a)
	v := ordersView{Stage: stage}
	for _, st := range append([]string{""}, orders.Stages...) {
		href, label := "/orders", p.T("search.all")
		if st != "" {
			href, label = "/orders?stage="+st, p.T("orders.stage."+st)
		}
		v.Tabs = append(v.Tabs, orderTab{Stage: st, Label: label, Href: href, Current: st == stage})
	}
	stalls := s.stallLookup(ctx, a)
	paid := c.Query("paid")
	for i := range list {
		st := stalls(list[i].StallID)
		oc := orderCardOf(p, &list[i], st.Name, true)
		oc.Booth = st.Booth
		oc.New = paid != "" && list[i].PaymentID == paid
		v.Orders = append(v.Orders, oc)
	}
	if err := s.withAfterSales(ctx, p, a, v.Orders, list); err != nil {
		return err
	}
	if next != nil {
		q := url.Values{"cursor": {*next}}
		if stage != "" {
			q.Set("stage", stage)
		}
		v.NextURL = "/orders?" + q.Encode()
	}
	p.Data = v
	return s.render(c, http.StatusOK, "orders", p)
}

// orderQR is the pickup code of an order as a QR code, for its buyer only.
func (s *Site) orderQR(c *fiber.Ctx) error {
	a, ok := account.From(c.UserContext())
	if !ok {
		return fiber.ErrNotFound
	}
	o, err := s.orders.Order(c.UserContext(), a.User.Actor(), c.Params("id"))
	if errors.Is(err, catalog.ErrNotFound) || err == nil && (o.BuyerID != a.User.ID || o.PickupCode == "") {
		return fiber.ErrNotFound
	}
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(o.PickupCode, qrcode.Medium, -8) // 8 pixels a module
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	return c.Send(png)
}

// cancelOrderSubmit cancels an unpaid order, and with it the other orders
// of its checkout (they share one payment).
func (s *Site) cancelOrderSubmit(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/orders")
	if !ok {
		return err
	}
	_, err = s.orders.CancelOrder(c.UserContext(), a, c.Params("id"))
	switch {
	case err == nil:
		flash(c, "flash.order_cancelled")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.not_cancellable")
	case errors.Is(err, orders.ErrProvider):
		flash(c, "err.provider")
	default:
		return err
	}
	return c.Redirect("/orders", http.StatusSeeOther)
}

// ---- The merchant's orders ----

// stallOrdersView is the orders page of one of the merchant's stalls.
type stallOrdersView struct {
	Stall   *catalog.Stall
	Fair    fairCard
	Filter  string
	Filters []option
	Orders  []orderCard
	NextURL string
	Back    string // this page, where the forms return
	Totals  totalsView
}

// orderStatuses are the statuses the merchant may filter by.
var orderStatuses = []string{
	orders.StatusPendingPayment, orders.StatusPaid, orders.StatusShipped, orders.StatusRedeemed, orders.StatusCompleted,
	orders.StatusPartiallyRefunded, orders.StatusRefunded, orders.StatusCancelled,
}

func (s *Site) stallOrdersPage(c *fiber.Ctx) error {
	id := c.Params("id")
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "morders.title")
	sa, err := s.catalog.Stall(ctx, a, id)
	if err != nil {
		return err
	}
	filter := c.Query("status")
	valid := filter == ""
	for _, st := range orderStatuses {
		valid = valid || st == filter
	}
	if !valid {
		filter = ""
	}
	list, next, err := s.orders.StallOrders(ctx, a, id, filter, catalog.Page{Limit: 20, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	totals, err := s.orders.StallTotalsFor(ctx, a, id)
	if err != nil {
		return err
	}
	base := "/merchant/stalls/" + url.PathEscape(id) + "/orders"
	v := stallOrdersView{
		Stall: sa.Stall, Fair: fairCardOf(p, sa.Fair), Filter: filter, Back: base,
		Totals: totalsView{GMV: orders.Yuan(totals.GMV), PaidOrders: totals.PaidOrders, Refunded: orders.Yuan(totals.Refunded), ByDay: dayRows(p, totals.ByDay)},
	}
	if q := c.Context().QueryArgs().String(); q != "" {
		v.Back += "?" + q
	}
	v.Filters = append(v.Filters, option{"", p.T("search.all")})
	for _, st := range orderStatuses {
		v.Filters = append(v.Filters, option{st, p.T("order.status." + st)})
	}
	now := s.now()
	for i := range list {
		o := &list[i]
		oc := orderCardOf(p, o, sa.Stall.Name, false)
		oc.CanShip = o.Fulfillment == catalog.ShipDelivery && o.Status == orders.StatusPaid
		oc.CanRedeem = o.HasCode && o.RedeemedAt == nil && (o.Status == orders.StatusPaid || o.Status == orders.StatusPartiallyRefunded) && !voucherExpired(o, now)
		oc.CanRefund = o.Status != orders.StatusPendingPayment && o.Status != orders.StatusCancelled && o.Status != orders.StatusRefunded &&
			o.Refundable() > 0 && !(o.RedeemedAt != nil && oc.Voucher)
		oc.Refundable = orders.Yuan(o.Refundable())
		v.Orders = append(v.Orders, oc)
	}
	if next != nil {
		q := url.Values{"cursor": {*next}}
		if filter != "" {
			q.Set("status", filter)
		}
		v.NextURL = base + "?" + q.Encode()
	}
	p.Title = p.T("morders.title_of", "Name", sa.Stall.Name)
	p.Data = v
	return s.render(c, http.StatusOK, "merchant_orders", p)
}

// voucherExpired reports whether an order holds a voucher past its date.
func voucherExpired(o *orders.Order, now time.Time) bool {
	for _, it := range o.Items {
		if it.ValidUntil != nil && now.After(*it.ValidUntil) {
			return true
		}
	}
	return false
}

// merchantOrder starts a merchant's form on an order: it loads the order
// (the service decides who may see it) and the page to return to, its
// stall's order list as the form was sent from.
func (s *Site) merchantOrder(c *fiber.Ctx) (catalog.Actor, *orders.Order, string, bool, error) {
	a, ok, err := s.console(c, catalog.RoleMerchant, "/merchant")
	if !ok {
		return a, nil, "", false, err
	}
	o, err := s.orders.Order(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return a, nil, "", false, err
	}
	base := "/merchant/stalls/" + url.PathEscape(o.StallID) + "/orders"
	back := safeNext(c.FormValue("back"))
	if back != base && !strings.HasPrefix(back, base+"?") {
		back = base
	}
	return a, o, back, true, nil
}

func (s *Site) shipSubmit(c *fiber.Ctx) error {
	a, o, back, ok, err := s.merchantOrder(c)
	if !ok {
		return err
	}
	_, err = s.orders.Ship(c.UserContext(), a, o.ID, c.FormValue("tracking"))
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		flash(c, "flash.shipped")
	case errors.As(err, &ve):
		flash(c, "err.tracking")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.not_shippable")
	default:
		return err
	}
	return c.Redirect(back+"#order-"+o.ID, http.StatusSeeOther)
}

// redeemSubmit checks the code the buyer shows and marks the order redeemed.
func (s *Site) redeemSubmit(c *fiber.Ctx) error {
	a, o, back, ok, err := s.merchantOrder(c)
	if !ok {
		return err
	}
	_, err = s.orders.Redeem(c.UserContext(), a, o.ID, c.FormValue("code"))
	switch {
	case err == nil:
		flash(c, "flash.redeemed")
	case errors.Is(err, orders.ErrWrongCode):
		flash(c, "err.wrong_code")
	case errors.Is(err, catalog.ErrConflict) && o.RedeemedAt != nil:
		flash(c, "err.already_redeemed")
	case errors.Is(err, catalog.ErrConflict) && voucherExpired(o, s.now()):
		flash(c, "err.voucher_expired")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.not_redeemable")
	default:
		return err
	}
	return c.Redirect(back+"#order-"+o.ID, http.StatusSeeOther)
}

// refundSubmit refunds all that is left of an order, or the amount given in
// yuan (read without floating point).
func (s *Site) refundSubmit(c *fiber.Ctx) error {
	a, o, back, ok, err := s.merchantOrder(c)
	if !ok {
		return err
	}
	var amount *orders.Money
	if v := strings.TrimSpace(c.FormValue("amount")); v != "" {
		fen, ok := parseCents(v)
		if !ok || fen == 0 {
			flash(c, "err.refund_amount")
			return c.Redirect(back+"#order-"+o.ID, http.StatusSeeOther)
		}
		amount = &fen
	}
	_, err = s.orders.RefundOrder(c.UserContext(), a, o.ID, amount, c.FormValue("reason"))
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		flash(c, "flash.refunded")
	case errors.As(err, &ve) && ve.Fields[0].Field == "reason":
		flash(c, "err.refund_reason")
	case errors.As(err, &ve):
		flash(c, "err.refund_amount")
	case errors.Is(err, catalog.ErrConflict) && o.RedeemedAt != nil:
		flash(c, "err.refund_redeemed")
	case errors.Is(err, catalog.ErrConflict):
		flash(c, "err.not_refundable")
	case errors.Is(err, orders.ErrProvider):
		s.log.Warn("refund: payment provider", "order", o.ID, "err", err)
		flash(c, "err.provider")
	default:
		return err
	}
	return c.Redirect(back+"#order-"+o.ID, http.StatusSeeOther)
}

// ---- Totals ----

// totalsView is a fair's or a stall's sales.
type totalsView struct {
	GMV, Refunded                        string
	PaidOrders                           int64
	Participants, Merchants, StallsCount int64
	ByStall                              []stallTotalRow
	ByDay                                []dayRow
}

// fairTotalsOf is a fair's headline figures, for its totals and its dashboard.
func fairTotalsOf(t *orders.Totals) totalsView {
	return totalsView{
		GMV: orders.Yuan(t.GMV), Refunded: orders.Yuan(t.Refunded), PaidOrders: t.PaidOrders,
		Participants: t.Participants, Merchants: t.Merchants, StallsCount: t.Stalls,
	}
}

type stallTotalRow struct {
	StallID, Name, GMV string
	Orders             int64
}

type dayRow struct {
	Date, GMV string
	Orders    int64
}

func dayRows(p *Page, days []orders.DayTotal) []dayRow {
	out := make([]dayRow, len(days))
	for i, d := range days {
		date := d.Date
		if t, err := time.ParseInLocation("2006-01-02", d.Date, catalog.FairZone); err == nil {
			date = dateText(t, p.Lang)
		}
		out[i] = dayRow{Date: date, GMV: orders.Yuan(d.GMV), Orders: d.Orders}
	}
	return out
}

// fairTotalsView is the organizer's totals page of a fair.
type fairTotalsView struct {
	Fair   fairCard
	Totals totalsView
	CSV    string
}

func (s *Site) fairTotalsPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	ctx := c.UserContext()
	p := s.page(c, "totals.title")
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	t, err := s.orders.FairTotals(ctx, a, slug)
	if err != nil {
		return err
	}
	v := fairTotalsView{
		Fair: fairCardOf(p, f), CSV: "/api/v1/fairs/" + url.PathEscape(f.Slug) + "/totals.csv", Totals: fairTotalsOf(t),
	}
	v.Totals.ByDay = dayRows(p, t.ByDay)
	for _, st := range t.ByStall {
		v.Totals.ByStall = append(v.Totals.ByStall, stallTotalRow{StallID: st.StallID, Name: st.Name, GMV: orders.Yuan(st.GMV), Orders: st.Orders})
	}
	p.Title = p.T("totals.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, http.StatusOK, "fair_totals", p)
}

// ---- Pieces the orders pages share ----

// shopper lets signed-in users through (any role may buy); a visitor is sent
// to sign in and come back to next (ok false, the redirect written).
func (s *Site) shopper(c *fiber.Ctx, next string) (catalog.Actor, bool, error) {
	a, ok := account.From(c.UserContext())
	if !ok {
		return catalog.Actor{}, false, c.Redirect("/login?next="+url.QueryEscape(safeNext(next)), http.StatusSeeOther)
	}
	return a.User.Actor(), true, nil
}

// cartBadge puts the number of items in the actor's cart on the page, for
// the cart link of the header (Form["_cart"], empty when the cart is).
func (s *Site) cartBadge(ctx context.Context, p *Page, a catalog.Actor) {
	if cart, err := s.orders.Cart(ctx, a); err == nil {
		n := 0
		for _, l := range cart.Items {
			n += l.Quantity
		}
		p.Form["_cart"] = countText(n)
	}
}

func countText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// stallLookup returns a lookup of stalls (name and booth) that remembers
// what it found; a stall the actor can no longer see is a zero Stall.
func (s *Site) stallLookup(ctx context.Context, a catalog.Actor) func(id string) catalog.Stall {
	seen := map[string]catalog.Stall{}
	return func(id string) catalog.Stall {
		if st, ok := seen[id]; ok {
			return st
		}
		var st catalog.Stall
		if sa, err := s.catalog.Stall(ctx, a, id); err == nil {
			st = *sa.Stall
		}
		seen[id] = st
		return st
	}
}

// stallNames returns a lookup of stall names that remembers what it found;
// a stall the actor can no longer see is shown without a name.
func (s *Site) stallNames(ctx context.Context, a catalog.Actor) func(id string) string {
	names := map[string]string{}
	return func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		n := ""
		if sa, err := s.catalog.Stall(ctx, a, id); err == nil {
			n = sa.Stall.Name
		}
		names[id] = n
		return n
	}
}
