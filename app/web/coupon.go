package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The coupons' (消费券, 满减) pages: a fair's coupon centre (领券中心),
// where shoppers claim; the shopper's own coupons (我的优惠券); and the
// consoles where a fair's organizer and a stall's merchant create
// campaigns and watch what they bring (claimed, used, discount, sales and,
// for the organizer, 拉动比: sales per yuan of subsidy). Choosing coupons at
// checkout lives on the checkout page (orders.go).

// couponPageRoutes mounts the coupons' pages.
func (s *Site) couponPageRoutes(r fiber.Router) {
	r.Get("/fairs/:slug/coupons", s.couponCentrePage)
	r.Post("/coupon-campaigns/:id/claim", s.claimCouponSubmit)
	r.Get("/coupons", s.myCouponsPage)
	r.Get("/organizer/fairs/:slug/coupons", s.organizerCouponsPage)
	r.Post("/organizer/fairs/:slug/coupons", s.organizerCouponSubmit)
	r.Get("/merchant/stalls/:id/coupons", s.merchantCouponsPage)
	r.Post("/merchant/stalls/:id/coupons", s.merchantCouponSubmit)
}

// campaignCard is a campaign as the pages show it.
type campaignCard struct {
	ID, Title, Discount, MinSpend, FundedBy, Status, StatusLabel string
	Releases, ValidUntil, Stall, Categories                      string
	Quantity, Remaining, Claimed                                 int
	Claimable                                                    bool
	// The consoles' figures.
	Used              int64
	Given, GMV, Ratio string
}

func campaignCardOf(p *Page, c *orders.Campaign, stall string) campaignCard {
	cc := campaignCard{ID: c.ID, Title: c.Title, Discount: orders.Yuan(c.Discount), MinSpend: orders.Yuan(c.MinSpend),
		FundedBy: c.FundedBy, Status: c.Status, StatusLabel: p.T("cp.status." + c.Status),
		Releases: dateTimeText(c.ReleasesAt, p.Lang), ValidUntil: dateTimeText(c.ValidUntil, p.Lang), Stall: stall,
		Categories: strings.Join(c.Categories, ", "), Quantity: c.Quantity, Remaining: c.Remaining, Claimed: c.Claimed,
		Claimable: c.Status == orders.CampaignActive}
	return cc
}

// couponRule is a coupon's rule as read: "满¥50.00减¥10.00", or "无门槛减¥5.00".
func couponRule(p *Page, discount, minSpend orders.Money) string {
	if minSpend == 0 {
		return p.T("cp.rule_any", "Discount", orders.Yuan(discount))
	}
	return p.T("cp.rule", "MinSpend", orders.Yuan(minSpend), "Discount", orders.Yuan(discount))
}

// couponCentreView is a fair's coupon centre.
type couponCentreView struct {
	Fair      *catalog.Fair
	FairName  string
	Campaigns []campaignCard
	Rules     map[string]string
	Part      bool // the list alone, for the fair page to pull in
}

// couponCentrePage lists a fair's campaigns with a 领取 button each.
func (s *Site) couponCentrePage(c *fiber.Ctx) error {
	ctx := c.UserContext()
	part := c.Query("part") != ""
	p := s.listPage(c, part, "cp.centre")
	a := actorOf(c)
	f, err := s.catalog.Fair(ctx, a, c.Params("slug"))
	if err != nil {
		return err
	}
	rows, _, err := s.orders.Campaigns(ctx, a, f.Slug, "", catalog.Page{Limit: catalog.MaxLimit})
	if err != nil {
		return err
	}
	names := s.stallNames(ctx, a)
	v := couponCentreView{Fair: f, FairName: f.LocalName(p.Lang), Rules: map[string]string{}, Part: part}
	for i := range rows {
		cp := &rows[i]
		if cp.Status == orders.CampaignEnded {
			continue
		}
		stall := ""
		if cp.StallID != nil {
			stall = names(*cp.StallID)
		}
		v.Campaigns = append(v.Campaigns, campaignCardOf(p, cp, stall))
		v.Rules[cp.ID] = couponRule(p, cp.Discount, cp.MinSpend)
	}
	p.Title = p.T("cp.centre_of", "Name", v.FairName)
	p.Data = v
	if part {
		p.Path = "/fairs/" + url.PathEscape(f.Slug)
		return s.renderPart(c, "coupons", "cp-list", p)
	}
	return s.render(c, http.StatusOK, "coupons", p)
}

