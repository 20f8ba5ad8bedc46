package orders

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"miaohui/catalog"
)

// afterSaleRoutes registers the after-sales operations and the organizer's
// order desk.
func (h *Handler) afterSaleRoutes(api huma.API) {
	const get, post = http.MethodGet, http.MethodPost
	withParams := func(o huma.Operation, params ...*huma.Param) huma.Operation { o.Parameters = params; return o }

	as := catalog.Tag("After-sales")
	huma.Register(api, as.Signed("open-after-sale", post, "/orders/{id}/after-sales", "Ask for a refund or a return on a paid order (its buyer); the merchant answers by reply_by", http.StatusCreated, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.openAfterSale))
	huma.Register(api, as.Signed("order-after-sales", get, "/orders/{id}/after-sales", "An order's after-sales requests (its buyer, its stall's merchant, its fair's organizer)", 0, 404), catalog.SignedIn(h.actor, h.orderAfterSales))
	huma.Register(api, as.Signed("get-after-sale", get, "/after-sales/{id}", "One after-sales request (its buyer, its stall's merchant, its fair's organizer)", 0, 404), catalog.SignedIn(h.actor, h.getAfterSale))
	huma.Register(api, withParams(as.Signed("accept-after-sale", post, "/after-sales/{id}/accept", "Accept an open request: its amount is refunded; a return's goods may go back in stock (the stall's merchant). Honours Idempotency-Key.", 0, 403, 404, 409, 422, 502), idempotent...), catalog.SignedIn(h.actor, h.acceptAfterSale))
	huma.Register(api, as.Signed("reject-after-sale", post, "/after-sales/{id}/reject", "Turn an open request down, with a reason (the stall's merchant)", 0, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.rejectAfterSale))
	huma.Register(api, as.Signed("escalate-after-sale", post, "/after-sales/{id}/escalate", "Take a request to the fair's organizer, after a rejection or past reply_by (its buyer)", 0, 403, 404, 409), catalog.SignedIn(h.actor, h.escalateAfterSale))
	huma.Register(api, withParams(as.Signed("decide-after-sale", post, "/after-sales/{id}/decide", "Decide an escalated request: refund_amount (0: none) is refunded (the fair's organizer). Honours Idempotency-Key.", 0, 403, 404, 409, 422, 502), idempotent...), catalog.SignedIn(h.actor, h.decideAfterSale))
	huma.Register(api, as.Signed("my-after-sales", get, "/me/after-sales", "The user's own after-sales requests, newest first", 0), catalog.SignedIn(h.actor, h.myAfterSales))
	huma.Register(api, as.Signed("stall-after-sales", get, "/stalls/{id}/after-sales", "A stall's after-sales requests, newest first (its merchant)", 0, 403, 404), catalog.SignedIn(h.actor, h.stallAfterSales))
	huma.Register(api, as.Signed("fair-after-sales", get, "/fairs/{slug}/after-sales", "A fair's after-sales requests, newest first (its organizer)", 0, 403, 404), catalog.SignedIn(h.actor, h.fairAfterSales))

	desk := catalog.Tag("Orders")
	huma.Register(api, desk.Signed("fair-orders", get, "/fairs/{slug}/orders", "The organizer's order desk: a fair's orders, searched by order id or reference (q), buyer email (q), status and stall", 0, 403, 404, 422), catalog.SignedIn(h.actor, h.fairOrders))
}

type openAfterSaleIn = struct {
	ID   string `path:"id"`
	Body struct {
		Kind   string   `json:"kind" enum:"refund,return" doc:"refund: money back; return: the goods go back for money back"`
		Amount int64    `json:"amount" doc:"in fen, at most what is left to refund"`
		Reason string   `json:"reason" doc:"1 to 500 characters"`
		Photos []string `json:"photos,omitempty" maxItems:"6" doc:"addresses of photos (http(s) or /media/ paths)"`
	}
}

func (h *Handler) openAfterSale(ctx context.Context, a catalog.Actor, in *openAfterSaleIn) (*AfterSale, error) {
	return h.svc.OpenAfterSale(ctx, a, in.ID, AfterSaleInput{Kind: in.Body.Kind, Amount: in.Body.Amount, Reason: in.Body.Reason, Photos: in.Body.Photos})
}

type orderAfterSalesIn = struct {
	ID string `path:"id"`
	catalog.PageQuery
}

func (h *Handler) orderAfterSales(ctx context.Context, a catalog.Actor, in *orderAfterSalesIn) (catalog.List[AfterSale], error) {
	rows, next, err := h.svc.OrderAfterSales(ctx, a, in.ID, in.Page())
	return catalog.NewList(rows, next), err
}

