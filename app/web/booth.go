package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"miaohui/catalog"
	"miaohui/orders"
)

// The booth's pages (线下参展): the shopper's fair pass, a big QR code with
// the list of where to collect what; and the redeem page of a stall's
// merchant or staff, made for a phone at the counter: it scans the pass with
// the camera where the browser can (BarcodeDetector), else the code is typed.

// boothPageRoutes mounts the booth's pages.
func (s *Site) boothPageRoutes(r fiber.Router) {
	r.Get("/fairs/:slug/pass", s.passPage)
	r.Get("/fairs/:slug/pass/qr.png", s.passQR)
	r.Get("/stalls/:id/redeem", s.redeemPage)
	r.Post("/stalls/:id/redeem", s.redeemCodeSubmit)
	r.Post("/stalls/:id/offline-sales", s.offlineSaleSubmit)
}

// passView is the shopper's pass page.
type passView struct {
	Fair    fairCard
	Code    string
	QRURL   string
	Pickups []pickupRow
	ToDo    int      // pickups still to collect
	Map     *mapView // the fair's floor plan, the booths to visit marked
}

// pickupRow is one order to collect at a booth.
type pickupRow struct {
	OrderID, StallID, Stall, Booth, Items, Status, StatusLabel string
	Done                                                       bool
}

// itemsText is an order's lines in one line: "兔子灯 ×2、剪纸 ×1".
func itemsText(items []orders.Item) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = fmt.Sprintf("%s ×%d", it.Title, it.Quantity)
	}
	return strings.Join(parts, "、")
}

func (s *Site) passPage(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.shopper(c, "/fairs/"+slug+"/pass")
	if !ok {
		return err
	}
	ctx := c.UserContext()
	fair, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return err
	}
	pass, err := s.orders.Pass(ctx, a, slug)
	if err != nil {
		return err
	}
	p := s.page(c, "pass.title")
	s.cartBadge(ctx, p, a)
	v := passView{Fair: fairCardOf(p, fair), Code: pass.Code, QRURL: pass.QRURL}
	for _, pk := range pass.Pickups {
		row := pickupRow{OrderID: pk.OrderID, StallID: pk.StallID, Stall: pk.StallName, Booth: pk.Booth, Items: itemsText(pk.Items),
			Status: pk.Status, StatusLabel: p.T("order.status." + pk.Status), Done: pk.Status != orders.StatusPaid && pk.Status != orders.StatusPartiallyRefunded}
		if !row.Done {
			v.ToDo++
		}
		v.Pickups = append(v.Pickups, row)
	}
	plan, stalls, err := s.catalog.FloorPlanStalls(ctx, a, slug)
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, row := range v.Pickups {
		if !row.Done {
			mine[row.StallID] = true
		}
	}
	iw, ih := s.catalog.MapImageSize(plan)
	if v.Map = mapViewOf(p, plan, iw, ih, stalls, mine); v.Map != nil {
		v.Map.Testid = "pass-map"
	}
	p.Title = p.T("pass.title_of", "Name", fair.Name)
	p.Data = v
	return s.render(c, http.StatusOK, "pass", p)
}

// passQR is the pass code as a QR code, for its holder only.
func (s *Site) passQR(c *fiber.Ctx) error {
	a, ok, err := s.shopper(c, c.OriginalURL())
	if !ok {
		return err
	}
	pass, err := s.orders.Pass(c.UserContext(), a, c.Params("slug"))
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(pass.Code, qrcode.Medium, -10) // 10 pixels a module
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	return c.Send(png)
}

// redeemView is the redeem page of a stall.
type redeemView struct {
	Stall    *catalog.Stall
	Fair     fairCard
	Code     string
	Redeemed []pickupRow
	Error    string // the message of a refused code
	ErrCode  string // its machine code, for tests and scripts
}