// actorOf is the signed-in user, or nobody.
func actorOf(c *fiber.Ctx) catalog.Actor {
	if a, ok := account.From(c.UserContext()); ok {
		return a.User.Actor()
	}
	return catalog.Actor{}
}

// claimCouponSubmit claims a coupon through the admission engine (the same
// path as the API's claim) and goes back to the page the form was on.
func (s *Site) claimCouponSubmit(c *fiber.Ctx) error {
	back := safeNext(c.FormValue("next"))
	a, ok, err := s.shopper(c, back)
	if !ok {
		return err
	}
	_, err = s.flash.ClaimCoupon(c.UserContext(), a.UserID, c.Params("id"))
	switch {
	case err == nil:
		s.orders.AwaitClaims(c.UserContext(), a.UserID) // the next page shows it held
		flash(c, "flash.cp_claimed")
	case errors.Is(err, orders.ErrCouponsGone):
		flash(c, "err.cp_sold_out")
	case errors.Is(err, orders.ErrCouponLimit):
		flash(c, "err.cp_limit")
	case errors.Is(err, orders.ErrCouponNotReleased):
		flash(c, "err.cp_not_started")
	case errors.Is(err, orders.ErrCouponEnded):
		flash(c, "err.cp_ended")
	default:
		return err
	}
	return c.Redirect(back, http.StatusSeeOther)
}

// couponCard is one of the shopper's coupons.
type couponCard struct {
	ID, Title, Rule, ValidUntil, Status, StatusLabel, FundedBy string
}

// myCouponsView is the shopper's coupons of one status.
type myCouponsView struct {
	Status  string
	Tabs    []string
	Coupons []couponCard
	Next    string
}

// myCouponsPage lists the shopper's coupons: unused, used or expired.
func (s *Site) myCouponsPage(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, "/coupons")
	if !ok {
		return err
	}
	p := s.page(c, "cp.mine")
	status := c.Query("status", orders.CouponUnused)
	if status != orders.CouponUsed && status != orders.CouponExpired {
		status = orders.CouponUnused
	}
	rows, next, err := s.orders.MyCoupons(c.UserContext(), a, status, catalog.Page{Limit: 50, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	v := myCouponsView{Status: status, Tabs: []string{orders.CouponUnused, orders.CouponUsed, orders.CouponExpired}}
	if next != nil {
		v.Next = *next
	}
	for _, cp := range rows {
		v.Coupons = append(v.Coupons, couponCard{ID: cp.ID, Title: cp.Title, Rule: couponRule(p, cp.Discount, cp.MinSpend),
			ValidUntil: dateTimeText(cp.ValidUntil, p.Lang), Status: cp.Status, StatusLabel: p.T("cp.coupon." + cp.Status), FundedBy: cp.FundedBy})
	}
	p.Data = v
	return s.render(c, http.StatusOK, "my_coupons", p)
}

// couponConsoleView is the organizer's or the merchant's campaigns with
// their figures and the form that creates one.
type couponConsoleView struct {
	Organizer  bool
	Action     string // the create form's action
	Back, Name string
	Categories []catalog.Category
	Campaigns  []campaignCard
}

var couponInputs = []string{"title", "discount", "min_spend", "quantity", "per_user_limit", "releases_at", "valid_until"}

func (s *Site) organizerCouponsPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	return s.showCouponConsole(c, s.page(c, "cp.console"), a, c.Params("slug"), "", http.StatusOK)
}

func (s *Site) merchantCouponsPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleMerchant, c.OriginalURL())
	if !ok {
		return err
	}
	return s.showCouponConsole(c, s.page(c, "cp.console"), a, "", c.Params("id"), http.StatusOK)
}

