package catalog

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// List is one page of a list and the cursor of the next page (null at the end).
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor" nullable:"true"`
}

// NewList wraps a page of items; an empty page is [] rather than null.
func NewList[T any](items []T, next *string) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, NextCursor: next}
}

// PageQuery is the ?limit=&cursor= of list endpoints.
type PageQuery struct {
	Limit  int    `query:"limit" minimum:"0" doc:"items per page (default 20, at most 100)"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
}

// Page converts the query to a Page.
func (q PageQuery) Page() Page { return Page{Limit: q.Limit, Cursor: q.Cursor} }

// Signed is the security requirement of operations that need a user.
var Signed = []map[string][]string{{"bearer": {}}, {"cookie": {}}}

// Handler serves the catalog's part of the JSON API.
type Handler struct {
	svc   *Service
	actor func(context.Context) Actor
}

// NewHandler returns the handler; actor tells who sent a request (the zero
// Actor when nobody is signed in).
func NewHandler(svc *Service, actor func(context.Context) Actor) *Handler {
	return &Handler{svc: svc, actor: actor}
}

func (h *Handler) signedIn(ctx context.Context) (Actor, error) {
	a := h.actor(ctx)
	if a.UserID == "" {
		return a, fmt.Errorf("sign in first: %w", ErrUnauthorized)
	}
	return a, nil
}

type body[T any] struct{ Body T }

func out[T any](v T) *body[T] { return &body[T]{Body: v} }

// items is a complete list, in the shape of every list of the API (its
// next_cursor is always null).
type items[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor" nullable:"true"`
}

func itemsOf[T any](v []T) *body[items[T]] {
	if v == nil {
		v = []T{}
	}
	return out(items[T]{Items: v})
}

type noContent struct{}