// boothStall loads a stall for its merchant or staff; anyone else is refused.
func (s *Site) boothStall(c *fiber.Ctx) (catalog.Actor, catalog.StallAccess, bool, error) {
	id := c.Params("id")
	a, ok, err := s.shopper(c, "/stalls/"+id+"/redeem")
	if !ok {
		return a, catalog.StallAccess{}, false, err
	}
	sa, err := s.catalog.BoothStall(c.UserContext(), s.db, a, id)
	if err != nil {
		return a, sa, false, err
	}
	if !sa.CanWorkBooth() {
		return a, sa, false, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant and staff redeem")
	}
	return a, sa, true, nil
}

func (s *Site) redeemPage(c *fiber.Ctx) error {
	_, sa, ok, err := s.boothStall(c)
	if !ok {
		return err
	}
	return s.renderRedeem(c, http.StatusOK, sa, redeemView{})
}

func (s *Site) renderRedeem(c *fiber.Ctx, status int, sa catalog.StallAccess, v redeemView) error {
	return s.showRedeem(c, s.page(c, "redeem.title"), status, sa, v)
}

func (s *Site) showRedeem(c *fiber.Ctx, p *Page, status int, sa catalog.StallAccess, v redeemView) error {
	v.Stall, v.Fair = sa.Stall, fairCardOf(p, sa.Fair)
	p.Title = p.T("redeem.title_of", "Name", sa.Stall.Name)
	p.Data = v
	return s.render(c, status, "redeem", p)
}

// redeemCodeSubmit redeems a scanned or typed code: the page again, with
// what was redeemed or why nothing was.
func (s *Site) redeemCodeSubmit(c *fiber.Ctx) error {
	a, sa, ok, err := s.boothStall(c)
	if !ok {
		return err
	}
	code := strings.TrimSpace(c.FormValue("code"))
	v := redeemView{Code: code}
	p := s.page(c, "redeem.title")
	list, err := s.orders.RedeemCode(c.UserContext(), a, sa.Stall.ID, code)
	status := http.StatusOK
	switch {
	case err == nil:
		v.Code = ""
		for _, r := range list {
			v.Redeemed = append(v.Redeemed, pickupRow{OrderID: r.OrderID, Items: itemsText(r.Items), Done: true})
		}
	case errors.Is(err, orders.ErrNothingToRedeem):
		status, v.Error, v.ErrCode = http.StatusConflict, p.T("redeem.err.nothing"), "nothing_to_redeem"
	case errors.Is(err, catalog.ErrNotFound):
		status, v.Error, v.ErrCode = http.StatusNotFound, p.T("redeem.err.unknown"), "not_found"
	case errors.Is(err, catalog.ErrConflict):
		status, v.Error, v.ErrCode = http.StatusConflict, p.T("redeem.err.ambiguous"), "conflict"
	default:
		return err
	}
	return s.renderRedeem(c, status, sa, v)
}

// offlineSaleSubmit records a sale made and paid at the booth, through the
// forms' protocol: back to the redeem page with a flash message, or the
// page again with the fields to fix.
func (s *Site) offlineSaleSubmit(c *fiber.Ctx) error {
	a, sa, ok, err := s.boothStall(c)
	if !ok {
		return err
	}
	amount, okAmount := parseCents(c.FormValue("amount"))
	if !okAmount {
		amount = 0 // the service refuses it with the amount's message
	}
	_, err = s.orders.RecordOfflineSale(c.UserContext(), a, sa.Stall.ID, orders.OfflineSaleInput{Amount: amount, Note: c.FormValue("note"), PassCode: c.FormValue("pass_code")})
	return s.finish(c, err, "flash.sale_recorded", "/stalls/"+url.PathEscape(sa.Stall.ID)+"/redeem#booth-sale", form{
		name: "sale", inputs: []string{"amount", "note", "pass_code"}, title: "redeem.title",
		show: func(p *Page, status int) error { return s.showRedeem(c, p, status, sa, redeemView{}) },
	})
}
