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

func (h *Handler) signedIn(ctx context.Context) (catalog.Actor, error) {
	a := h.actor(ctx)
	if a.UserID == "" {
		return a, catalog.ErrUnauthorized
	}
	return a, nil
}

type body[T any] struct{ Body T }

func out[T any](v T) *body[T] { return &body[T]{Body: v} }

type idPath struct {
	ID string `path:"id"`
}

// Routes registers every orders operation on api.
func (h *Handler) Routes(api huma.API) {
	tag := []string{"Orders"}
	op := func(id, method, path, summary string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: "/api/v1" + path, Summary: summary, Tags: tag,
			DefaultStatus: status, Errors: append([]int{401}, errs...), Security: catalog.Signed}
	}

	huma.Register(api, op("set-cart-item", http.MethodPut, "/cart/items/{product_id}", "Set a product's quantity in the cart (0 removes it)", 0, 404, 409, 422),
		func(ctx context.Context, in *struct {
			ProductID string `path:"product_id"`
			Body      struct {
				Quantity int `json:"quantity"`
			}
		}) (*body[*Cart], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			c, err := h.svc.SetCartItem(ctx, a, in.ProductID, in.Body.Quantity)
			if err != nil {
				return nil, err
			}
			return out(c), nil
		})

	huma.Register(api, op("get-cart", http.MethodGet, "/cart", "The cart, priced now", 0),
		func(ctx context.Context, _ *struct{}) (*body[*Cart], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			c, err := h.svc.Cart(ctx, a)
			if err != nil {
				return nil, err
			}
			return out(c), nil
		})

	huma.Register(api, op("clear-cart", http.MethodDelete, "/cart", "Empty the cart", http.StatusNoContent),
		func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			return nil, h.svc.ClearCart(ctx, a)
		})

	o := op("checkout", http.MethodPost, "/checkout", "Check out the cart: one order per stall, one payment. Honours Idempotency-Key.", http.StatusCreated, 409, 422, 502)
	o.Parameters = []*huma.Param{{Name: "Idempotency-Key", In: "header", Description: "the same key and body replay the first response; the same key with another body is 409", Schema: &huma.Schema{Type: "string"}}}
	huma.Register(api, o, func(ctx context.Context, in *struct {
		Body struct {
			Fulfillment     string `json:"fulfillment,omitempty" enum:"ship,pickup" doc:"pickup: collect everything at the booths"`
			ShippingAddress string `json:"shipping_address,omitempty"`
		}
	}) (*body[*Checkout], error) {
		a, err := h.signedIn(ctx)
		if err != nil {
			return nil, err
		}
		c, err := h.svc.Checkout(ctx, a, CheckoutInput{Fulfillment: in.Body.Fulfillment, ShippingAddress: in.Body.ShippingAddress})
		if err != nil {
			return nil, err
		}
		return out(c), nil
	})

	huma.Register(api, op("get-order", http.MethodGet, "/orders/{id}", "One order (its buyer, its stall's merchant, its fair's organizer)", 0, 404),
		func(ctx context.Context, in *idPath) (*body[*Order], error) {
			o, err := h.svc.Order(ctx, h.actor(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return out(o), nil
		})

	huma.Register(api, op("cancel-order", http.MethodPost, "/orders/{id}/cancel", "Cancel an unpaid order (its buyer); its checkout's stock is returned", 0, 403, 404, 409),
		func(ctx context.Context, in *idPath) (*body[*Order], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			o, err := h.svc.CancelOrder(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return out(o), nil
		})

	huma.Register(api, op("my-orders", http.MethodGet, "/me/orders", "What the user bought, newest first", 0),
		func(ctx context.Context, in *catalog.PageQuery) (*body[catalog.List[Order]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, next, err := h.svc.BuyerOrders(ctx, a, in.Page())
			if err != nil {
				return nil, err
			}
			return out(catalog.NewList(rows, next)), nil
		})

	huma.Register(api, op("stall-orders", http.MethodGet, "/stalls/{id}/orders", "A stall's orders (its merchant)", 0, 403, 404),
		func(ctx context.Context, in *struct {
			ID     string `path:"id"`
			Status string `query:"status" enum:"pending_payment,paid,shipped,redeemed,completed,cancelled,refunded,partially_refunded"`
			catalog.PageQuery
		}) (*body[catalog.List[Order]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, next, err := h.svc.StallOrders(ctx, a, in.ID, in.Status, in.Page())
			if err != nil {
				return nil, err
			}
			return out(catalog.NewList(rows, next)), nil
		})

	huma.Register(api, op("ship-order", http.MethodPost, "/orders/{id}/ship", "Mark a paid order shipped (the stall's merchant)", 0, 403, 404, 409, 422),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				Tracking string `json:"tracking,omitempty"`
			}
		}) (*body[*Order], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			o, err := h.svc.Ship(ctx, a, in.ID, in.Body.Tracking)
			if err != nil {
				return nil, err
			}
			return out(o), nil
		})

	huma.Register(api, op("redeem-order", http.MethodPost, "/orders/{id}/redeem", "Redeem the pickup or voucher code shown at the booth (the stall's merchant)", 0, 403, 404, 409, 422),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				Code string `json:"code"`
			}
		}) (*body[*Order], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			o, err := h.svc.Redeem(ctx, a, in.ID, in.Body.Code)
			if err != nil {
				return nil, err
			}
			return out(o), nil
		})

	ro := op("refund-order", http.MethodPost, "/orders/{id}/refunds", "Refund all or part of an order (the stall's merchant or the fair's organizer). Honours Idempotency-Key.", http.StatusCreated, 403, 404, 409, 422, 502)
	ro.Parameters = o.Parameters
	huma.Register(api, ro, func(ctx context.Context, in *struct {
		ID   string `path:"id"`
		Body struct {
			Amount *int64 `json:"amount,omitempty" doc:"in fen; all that is left when absent"`
			Reason string `json:"reason"`
		}
	}) (*body[*Refund], error) {
		a, err := h.signedIn(ctx)
		if err != nil {
			return nil, err
		}
		r, err := h.svc.RefundOrder(ctx, a, in.ID, in.Body.Amount, in.Body.Reason)
		if err != nil {
			return nil, err
		}
		return out(r), nil
	})

	tag = []string{"Payments"}
	type paymentView struct {
		Payment *Payment `json:"payment"`
		Orders  []Order  `json:"orders"`
	}
	huma.Register(api, op("get-payment", http.MethodGet, "/payments/{id}", "A payment and its orders (the payer)", 0, 404),
		func(ctx context.Context, in *idPath) (*body[paymentView], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			p, orders, err := h.svc.Payment(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return out(paymentView{p, orders}), nil
		})

	huma.Register(api, op("complete-sandbox-payment", http.MethodPost, "/payments/sandbox/{payment_id}/complete", "Choose the outcome of a sandbox payment (the payer; 404 when the sandbox is off)", 0, 404, 409, 422),
		func(ctx context.Context, in *struct {
			PaymentID string `path:"payment_id"`
			Body      struct {
				Outcome string `json:"outcome" enum:"succeeded,failed"`
			}
		}) (*body[*Payment], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			p, err := h.svc.CompleteSandbox(ctx, a.UserID, in.PaymentID, in.Body.Outcome)
			if err != nil {
				return nil, err
			}
			return out(p), nil
		})

	huma.Register(api, op("payout-account-link", http.MethodPost, "/stalls/{id}/payout-account", "Connect the stall's Stripe payout account: returns the onboarding link (its merchant)", 0, 403, 404, 409, 502),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				ReturnURL string `json:"return_url" format:"uri" doc:"where Stripe sends the merchant back"`
			}
		}) (*body[struct {
			URL string `json:"url"`
		}], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			url, err := h.svc.PayoutAccountLink(ctx, a, in.ID, in.Body.ReturnURL)
			if err != nil {
				return nil, err
			}
			return out(struct {
				URL string `json:"url"`
			}{url}), nil
		})

	tag = []string{"Totals"}
	type slugPath struct {
		Slug string `path:"slug"`
	}
	huma.Register(api, op("fair-totals", http.MethodGet, "/fairs/{slug}/totals", "A fair's sales totals (its organizer)", 0, 403, 404),
		func(ctx context.Context, in *slugPath) (*body[*Totals], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			t, err := h.svc.FairTotals(ctx, a, in.Slug)
			if err != nil {
				return nil, err
			}
			return out(t), nil
		})

	type fairCSVIn struct {
		Slug  string `path:"slug"`
		Table string `query:"table" default:"stall" enum:"stall,day,hour,category,fulfillment,flash_sale,development" doc:"which table of the totals"`
	}
	huma.Register(api, op("fair-totals-csv", http.MethodGet, "/fairs/{slug}/totals.csv", "A fair's totals per stall (or another of its tables), as CSV (its organizer)", 0, 403, 404),
		func(ctx context.Context, in *fairCSVIn) (*csvOut, error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			t, err := h.svc.FairTotals(ctx, a, in.Slug)
			if err != nil {
				return nil, err
			}
			name := in.Slug + "-totals"
			if in.Table != "stall" {
				name += "-" + in.Table
			}
			return newCSVOut(name, t.CSV(in.Table)), nil
		})

	huma.Register(api, op("stall-totals", http.MethodGet, "/stalls/{id}/totals", "A stall's own totals (its merchant)", 0, 403, 404),
		func(ctx context.Context, in *idPath) (*body[*StallTotals], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			t, err := h.svc.StallTotalsFor(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return out(t), nil
		})

	type stallCSVIn struct {
		ID    string `path:"id"`
		Table string `query:"table" default:"day" enum:"day,hour,category,fulfillment,flash_sale,development" doc:"which table of the totals"`
	}
	huma.Register(api, op("stall-totals-csv", http.MethodGet, "/stalls/{id}/totals.csv", "One table of a stall's totals, as CSV (its merchant)", 0, 403, 404),
		func(ctx context.Context, in *stallCSVIn) (*csvOut, error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			t, err := h.svc.StallTotalsFor(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return newCSVOut("stall-"+in.ID+"-totals-"+in.Table, t.CSV(in.Table)), nil
		})
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