// showCouponConsole shows a fair's campaigns to its organizer (slug) or a
// stall's to its merchant (stallID).
func (s *Site) showCouponConsole(c *fiber.Ctx, p *Page, a catalog.Actor, slug, stallID string, status int) error {
	ctx := c.UserContext()
	v := couponConsoleView{Organizer: stallID == ""}
	var fair *catalog.Fair
	if v.Organizer {
		f, err := s.catalog.Fair(ctx, a, slug)
		if err != nil {
			return err
		}
		if f.OrganizerID != a.UserID {
			return catalog.Fail(catalog.ErrForbidden, "only the fair's organizer manages its coupons")
		}
		fair = f
		v.Action, v.Back, v.Name = "/organizer/fairs/"+url.PathEscape(f.Slug)+"/coupons", "/organizer/fairs/"+url.PathEscape(f.Slug), f.LocalName(p.Lang)
		cats, err := catalog.CategoriesOf(ctx, s.catalog.DB(), f.ID)
		if err != nil {
			return err
		}
		v.Categories = cats
	} else {
		sa, err := s.catalog.Stall(ctx, a, stallID)
		if err != nil {
			return err
		}
		if !sa.Merchant {
			return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant manages its coupons")
		}
		fair = sa.Fair
		v.Action, v.Back, v.Name = "/merchant/stalls/"+url.PathEscape(stallID)+"/coupons", "/merchant/stalls/"+url.PathEscape(stallID), sa.Stall.Name
	}
	rows, _, err := s.orders.Campaigns(ctx, a, fair.Slug, stallID, catalog.Page{Limit: catalog.MaxLimit})
	if err != nil {
		return err
	}
	figures, err := s.orders.CampaignFigures(ctx, fair.ID)
	if err != nil {
		return err
	}
	names := s.stallNames(ctx, a)
	for i := range rows {
		cp := &rows[i]
		if v.Organizer && cp.StallID != nil {
			continue // the organizer's own campaigns; shops' are theirs
		}
		stall := ""
		if cp.StallID != nil {
			stall = names(*cp.StallID)
		}
		cc := campaignCardOf(p, cp, stall)
		f := figures[cp.ID]
		cc.Used, cc.Given, cc.GMV, cc.Ratio = f.Used, orders.Yuan(f.Discount), orders.Yuan(f.GMV), pullRatio(f.GMV, f.Discount)
		v.Campaigns = append(v.Campaigns, cc)
	}
	now := s.now()
	defaults(p, "coupon", map[string]string{"quantity": "100", "per_user_limit": "1", "min_spend": "0",
		"releases_at": InputTime(now.Add(time.Hour).Truncate(time.Hour)), "valid_until": InputTime(now.Add(7 * 24 * time.Hour).Truncate(time.Hour))})
	p.Title = p.T("cp.console_of", "Name", v.Name)
	p.Data = v
	return s.render(c, status, "coupon_console", p)
}

// pullRatio is 拉动比: the sales the coupons were used on per yuan of
// discount, to one decimal ("—" before any use).
func pullRatio(gmv, discount orders.Money) string {
	if discount <= 0 {
		return "—"
	}
	tenths := (gmv*10 + discount/2) / discount
	return strconv.FormatInt(tenths/10, 10) + "." + strconv.FormatInt(tenths%10, 10)
}

// couponInput reads a campaign's form: amounts in yuan with at most two
// decimals, whole numbers, times as Shanghai dates and times.
func couponInput(c *fiber.Ctx) (orders.CampaignInput, error) {
	var chk catalog.Check
	discount, okD := parseCents(c.FormValue("discount"))
	chk.That(okD && discount > 0, "discount", "must be an amount in yuan with at most two decimals")
	minSpend, okM := parseCents(c.FormValue("min_spend"))
	chk.That(okM, "min_spend", "must be an amount in yuan with at most two decimals")
	quantity, okQ := parseCount(c.FormValue("quantity"))
	chk.That(okQ && quantity >= 1 && quantity <= 1_000_000, "quantity", "must be a whole number from 1 to 1000000")
	limit, okL := parseCount(c.FormValue("per_user_limit"))
	chk.That(okL && limit >= 1 && limit <= 100, "per_user_limit", "must be a whole number from 1 to 100")
	releases, okR := parseInputTime(c.FormValue("releases_at"))
	chk.That(okR, "releases_at", "must be a date and time")
	until, okU := parseInputTime(c.FormValue("valid_until"))
	chk.That(okU, "valid_until", "must be a date and time")
	var cats []string
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if string(k) == "categories" {
			cats = append(cats, string(v))
		}
	})
	return orders.CampaignInput{Title: c.FormValue("title"), Discount: discount, MinSpend: minSpend, Quantity: int(quantity),
		PerUserLimit: int(limit), ReleasesAt: releases, ValidUntil: until, Categories: cats}, chk.Err()
}

