package catalog

import (
	"context"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

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

// Routes registers every catalog operation on api.
func (h *Handler) Routes(api huma.API) {
	const get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	const created, none = http.StatusCreated, http.StatusNoContent

	fairs := Tag("Fairs")
	huma.Register(api, fairs.Signed("create-fair", post, "/fairs", "Create a fair (organizers)", created, 403, 409, 422), SignedIn(h.actor, h.createFair))
	huma.Register(api, fairs.Public("list-fairs", get, "/fairs", "List fairs", 0), Public(h.actor, h.listFairs))
	huma.Register(api, fairs.Public("get-fair", get, "/fairs/{slug}", "One fair", 0, 404), Public(h.actor, h.getFair))
	huma.Register(api, fairs.Signed("update-fair", patch, "/fairs/{slug}", "Edit a fair (its organizer)", 0, 403, 404, 409, 422), SignedIn(h.actor, h.updateFair))
	huma.Register(api, fairs.Signed("create-edition", post, "/fairs/{slug}/editions", "Start the next edition of a fair: same series, settings copied (its organizer)", created, 403, 404, 409, 422), SignedIn(h.actor, h.createEdition))
	huma.Register(api, fairs.Public("list-categories", get, "/fairs/{slug}/categories", "A fair's product categories", 0, 404), Public(h.actor, h.listCategories))

	// Applications (商家入驻).
	enrol := Tag("Enrolment")
	huma.Register(api, enrol.Signed("apply", post, "/fairs/{slug}/applications", "Apply for a stall (merchants)", created, 403, 404, 409, 422), SignedIn(h.actor, h.apply))
	huma.Register(api, enrol.Signed("list-applications", get, "/fairs/{slug}/applications", "A fair's applications, oldest first: one status, searched by stall name or merchant email (its organizer)", 0, 403, 404, 422), SignedIn(h.actor, h.listApplications))
	huma.Register(api, enrol.Signed("bulk-decide-applications", post, "/fairs/{slug}/applications/bulk", "Approve or reject many applications at once, each in its own transaction: the answer says what became of each (its organizer)", 0, 403, 404, 422), SignedIn(h.actor, h.bulkDecide))
	huma.Register(api, enrol.Signed("my-applications", get, "/me/applications", "The merchant's own applications", 0), SignedIn(h.actor, h.myApplications))
	huma.Register(api, enrol.Signed("approve-application", post, "/applications/{id}/approve", "Approve an application: opens the stall (the fair's organizer)", 0, 404, 409), SignedIn(h.actor, h.approve))
	huma.Register(api, enrol.Signed("add-application-document", post, "/applications/{id}/documents", "Attach a licence document: JPEG, PNG or PDF (the merchant who applied)", created, 403, 404, 409, 422), SignedIn(h.actor, h.addDocument))
	huma.Register(api, enrol.Signed("list-application-documents", get, "/applications/{id}/documents", "An application's licence documents (its merchant and the fair's organizer)", 0, 404), SignedIn(h.actor, h.listDocuments))
	huma.Register(api, enrol.Signed("get-application-document", get, "/applications/{id}/documents/{doc_id}", "Download a licence document (its merchant and the fair's organizer)", 0, 404), SignedInRaw(h.actor, h.getDocument))
	huma.Register(api, enrol.Signed("reject-application", post, "/applications/{id}/reject", "Reject an application with a reason (the fair's organizer)", 0, 404, 409, 422), SignedIn(h.actor, h.reject))

	stalls := Tag("Stalls")
	huma.Register(api, stalls.Public("list-stalls", get, "/fairs/{slug}/stalls", "A fair's stalls: active ones, or all of them (one status) for its organizer; searched by name or booth number, and merchant email for the organizer", 0, 404, 422), Public(h.actor, h.listStalls))
	huma.Register(api, stalls.Public("get-stall", get, "/stalls/{id}", "One stall", 0, 404), Public(h.actor, h.getStall))
	huma.Register(api, stalls.Signed("my-stalls", get, "/me/stalls", "The merchant's own stalls", 0), SignedIn(h.actor, h.myStalls))
	huma.Register(api, stalls.Signed("update-stall", patch, "/stalls/{id}", "Edit the stall profile (its merchant)", 0, 403, 404, 422), SignedIn(h.actor, h.updateStall))
	huma.Register(api, stalls.Signed("suspend-stall", post, "/stalls/{id}/suspend", "Suspend a stall with a reason its merchant is told: its products are hidden and cannot be bought (the fair's organizer)", 0, 403, 404, 422), SignedIn(h.actor, h.suspendStall))
	huma.Register(api, stalls.Signed("reinstate-stall", post, "/stalls/{id}/reinstate", "Reinstate a suspended stall; its merchant is told (the fair's organizer)", 0, 403, 404, 422), SignedIn(h.actor, h.reinstateStall))
	huma.Register(api, stalls.Signed("set-stall-booth", http.MethodPut, "/stalls/{id}/booth", "Set the stall's booth number, unique in the fair; the floor plan follows (the fair's organizer)", 0, 403, 404, 409, 422), SignedIn(h.actor, h.setBooth))
	huma.Register(api, fairs.Signed("fair-audit", get, "/fairs/{slug}/audit", "Who did what at the fair, newest first (its organizer)", 0, 403, 404, 422), SignedIn(h.actor, h.fairAudit))

	products := Tag("Products")
	huma.Register(api, products.Signed("create-product", post, "/stalls/{id}/products", "Add a product (the stall's merchant)", created, 403, 404, 422), SignedIn(h.actor, h.createProduct))
	huma.Register(api, products.Public("stall-products", get, "/stalls/{id}/products", "A stall's products (hidden ones too, for its merchant)", 0, 404), Public(h.actor, h.stallProducts))
	huma.Register(api, products.Public("get-product", get, "/products/{id}", "One product", 0, 404), Public(h.actor, h.getProduct))
	huma.Register(api, products.Signed("update-product", patch, "/products/{id}", "Edit a product (the stall's merchant); orders placed keep their price", 0, 403, 404, 422), SignedIn(h.actor, h.updateProduct))
	huma.Register(api, products.Signed("add-product-image", post, "/products/{id}/images", "Upload a product photo (the stall's merchant)", created, 403, 404, 409, 422), SignedIn(h.actor, h.addProductImage))
	huma.Register(api, products.Signed("remove-product-image", del, "/products/{id}/images/{image_id}", "Remove a product photo (the stall's merchant)", none, 403, 404), SignedInRaw(h.actor, h.removeProductImage))
	huma.Register(api, products.Public("search-products", get, "/fairs/{slug}/products", "Browse and search a fair's products (Chinese text too)", 0, 404, 422), Public(h.actor, h.searchProducts))
	huma.Register(api, products.Public("suggest-products", get, "/fairs/{slug}/suggest", "Completions of what a shopper types in the search box: titles and stall names, pinyin too", 0, 404, 422), Public(h.actor, h.suggest))

	// Property seasons: unit types, viewing slots, bookings.
	property := Tag("Property")
	huma.Register(api, property.Signed("add-unit-type", post, "/stalls/{id}/unit-types", "Add a floor plan to a development (its merchant)", created, 403, 404, 409, 422), SignedIn(h.actor, h.addUnitType))
	huma.Register(api, property.Public("list-unit-types", get, "/stalls/{id}/unit-types", "A development's floor plans", 0, 404), Public(h.actor, h.listUnitTypes))
	huma.Register(api, property.Signed("remove-unit-type", del, "/stalls/{id}/unit-types/{unit_id}", "Remove a floor plan (the development's merchant)", none, 403, 404, 409), SignedInRaw(h.actor, h.removeUnitType))
	huma.Register(api, property.Signed("add-slot", post, "/stalls/{id}/slots", "Publish a viewing slot (the development's merchant)", created, 403, 404, 409, 422), SignedIn(h.actor, h.addSlot))
	huma.Register(api, property.Public("list-slots", get, "/stalls/{id}/slots", "A development's coming viewing slots", 0, 404), Public(h.actor, h.listSlots))
	huma.Register(api, property.Signed("development-bookings", get, "/stalls/{id}/bookings", "Who booked a development's viewings (its merchant)", 0, 403, 404, 409), SignedIn(h.actor, h.developmentBookings))
	huma.Register(api, property.Signed("book-slot", post, "/slots/{id}/bookings", "Book a viewing (one per development); a full slot is 409", created, 404, 409), SignedIn(h.actor, h.bookSlot))
	huma.Register(api, property.Signed("cancel-booking", post, "/bookings/{id}/cancel", "Cancel one's viewing booking", 0, 404, 409), SignedIn(h.actor, h.cancelBooking))
	huma.Register(api, property.Signed("my-bookings", get, "/me/bookings", "The user's viewing bookings", 0), SignedIn(h.actor, h.myBookings))

	// The offline fair's floor plan.
	huma.Register(api, fairs.Public("get-fair-map", get, "/fairs/{slug}/map", "The fair's floor plan: its booths and their stalls", 0, 404), Public(h.actor, h.getFairMap))
	huma.Register(api, fairs.Signed("set-fair-map", http.MethodPut, "/fairs/{slug}/map", "Replace the fair's floor plan (its organizer)", 0, 403, 404, 422), SignedIn(h.actor, h.setFairMap))

	// Booth staff (核销员).
	huma.Register(api, stalls.Signed("add-stall-staff", post, "/stalls/{id}/staff", "Let a registered user work the stall's booth: list its orders, redeem, record booth sales (its merchant)", created, 403, 404, 422), SignedIn(h.actor, h.addStaff))
	huma.Register(api, stalls.Signed("list-stall-staff", get, "/stalls/{id}/staff", "The stall's booth staff (its merchant)", 0, 403, 404), SignedIn(h.actor, h.listStaff))
	huma.Register(api, stalls.Signed("remove-stall-staff", del, "/stalls/{id}/staff/{user_id}", "End a user's work at the stall's booth (its merchant)", none, 403, 404), SignedInRaw(h.actor, h.removeStaff))
}

// The inputs of the operations. Those that are aliases of unnamed structs
// stay unnamed for huma, which names their bodies after the operation
// ("create-fairRequest" and so on) in the OpenAPI document.

type slugPath struct {
	Slug string `path:"slug"`
}

type idPath struct {
	ID string `path:"id"`
}

// items is a complete list, in the shape of every list of the API (its
// next_cursor is always null).
type items[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor" nullable:"true"`
}

func itemsOf[T any](v []T) items[T] {
	if v == nil {
		v = []T{}
	}
	return items[T]{Items: v}
}

// ---- Fairs ----

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

func (h *Handler) createFair(ctx context.Context, a Actor, in *Body[fairBody]) (*Fair, error) {
	b := in.Body
	return h.svc.CreateFair(ctx, a, FairInput{
		Slug: &b.Slug, Name: &b.Name, NameEN: &b.NameEN, Kind: &b.Kind, StartsAt: &b.StartsAt, EndsAt: &b.EndsAt,
		CommissionBPS: &b.CommissionBPS, Description: &b.Description, DescriptionEN: &b.DescriptionEN,
		PaymentWindowSeconds: &b.PaymentWindowSeconds, Published: b.Published,
	})
}

func (h *Handler) listFairs(ctx context.Context, a Actor, in *PageQuery) (List[Fair], error) {
	rows, next, err := h.svc.Fairs(ctx, a, in.Page())
	return NewList(rows, next), err
}

func (h *Handler) getFair(ctx context.Context, a Actor, in *slugPath) (*Fair, error) {
	return h.svc.Fair(ctx, a, in.Slug)
}

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

type updateFairIn = struct {
	Slug string `path:"slug"`
	Body fairPatch
}

func (h *Handler) updateFair(ctx context.Context, a Actor, in *updateFairIn) (*Fair, error) {
	b := in.Body
	return h.svc.UpdateFair(ctx, a, in.Slug, FairInput{
		Slug: b.Slug, Name: b.Name, NameEN: b.NameEN, Kind: b.Kind, StartsAt: b.StartsAt, EndsAt: b.EndsAt,
		CommissionBPS: b.CommissionBPS, Description: b.Description, DescriptionEN: b.DescriptionEN,
		PaymentWindowSeconds: b.PaymentWindowSeconds, Published: b.Published,
	})
}

type createEditionIn = struct {
	Slug string `path:"slug"`
	Body struct {
		Slug     string    `json:"slug" example:"taizhou-2027" doc:"the next edition's slug: 3-64 lower-case letters, digits and dashes"`
		StartsAt time.Time `json:"starts_at"`
		EndsAt   time.Time `json:"ends_at"`
	}
}

func (h *Handler) createEdition(ctx context.Context, a Actor, in *createEditionIn) (*Fair, error) {
	return h.svc.CreateEdition(ctx, a, in.Slug, EditionInput{Slug: in.Body.Slug, StartsAt: in.Body.StartsAt, EndsAt: in.Body.EndsAt})
}

func (h *Handler) listCategories(ctx context.Context, a Actor, in *slugPath) (items[Category], error) {
	f, err := h.svc.Fair(ctx, a, in.Slug)
	if err != nil {
		return items[Category]{}, err
	}
	cats, err := h.svc.Categories(ctx, f.ID)
	return itemsOf(cats), err
}

// ---- Applications ----

type applyIn = struct {
	Slug string `path:"slug"`
	Body struct {
		StallName   string `json:"stall_name,omitempty" example:"老街臭干坊" doc:"required unless from_stall is given (then it defaults to that stall's name)"`
		Description string `json:"description,omitempty"`
		FromStall   string `json:"from_stall,omitempty" doc:"re-enrol: the merchant's stall of an earlier edition of this fair; its products are copied on approval"`
	}
}

func (h *Handler) apply(ctx context.Context, a Actor, in *applyIn) (*Application, error) {
	if in.Body.FromStall != "" {
		return h.svc.ReEnrol(ctx, a, in.Slug, in.Body.FromStall, in.Body.StallName, in.Body.Description)
	}
	return h.svc.Apply(ctx, a, in.Slug, in.Body.StallName, in.Body.Description)
}

type listApplicationsIn = struct {
	Slug   string `path:"slug"`
	Status string `query:"status" enum:"pending,approved,rejected" doc:"only this status"`
	Q      string `query:"q" maxLength:"100" doc:"part of the stall's name (any case), or the merchant's whole email"`
	PageQuery
}

func (h *Handler) listApplications(ctx context.Context, a Actor, in *listApplicationsIn) (List[Application], error) {
	rows, next, err := h.svc.SearchApplications(ctx, a, in.Slug, ApplicationQuery{Status: in.Status, Q: in.Q, Page: in.Page()})
	return NewList(rows, next), err
}

type bulkDecideIn = struct {
	Slug string `path:"slug"`
	Body struct {
		IDs    []string `json:"ids" minItems:"1" maxItems:"100" doc:"the applications, 1 to 100"`
		Action string   `json:"action" enum:"approve,reject"`
		Reason string   `json:"reason,omitempty" maxLength:"500" doc:"rejections: why, told to each merchant"`
	}
}

func (h *Handler) bulkDecide(ctx context.Context, a Actor, in *bulkDecideIn) (items[BulkResult], error) {
	rows, err := h.svc.BulkDecide(ctx, a, in.Slug, in.Body.IDs, in.Body.Action, in.Body.Reason)
	return itemsOf(rows), err
}

func (h *Handler) myApplications(ctx context.Context, a Actor, _ *struct{}) (items[Application], error) {
	rows, err := h.svc.MyApplications(ctx, a)
	return itemsOf(rows), err
}

type approval struct {
	Application *Application `json:"application"`
	Stall       *Stall       `json:"stall"`
}

func (h *Handler) approve(ctx context.Context, a Actor, in *idPath) (approval, error) {
	app, st, err := h.svc.Approve(ctx, a, in.ID)
	return approval{app, st}, err
}

type documentForm struct {
	Document huma.FormFile `form:"document" required:"true" doc:"JPEG, PNG or PDF, at most 5 MiB"`
}

type addDocumentIn = struct {
	ID      string `path:"id"`
	RawBody huma.MultipartFormFiles[documentForm]
}

func (h *Handler) addDocument(ctx context.Context, a Actor, in *addDocumentIn) (*Document, error) {
	f := in.RawBody.Data().Document
	data, err := io.ReadAll(io.LimitReader(f, MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	return h.svc.AddDocument(ctx, a, in.ID, f.Filename, data)
}

func (h *Handler) listDocuments(ctx context.Context, a Actor, in *idPath) (items[Document], error) {
	rows, err := h.svc.Documents(ctx, a, in.ID)
	return itemsOf(rows), err
}

type documentIn = struct {
	ID    string `path:"id"`
	DocID string `path:"doc_id"`
}

// documentOut is a document's bytes, never cached by shared caches nor
// sniffed as anything else; PDFs download rather than open on this site.
type documentOut struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CacheControl       string `header:"Cache-Control"`
	NoSniff            string `header:"X-Content-Type-Options"`
	Body               []byte
}

func (h *Handler) getDocument(ctx context.Context, a Actor, in *documentIn) (*documentOut, error) {
	doc, data, err := h.svc.DocumentFile(ctx, a, in.ID, in.DocID)
	if err != nil {
		return nil, err
	}
	disposition := "inline"
	if doc.ContentType == "application/pdf" {
		disposition = "attachment"
	}
	return &documentOut{ContentType: doc.ContentType, ContentDisposition: mime.FormatMediaType(disposition, map[string]string{"filename": doc.Name}),
		CacheControl: "private, no-store", NoSniff: "nosniff", Body: data}, nil
}

type rejectIn = struct {
	ID   string `path:"id"`
	Body struct {
		Reason string `json:"reason"`
	}
}

func (h *Handler) reject(ctx context.Context, a Actor, in *rejectIn) (*Application, error) {
	return h.svc.Reject(ctx, a, in.ID, in.Body.Reason)
}

// ---- Stalls ----

type listStallsIn = struct {
	Slug   string `path:"slug"`
	Status string `query:"status" enum:"active,suspended" doc:"only this status (the organizer; others see active stalls only)"`
	Q      string `query:"q" maxLength:"100" doc:"part of the stall's name (any case), its booth number, or (the organizer) the merchant's whole email"`
	PageQuery
}

func (h *Handler) listStalls(ctx context.Context, a Actor, in *listStallsIn) (List[Stall], error) {
	rows, next, err := h.svc.SearchStalls(ctx, a, in.Slug, StallQuery{Status: in.Status, Q: in.Q, Page: in.Page()})
	return NewList(rows, next), err
}

func (h *Handler) getStall(ctx context.Context, a Actor, in *idPath) (*Stall, error) {
	sa, err := h.svc.Stall(ctx, a, in.ID)
	if err != nil {
		return nil, err
	}
	return sa.Stall, nil
}

func (h *Handler) myStalls(ctx context.Context, a Actor, _ *struct{}) (items[Stall], error) {
	rows, err := h.svc.MyStalls(ctx, a)
	return itemsOf(rows), err
}

type updateStallIn = struct {
	ID   string `path:"id"`
	Body struct {
		Name        *string `json:"name,omitempty"`
		Description *string `json:"description,omitempty"`
		Address     *string `json:"address,omitempty"`
		District    *string `json:"district,omitempty"`
	}
}

func (h *Handler) updateStall(ctx context.Context, a Actor, in *updateStallIn) (*Stall, error) {
	b := in.Body
	return h.svc.UpdateStall(ctx, a, in.ID, StallInput{Name: b.Name, Description: b.Description, Address: b.Address, District: b.District})
}

type suspendStallIn = struct {
	ID   string `path:"id"`
	Body struct {
		Reason string `json:"reason" maxLength:"500" doc:"why, told to the merchant (required)"`
	}
}

func (h *Handler) suspendStall(ctx context.Context, a Actor, in *suspendStallIn) (*Stall, error) {
	return h.svc.SetStallStatus(ctx, a, in.ID, StallSuspended, in.Body.Reason)
}

type reinstateStallIn = struct {
	ID   string `path:"id"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500" doc:"a word to the merchant"`
	} `required:"false"`
}

func (h *Handler) reinstateStall(ctx context.Context, a Actor, in *reinstateStallIn) (*Stall, error) {
	reason := ""
	if in.Body != nil {
		reason = in.Body.Reason
	}
	return h.svc.SetStallStatus(ctx, a, in.ID, StallActive, reason)
}

type setBoothIn = struct {
	ID   string `path:"id"`
	Body struct {
		Booth string `json:"booth" example:"A-012" doc:"1 to 20 letters, digits and dashes; unique in the fair"`
	}
}

func (h *Handler) setBooth(ctx context.Context, a Actor, in *setBoothIn) (*Stall, error) {
	return h.svc.SetBooth(ctx, a, in.ID, in.Body.Booth)
}

type fairAuditIn = struct {
	Slug    string `path:"slug"`
	Action  string `query:"action" maxLength:"64" doc:"only this action, e.g. stall.suspend"`
	ActorID string `query:"actor_id" maxLength:"64" doc:"only this user's actions"`
	PageQuery
}

func (h *Handler) fairAudit(ctx context.Context, a Actor, in *fairAuditIn) (List[AuditItem], error) {
	rows, next, err := h.svc.AuditLog(ctx, a, in.Slug, AuditQuery{Action: in.Action, ActorID: in.ActorID, Page: in.Page()})
	return NewList(rows, next), err
}

// ---- Products ----

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

type createProductIn = struct {
	ID   string `path:"id"`
	Body productBody
}

func (h *Handler) createProduct(ctx context.Context, a Actor, in *createProductIn) (*Product, error) {
	b := in.Body
	pi := ProductInput{Title: &b.Title, Description: &b.Description, Price: &b.Price, Currency: &b.Currency, Stock: &b.Stock,
		Kind: &b.Kind, Category: &b.Category, OffsetValue: &b.OffsetValue, ValidUntil: b.ValidUntil}
	if b.Fulfillment != "" {
		pi.Fulfillment = &b.Fulfillment
	}
	return h.svc.CreateProduct(ctx, a, in.ID, pi)
}

func (h *Handler) stallProducts(ctx context.Context, a Actor, in *idPath) (items[Product], error) {
	rows, err := h.svc.StallProducts(ctx, a, in.ID)
	return itemsOf(rows), err
}

func (h *Handler) getProduct(ctx context.Context, a Actor, in *idPath) (*Product, error) {
	p, _, err := h.svc.Product(ctx, a, in.ID)
	return p, err
}

type updateProductIn = struct {
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
}

func (h *Handler) updateProduct(ctx context.Context, a Actor, in *updateProductIn) (*Product, error) {
	b := in.Body
	return h.svc.UpdateProduct(ctx, a, in.ID, ProductInput{Title: b.Title, Description: b.Description, Price: b.Price, Currency: b.Currency,
		Stock: b.Stock, Kind: b.Kind, Fulfillment: b.Fulfillment, Category: b.Category, OffsetValue: b.OffsetValue, ValidUntil: b.ValidUntil, Active: b.Active})
}

type imageForm struct {
	Image huma.FormFile `form:"image" required:"true" doc:"JPEG, PNG, WebP or GIF, at most 2 MiB"`
}

type addProductImageIn = struct {
	ID      string `path:"id"`
	RawBody huma.MultipartFormFiles[imageForm]
}

func (h *Handler) addProductImage(ctx context.Context, a Actor, in *addProductImageIn) (*Image, error) {
	data, err := io.ReadAll(io.LimitReader(in.RawBody.Data().Image, MaxImageBytes+1))
	if err != nil {
		return nil, err
	}
	return h.svc.AddImage(ctx, a, in.ID, data)
}

func (h *Handler) getFairMap(ctx context.Context, a Actor, in *slugPath) (*FloorPlan, error) {
	return h.svc.FloorPlan(ctx, a, in.Slug)
}

type setFairMapIn = struct {
	Slug string `path:"slug"`
	Body FloorPlan
}

func (h *Handler) setFairMap(ctx context.Context, a Actor, in *setFairMapIn) (*FloorPlan, error) {
	return h.svc.SetFloorPlan(ctx, a, in.Slug, in.Body)
}

type addStaffIn = struct {
	ID   string `path:"id"`
	Body struct {
		Email string `json:"email" maxLength:"254" doc:"a registered user's email"`
	}
}

func (h *Handler) addStaff(ctx context.Context, a Actor, in *addStaffIn) (*StaffMember, error) {
	return h.svc.AddStaff(ctx, a, in.ID, in.Body.Email)
}

func (h *Handler) listStaff(ctx context.Context, a Actor, in *struct {
	ID string `path:"id"`
}) (items[StaffMember], error) {
	rows, err := h.svc.Staff(ctx, a, in.ID)
	return itemsOf(rows), err
}

type removeStaffIn = struct {
	ID     string `path:"id"`
	UserID string `path:"user_id"`
}

func (h *Handler) removeStaff(ctx context.Context, a Actor, in *removeStaffIn) (*struct{}, error) {
	return nil, h.svc.RemoveStaff(ctx, a, in.ID, in.UserID)
}

type removeProductImageIn = struct {
	ID      string `path:"id"`
	ImageID string `path:"image_id"`
}

func (h *Handler) removeProductImage(ctx context.Context, a Actor, in *removeProductImageIn) (*struct{}, error) {
	return nil, h.svc.RemoveImage(ctx, a, in.ID, in.ImageID)
}

type suggestIn = struct {
	Slug  string `path:"slug"`
	Q     string `query:"q" doc:"what the shopper has typed so far, e.g. 糖 or tangh"`
	Limit int    `query:"limit" minimum:"0" doc:"at most this many (default and most 8)"`
}

func (h *Handler) suggest(ctx context.Context, a Actor, in *suggestIn) (items[Suggestion], error) {
	rows, err := h.svc.Suggest(ctx, a, in.Slug, in.Q, in.Limit)
	return itemsOf(rows), err
}

type searchProductsIn = struct {
	Slug     string `path:"slug"`
	Q        string `query:"q" doc:"words, each in the title, the stall's name or the description, e.g. 臭干 or 蟹黄 汤包; Latin letters also as pinyin (tangbao) or its initials (tb). Results come best first."`
	StallID  string `query:"stall_id"`
	Kind     string `query:"kind" enum:"goods,voucher"`
	Category string `query:"category" doc:"a category slug"`
	PageQuery
}

func (h *Handler) searchProducts(ctx context.Context, a Actor, in *searchProductsIn) (List[Product], error) {
	rows, next, err := h.svc.Products(ctx, a, in.Slug, ProductQuery{Q: in.Q, StallID: in.StallID, Kind: in.Kind, Category: in.Category, Page: in.Page()})
	return NewList(rows, next), err
}

// ---- Property seasons ----

type unitBody struct {
	Name           string  `json:"name" example:"三室两厅"`
	AreaM2         float64 `json:"area_m2" example:"118.5"`
	PricePerM2     int64   `json:"price_per_m2" doc:"in fen"`
	UnitsAvailable int     `json:"units_available"`
}

type addUnitTypeIn = struct {
	ID   string `path:"id"`
	Body unitBody
}

func (h *Handler) addUnitType(ctx context.Context, a Actor, in *addUnitTypeIn) (*UnitType, error) {
	b := in.Body
	return h.svc.AddUnitType(ctx, a, in.ID, UnitTypeInput{Name: b.Name, AreaM2: b.AreaM2, PricePerM2: b.PricePerM2, UnitsAvailable: b.UnitsAvailable})
}

func (h *Handler) listUnitTypes(ctx context.Context, a Actor, in *idPath) (items[UnitType], error) {
	rows, err := h.svc.UnitTypes(ctx, a, in.ID)
	return itemsOf(rows), err
}

type removeUnitTypeIn = struct {
	ID     string `path:"id"`
	UnitID string `path:"unit_id"`
}

func (h *Handler) removeUnitType(ctx context.Context, a Actor, in *removeUnitTypeIn) (*struct{}, error) {
	return nil, h.svc.RemoveUnitType(ctx, a, in.ID, in.UnitID)
}

type addSlotIn = struct {
	ID   string `path:"id"`
	Body struct {
		StartsAt time.Time `json:"starts_at"`
		EndsAt   time.Time `json:"ends_at"`
		Capacity int       `json:"capacity"`
	}
}

func (h *Handler) addSlot(ctx context.Context, a Actor, in *addSlotIn) (*ViewingSlot, error) {
	return h.svc.AddSlot(ctx, a, in.ID, SlotInput{StartsAt: in.Body.StartsAt, EndsAt: in.Body.EndsAt, Capacity: in.Body.Capacity})
}

func (h *Handler) listSlots(ctx context.Context, a Actor, in *idPath) (items[ViewingSlot], error) {
	rows, err := h.svc.Slots(ctx, a, in.ID)
	return itemsOf(rows), err
}

func (h *Handler) developmentBookings(ctx context.Context, a Actor, in *idPath) (items[Booking], error) {
	rows, err := h.svc.SlotBookings(ctx, a, in.ID)
	return itemsOf(rows), err
}

func (h *Handler) bookSlot(ctx context.Context, a Actor, in *idPath) (*Booking, error) {
	return h.svc.Book(ctx, a, in.ID)
}

func (h *Handler) cancelBooking(ctx context.Context, a Actor, in *idPath) (*Booking, error) {
	return h.svc.CancelBooking(ctx, a, in.ID)
}

func (h *Handler) myBookings(ctx context.Context, a Actor, _ *struct{}) (items[Booking], error) {
	rows, err := h.svc.MyBookings(ctx, a)
	return itemsOf(rows), err
}