// Routes registers every catalog operation on api.
func (h *Handler) Routes(api huma.API) {
	tag := []string{"Fairs"}
	op := func(id, method, path, summary string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: "/api/v1" + path, Summary: summary, Tags: tag, DefaultStatus: status, Errors: errs}
	}
	signed := func(o huma.Operation) huma.Operation { o.Security = Signed; return o }

	// Fairs.
	type fairBody struct {
		Slug                 string    `json:"slug" example:"taizhou-2026" doc:"3-64 lower-case letters, digits and dashes"`
		Name                 string    `json:"name" example:"泰州网络庙会" doc:"the name in Chinese"`
		NameEN               string    `json:"name_en,omitempty" example:"Taizhou Online Temple Fair"`
		Kind                 string    `json:"kind" enum:"temple_fair,property_season"`
		StartsAt             time.Time `json:"starts_at"`
		EndsAt               time.Time `json:"ends_at"`
		CommissionBPS        int       `json:"commission_bps" doc:"platform commission in basis points"`
		Description          string    `json:"description,omitempty"`
		DescriptionEN        string    `json:"description_en,omitempty"`
		PaymentWindowSeconds int       `json:"payment_window_seconds,omitempty"`
		Published            *bool     `json:"published,omitempty" doc:"false keeps the fair a draft only its organizer sees (default true)"`
	}
	huma.Register(api, signed(op("create-fair", http.MethodPost, "/fairs", "Create a fair (organizers)", http.StatusCreated, 401, 403, 409, 422)),
		func(ctx context.Context, in *body[fairBody]) (*body[*Fair], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			f, err := h.svc.CreateFair(ctx, a, FairInput{
				Slug: &b.Slug, Name: &b.Name, NameEN: &b.NameEN, Kind: &b.Kind, StartsAt: &b.StartsAt, EndsAt: &b.EndsAt,
				CommissionBPS: &b.CommissionBPS, Description: &b.Description, DescriptionEN: &b.DescriptionEN,
				PaymentWindowSeconds: &b.PaymentWindowSeconds, Published: b.Published,
			})
			if err != nil {
				return nil, err
			}
			return out(f), nil
		})

	huma.Register(api, op("list-fairs", http.MethodGet, "/fairs", "List fairs", 0),
		func(ctx context.Context, in *PageQuery) (*body[List[Fair]], error) {
			rows, next, err := h.svc.Fairs(ctx, h.actor(ctx), in.Page())
			if err != nil {
				return nil, err
			}
			return out(NewList(rows, next)), nil
		})

	type slugPath struct {
		Slug string `path:"slug"`
	}
	huma.Register(api, op("get-fair", http.MethodGet, "/fairs/{slug}", "One fair", 0, 404),
		func(ctx context.Context, in *slugPath) (*body[*Fair], error) {
			f, err := h.svc.Fair(ctx, h.actor(ctx), in.Slug)
			if err != nil {
				return nil, err
			}
			return out(f), nil
		})

	type fairPatch struct {
		Slug                 *string    `json:"slug,omitempty"`
		Name                 *string    `json:"name,omitempty"`
		NameEN               *string    `json:"name_en,omitempty"`
		Kind                 *string    `json:"kind,omitempty" enum:"temple_fair,property_season"`
		StartsAt             *time.Time `json:"starts_at,omitempty"`
		EndsAt               *time.Time `json:"ends_at,omitempty"`
		CommissionBPS        *int       `json:"commission_bps,omitempty"`
		Description          *string    `json:"description,omitempty"`
		DescriptionEN        *string    `json:"description_en,omitempty"`
		PaymentWindowSeconds *int       `json:"payment_window_seconds,omitempty"`
		Published            *bool      `json:"published,omitempty"`
	}
	huma.Register(api, signed(op("update-fair", http.MethodPatch, "/fairs/{slug}", "Edit a fair (its organizer)", 0, 401, 403, 404, 409, 422)),
		func(ctx context.Context, in *struct {
			Slug string `path:"slug"`
			Body fairPatch
		}) (*body[*Fair], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			f, err := h.svc.UpdateFair(ctx, a, in.Slug, FairInput{
				Slug: b.Slug, Name: b.Name, NameEN: b.NameEN, Kind: b.Kind, StartsAt: b.StartsAt, EndsAt: b.EndsAt,
				CommissionBPS: b.CommissionBPS, Description: b.Description, DescriptionEN: b.DescriptionEN,
				PaymentWindowSeconds: b.PaymentWindowSeconds, Published: b.Published,
			})
			if err != nil {
				return nil, err
			}
			return out(f), nil
		})

	huma.Register(api, op("list-categories", http.MethodGet, "/fairs/{slug}/categories", "A fair's product categories", 0, 404),
		func(ctx context.Context, in *slugPath) (*body[items[Category]], error) {
			f, err := h.svc.Fair(ctx, h.actor(ctx), in.Slug)
			if err != nil {
				return nil, err
			}
			cats, err := h.svc.Categories(ctx, f.ID)
			if err != nil {
				return nil, err
			}
			return itemsOf(cats), nil
		})

	// Applications (商家入驻).
	tag = []string{"Enrolment"}
	huma.Register(api, signed(op("apply", http.MethodPost, "/fairs/{slug}/applications", "Apply for a stall (merchants)", http.StatusCreated, 401, 403, 404, 409, 422)),
		func(ctx context.Context, in *struct {
			Slug string `path:"slug"`
			Body struct {
				StallName   string `json:"stall_name" example:"老街臭干坊"`
				Description string `json:"description,omitempty"`
			}
		}) (*body[*Application], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			app, err := h.svc.Apply(ctx, a, in.Slug, in.Body.StallName, in.Body.Description)
			if err != nil {
				return nil, err
			}
			return out(app), nil
		})

	huma.Register(api, signed(op("list-applications", http.MethodGet, "/fairs/{slug}/applications", "A fair's applications (its organizer)", 0, 401, 403, 404)),
		func(ctx context.Context, in *struct {
			Slug   string `path:"slug"`
			Status string `query:"status" enum:"pending,approved,rejected" doc:"only this status"`
			PageQuery
		}) (*body[List[Application]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, next, err := h.svc.Applications(ctx, a, in.Slug, in.Status, in.Page())
			if err != nil {
				return nil, err
			}
			return out(NewList(rows, next)), nil
		})

	huma.Register(api, signed(op("my-applications", http.MethodGet, "/me/applications", "The merchant's own applications", 0, 401)),
		func(ctx context.Context, _ *struct{}) (*body[items[Application]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, err := h.svc.MyApplications(ctx, a)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})

	type idPath struct {
		ID string `path:"id"`
	}
	type approval struct {
		Application *Application `json:"application"`
		Stall       *Stall       `json:"stall"`
	}
	huma.Register(api, signed(op("approve-application", http.MethodPost, "/applications/{id}/approve", "Approve an application: opens the stall (the fair's organizer)", 0, 401, 404, 409)),
		func(ctx context.Context, in *idPath) (*body[approval], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			app, st, err := h.svc.Approve(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return out(approval{app, st}), nil
		})

	huma.Register(api, signed(op("reject-application", http.MethodPost, "/applications/{id}/reject", "Reject an application with a reason (the fair's organizer)", 0, 401, 404, 409, 422)),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				Reason string `json:"reason"`
			}
		}) (*body[*Application], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			app, err := h.svc.Reject(ctx, a, in.ID, in.Body.Reason)
			if err != nil {
				return nil, err
			}
			return out(app), nil
		})

	// Stalls.
	tag = []string{"Stalls"}
	huma.Register(api, op("list-stalls", http.MethodGet, "/fairs/{slug}/stalls", "A fair's stalls", 0, 404),
		func(ctx context.Context, in *struct {
			Slug string `path:"slug"`
			PageQuery
		}) (*body[List[Stall]], error) {
			rows, next, err := h.svc.Stalls(ctx, h.actor(ctx), in.Slug, in.Page())
			if err != nil {
				return nil, err
			}
			return out(NewList(rows, next)), nil
		})

	huma.Register(api, op("get-stall", http.MethodGet, "/stalls/{id}", "One stall", 0, 404),
		func(ctx context.Context, in *idPath) (*body[*Stall], error) {
			sa, err := h.svc.Stall(ctx, h.actor(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return out(sa.Stall), nil
		})

	huma.Register(api, signed(op("my-stalls", http.MethodGet, "/me/stalls", "The merchant's own stalls", 0, 401)),
		func(ctx context.Context, _ *struct{}) (*body[items[Stall]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, err := h.svc.MyStalls(ctx, a)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})

	huma.Register(api, signed(op("update-stall", http.MethodPatch, "/stalls/{id}", "Edit the stall profile (its merchant)", 0, 401, 403, 404, 422)),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				Name        *string `json:"name,omitempty"`
				Description *string `json:"description,omitempty"`
				Address     *string `json:"address,omitempty"`
				District    *string `json:"district,omitempty"`
			}
		}) (*body[*Stall], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			st, err := h.svc.UpdateStall(ctx, a, in.ID, StallInput{Name: b.Name, Description: b.Description, Address: b.Address, District: b.District})
			if err != nil {
				return nil, err
			}
			return out(st), nil
		})

	for _, action := range []struct{ verb, status, summary string }{
		{"suspend", StallSuspended, "Suspend a stall: its products are hidden and cannot be bought (the fair's organizer)"},
		{"reinstate", StallActive, "Reinstate a suspended stall (the fair's organizer)"},
	} {
		huma.Register(api, signed(op(action.verb+"-stall", http.MethodPost, "/stalls/{id}/"+action.verb, action.summary, 0, 401, 403, 404)),
			func(ctx context.Context, in *idPath) (*body[*Stall], error) {
				a, err := h.signedIn(ctx)
				if err != nil {
					return nil, err
				}
				st, err := h.svc.SetStallStatus(ctx, a, in.ID, action.status)
				if err != nil {
					return nil, err
				}
				return out(st), nil
			})
	}

	// Products.
	tag = []string{"Products"}
	type productBody struct {
		Title       string     `json:"title" example:"泰州臭干"`
		Description string     `json:"description,omitempty"`
		Price       int64      `json:"price" doc:"in fen"`
		Currency    string     `json:"currency" enum:"CNY"`
		Stock       int64      `json:"stock"`
		Kind        string     `json:"kind" enum:"goods,voucher"`
		Fulfillment string     `json:"fulfillment,omitempty" enum:"ship,pickup" doc:"goods only; vouchers are redeemed in person"`
		Category    string     `json:"category,omitempty" doc:"a category slug of the fair"`
		OffsetValue int64      `json:"offset_value,omitempty" doc:"vouchers: what it takes off at signing, in fen"`
		ValidUntil  *time.Time `json:"valid_until,omitempty" doc:"vouchers: last moment it can be redeemed"`
	}
	huma.Register(api, signed(op("create-product", http.MethodPost, "/stalls/{id}/products", "Add a product (the stall's merchant)", http.StatusCreated, 401, 403, 404, 422)),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body productBody
		}) (*body[*Product], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			pi := ProductInput{Title: &b.Title, Description: &b.Description, Price: &b.Price, Currency: &b.Currency, Stock: &b.Stock,
				Kind: &b.Kind, Category: &b.Category, OffsetValue: &b.OffsetValue, ValidUntil: b.ValidUntil}
			if b.Fulfillment != "" {
				pi.Fulfillment = &b.Fulfillment
			}
			p, err := h.svc.CreateProduct(ctx, a, in.ID, pi)
			if err != nil {
				return nil, err
			}
			return out(p), nil
		})

	huma.Register(api, op("stall-products", http.MethodGet, "/stalls/{id}/products", "A stall's products (hidden ones too, for its merchant)", 0, 404),
		func(ctx context.Context, in *idPath) (*body[items[Product]], error) {
			rows, err := h.svc.StallProducts(ctx, h.actor(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})

	huma.Register(api, op("get-product", http.MethodGet, "/products/{id}", "One product", 0, 404),
		func(ctx context.Context, in *idPath) (*body[*Product], error) {
			p, _, err := h.svc.Product(ctx, h.actor(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return out(p), nil
		})

	huma.Register(api, signed(op("update-product", http.MethodPatch, "/products/{id}", "Edit a product (the stall's merchant); orders placed keep their price", 0, 401, 403, 404, 422)),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				Title       *string    `json:"title,omitempty"`
				Description *string    `json:"description,omitempty"`
				Price       *int64     `json:"price,omitempty"`
				Currency    *string    `json:"currency,omitempty" enum:"CNY"`
				Stock       *int64     `json:"stock,omitempty"`
				Kind        *string    `json:"kind,omitempty" enum:"goods,voucher"`
				Fulfillment *string    `json:"fulfillment,omitempty" enum:"ship,pickup"`
				Category    *string    `json:"category,omitempty"`
				OffsetValue *int64     `json:"offset_value,omitempty"`
				ValidUntil  *time.Time `json:"valid_until,omitempty"`
				Active      *bool      `json:"active,omitempty"`
			}
		}) (*body[*Product], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			p, err := h.svc.UpdateProduct(ctx, a, in.ID, ProductInput{Title: b.Title, Description: b.Description, Price: b.Price, Currency: b.Currency,
				Stock: b.Stock, Kind: b.Kind, Fulfillment: b.Fulfillment, Category: b.Category, OffsetValue: b.OffsetValue, ValidUntil: b.ValidUntil, Active: b.Active})
			if err != nil {
				return nil, err
			}
			return out(p), nil
		})

	type imageForm struct {
		Image huma.FormFile `form:"image" required:"true" doc:"JPEG, PNG, WebP or GIF, at most 2 MiB"`
	}
	huma.Register(api, signed(op("add-product-image", http.MethodPost, "/products/{id}/images", "Upload a product photo (the stall's merchant)", http.StatusCreated, 401, 403, 404, 409, 422)),
		func(ctx context.Context, in *struct {
			ID      string `path:"id"`
			RawBody huma.MultipartFormFiles[imageForm]
		}) (*body[*Image], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			f := in.RawBody.Data().Image
			data, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
			if err != nil {
				return nil, err
			}
			img, err := h.svc.AddImage(ctx, a, in.ID, data)
			if err != nil {
				return nil, err
			}
			return out(img), nil
		})

	huma.Register(api, signed(op("remove-product-image", http.MethodDelete, "/products/{id}/images/{image_id}", "Remove a product photo (the stall's merchant)", http.StatusNoContent, 401, 403, 404)),
		func(ctx context.Context, in *struct {
			ID      string `path:"id"`
			ImageID string `path:"image_id"`
		}) (*noContent, error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			return nil, h.svc.RemoveImage(ctx, a, in.ID, in.ImageID)
		})

	huma.Register(api, op("search-products", http.MethodGet, "/fairs/{slug}/products", "Browse and search a fair's products (Chinese text too)", 0, 404, 422),
		func(ctx context.Context, in *struct {
			Slug     string `path:"slug"`
			Q        string `query:"q" doc:"text in the title or description, e.g. 臭干"`
			StallID  string `query:"stall_id"`
			Kind     string `query:"kind" enum:"goods,voucher"`
			Category string `query:"category" doc:"a category slug"`
			PageQuery
		}) (*body[List[Product]], error) {
			rows, next, err := h.svc.Products(ctx, h.actor(ctx), in.Slug, ProductQuery{Q: in.Q, StallID: in.StallID, Kind: in.Kind, Category: in.Category, Page: in.Page()})
			if err != nil {
				return nil, err
			}
			return out(NewList(rows, next)), nil
		})

	// Property seasons: unit types, viewing slots, bookings.
	tag = []string{"Property"}
	type unitBody struct {
		Name           string  `json:"name" example:"三室两厅"`
		AreaM2         float64 `json:"area_m2" example:"118.5"`
		PricePerM2     int64   `json:"price_per_m2" doc:"in fen"`
		UnitsAvailable int     `json:"units_available"`
	}
	huma.Register(api, signed(op("add-unit-type", http.MethodPost, "/stalls/{id}/unit-types", "Add a floor plan to a development (its merchant)", http.StatusCreated, 401, 403, 404, 409, 422)),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body unitBody
		}) (*body[*UnitType], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b := in.Body
			u, err := h.svc.AddUnitType(ctx, a, in.ID, UnitTypeInput{Name: b.Name, AreaM2: b.AreaM2, PricePerM2: b.PricePerM2, UnitsAvailable: b.UnitsAvailable})
			if err != nil {
				return nil, err
			}
			return out(u), nil
		})

	huma.Register(api, op("list-unit-types", http.MethodGet, "/stalls/{id}/unit-types", "A development's floor plans", 0, 404),
		func(ctx context.Context, in *idPath) (*body[items[UnitType]], error) {
			rows, err := h.svc.UnitTypes(ctx, h.actor(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})

	huma.Register(api, signed(op("remove-unit-type", http.MethodDelete, "/stalls/{id}/unit-types/{unit_id}", "Remove a floor plan (the development's merchant)", http.StatusNoContent, 401, 403, 404, 409)),
		func(ctx context.Context, in *struct {
			ID     string `path:"id"`
			UnitID string `path:"unit_id"`
		}) (*noContent, error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			return nil, h.svc.RemoveUnitType(ctx, a, in.ID, in.UnitID)
		})

	huma.Register(api, signed(op("add-slot", http.MethodPost, "/stalls/{id}/slots", "Publish a viewing slot (the development's merchant)", http.StatusCreated, 401, 403, 404, 409, 422)),
		func(ctx context.Context, in *struct {
			ID   string `path:"id"`
			Body struct {
				StartsAt time.Time `json:"starts_at"`
				EndsAt   time.Time `json:"ends_at"`
				Capacity int       `json:"capacity"`
			}
		}) (*body[*ViewingSlot], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			v, err := h.svc.AddSlot(ctx, a, in.ID, SlotInput{StartsAt: in.Body.StartsAt, EndsAt: in.Body.EndsAt, Capacity: in.Body.Capacity})
			if err != nil {
				return nil, err
			}
			return out(v), nil
		})

	huma.Register(api, op("list-slots", http.MethodGet, "/stalls/{id}/slots", "A development's coming viewing slots", 0, 404),
		func(ctx context.Context, in *idPath) (*body[items[ViewingSlot]], error) {
			rows, err := h.svc.Slots(ctx, h.actor(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})

	huma.Register(api, signed(op("development-bookings", http.MethodGet, "/stalls/{id}/bookings", "Who booked a development's viewings (its merchant)", 0, 401, 403, 404, 409)),
		func(ctx context.Context, in *idPath) (*body[items[Booking]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, err := h.svc.SlotBookings(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})

	huma.Register(api, signed(op("book-slot", http.MethodPost, "/slots/{id}/bookings", "Book a viewing (one per development); a full slot is 409", http.StatusCreated, 401, 404, 409)),
		func(ctx context.Context, in *idPath) (*body[*Booking], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b, err := h.svc.Book(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return out(b), nil
		})

	huma.Register(api, signed(op("cancel-booking", http.MethodPost, "/bookings/{id}/cancel", "Cancel one's viewing booking", 0, 401, 404, 409)),
		func(ctx context.Context, in *idPath) (*body[*Booking], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			b, err := h.svc.CancelBooking(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return out(b), nil
		})

	huma.Register(api, signed(op("my-bookings", http.MethodGet, "/me/bookings", "The user's viewing bookings", 0, 401)),
		func(ctx context.Context, _ *struct{}) (*body[items[Booking]], error) {
			a, err := h.signedIn(ctx)
			if err != nil {
				return nil, err
			}
			rows, err := h.svc.MyBookings(ctx, a)
			if err != nil {
				return nil, err
			}
			return itemsOf(rows), nil
		})
}