func (s *Site) organizerCouponSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	back := "/organizer/fairs/" + url.PathEscape(slug) + "/coupons"
	a, ok, err := s.console(c, catalog.RoleOrganizer, back)
	if !ok {
		return err
	}
	in, err := couponInput(c)
	if err == nil {
		var cp *orders.Campaign
		if cp, err = s.orders.CreateFairCampaign(c.UserContext(), a, slug, in); err == nil {
			s.flash.PrimeCampaign(c.UserContext(), cp.ID)
		}
	}
	return s.finish(c, err, "flash.cp_created", back, s.couponForm(c, a, slug, ""))
}

func (s *Site) merchantCouponSubmit(c *fiber.Ctx) error {
	stallID := c.Params("id")
	back := "/merchant/stalls/" + url.PathEscape(stallID) + "/coupons"
	a, ok, err := s.console(c, catalog.RoleMerchant, back)
	if !ok {
		return err
	}
	in, err := couponInput(c)
	in.Categories = nil
	if err == nil {
		var cp *orders.Campaign
		if cp, err = s.orders.CreateStallCampaign(c.UserContext(), a, stallID, in); err == nil {
			s.flash.PrimeCampaign(c.UserContext(), cp.ID)
		}
	}
	return s.finish(c, err, "flash.cp_created", back, s.couponForm(c, a, "", stallID))
}

// couponForm is the create form of a console, shown again after a failure.
func (s *Site) couponForm(c *fiber.Ctx, a catalog.Actor, slug, stallID string) form {
	return form{name: "coupon", inputs: couponInputs, conflict: "err.cp_fair_ended", title: "cp.console",
		show: func(p *Page, status int) error {
			return s.showCouponConsole(c, p, a, slug, stallID, status)
		}}
}

// ---- Checkout ----

// checkoutCoupon is one of the buyer's coupons offered at checkout.
type checkoutCoupon struct {
	ID, Title, Rule, ValidUntil, Stall string
	Checked                            bool
}

// checkoutCoupons lists the buyer's usable coupons of the cart's fair: the
// fair coupons (pick one) and the shop coupons of the cart's stalls.
func (s *Site) checkoutCoupons(ctx context.Context, p *Page, a catalog.Actor, fairID string, stalls map[string]string, chosen []string) (fair, shop []checkoutCoupon, err error) {
	if fairID == "" {
		return nil, nil, nil
	}
	rows, err := s.orders.UsableCoupons(ctx, a, fairID)
	if err != nil {
		return nil, nil, err
	}
	for _, cp := range rows {
		cc := checkoutCoupon{ID: cp.ID, Title: cp.Title, Rule: couponRule(p, cp.Discount, cp.MinSpend), ValidUntil: dateTimeText(cp.ValidUntil, p.Lang)}
		for _, id := range chosen {
			cc.Checked = cc.Checked || id == cp.ID
		}
		if cp.StallID == nil {
			fair = append(fair, cc)
			continue
		}
		if name, ok := stalls[*cp.StallID]; ok {
			cc.Stall = name
			shop = append(shop, cc)
		}
	}
	return fair, shop, nil
}

// postedCoupons are the coupons chosen on the checkout form: the fair
// coupon (one radio) and the shop coupons (checkboxes).
func postedCoupons(c *fiber.Ctx) []string {
	var out []string
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		if (string(k) == "coupon_fair" || string(k) == "coupon_shop") && len(v) > 0 {
			out = append(out, string(v))
		}
	})
	return out
}