func (h *Handler) getAfterSale(ctx context.Context, a catalog.Actor, in *idPath) (*AfterSale, error) {
	return h.svc.AfterSale(ctx, a, in.ID)
}

// The answers' bodies are optional, as all their fields are.
type acceptAfterSaleIn = struct {
	ID   string `path:"id"`
	Body *struct {
		Reason  string `json:"reason,omitempty" doc:"at most 500 characters"`
		Restock bool   `json:"restock,omitempty" doc:"a return: put the order's goods back in stock (default false)"`
	}
}

func (h *Handler) acceptAfterSale(ctx context.Context, a catalog.Actor, in *acceptAfterSaleIn) (*AfterSale, error) {
	var ans AfterSaleAnswer
	if in.Body != nil {
		ans = AfterSaleAnswer{Reason: in.Body.Reason, Restock: in.Body.Restock}
	}
	return h.svc.AcceptAfterSale(ctx, a, in.ID, ans)
}

type rejectAfterSaleIn = struct {
	ID   string `path:"id"`
	Body *struct {
		Reason string `json:"reason,omitempty" doc:"at most 500 characters, shown to the buyer"`
	}
}

func (h *Handler) rejectAfterSale(ctx context.Context, a catalog.Actor, in *rejectAfterSaleIn) (*AfterSale, error) {
	reason := ""
	if in.Body != nil {
		reason = in.Body.Reason
	}
	return h.svc.RejectAfterSale(ctx, a, in.ID, reason)
}

func (h *Handler) escalateAfterSale(ctx context.Context, a catalog.Actor, in *idPath) (*AfterSale, error) {
	return h.svc.EscalateAfterSale(ctx, a, in.ID)
}

type decideAfterSaleIn = struct {
	ID   string `path:"id"`
	Body struct {
		RefundAmount int64  `json:"refund_amount" doc:"in fen; 0 means no refund; at most what is left to refund"`
		Reason       string `json:"reason" doc:"1 to 500 characters"`
		Restock      bool   `json:"restock,omitempty" doc:"a return: put the order's goods back in stock (default false)"`
	}
}

func (h *Handler) decideAfterSale(ctx context.Context, a catalog.Actor, in *decideAfterSaleIn) (*AfterSale, error) {
	return h.svc.DecideAfterSale(ctx, a, in.ID, AfterSaleAnswer{RefundAmount: in.Body.RefundAmount, Reason: in.Body.Reason, Restock: in.Body.Restock})
}

type afterSalesQuery struct {
	Status string `query:"status" enum:"open,accepted,rejected,escalated,decided"`
	catalog.PageQuery
}

func (h *Handler) myAfterSales(ctx context.Context, a catalog.Actor, in *afterSalesQuery) (catalog.List[AfterSale], error) {
	rows, next, err := h.svc.BuyerAfterSales(ctx, a, AfterSaleFilter{Status: in.Status}, in.Page())
	return catalog.NewList(rows, next), err
}

type stallAfterSalesIn = struct {
	ID string `path:"id"`
	afterSalesQuery
}

func (h *Handler) stallAfterSales(ctx context.Context, a catalog.Actor, in *stallAfterSalesIn) (catalog.List[AfterSale], error) {
	rows, next, err := h.svc.StallAfterSales(ctx, a, in.ID, AfterSaleFilter{Status: in.Status}, in.Page())
	return catalog.NewList(rows, next), err
}

type fairAfterSalesIn = struct {
	Slug string `path:"slug"`
	afterSalesQuery
}

func (h *Handler) fairAfterSales(ctx context.Context, a catalog.Actor, in *fairAfterSalesIn) (catalog.List[AfterSale], error) {
	rows, next, err := h.svc.FairAfterSales(ctx, a, in.Slug, AfterSaleFilter{Status: in.Status}, in.Page())
	return catalog.NewList(rows, next), err
}

type fairOrdersIn = struct {
	Slug    string `path:"slug"`
	Q       string `query:"q" maxLength:"254" doc:"an order id, its 8-character reference, or a buyer's email"`
	Status  string `query:"status" enum:"pending_payment,paid,shipped,redeemed,completed,cancelled,refunded,partially_refunded"`
	StallID string `query:"stall_id"`
	catalog.PageQuery
}

func (h *Handler) fairOrders(ctx context.Context, a catalog.Actor, in *fairOrdersIn) (catalog.List[Order], error) {
	rows, next, err := h.svc.FairOrders(ctx, a, in.Slug, DeskQuery{Q: in.Q, Status: in.Status, StallID: in.StallID}, in.Page())
	return catalog.NewList(rows, next), err
}
