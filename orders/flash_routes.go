package orders

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"miaohui/catalog"
)

// FlashHandler serves the flash-sale operations other than the purchase
// itself (which app serves on its fast path).
type FlashHandler struct {
	svc   *Service
	adm   *Admission
	actor func(context.Context) catalog.Actor
	// public keeps each public offer for a second of wall time: thousands
	// of phones poll it while the sale runs. What is left always comes
	// from Redis.
	public sync.Map // id → publicView
}

type publicView struct {
	sale *catalog.FlashSale
	at   time.Time
}

// NewFlashHandler returns the handler.
func NewFlashHandler(svc *Service, adm *Admission, actor func(context.Context) catalog.Actor) *FlashHandler {
	return &FlashHandler{svc: svc, adm: adm, actor: actor}
}

// TicketView is a ticket as its owner sees it.
type TicketView struct {
	Ticket  string  `json:"ticket"`
	Status  string  `json:"status" enum:"queued,ordered,rejected"`
	OrderID *string `json:"order_id,omitempty"`
	Reason  string  `json:"reason,omitempty"`
}

// PurchaseOperation documents POST /flash-sales/{id}/purchase in the OpenAPI
// description; app serves it outside huma, on the fast path.
func PurchaseOperation() *huma.Operation {
	return &huma.Operation{
		OperationID: "flash-purchase", Method: http.MethodPost, Path: "/api/v1/flash-sales/{id}/purchase",
		Summary: "Try to win units of a flash sale: 202 with a ticket, or 409 sold_out / limit_reached / not_started, 410 ended, 429 too fast",
		Tags:    []string{"Flash sales"}, Security: catalog.Signed,
		Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{
			Type: "object", Required: []string{"quantity"}, Properties: map[string]*huma.Schema{"quantity": {Type: "integer", Minimum: ptr(1.0)}},
		}}}},
		Responses: map[string]*huma.Response{
			"202": {Description: "admitted", Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{
				Type: "object", Properties: map[string]*huma.Schema{"ticket": {Type: "string"}, "status": {Type: "string", Enum: []any{"queued"}}},
			}}}},
			"401": {Description: "not signed in"}, "404": {Description: "no such sale"},
			"409": {Description: "sold_out, limit_reached, not_started, insufficient_stock"}, "410": {Description: "ended"},
			"422": {Description: "validation_failed"}, "429": {Description: "too many attempts (Retry-After)"},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// Routes registers the flash-sale operations.
func (h *FlashHandler) Routes(api huma.API) {
	const get, post, patch = http.MethodGet, http.MethodPost, http.MethodPatch
	api.OpenAPI().AddOperation(PurchaseOperation())

	flash := catalog.Tag("Flash sales")
	huma.Register(api, flash.Signed("create-flash-sale", post, "/flash-sales", "Offer a product in a flash sale (the product's merchant); the quantity leaves its stock", http.StatusCreated, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.createFlashSale))
	huma.Register(api, flash.Signed("update-flash-sale", patch, "/flash-sales/{id}", "Change a flash sale before it starts (its merchant)", 0, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.updateFlashSale))
	huma.Register(api, flash.Signed("withdraw-flash-sale", post, "/flash-sales/{id}/withdraw", "Withdraw a flash sale before it starts (its merchant); the units go back to stock", 0, 403, 404, 409), catalog.SignedIn(h.actor, h.withdrawFlashSale))
	huma.Register(api, flash.Public("list-flash-sales", get, "/fairs/{slug}/flash-sales", "A fair's flash sales, coming and running (ended too with ?ended=true)", 0, 404), catalog.Public(h.actor, h.listFlashSales))
	huma.Register(api, flash.Public("get-flash-sale", get, "/flash-sales/{id}", "One flash sale with what is left", 0, 404), h.getFlashSale)
	huma.Register(api, flash.Signed("remind-flash-sale", post, "/flash-sales/{id}/reminders", "Be notified when the sale starts", http.StatusCreated, 404, 409), catalog.SignedIn(h.actor, h.remindFlashSale))
	huma.Register(api, flash.Signed("flash-ticket", get, "/flash-sales/{id}/tickets/{ticket}", "What became of a ticket (its owner)", 0, 404), catalog.SignedIn(h.actor, h.flashTicket))
	huma.Register(api, flash.Signed("stall-flash-sales", get, "/stalls/{id}/flash-sales", "A stall's flash sales, withdrawn and ended too (its merchant)", 0, 403, 404), catalog.SignedIn(h.actor, h.stallFlashSales))
}

// withRemaining sets what is left of a sale to win.
func (h *FlashHandler) withRemaining(ctx context.Context, f *catalog.FlashSale) *catalog.FlashSale {
	f.Remaining = h.adm.Remaining(ctx, f)
	return f
}

type createFlashSaleIn = struct {
	Body struct {
		ProductID    string    `json:"product_id"`
		Price        int64     `json:"price" doc:"flash price in fen"`
		Quantity     int       `json:"quantity"`
		PerUserLimit int       `json:"per_user_limit"`
		StartsAt     time.Time `json:"starts_at"`
		EndsAt       time.Time `json:"ends_at"`
	}
}

