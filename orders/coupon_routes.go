package orders

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"miaohui/catalog"
)

// CouponHandler serves the coupon operations other than the claim itself
// (which app serves on its fast path, beside the flash purchase).
type CouponHandler struct {
	svc   *Service
	adm   *Admission
	actor func(context.Context) catalog.Actor
}

// NewCouponHandler returns the handler.
func NewCouponHandler(svc *Service, adm *Admission, actor func(context.Context) catalog.Actor) *CouponHandler {
	return &CouponHandler{svc: svc, adm: adm, actor: actor}
}

// ClaimOperation documents POST /coupon-campaigns/{id}/claim in the OpenAPI
// description; app serves it outside huma, on the fast path.
func ClaimOperation() *huma.Operation {
	str := &huma.Schema{Type: "string"}
	return &huma.Operation{
		OperationID: "claim-coupon", Method: http.MethodPost, Path: "/api/v1/coupon-campaigns/{id}/claim",
		Summary: "Claim a coupon of a campaign: 201 with the coupon, or 409 sold_out / limit_reached / not_started, 410 ended, 429 too fast",
		Tags:    []string{"Coupons"}, Security: catalog.Signed,
		Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Schema: str}},
		Responses: map[string]*huma.Response{
			"201": {Description: "claimed", Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{
				Type: "object", Properties: map[string]*huma.Schema{"id": str, "campaign_id": str, "discount": {Type: "integer"},
					"min_spend": {Type: "integer"}, "valid_until": {Type: "string", Format: "date-time"}, "status": {Type: "string", Enum: []any{"unused"}}},
			}}}},
			"401": {Description: "not signed in"}, "404": {Description: "no such campaign"},
			"409": {Description: "sold_out, limit_reached, not_started"}, "410": {Description: "ended"},
			"429": {Description: "too many attempts (Retry-After)"},
		},
	}
}

// Routes registers the coupon operations.
func (h *CouponHandler) Routes(api huma.API) {
	const get, post = http.MethodGet, http.MethodPost
	api.OpenAPI().AddOperation(ClaimOperation())

	coupons := catalog.Tag("Coupons")
	huma.Register(api, coupons.Signed("create-fair-coupon-campaign", post, "/fairs/{slug}/coupon-campaigns", "Fund a 消费券 campaign usable at any stall of the fair, optionally only on some categories (its organizer)", http.StatusCreated, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.createFairCampaign))
	huma.Register(api, coupons.Signed("create-stall-coupon-campaign", post, "/stalls/{id}/coupon-campaigns", "Fund a shop coupon campaign (the stall's merchant)", http.StatusCreated, 403, 404, 409, 422), catalog.SignedIn(h.actor, h.createStallCampaign))
	huma.Register(api, coupons.Public("list-coupon-campaigns", get, "/fairs/{slug}/coupon-campaigns", "A fair's coupon campaigns with what is left (?stall_id= for one stall's)", 0, 404), catalog.Public(h.actor, h.listCampaigns))
	huma.Register(api, coupons.Public("get-coupon-campaign", get, "/coupon-campaigns/{id}", "One coupon campaign with what is left", 0, 404), catalog.Public(h.actor, h.getCampaign))
	huma.Register(api, coupons.Signed("my-coupons", get, "/me/coupons", "The user's coupons, newest first (?status=unused|used|expired)", 0, 422), catalog.SignedIn(h.actor, h.myCoupons))
}

type campaignBody struct {
	Title        string    `json:"title" maxLength:"200"`
	Discount     int64     `json:"discount" doc:"in fen"`
	MinSpend     int64     `json:"min_spend" doc:"in fen; 0 for no minimum"`
	Quantity     int       `json:"quantity"`
	PerUserLimit int       `json:"per_user_limit"`
	ReleasesAt   time.Time `json:"releases_at"`
	ValidUntil   time.Time `json:"valid_until"`
	Categories   []string  `json:"categories,omitempty" maxItems:"50" doc:"fair coupons only: category slugs it is limited to; none for all"`
}

func (b campaignBody) input() CampaignInput {
	return CampaignInput{Title: b.Title, Discount: b.Discount, MinSpend: b.MinSpend, Quantity: b.Quantity,
		PerUserLimit: b.PerUserLimit, ReleasesAt: b.ReleasesAt, ValidUntil: b.ValidUntil, Categories: b.Categories}
}

type createFairCampaignIn = struct {
	Slug string `path:"slug"`
	Body campaignBody
}

func (h *CouponHandler) createFairCampaign(ctx context.Context, a catalog.Actor, in *createFairCampaignIn) (*Campaign, error) {
	c, err := h.svc.CreateFairCampaign(ctx, a, in.Slug, in.Body.input())
	if err == nil {
		h.adm.PrimeCampaign(ctx, c.ID)
	}
	return c, err
}

type createStallCampaignIn = struct {
	ID   string `path:"id"`
	Body campaignBody
}

func (h *CouponHandler) createStallCampaign(ctx context.Context, a catalog.Actor, in *createStallCampaignIn) (*Campaign, error) {
	c, err := h.svc.CreateStallCampaign(ctx, a, in.ID, in.Body.input())
	if err == nil {
		h.adm.PrimeCampaign(ctx, c.ID)
	}
	return c, err
}

type listCampaignsIn = struct {
	Slug    string `path:"slug"`
	StallID string `query:"stall_id"`
	catalog.PageQuery
}

func (h *CouponHandler) listCampaigns(ctx context.Context, a catalog.Actor, in *listCampaignsIn) (catalog.List[Campaign], error) {
	rows, next, err := h.svc.Campaigns(ctx, a, in.Slug, in.StallID, in.Page())
	return catalog.NewList(rows, next), err
}

func (h *CouponHandler) getCampaign(ctx context.Context, a catalog.Actor, in *idPath) (*Campaign, error) {
	return h.svc.Campaign(ctx, a, in.ID)
}

type myCouponsIn = struct {
	Status string `query:"status" enum:"unused,used,expired"`
	catalog.PageQuery
}

func (h *CouponHandler) myCoupons(ctx context.Context, a catalog.Actor, in *myCouponsIn) (catalog.List[Coupon], error) {
	rows, next, err := h.svc.MyCoupons(ctx, a, in.Status, in.Page())
	return catalog.NewList(rows, next), err
}
