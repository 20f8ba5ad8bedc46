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
	api.OpenAPI().AddOperation(PurchaseOperation())
	tag := []string{"Flash sales"}
	op := func(id, method, path, summary string, status int, signed bool, errs ...int) huma.Operation {
		o := huma.Operation{OperationID: id, Method: method, Path: "/api/v1" + path, Summary: summary, Tags: tag, DefaultStatus: status, Errors: errs}
		if signed {
			o.Security = catalog.Signed
		}
		return o
	}
	signedIn := func(ctx context.Context) (catalog.Actor, error) {
		a := h.actor(ctx)
		if a.UserID == "" {
			return a, catalog.ErrUnauthorized
		}
		return a, nil
	}
	view := func(ctx context.Context, f *catalog.FlashSale) *catalog.FlashSale {
		f.Remaining = h.adm.Remaining(ctx, f)
		return f
	}

	huma.Register(api, op("create-flash-sale", http.MethodPost, "/flash-sales", "Offer a product in a flash sale (the product's merchant); the quantity leaves its stock", http.StatusCreated, true, 401, 403, 404, 409, 422),
		func(ctx context.Context, in *struct {
			Body struct {
				ProductID    string    `json:"product_id"`
				Price        int64     `json:"price" doc:"flash price in fen"`
				Quantity     int       `json:"quantity"`
				PerUserLimit int       `json:"per_user_limit"`
				StartsAt     time.Time `json:"starts_at"`
				EndsAt       time.Time `json:"ends_at"`
			}
		}) (*body[*catalog.FlashSale], error) {
			a, err := signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			f, err := h.svc.catalog.CreateFlashSale(ctx, a, catalog.FlashInput{ProductID: b.ProductID, Price: &b.Price, Quantity: &b.Quantity,
				PerUserLimit: &b.PerUserLimit, StartsAt: &b.StartsAt, EndsAt: &b.EndsAt})
			if err != nil {
				return nil, err
			}
			_ = h.svc.events.FlashSaleScheduled(ctx, f.ID, f.StartsAt) // best effort: reminders only
			if err := h.adm.Reset(ctx, f.ID); err != nil {
				return nil, err
			}
			return out(f), nil
		})

	huma.Register(api, op("update-flash-sale", http.MethodPatch, "/flash-sales/{id}", "Change a flash sale before it starts (its merchant)", 0, true, 401, 403, 404, 409, 422),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				Price        *int64     `json:"price,omitempty"`
				Quantity     *int       `json:"quantity,omitempty"`
				PerUserLimit *int       `json:"per_user_limit,omitempty"`
				StartsAt     *time.Time `json:"starts_at,omitempty"`
				EndsAt       *time.Time `json:"ends_at,omitempty"`
			}
		}) (*body[*catalog.FlashSale], error) {
			a, err := signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			f, err := h.svc.catalog.UpdateFlashSale(ctx, a, in.ID, catalog.FlashInput{Price: b.Price, Quantity: b.Quantity, PerUserLimit: b.PerUserLimit, StartsAt: b.StartsAt, EndsAt: b.EndsAt})
			if err != nil {
				return nil, err
			}
			_ = h.svc.events.FlashSaleScheduled(ctx, f.ID, f.StartsAt)
			if err := h.adm.Reset(ctx, f.ID); err != nil {
				return nil, err
			}
			return out(f), nil
		})

	huma.Register(api, op("withdraw-flash-sale", http.MethodPost, "/flash-sales/{id}/withdraw", "Withdraw a flash sale before it starts (its merchant); the units go back to stock", 0, true, 401, 403, 404, 409),
		func(ctx context.Context, in *idPath) (*body[*catalog.FlashSale], error) {
			a, err := signedIn(ctx)
			if err != nil {
				return nil, err
			}
			f, err := h.svc.catalog.WithdrawFlashSale(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			if err := h.adm.Forget(ctx, f.ID); err != nil {
				return nil, err
			}
			return out(f), nil
		})

	huma.Register(api, op("list-flash-sales", http.MethodGet, "/fairs/{slug}/flash-sales", "A fair's flash sales, coming and running (ended too with ?ended=true)", 0, false, 404),
		func(ctx context.Context, in *struct {
			Slug  string `path:"slug"`
			Ended bool   `query:"ended"`
		}) (*body[catalog.List[catalog.FlashSale]], error) {
			rows, err := h.svc.catalog.FlashSales(ctx, h.actor(ctx), in.Slug, in.Ended)
			if err != nil {
				return nil, err
			}
			for i := range rows {
				view(ctx, &rows[i])
			}
			return out(catalog.NewList(rows, nil)), nil
		})

	huma.Register(api, op("get-flash-sale", http.MethodGet, "/flash-sales/{id}", "One flash sale with what is left", 0, false, 404),
		func(ctx context.Context, in *idPath) (*struct {
			ServerTime string `header:"X-Server-Time" doc:"the server's clock, for countdowns"`
			Body       *catalog.FlashSale
		}, error) {
			now := h.svc.now()
			type answer = struct {
				ServerTime string `header:"X-Server-Time" doc:"the server's clock, for countdowns"`
				Body       *catalog.FlashSale
			}
			if v, ok := h.public.Load(in.ID); ok && time.Since(v.(publicView).at) < time.Second {
				f := *v.(publicView).sale
				f.Status = f.StatusAt(now)
				return &answer{now.Format(time.RFC3339Nano), view(ctx, &f)}, nil
			}
			// Read as anyone first: a public offer is the same for all.
			f, err := h.svc.catalog.FlashSaleByID(ctx, h.svc.db, catalog.Actor{}, in.ID, false)
			if err == nil {
				cp := *f
				h.public.Store(in.ID, publicView{&cp, time.Now()})
				return &answer{now.Format(time.RFC3339Nano), view(ctx, f)}, nil
			}
			if f, err = h.svc.catalog.FlashSaleByID(ctx, h.svc.db, h.actor(ctx), in.ID, false); err != nil {
				return nil, err
			}
			return &answer{now.Format(time.RFC3339Nano), view(ctx, f)}, nil
		})

	huma.Register(api, op("remind-flash-sale", http.MethodPost, "/flash-sales/{id}/reminders", "Be notified when the sale starts", http.StatusCreated, true, 401, 404, 409),
		func(ctx context.Context, in *idPath) (*body[struct {
			SaleID string `json:"sale_id"`
		}], error) {
			a, err := signedIn(ctx)
			if err != nil {
				return nil, err
			}
			if err := h.svc.catalog.Remind(ctx, a, in.ID); err != nil {
				return nil, err
			}
			return out(struct {
				SaleID string `json:"sale_id"`
			}{in.ID}), nil
		})

	huma.Register(api, op("flash-ticket", http.MethodGet, "/flash-sales/{id}/tickets/{ticket}", "What became of a ticket (its owner)", 0, true, 401, 404),
		func(ctx context.Context, in *struct {
			ID     string `path:"id"`
			Ticket string `path:"ticket"`
		}) (*body[TicketView], error) {
			a, err := signedIn(ctx)
			if err != nil {
				return nil, err
			}
			row, err := h.adm.TicketStatus(ctx, a.UserID, in.ID, in.Ticket)
			if err != nil {
				return nil, err
			}
			return out(TicketView{Ticket: row.ID, Status: row.Status, OrderID: row.OrderID, Reason: row.Reason}), nil
		})

	huma.Register(api, op("stall-flash-sales", http.MethodGet, "/stalls/{id}/flash-sales", "A stall's flash sales, withdrawn and ended too (its merchant)", 0, true, 401, 403, 404),
		func(ctx context.Context, in *idPath) (*body[catalog.List[catalog.FlashSale]], error) {
			a, err := signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, err := h.svc.catalog.StallFlashSales(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			for i := range rows {
				view(ctx, &rows[i])
			}
			return out(catalog.NewList(rows, nil)), nil
		})
}
