package orders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Coupons (消费券, 满减): a campaign is funded by a fair's organizer (usable
// at any stall of the fair, optionally only on some product categories) or
// by one stall's merchant (a shop coupon). Buyers claim coupons from it
// through the admission engine (coupon_claim.go) and spend them at checkout.

// Who funds a campaign.
const (
	FundedByOrganizer = "organizer"
	FundedByMerchant  = "merchant"
)

// Campaign statuses, as of now.
const (
	CampaignScheduled = "scheduled"
	CampaignActive    = "active"
	CampaignSoldOut   = "sold_out"
	CampaignEnded     = "ended"
)

// Coupon statuses: stored unused or used; an unused coupon past its
// validity reads as expired.
const (
	CouponUnused  = "unused"
	CouponUsed    = "used"
	CouponExpired = "expired"
)

// ErrNotApplicable is a coupon that does not fit a checkout (its stall,
// category, minimum spend, validity or owner): app answers it 422
// coupon_not_applicable.
var ErrNotApplicable = errors.New("coupon not applicable")

// notApplicable says why a coupon cannot be used at this checkout.
func notApplicable(format string, args ...any) error {
	return catalog.Failf(ErrNotApplicable, format, args...)
}

// Claim errors, each with the contract's code.
var (
	ErrCouponsGone       = catalog.Coded("sold_out", catalog.Fail(catalog.ErrConflict, "all the coupons have been claimed"))
	ErrCouponLimit       = catalog.Coded("limit_reached", catalog.Fail(catalog.ErrConflict, "you already hold as many of these coupons as one person may"))
	ErrCouponNotReleased = catalog.Coded("not_started", catalog.Fail(catalog.ErrConflict, "the coupons are not released yet"))
	ErrCouponEnded       = catalog.Coded("ended", catalog.Fail(catalog.ErrGone, "the campaign has ended"))
)

