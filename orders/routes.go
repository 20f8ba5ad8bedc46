package orders

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"miaohui/catalog"
)

// Handler serves the orders' part of the JSON API.
type Handler struct {
	svc   *Service
	actor func(context.Context) catalog.Actor
}

// NewHandler returns the handler; actor tells who sent a request.
func NewHandler(svc *Service, actor func(context.Context) catalog.Actor) *Handler {
	return &Handler{svc: svc, actor: actor}
}

// idempotent documents the Idempotency-Key header of the operations that
// move money.
var idempotent = []*huma.Param{{Name: "Idempotency-Key", In: "header", Description: "the same key and body replay the first response; the same key with another body is 409", Schema: &huma.Schema{Type: "string"}}}

// Routes registers every orders operation on api. Every one of them needs a
// signed-in user.
func (h *Handler) Routes(api huma.API) {
	const get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	const created, none = http.StatusCreated, http.StatusNoContent
	withParams := func(o huma.Operation, params ...*huma.Param) huma.Operation { o.Parameters = params; return o }

	orders := catalog.Tag("Orders")
	huma.Register(api, orders.Signed("set-cart-item", put, "/cart/items/{product_id}", "Set a product's quantity in the cart (0 removes it)", 0, 404, 409, 422), catalog.SignedIn(h.actor, h.setCartItem))
	huma.Register(api, orders.Signed("get-cart", get, "/cart", "The cart, priced now", 0), catalog.SignedIn(h.actor, h.getCart))
	huma.Register(api, orders.Signed("clear-cart", del, "/cart", "Empty the cart", none), catalog.SignedInRaw(h.actor, h.clearCart))
	huma.Register(api, withParams(orders.Signed("checkout", post, "/checkout", "Check out the cart: one order per stall, one payment. Honours Idempotency-Key.", created, 409, 422, 502), idempotent...), catalog.SignedIn(h.actor, h.checkout))
	huma.Register(api, orders.Signed("get-order", get, "/orders/{id}", "One order (its buyer, its stall's merchant, its fair's organizer)", 0, 404), catalog.SignedIn(h.actor, h.getOrder))
	huma.Register(api, orders.Signed("cancel-order", post, "/orders/{id}/cancel", "Cancel an unpaid order (its buyer); its checkout's stock is returned", 0, 403, 404, 409), catalog.SignedIn(h.actor, h.cancelOrder))
	huma.Register(api, orders.Signed("my-orders", get, "/me/orders", "What the user bought, newest first", 0), catalog.SignedIn(h.actor, h.myOrders))
	huma.Register(api, orders.Signed("stall-orders", get, "/stalls/{id}/orders", "A stall's orders (its merchant)", 0, 403, 404), catalog.SignedIn(h.actor, h.stallOrders))
	huma.Register(api, orders.Signed("ship-order", post, "/orders/{id}/ship", "Mark a paid order shipped (the stall's merchant)", 0, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.shipOrder))
	huma.Register(api, orders.Signed("redeem-order", post, "/orders/{id}/redeem", "Redeem the pickup or voucher code shown at the booth (the stall's merchant)", 0, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.redeemOrder))
	huma.Register(api, withParams(orders.Signed("refund-order", post, "/orders/{id}/refunds", "Refund all or part of an order (the stall's merchant or the fair's organizer). Honours Idempotency-Key.", created, 403, 404, 409, 422, 502), idempotent...), catalog.SignedIn(h.actor, h.refundOrder))

	booth := catalog.Tag("Booth")
	huma.Register(api, booth.Signed("fair-pass", get, "/fairs/{slug}/pass", "The signed-in shopper's one pass for the fair and where to collect their pickups", 0, 404), catalog.SignedIn(h.actor, h.fairPass))
	huma.Register(api, booth.Signed("redeem-code", post, "/stalls/{id}/redeem", "Redeem at the booth every paid pickup and voucher of the buyer whose fair pass, pickup or voucher code it is (the stall's merchant or staff)", 0, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.redeemCode))
	huma.Register(api, booth.Signed("record-offline-sale", post, "/stalls/{id}/offline-sales", "Record a sale made and paid at the booth, counted in the totals as offline (the stall's merchant or staff)", created, 403, 404, 422), catalog.SignedIn(h.actor, h.recordOfflineSale))

	payments := catalog.Tag("Payments")
	huma.Register(api, payments.Signed("get-payment", get, "/payments/{id}", "A payment and its orders (the payer); opens it at the provider when needed", 0, 404, 409, 502), catalog.SignedIn(h.actor, h.getPayment))
	huma.Register(api, payments.Signed("complete-sandbox-payment", post, "/payments/sandbox/{payment_id}/complete", "Choose the outcome of a sandbox payment (the payer; 404 when the sandbox is off)", 0, 404, 409, 422), catalog.SignedIn(h.actor, h.completeSandboxPayment))
	huma.Register(api, payments.Signed("payout-account-link", post, "/stalls/{id}/payout-account", "Connect the stall's Stripe payout account: returns the onboarding link (its merchant)", 0, 403, 404, 409, 502), catalog.SignedIn(h.actor, h.payoutAccountLink))

	totals := catalog.Tag("Totals")
	huma.Register(api, totals.Signed("fair-totals", get, "/fairs/{slug}/totals", "A fair's sales totals (its organizer)", 0, 403, 404), catalog.SignedIn(h.actor, h.fairTotals))
	huma.Register(api, totals.Signed("fair-totals-csv", get, "/fairs/{slug}/totals.csv", "A fair's totals per stall (or another of its tables), as CSV (its organizer)", 0, 403, 404), catalog.SignedInRaw(h.actor, h.fairTotalsCSV))
	huma.Register(api, totals.Signed("stall-totals", get, "/stalls/{id}/totals", "A stall's own totals (its merchant)", 0, 403, 404), catalog.SignedIn(h.actor, h.stallTotals))
	huma.Register(api, totals.Signed("stall-totals-csv", get, "/stalls/{id}/totals.csv", "One table of a stall's totals, as CSV (its merchant)", 0, 403, 404), catalog.SignedInRaw(h.actor, h.stallTotalsCSV))

	h.statementRoutes(api)
	h.afterSaleRoutes(api)
	h.auditRoutes(api)
}

