package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
)

// The fair's floor plan on its pages: an inline SVG drawn on the server,
// each booth a link to its stall, scaled to the screen's width over the
// plan's image when there is one. The fair page shows it to everyone (it is
// cached: nothing personal on it); the pass page marks the booths where the
// shopper has something to collect. The organizer lays it out on the map
// page of the fair's console: a grid in one go, then booth by booth.

// mapView is a floor plan as the template draws it.
type mapView struct {
	W, H     int    // the viewBox: the booths' extent, and a margin
	Image    string // the plan's image, drawn under the booths
	ImageW   int    // its size, when known; 0: the whole viewBox
	ImageH   int
	Booths   []boothShape
	Mine     []boothShape // the highlighted booths, for the list beside the map
	Label    string       // the map's accessible name
	Testid   string
	FontSize int
}

// boothShape is one booth of the plan.
type boothShape struct {
	Booth, StallID, Stall string
	Label                 string // "展位 A-001 · 老街灯笼铺"
	X, Y, W, H            int
	TX, TY                int // where its number is written
	Mine                  bool
}

// mapViewOf draws the plan; nil when the fair has none. Booths link to
// their stall when it is one of stalls; those in mine are highlighted. The
// image is drawn at imgW × imgH when its size is known (the booths are in
// its pixels), else stretched over the booths' extent.
func mapViewOf(p *Page, plan *catalog.FloorPlan, imgW, imgH int, stalls []catalog.Stall, mine map[string]bool) *mapView {
	if plan == nil || len(plan.Booths) == 0 {
		return nil
	}
	names := make(map[string]string, len(stalls))
	for _, st := range stalls {
		names[st.ID] = st.Name
	}
	v := &mapView{Image: plan.ImageURL, Label: p.T("map.label"), Testid: "fair-map"}
	minSide := 0
	for _, b := range plan.Booths {
		sh := boothShape{Booth: b.Booth, X: b.X, Y: b.Y, W: b.W, H: b.H, TX: b.X + b.W/2, TY: b.Y + b.H/2}
		sh.Label = p.T("map.booth", "Booth", b.Booth)
		if name, ok := names[b.StallID]; ok {
			sh.StallID, sh.Stall = b.StallID, name
			sh.Label += " · " + name
			sh.Mine = mine[b.StallID]
		}
		v.W, v.H = max(v.W, b.X+b.W), max(v.H, b.Y+b.H)
		if side := min(b.W, b.H); minSide == 0 || side < minSide {
			minSide = side
		}
		v.Booths = append(v.Booths, sh)
		if sh.Mine {
			v.Mine = append(v.Mine, sh)
		}
	}
	margin := max(v.W, v.H) / 50
	v.W, v.H = v.W+margin, v.H+margin
	if v.Image != "" && imgW > 0 && imgH > 0 {
		v.ImageW, v.ImageH = imgW, imgH
		v.W, v.H = max(v.W, imgW), max(v.H, imgH)
	}
	// The booth numbers fit the smallest booth, yet stay readable on a
	// phone when the plan is wide.
	v.FontSize = max(minSide/3, max(v.W, v.H)/60, 1)
	return v
}

// ---- The organizer's map page ----

// mapEditorView is the organizer's map page.
type mapEditorView struct {
	Fair   fairCard
	Map    *mapView
	Booths []editorBooth
	Stalls []catalog.Stall // all the fair's stalls, in booth-number order
	Image  string
}

// editorBooth is a booth of the map page, with its stall's name.
type editorBooth struct {
	catalog.Booth
	Stall string
}

// mapPageRoutes mounts the organizer's map page.
func (s *Site) mapPageRoutes(r fiber.Router) {
	r.Get("/organizer/fairs/:slug/map", s.mapEditorPage)
	r.Post("/organizer/fairs/:slug/map/grid", s.mapGridSubmit)
	r.Post("/organizer/fairs/:slug/map/booth", s.mapBoothSubmit)
	r.Post("/organizer/fairs/:slug/map/image", s.mapImageSubmit)
	r.Post("/organizer/fairs/:slug/map/upload", s.mapUploadSubmit)
}

func mapEditorPath(slug string) string { return "/organizer/fairs/" + url.PathEscape(slug) + "/map" }

func (s *Site) mapEditorPage(c *fiber.Ctx) error {
	a, ok, err := s.console(c, catalog.RoleOrganizer, c.OriginalURL())
	if !ok {
		return err
	}
	return s.showMapEditor(c, s.page(c, "omap.title"), a, c.Params("slug"), http.StatusOK)
}

func (s *Site) showMapEditor(c *fiber.Ctx, p *Page, a catalog.Actor, slug string, status int) error {
	ctx := c.UserContext()
	f, err := s.organizersFair(ctx, a, slug)
	if err != nil {
		return err
	}
	plan, _, err := s.catalog.FloorPlanStalls(ctx, a, slug)
	if err != nil {
		return err
	}
	all, err := catalog.StallsOfFair(ctx, s.db, f.ID)
	if err != nil {
		return err
	}
	catalog.SortByBooth(all)
	iw, ih := s.catalog.MapImageSize(plan)
	v := mapEditorView{Fair: fairCardOf(p, f), Map: mapViewOf(p, plan, iw, ih, all, nil), Stalls: all, Image: plan.ImageURL}
	names := map[string]string{}
	for _, st := range all {
		names[st.ID] = st.Name
	}
	for _, b := range plan.Booths {
		v.Booths = append(v.Booths, editorBooth{Booth: b, Stall: names[b.StallID]})
	}
	if v.Map != nil {
		v.Map.Testid = "editor-map"
	}
	cols := 1
	for cols*cols < len(all) {
		cols++
	}
	defaults(p, "grid", map[string]string{"rows": strconv.Itoa(max(1, (len(all)+cols-1)/cols)), "columns": strconv.Itoa(cols)})
	defaults(p, "image", map[string]string{"image_url": plan.ImageURL})
	p.Title = p.T("omap.title_of", "Name", f.LocalName(p.Lang))
	p.Data = v
	return s.render(c, status, "organizer_map", p)
}