func (h *FlashHandler) createFlashSale(ctx context.Context, a catalog.Actor, in *createFlashSaleIn) (*catalog.FlashSale, error) {
	b := in.Body
	return h.adm.ScheduleSale(ctx, a, catalog.FlashInput{ProductID: b.ProductID, Price: &b.Price, Quantity: &b.Quantity,
		PerUserLimit: &b.PerUserLimit, StartsAt: &b.StartsAt, EndsAt: &b.EndsAt})
}

type updateFlashSaleIn = struct {
	ID   string `path:"id"`
	Body struct {
		Price        *int64     `json:"price,omitempty"`
		Quantity     *int       `json:"quantity,omitempty"`
		PerUserLimit *int       `json:"per_user_limit,omitempty"`
		StartsAt     *time.Time `json:"starts_at,omitempty"`
		EndsAt       *time.Time `json:"ends_at,omitempty"`
	}
}

func (h *FlashHandler) updateFlashSale(ctx context.Context, a catalog.Actor, in *updateFlashSaleIn) (*catalog.FlashSale, error) {
	b := in.Body
	return h.adm.RescheduleSale(ctx, a, in.ID, catalog.FlashInput{Price: b.Price, Quantity: b.Quantity, PerUserLimit: b.PerUserLimit, StartsAt: b.StartsAt, EndsAt: b.EndsAt})
}

func (h *FlashHandler) withdrawFlashSale(ctx context.Context, a catalog.Actor, in *idPath) (*catalog.FlashSale, error) {
	return h.adm.WithdrawSale(ctx, a, in.ID)
}

type listFlashSalesIn = struct {
	Slug  string `path:"slug"`
	Ended bool   `query:"ended"`
}

func (h *FlashHandler) listFlashSales(ctx context.Context, a catalog.Actor, in *listFlashSalesIn) (catalog.List[catalog.FlashSale], error) {
	rows, err := h.svc.catalog.FlashSales(ctx, a, in.Slug, in.Ended)
	if err != nil {
		return catalog.List[catalog.FlashSale]{}, err
	}
	for i := range rows {
		h.withRemaining(ctx, &rows[i])
	}
	return catalog.NewList(rows, nil), nil
}

// flashSaleAnswer is one sale and the server's clock.
type flashSaleAnswer = struct {
	ServerTime string `header:"X-Server-Time" doc:"the server's clock, for countdowns"`
	Body       *catalog.FlashSale
}

// getFlashSale answers the phones polling a sale: a public offer comes
// from this process's copy of it for a second at a time, and only an offer
// the public cannot see asks who is asking.
func (h *FlashHandler) getFlashSale(ctx context.Context, in *idPath) (*flashSaleAnswer, error) {
	now := h.svc.now()
	if v, ok := h.public.Load(in.ID); ok && time.Since(v.(publicView).at) < time.Second {
		f := *v.(publicView).sale
		f.Status = f.StatusAt(now)
		return &flashSaleAnswer{now.Format(time.RFC3339Nano), h.withRemaining(ctx, &f)}, nil
	}
	// Read as anyone first: a public offer is the same for all.
	f, err := h.svc.catalog.FlashSaleByID(ctx, h.svc.db, catalog.Actor{}, in.ID, false)
	if err == nil {
		cp := *f
		h.public.Store(in.ID, publicView{&cp, time.Now()})
		return &flashSaleAnswer{now.Format(time.RFC3339Nano), h.withRemaining(ctx, f)}, nil
	}
	if f, err = h.svc.catalog.FlashSaleByID(ctx, h.svc.db, h.actor(ctx), in.ID, false); err != nil {
		return nil, err
	}
	return &flashSaleAnswer{now.Format(time.RFC3339Nano), h.withRemaining(ctx, f)}, nil
}

type reminder = struct {
	SaleID string `json:"sale_id"`
}

func (h *FlashHandler) remindFlashSale(ctx context.Context, a catalog.Actor, in *idPath) (reminder, error) {
	return reminder{in.ID}, h.svc.catalog.Remind(ctx, a, in.ID)
}

type flashTicketIn = struct {
	ID     string `path:"id"`
	Ticket string `path:"ticket"`
}

func (h *FlashHandler) flashTicket(ctx context.Context, a catalog.Actor, in *flashTicketIn) (TicketView, error) {
	row, err := h.adm.TicketStatus(ctx, a.UserID, in.ID, in.Ticket)
	if err != nil {
		return TicketView{}, err
	}
	return TicketView{Ticket: row.ID, Status: row.Status, OrderID: row.OrderID, Reason: row.Reason}, nil
}

func (h *FlashHandler) stallFlashSales(ctx context.Context, a catalog.Actor, in *idPath) (catalog.List[catalog.FlashSale], error) {
	rows, err := h.svc.catalog.StallFlashSales(ctx, a, in.ID)
	if err != nil {
		return catalog.List[catalog.FlashSale]{}, err
	}
	for i := range rows {
		h.withRemaining(ctx, &rows[i])
	}
	return catalog.NewList(rows, nil), nil
}