// The inputs of the operations. Those that are aliases of unnamed structs
// stay unnamed for huma, which names their bodies after the operation
// ("checkoutRequest" and so on) in the OpenAPI document.

type idPath struct {
	ID string `path:"id"`
}

type slugPath struct {
	Slug string `path:"slug"`
}

// ---- Cart and checkout ----

type setCartItemIn = struct {
	ProductID string `path:"product_id"`
	Body      struct {
		Quantity int `json:"quantity"`
	}
}

func (h *Handler) setCartItem(ctx context.Context, a catalog.Actor, in *setCartItemIn) (*Cart, error) {
	return h.svc.SetCartItem(ctx, a, in.ProductID, in.Body.Quantity)
}

func (h *Handler) getCart(ctx context.Context, a catalog.Actor, _ *struct{}) (*Cart, error) {
	return h.svc.Cart(ctx, a)
}

func (h *Handler) clearCart(ctx context.Context, a catalog.Actor, _ *struct{}) (*struct{}, error) {
	return nil, h.svc.ClearCart(ctx, a)
}

type checkoutIn = struct {
	Body struct {
		Fulfillment     string   `json:"fulfillment,omitempty" enum:"ship,pickup" doc:"pickup: collect everything at the booths"`
		ShippingAddress string   `json:"shipping_address,omitempty"`
		Coupons         []string `json:"coupons,omitempty" maxItems:"50" doc:"the buyer's coupons to spend: at most one fair coupon and one shop coupon per stall"`
	}
}

func (h *Handler) checkout(ctx context.Context, a catalog.Actor, in *checkoutIn) (*Checkout, error) {
	return h.svc.Checkout(ctx, a, CheckoutInput{Fulfillment: in.Body.Fulfillment, ShippingAddress: in.Body.ShippingAddress, Coupons: in.Body.Coupons})
}

// ---- Orders ----

// getOrder lets the service answer whoever asks (404 for those who may not
// see the order).
func (h *Handler) getOrder(ctx context.Context, a catalog.Actor, in *idPath) (*Order, error) {
	return h.svc.Order(ctx, a, in.ID)
}

func (h *Handler) cancelOrder(ctx context.Context, a catalog.Actor, in *idPath) (*Order, error) {
	return h.svc.CancelOrder(ctx, a, in.ID)
}

func (h *Handler) myOrders(ctx context.Context, a catalog.Actor, in *catalog.PageQuery) (catalog.List[Order], error) {
	rows, next, err := h.svc.BuyerOrders(ctx, a, in.Page())
	return catalog.NewList(rows, next), err
}

type stallOrdersIn = struct {
	ID     string `path:"id"`
	Status string `query:"status" enum:"pending_payment,paid,shipped,redeemed,completed,cancelled,refunded,partially_refunded"`
	catalog.PageQuery
}

func (h *Handler) stallOrders(ctx context.Context, a catalog.Actor, in *stallOrdersIn) (catalog.List[Order], error) {
	rows, next, err := h.svc.StallOrders(ctx, a, in.ID, in.Status, in.Page())
	return catalog.NewList(rows, next), err
}

type shipOrderIn = struct {
	ID   string `path:"id"`
	Body struct {
		Tracking string `json:"tracking,omitempty"`
	}
}

func (h *Handler) shipOrder(ctx context.Context, a catalog.Actor, in *shipOrderIn) (*Order, error) {
	return h.svc.Ship(ctx, a, in.ID, in.Body.Tracking)
}

type redeemOrderIn = struct {
	ID   string `path:"id"`
	Body struct {
		Code string `json:"code"`
	}
}

func (h *Handler) redeemOrder(ctx context.Context, a catalog.Actor, in *redeemOrderIn) (*Order, error) {
	return h.svc.Redeem(ctx, a, in.ID, in.Body.Code)
}

// ---- Booth ----

func (h *Handler) fairPass(ctx context.Context, a catalog.Actor, in *slugPath) (*PassView, error) {
	return h.svc.Pass(ctx, a, in.Slug)
}