func (s *Site) mapForm(c *fiber.Ctx, a catalog.Actor, slug, name string, inputs ...string) form {
	return form{name: name, inputs: inputs, title: "omap.title", show: func(p *Page, status int) error {
		return s.showMapEditor(c, p, a, slug, status)
	}}
}

// formInt reads a whole number from the form; ok is false when it is not one.
func formInt(c *fiber.Ctx, name string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue(name)))
	return n, err == nil
}

// mapGridSubmit lays the booths out as a grid of the fair's stalls.
func (s *Site) mapGridSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, mapEditorPath(slug))
	if !ok {
		return err
	}
	rows, okRows := formInt(c, "rows")
	cols, okCols := formInt(c, "columns")
	if !okRows {
		rows = 0 // refused by the service with the field's message
	}
	if !okCols {
		cols = 0
	}
	_, err = s.catalog.LayoutGrid(c.UserContext(), a, slug, rows, cols)
	return s.finish(c, err, "flash.map_saved", mapEditorPath(slug), s.mapForm(c, a, slug, "grid", "rows", "columns"))
}

// mapBoothSubmit changes one booth (found by its number "booth"), or adds
// it when the plan has no such booth; "remove" takes it off the plan.
func (s *Site) mapBoothSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, mapEditorPath(slug))
	if !ok {
		return err
	}
	ctx := c.UserContext()
	fm := s.mapForm(c, a, slug, "booth", "booth", "stall_id", "x", "y", "w", "h")
	plan, err := s.catalog.FloorPlan(ctx, a, slug)
	if err != nil {
		return err
	}
	label := strings.TrimSpace(c.FormValue("booth"))
	i := 0
	for i < len(plan.Booths) && plan.Booths[i].Booth != label {
		i++
	}
	if c.FormValue("remove") != "" {
		if i < len(plan.Booths) {
			plan.Booths = append(plan.Booths[:i], plan.Booths[i+1:]...)
		}
		_, err = s.catalog.SetFloorPlan(ctx, a, slug, *plan)
		return s.finish(c, err, "flash.map_saved", mapEditorPath(slug), fm)
	}
	b := catalog.Booth{Booth: label, StallID: c.FormValue("stall_id"), X: -1, Y: -1}
	var c1 catalog.Check
	for _, f := range []struct {
		name string
		to   *int
	}{{"x", &b.X}, {"y", &b.Y}, {"w", &b.W}, {"h", &b.H}} {
		n, ok := formInt(c, f.name)
		c1.That(ok, f.name, "must be a whole number")
		if ok {
			*f.to = n
		}
	}
	if err := c1.Err(); err != nil {
		return s.finish(c, err, "", "", fm)
	}
	if i < len(plan.Booths) {
		plan.Booths[i] = b
	} else {
		plan.Booths = append(plan.Booths, b)
	}
	_, err = s.catalog.SetFloorPlan(ctx, a, slug, *plan)
	return s.finish(c, boothFieldErr(err, i), "flash.map_saved", mapEditorPath(slug)+"#booth-"+url.PathEscape(label), fm)
}

// boothFieldErr names the booth form's inputs in the service's validation
// error about booths[i].
func boothFieldErr(err error, i int) error {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	prefix := "booths[" + strconv.Itoa(i) + "]"
	var c catalog.Check
	for _, f := range ve.Fields {
		switch {
		case f.Field == prefix:
			c.That(false, "x", f.Message)
		case strings.HasPrefix(f.Field, prefix+"."):
			c.That(false, strings.TrimPrefix(f.Field, prefix+"."), f.Message)
		default:
			c.That(false, f.Field, f.Message)
		}
	}
	return c.Err()
}

// mapImageSubmit sets the URL of the plan's image (empty: none).
func (s *Site) mapImageSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, mapEditorPath(slug))
	if !ok {
		return err
	}
	ctx := c.UserContext()
	plan, err := s.catalog.FloorPlan(ctx, a, slug)
	if err == nil {
		plan.ImageURL = c.FormValue("image_url")
		_, err = s.catalog.SetFloorPlan(ctx, a, slug, *plan)
	}
	return s.finish(c, err, "flash.map_saved", mapEditorPath(slug), s.mapForm(c, a, slug, "image", "image_url"))
}

// mapUploadSubmit stores an uploaded image of the plan as its image.
func (s *Site) mapUploadSubmit(c *fiber.Ctx) error {
	slug := c.Params("slug")
	a, ok, err := s.console(c, catalog.RoleOrganizer, mapEditorPath(slug))
	if !ok {
		return err
	}
	var data []byte
	fh, err := c.FormFile("image")
	if err != nil {
		err = catalog.Invalid("image", "is required")
	} else {
		var f io.ReadCloser
		if f, err = fh.Open(); err == nil {
			data, err = io.ReadAll(io.LimitReader(f, catalog.MaxImageBytes+1))
			f.Close()
		}
		if err == nil {
			_, err = s.catalog.SetFloorPlanImage(c.UserContext(), a, slug, data)
		}
	}
	return s.finish(c, err, "flash.map_saved", mapEditorPath(slug), s.mapForm(c, a, slug, "upload"))
}