// Campaign is a batch of coupons offered by a fair's organizer or a stall's
// merchant: discount off an order of at least min_spend (0: no minimum).
type Campaign struct {
	bun.BaseModel `bun:"table:coupon_campaigns"`

	ID           string    `bun:",pk" json:"id"`
	FairID       string    `json:"fair_id"`
	StallID      *string   `json:"stall_id,omitempty" doc:"shop coupons: the stall whose orders it discounts"`
	FundedBy     string    `json:"funded_by" enum:"organizer,merchant"`
	Title        string    `json:"title"`
	Discount     Money     `json:"discount" doc:"in fen"`
	MinSpend     Money     `json:"min_spend" doc:"the order (or, for a fair coupon, the eligible lines) must reach this, in fen; 0 for none"`
	Quantity     int       `json:"quantity"`
	Claimed      int       `json:"claimed"`
	PerUserLimit int       `json:"per_user_limit"`
	ReleasesAt   time.Time `json:"releases_at"`
	ValidUntil   time.Time `json:"valid_until" doc:"coupons are claimed and used before this"`
	CategoryList string    `bun:"categories" json:"-"`
	CreatedBy    string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`

	Categories []string `bun:"-" json:"categories" doc:"fair coupons: the product categories (slugs) it applies to; empty for all"`
	Remaining  int      `bun:"-" json:"remaining"`
	Status     string   `bun:"-" json:"status" enum:"scheduled,active,sold_out,ended"`
}

// settle fills the fields computed at now.
func (c *Campaign) settle(now time.Time) *Campaign {
	c.Categories = []string{}
	if c.CategoryList != "" {
		c.Categories = strings.Split(c.CategoryList, ",")
	}
	c.Remaining = max(c.Quantity-c.Claimed, 0)
	switch {
	case !now.Before(c.ValidUntil):
		c.Status = CampaignEnded
	case now.Before(c.ReleasesAt):
		c.Status = CampaignScheduled
	case c.Remaining == 0:
		c.Status = CampaignSoldOut
	default:
		c.Status = CampaignActive
	}
	return c
}

// covers reports whether a fair coupon applies to a line of category cat.
func (c *Campaign) covers(cat string) bool {
	return c.CategoryList == "" || slices.Contains(strings.Split(c.CategoryList, ","), cat)
}

// Coupon is one buyer's claim on a campaign.
type Coupon struct {
	bun.BaseModel `bun:"table:coupons"`

	ID         string     `bun:",pk" json:"id"`
	CampaignID string     `json:"campaign_id"`
	FairID     string     `json:"fair_id"`
	StallID    *string    `json:"stall_id,omitempty"`
	UserID     string     `json:"-"`
	N          int        `bun:"n" json:"-"`
	Discount   Money      `json:"discount"`
	MinSpend   Money      `json:"min_spend"`
	ValidUntil time.Time  `json:"valid_until"`
	Status     string     `json:"status" enum:"unused,used,expired"`
	PaymentID  *string    `json:"-"`
	ClaimedAt  time.Time  `json:"claimed_at"`
	UsedAt     *time.Time `json:"used_at,omitempty"`

	Title      string   `bun:"-" json:"title,omitempty"`
	FundedBy   string   `bun:"-" json:"funded_by,omitempty" enum:"organizer,merchant"`
	Categories []string `bun:"-" json:"categories,omitempty"`
	OrderIDs   []string `bun:"-" json:"order_ids,omitempty" doc:"used coupons: the orders it discounted"`
}

// shown sets the status a reader sees at now.
func (c *Coupon) shown(now time.Time) {
	if c.Status == CouponUnused && !now.Before(c.ValidUntil) {
		c.Status = CouponExpired
	}
}

// couponUse is how much of a coupon went to one order.
type couponUse struct {
	bun.BaseModel `bun:"table:coupon_uses"`

	CouponID string `bun:",pk"`
	OrderID  string `bun:",pk"`
	Amount   Money
}

// CampaignInput is what an organizer or merchant sends to create a campaign.
type CampaignInput struct {
	Title        string
	Discount     Money
	MinSpend     Money
	Quantity     int
	PerUserLimit int
	ReleasesAt   time.Time
	ValidUntil   time.Time
	Categories   []string // organizer's campaigns only
}

// Bounds of a campaign's numbers.
const (
	maxCouponDiscount = 100_000_00 // ¥100,000
	maxCouponQuantity = 1_000_000
	maxCouponPerUser  = 100
)

// check validates in for a campaign of fair (cats: the fair's categories;
// merchant campaigns take none).
func (in *CampaignInput) check(now time.Time, cats []catalog.Category, merchant bool) error {
	in.Title = strings.TrimSpace(in.Title)
	var c catalog.Check
	n := utf8.RuneCountInString(in.Title)
	c.That(n > 0, "title", "is required")
	c.That(n <= 60, "title", "must be at most 60 characters")
	c.That(in.Discount > 0, "discount", "must be more than 0 fen")
	c.That(in.Discount <= maxCouponDiscount, "discount", "must be at most 10000000 fen (¥100,000)")
	c.That(in.MinSpend >= 0, "min_spend", "must not be negative")
	c.That(in.MinSpend <= 1_000_000_00, "min_spend", "must be at most 100000000 fen")
	c.That(in.MinSpend == 0 || in.Discount < in.MinSpend, "discount", "must be less than min_spend (an order always costs something)")
	c.That(in.Quantity > 0, "quantity", "must be at least 1")
	c.That(in.Quantity <= maxCouponQuantity, "quantity", "must be at most 1000000")
	c.That(in.PerUserLimit >= 1, "per_user_limit", "must be at least 1")
	c.That(in.PerUserLimit <= maxCouponPerUser, "per_user_limit", "must be at most 100")
	c.That(in.Quantity <= 0 || in.PerUserLimit <= in.Quantity, "per_user_limit", "must not exceed quantity")
	c.That(!in.ReleasesAt.IsZero(), "releases_at", "is required")
	c.That(!in.ValidUntil.IsZero(), "valid_until", "is required")
	c.That(in.ValidUntil.After(in.ReleasesAt), "valid_until", "must be after releases_at")
	c.That(in.ValidUntil.After(now), "valid_until", "must be in the future")
	if merchant {
		c.That(len(in.Categories) == 0, "categories", "only a fair's organizer limits coupons to categories")
	} else {
		c.That(len(in.Categories) <= 20, "categories", "at most 20")
		seen := map[string]bool{}
		for i, slug := range in.Categories {
			field := fmt.Sprintf("categories[%d]", i)
			known := slices.ContainsFunc(cats, func(k catalog.Category) bool { return k.Slug == slug })
			c.That(known, field, "is not a category of this fair")
			c.That(!seen[slug], field, "is listed twice")
			seen[slug] = true
		}
	}
	return c.Err()
}

// CreateFairCampaign creates a 消费券 campaign funded by the fair's organizer.
func (s *Service) CreateFairCampaign(ctx context.Context, a catalog.Actor, slug string, in CampaignInput) (*Campaign, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if a.UserID == "" || f.OrganizerID != a.UserID {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the fair's organizer funds its coupons")
	}
	cats, err := catalog.CategoriesOf(ctx, s.db, f.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := in.check(now, cats, false); err != nil {
		return nil, err
	}
	if f.Status == catalog.FairClosed {
		return nil, catalog.ErrFairEnded
	}
	c := newCampaign(a, f.ID, nil, FundedByOrganizer, in, now)
	return c, s.insertCampaign(ctx, a, c)
}

// CreateStallCampaign creates a shop coupon campaign funded by the stall's merchant.
func (s *Service) CreateStallCampaign(ctx context.Context, a catalog.Actor, stallID string, in CampaignInput) (*Campaign, error) {
	sa, err := s.catalog.StallIn(ctx, s.db, a, stallID)
	if err != nil {
		return nil, err
	}
	if !sa.Merchant {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant funds its shop coupons")
	}
	now := s.now()
	if err := in.check(now, nil, true); err != nil {
		return nil, err
	}
	if sa.Fair.StatusAt(now) == catalog.FairClosed {
		return nil, catalog.ErrFairEnded
	}
	id := sa.Stall.ID
	c := newCampaign(a, sa.Fair.ID, &id, FundedByMerchant, in, now)
	return c, s.insertCampaign(ctx, a, c)
}

func newCampaign(a catalog.Actor, fairID string, stallID *string, fundedBy string, in CampaignInput, now time.Time) *Campaign {
	return &Campaign{ID: catalog.NewID(), FairID: fairID, StallID: stallID, FundedBy: fundedBy, Title: in.Title,
		Discount: in.Discount, MinSpend: in.MinSpend, Quantity: in.Quantity, PerUserLimit: in.PerUserLimit,
		ReleasesAt: in.ReleasesAt.UTC(), ValidUntil: in.ValidUntil.UTC(), CategoryList: strings.Join(in.Categories, ","),
		CreatedBy: a.UserID, CreatedAt: now}
}

// insertCampaign writes the campaign and its audit entry in one transaction.
func (s *Service) insertCampaign(ctx context.Context, a catalog.Actor, c *Campaign) error {
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(c).Exec(ctx); err != nil {
			return err
		}
		detail := map[string]any{"title": c.Title, "funded_by": c.FundedBy, "discount": c.Discount, "min_spend": c.MinSpend,
			"quantity": c.Quantity, "per_user_limit": c.PerUserLimit, "releases_at": c.ReleasesAt, "valid_until": c.ValidUntil}
		if c.StallID != nil {
			detail["stall_id"] = *c.StallID
		}
		if c.CategoryList != "" {
			detail["categories"] = c.CategoryList
		}
		return catalog.Audit(ctx, tx, c.CreatedAt, a, c.FairID, "coupon_campaign.create", c.ID, detail)
	})
	if err != nil {
		return err
	}
	c.settle(s.now())
	return nil
}

// campaignByID reads a campaign the public may see (its fair published,
// or the actor its organizer or its stall's merchant).
func (s *Service) campaignByID(ctx context.Context, db bun.IDB, a catalog.Actor, id string) (*Campaign, error) {
	c := new(Campaign)
	if err := db.NewSelect().Model(c).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "coupon campaign")
	}
	f, err := s.catalog.FairByID(ctx, db, c.FairID)
	if err != nil {
		return nil, err
	}
	if !f.Published && f.OrganizerID != a.UserID {
		return nil, catalog.Fail(catalog.ErrNotFound, "coupon campaign")
	}
	return c.settle(s.now()), nil
}

// Campaign returns one campaign with what is left of it.
func (s *Service) Campaign(ctx context.Context, a catalog.Actor, id string) (*Campaign, error) {
	return s.campaignByID(ctx, s.db, a, id)
}

// Campaigns lists a fair's campaigns, oldest first; stallID ("" for all)
// keeps one stall's.
func (s *Service) Campaigns(ctx context.Context, a catalog.Actor, slug, stallID string, p catalog.Page) ([]Campaign, *string, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	var rows []Campaign
	q := s.db.NewSelect().Model(&rows).Where("fair_id = ?", f.ID).OrderExpr("id ASC").Limit(p.Size() + 1)
	if stallID != "" {
		q = q.Where("stall_id = ?", stallID)
	}
	if p.Cursor != "" {
		q = q.Where("id > ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := catalog.NextCursor(p, rows, func(c Campaign) string { return c.ID })
	now := s.now()
	for i := range rows {
		rows[i].settle(now)
	}
	return rows, next, nil
}

// MyCoupons lists the actor's coupons, newest first; status ("" for all)
// keeps the unused, used or expired ones.
func (s *Service) MyCoupons(ctx context.Context, a catalog.Actor, status string, p catalog.Page) ([]Coupon, *string, error) {
	if a.UserID == "" {
		return nil, nil, catalog.ErrUnauthorized
	}
	s.AwaitClaims(ctx, a.UserID)
	now := s.now()
	var rows []Coupon
	q := s.db.NewSelect().Model(&rows).Where("user_id = ?", a.UserID).OrderExpr("id DESC").Limit(p.Size() + 1)
	switch status {
	case "":
	case CouponUnused:
		q = q.Where("status = ? AND valid_until > ?", CouponUnused, now)
	case CouponExpired:
		q = q.Where("status = ? AND valid_until <= ?", CouponUnused, now)
	case CouponUsed:
		q = q.Where("status = ?", CouponUsed)
	default:
		return nil, nil, catalog.Invalid("status", "must be unused, used or expired")
	}
	if p.Cursor != "" {
		q = q.Where("id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := catalog.NextCursor(p, rows, func(c Coupon) string { return c.ID })
	if err := s.describeCoupons(ctx, s.db, rows); err != nil {
		return nil, nil, err
	}
	for i := range rows {
		rows[i].shown(now)
	}
	return rows, next, nil
}

// describeCoupons adds their campaigns' titles and the orders they discounted.
func (s *Service) describeCoupons(ctx context.Context, db bun.IDB, rows []Coupon) error {
	if len(rows) == 0 {
		return nil
	}
	var campIDs, ids []string
	for _, c := range rows {
		campIDs = append(campIDs, c.CampaignID)
		ids = append(ids, c.ID)
	}
	var camps []Campaign
	if err := db.NewSelect().Model(&camps).Where("id IN (?)", bun.In(campIDs)).Scan(ctx); err != nil {
		return err
	}
	byID := map[string]*Campaign{}
	for i := range camps {
		byID[camps[i].ID] = camps[i].settle(s.now())
	}
	var uses []couponUse
	if err := db.NewSelect().Model(&uses).Where("coupon_id IN (?)", bun.In(ids)).OrderExpr("order_id ASC").Scan(ctx); err != nil {
		return err
	}
	for i := range rows {
		if c := byID[rows[i].CampaignID]; c != nil {
			rows[i].Title, rows[i].FundedBy, rows[i].Categories = c.Title, c.FundedBy, c.Categories
		}
		for _, u := range uses {
			if u.CouponID == rows[i].ID {
				rows[i].OrderIDs = append(rows[i].OrderIDs, u.OrderID)
			}
		}
	}
	return nil
}

// UsableCoupons lists the actor's coupons that are unused and valid at a
// fair now (for the checkout page).
func (s *Service) UsableCoupons(ctx context.Context, a catalog.Actor, fairID string) ([]Coupon, error) {
	s.AwaitClaims(ctx, a.UserID)
	var rows []Coupon
	err := s.db.NewSelect().Model(&rows).Where("user_id = ? AND fair_id = ? AND status = ? AND valid_until > ?", a.UserID, fairID, CouponUnused, s.now()).
		OrderExpr("discount DESC, id ASC").Limit(100).Scan(ctx)
	if err != nil {
		return nil, err
	}
	return rows, s.describeCoupons(ctx, s.db, rows)
}

// applyCoupons spends the buyer's coupons on the orders of a checkout being
// made in tx: each order's Subtotal is set; Discount, Subsidy and the uses
// follow. At most one fair coupon and one shop coupon per stall; every
// order keeps a total of at least 1 fen (a discount larger than that is
// cut down). A fair coupon's discount is spread over the orders in
// proportion to their eligible subtotals (largest remainder, to the fen).
// The coupons are marked used by payment; the uses are returned for the
// caller to insert once the orders exist.
func (s *Service) applyCoupons(ctx context.Context, tx bun.Tx, buyerID, fairID, paymentID string, now time.Time, orders []*Order, ids []string) ([]couponUse, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, catalog.Invalid("coupons", "lists a coupon twice")
		}
		seen[id] = true
	}
	if len(ids) > len(orders)+1 {
		return nil, notApplicable("at most one fair coupon and one shop coupon per stall")
	}
	var coupons []Coupon
	if err := catalog.ForUpdate(tx.NewSelect().Model(&coupons).Where("id IN (?)", bun.In(ids)).OrderExpr("id ASC")).Scan(ctx); err != nil {
		return nil, err
	}
	byID := map[string]*Coupon{}
	for i := range coupons {
		byID[coupons[i].ID] = &coupons[i]
	}
	byStall := map[string]*Order{}
	for _, o := range orders {
		byStall[o.StallID] = o
	}
	var fairCoupon *Coupon
	shop := map[string]*Coupon{}
	for _, id := range ids {
		c := byID[id]
		switch {
		case c == nil || c.UserID != buyerID:
			return nil, notApplicable("coupon %s is not yours", id)
		case c.Status != CouponUnused:
			return nil, notApplicable("coupon %s has already been used", id)
		case !now.Before(c.ValidUntil):
			return nil, notApplicable("coupon %s has expired", id)
		case c.FairID != fairID:
			return nil, notApplicable("coupon %s is for another fair", id)
		case c.StallID == nil:
			if fairCoupon != nil {
				return nil, notApplicable("only one fair coupon per checkout")
			}
			fairCoupon = c
		default:
			if byStall[*c.StallID] == nil {
				return nil, notApplicable("coupon %s is for a stall this checkout buys nothing from", id)
			}
			if shop[*c.StallID] != nil {
				return nil, notApplicable("only one shop coupon per stall")
			}
			shop[*c.StallID] = c
		}
	}
	var uses []couponUse
	// Shop coupons first: each takes its discount off its stall's order.
	for _, o := range orders {
		c := shop[o.StallID]
		if c == nil {
			continue
		}
		if o.Subtotal < c.MinSpend {
			return nil, notApplicable("coupon %s needs a spend of at least %s at its stall", c.ID, Yuan(c.MinSpend))
		}
		d := min(c.Discount, o.Subtotal-o.Discount-1)
		o.Discount += d
		uses = append(uses, couponUse{CouponID: c.ID, OrderID: o.ID, Amount: d})
	}
	if fairCoupon != nil {
		camp := new(Campaign)
		if err := tx.NewSelect().Model(camp).Where("id = ?", fairCoupon.CampaignID).Scan(ctx); err != nil {
			return nil, err
		}
		eligible := make([]Money, len(orders))
		var sum Money
		for i, o := range orders {
			for _, it := range o.Items {
				if camp.covers(it.Category) {
					eligible[i] += it.LineTotal
				}
			}
			sum += eligible[i]
		}
		if sum == 0 {
			return nil, notApplicable("coupon %s covers nothing in this checkout", fairCoupon.ID)
		}
		if sum < fairCoupon.MinSpend {
			return nil, notApplicable("coupon %s needs a spend of at least %s on what it covers", fairCoupon.ID, Yuan(fairCoupon.MinSpend))
		}
		room := make([]Money, len(orders))
		var roomSum Money
		for i, o := range orders {
			if eligible[i] > 0 {
				room[i] = o.Subtotal - o.Discount - 1
				roomSum += room[i]
			}
		}
		shares := spreadCapped(min(fairCoupon.Discount, roomSum), eligible, room)
		for i, o := range orders {
			if eligible[i] == 0 {
				continue
			}
			o.Discount += shares[i]
			o.Subsidy += shares[i]
			uses = append(uses, couponUse{CouponID: fairCoupon.ID, OrderID: o.ID, Amount: shares[i]})
		}
	}
	for _, o := range orders {
		o.Total = o.Subtotal - o.Discount
	}
	res, err := tx.NewUpdate().Model((*Coupon)(nil)).Set("status = ?", CouponUsed).Set("payment_id = ?", paymentID).Set("used_at = ?", now).
		Where("id IN (?) AND status = ?", bun.In(ids), CouponUnused).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != int64(len(ids)) {
		return nil, notApplicable("a coupon was used meanwhile")
	}
	return uses, nil
}

// spreadCapped splits amount in proportion to weights (largest remainder),
// no part above its cap: what a capped part cannot take goes to the others
// in proportion to the room they have left. amount must not exceed the
// caps' sum.
func spreadCapped(amount Money, weights, caps []Money) []Money {
	parts := Split(amount, weights)
	for range len(parts) {
		var excess Money
		left := make([]Money, len(parts))
		for i := range parts {
			if parts[i] > caps[i] {
				excess += parts[i] - caps[i]
				parts[i] = caps[i]
			}
			left[i] = caps[i] - parts[i]
		}
		if excess == 0 {
			break
		}
		for i, x := range Split(excess, left) {
			parts[i] += x
		}
	}
	return parts
}

// returnCoupons gives the coupons a cancelled payment used back to their
// buyer (unused again; one past its validity reads as expired) and drops
// their uses.
func returnCoupons(ctx context.Context, tx bun.Tx, paymentID string, orderIDs []string) error {
	if len(orderIDs) > 0 {
		if _, err := tx.NewDelete().Model((*couponUse)(nil)).Where("order_id IN (?)", bun.In(orderIDs)).Exec(ctx); err != nil {
			return err
		}
	}
	_, err := tx.NewUpdate().Model((*Coupon)(nil)).Set("status = ?", CouponUnused).Set("payment_id = NULL").Set("used_at = NULL").
		Where("payment_id = ? AND status = ?", paymentID, CouponUsed).Exec(ctx)
	return err
}