type redeemCodeIn = struct {
	ID   string `path:"id"`
	Body struct {
		Code string `json:"code" maxLength:"40" doc:"a fair pass code, or an order's pickup or voucher code"`
	}
}

type redeemedOut = struct {
	Redeemed []Redeemed `json:"redeemed"`
}

func (h *Handler) redeemCode(ctx context.Context, a catalog.Actor, in *redeemCodeIn) (redeemedOut, error) {
	r, err := h.svc.RedeemCode(ctx, a, in.ID, in.Body.Code)
	return redeemedOut{r}, err
}

type offlineSaleIn = struct {
	ID   string `path:"id"`
	Body struct {
		Amount   int64  `json:"amount" doc:"in fen, 1 to 10000000"`
		Note     string `json:"note,omitempty" doc:"at most 200 characters"`
		PassCode string `json:"pass_code,omitempty" maxLength:"40" doc:"the buyer's fair pass, when shown"`
	}
}

func (h *Handler) recordOfflineSale(ctx context.Context, a catalog.Actor, in *offlineSaleIn) (*OfflineSale, error) {
	return h.svc.RecordOfflineSale(ctx, a, in.ID, OfflineSaleInput{Amount: in.Body.Amount, Note: in.Body.Note, PassCode: in.Body.PassCode})
}

type refundOrderIn = struct {
	ID   string `path:"id"`
	Body struct {
		Amount *int64 `json:"amount,omitempty" doc:"in fen; all that is left when absent"`
		Reason string `json:"reason"`
	}
}

func (h *Handler) refundOrder(ctx context.Context, a catalog.Actor, in *refundOrderIn) (*Refund, error) {
	return h.svc.RefundOrder(ctx, a, in.ID, in.Body.Amount, in.Body.Reason)
}

// ---- Payments ----

type paymentView struct {
	Payment *Payment `json:"payment"`
	Orders  []Order  `json:"orders"`
}

func (h *Handler) getPayment(ctx context.Context, a catalog.Actor, in *idPath) (paymentView, error) {
	p, orders, err := h.svc.Payment(ctx, a, in.ID)
	return paymentView{p, orders}, err
}

type completeSandboxIn = struct {
	PaymentID string `path:"payment_id"`
	Body      struct {
		Outcome string `json:"outcome" enum:"succeeded,failed"`
	}
}

func (h *Handler) completeSandboxPayment(ctx context.Context, a catalog.Actor, in *completeSandboxIn) (*Payment, error) {
	return h.svc.CompleteSandbox(ctx, a.UserID, in.PaymentID, in.Body.Outcome)
}

type payoutAccountLinkIn = struct {
	ID   string `path:"id"`
	Body struct {
		ReturnURL string `json:"return_url" format:"uri" doc:"where Stripe sends the merchant back"`
	}
}

type onboardingLink = struct {
	URL string `json:"url"`
}

func (h *Handler) payoutAccountLink(ctx context.Context, a catalog.Actor, in *payoutAccountLinkIn) (onboardingLink, error) {
	url, err := h.svc.PayoutAccountLink(ctx, a, in.ID, in.Body.ReturnURL)
	return onboardingLink{url}, err
}

// ---- Totals ----

func (h *Handler) fairTotals(ctx context.Context, a catalog.Actor, in *slugPath) (*Totals, error) {
	return h.svc.FairTotals(ctx, a, in.Slug)
}

type fairCSVIn struct {
	Slug  string `path:"slug"`
	Table string `query:"table" default:"stall" enum:"stall,day,hour,category,fulfillment,flash_sale,development,coupon" doc:"which table of the totals"`
}

func (h *Handler) fairTotalsCSV(ctx context.Context, a catalog.Actor, in *fairCSVIn) (*csvOut, error) {
	t, err := h.svc.FairTotals(ctx, a, in.Slug)
	if err != nil {
		return nil, err
	}
	name := in.Slug + "-totals"
	if in.Table != "stall" {
		name += "-" + in.Table
	}
	return newCSVOut(name, t.CSV(in.Table)), nil
}

func (h *Handler) stallTotals(ctx context.Context, a catalog.Actor, in *idPath) (*StallTotals, error) {
	return h.svc.StallTotalsFor(ctx, a, in.ID)
}

type stallCSVIn struct {
	ID    string `path:"id"`
	Table string `query:"table" default:"day" enum:"day,hour,category,fulfillment,flash_sale,development" doc:"which table of the totals"`
}

func (h *Handler) stallTotalsCSV(ctx context.Context, a catalog.Actor, in *stallCSVIn) (*csvOut, error) {
	t, err := h.svc.StallTotalsFor(ctx, a, in.ID)
	if err != nil {
		return nil, err
	}
	return newCSVOut("stall-"+in.ID+"-totals-"+in.Table, t.CSV(in.Table)), nil
}

// csvOut is a CSV download.
type csvOut struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func newCSVOut(name string, b []byte) *csvOut {
	return &csvOut{"text/csv; charset=utf-8", `attachment; filename="` + name + `.csv"`, b}
}
