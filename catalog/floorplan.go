package catalog

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Bounds of a floor plan.
const (
	MaxMapBooths   = 2000
	MaxMapCoord    = 100000 // coordinates are in the plan image's pixels, or any grid
	MaxBoothLabel  = 20
	MaxMapImageURL = 500
)

// Booth is one booth of the floor plan: a rectangle, and the stall that
// stands there when one does.
type Booth struct {
	Booth   string `json:"booth" doc:"the booth's number, e.g. A-001"`
	StallID string `json:"stall_id,omitempty"`
	X       int    `json:"x"`
	Y       int    `json:"y"`
	W       int    `json:"w"`
	H       int    `json:"h"`
}

// FloorPlan is the offline fair's map: an optional image and its booths.
type FloorPlan struct {
	ImageURL string  `json:"image_url,omitempty" doc:"an image of the plan (http(s) URL or a path of this site)"`
	Booths   []Booth `json:"booths"`
}

// fairMap is the stored plan.
type fairMap struct {
	bun.BaseModel `bun:"table:fair_maps"`

	FairID    string `bun:",pk"`
	ImageURL  string
	Booths    string
	UpdatedAt time.Time
}

// FloorPlan returns the fair's floor plan to anyone who may see the fair;
// a fair without one has no booths.
func (s *Service) FloorPlan(ctx context.Context, a Actor, slug string) (*FloorPlan, error) {
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	m := new(fairMap)
	err = s.db.NewSelect().Model(m).Where("fair_id = ?", f.ID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return &FloorPlan{Booths: []Booth{}}, nil
	}
	if err != nil {
		return nil, err
	}
	p := &FloorPlan{ImageURL: m.ImageURL, Booths: []Booth{}}
	if err := json.Unmarshal([]byte(m.Booths), &p.Booths); err != nil {
		return nil, err
	}
	return p, nil
}

// SetFloorPlan replaces the fair's floor plan; only its organizer may. A
// booth's stall must be one of the fair's.
func (s *Service) SetFloorPlan(ctx context.Context, a Actor, slug string, in FloorPlan) (*FloorPlan, error) {
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, Fail(ErrForbidden, "only the fair's organizer edits its floor plan")
	}
	in.ImageURL = strings.TrimSpace(in.ImageURL)
	if in.Booths == nil {
		in.Booths = []Booth{}
	}
	var c Check
	if in.ImageURL != "" {
		u, err := url.Parse(in.ImageURL)
		ok := err == nil && len(in.ImageURL) <= MaxMapImageURL &&
			(u.Scheme == "https" || u.Scheme == "http") && u.Host != "" || err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(in.ImageURL, "/") && !strings.HasPrefix(in.ImageURL, "//")
		c.That(ok, "image_url", "must be an http(s) URL or a path of this site, at most 500 characters")
	}
	c.That(len(in.Booths) <= MaxMapBooths, "booths", "must be at most 2000")
	stalls, err := StallsOfFair(ctx, s.db, f.ID)
	if err != nil {
		return nil, err
	}
	ofFair := map[string]bool{}
	for _, st := range stalls {
		ofFair[st.ID] = true
	}
	seen, placed := map[string]bool{}, map[string]bool{}
	for i := range in.Booths {
		if i >= MaxMapBooths {
			break
		}
		b := &in.Booths[i]
		b.Booth, b.StallID = strings.TrimSpace(b.Booth), strings.TrimSpace(b.StallID)
		field := fmt.Sprintf("booths[%d]", i)
		n := utf8.RuneCountInString(b.Booth)
		c.That(n >= 1 && n <= MaxBoothLabel, field+".booth", "must be 1 to 20 characters")
		c.That(!seen[b.Booth], field+".booth", "is listed twice")
		seen[b.Booth] = true
		c.That(b.StallID == "" || ofFair[b.StallID], field+".stall_id", "is not a stall of this fair")
		c.That(b.StallID == "" || !placed[b.StallID], field+".stall_id", "is placed at another booth already")
		if b.StallID != "" {
			placed[b.StallID] = true
		}
		c.That(b.X >= 0 && b.X <= MaxMapCoord && b.Y >= 0 && b.Y <= MaxMapCoord, field, "x and y must be from 0 to 100000")
		c.That(b.W >= 1 && b.W <= MaxMapCoord && b.H >= 1 && b.H <= MaxMapCoord, field, "w and h must be from 1 to 100000")
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(in.Booths)
	if err != nil {
		return nil, err
	}
	m := &fairMap{FairID: f.ID, ImageURL: in.ImageURL, Booths: string(raw), UpdatedAt: s.now()}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(m).On("CONFLICT (fair_id) DO UPDATE").
			Set("image_url = EXCLUDED.image_url, booths = EXCLUDED.booths, updated_at = EXCLUDED.updated_at").Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, m.UpdatedAt, a, f.ID, "map.update", f.ID, map[string]any{"image_url": in.ImageURL, "booths": len(in.Booths), "stalls_placed": len(placed)})
	})
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// FloorPlanStalls returns the fair's floor plan and its active stalls, the
// names its booths are shown with.
func (s *Service) FloorPlanStalls(ctx context.Context, a Actor, slug string) (*FloorPlan, []Stall, error) {
	p, err := s.FloorPlan(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	all, err := StallsOfFair(ctx, s.db, f.ID)
	if err != nil {
		return nil, nil, err
	}
	active := all[:0]
	for _, st := range all {
		if st.Status == StallActive {
			active = append(active, st)
		}
	}
	return p, active, nil
}

// The cells of a grid laid out by LayoutGrid, in plan units.
const (
	GridCellW = 100
	GridCellH = 60
	GridGap   = 10
	MaxGrid   = 100 // rows or columns
)

// LayoutGrid replaces the fair's booths with a grid of rows × columns,
// filled row by row with the fair's stalls in booth-number order; cells left
// over are empty booths numbered after them. The plan's image stays. It
// saves through SetFloorPlan, so only the fair's organizer may.
func (s *Service) LayoutGrid(ctx context.Context, a Actor, slug string, rows, cols int) (*FloorPlan, error) {
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, Fail(ErrForbidden, "only the fair's organizer edits its floor plan")
	}
	stalls, err := StallsOfFair(ctx, s.db, f.ID)
	if err != nil {
		return nil, err
	}
	var c Check
	c.That(rows >= 1 && rows <= MaxGrid, "rows", "must be from 1 to 100")
	c.That(cols >= 1 && cols <= MaxGrid, "columns", "must be from 1 to 100")
	c.That(rows*cols <= MaxMapBooths, "columns", "rows × columns must be at most 2000")
	c.That(rows*cols >= len(stalls), "columns", fmt.Sprintf("rows × columns must hold the fair's %d stalls", len(stalls)))
	if err := c.Err(); err != nil {
		return nil, err
	}
	cur, err := s.FloorPlan(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	return s.SetFloorPlan(ctx, a, slug, FloorPlan{ImageURL: cur.ImageURL, Booths: GridBooths(stalls, rows, cols, boothPrefix(f))})
}

func boothPrefix(f *Fair) string {
	if f.Kind == KindPropertySeason {
		return "P"
	}
	return "A"
}

// GridBooths lays stalls out on a grid of rows × cols, row by row in
// booth-number order; the cells left over get the next free numbers.
func GridBooths(stalls []Stall, rows, cols int, prefix string) []Booth {
	sorted := append([]Stall(nil), stalls...)
	SortByBooth(sorted)
	used := map[string]bool{}
	for _, st := range sorted {
		used[st.Booth] = true
	}
	booths := make([]Booth, 0, rows*cols)
	next := len(sorted)
	for i := 0; i < rows*cols; i++ {
		b := Booth{X: GridGap + i%cols*(GridCellW+GridGap), Y: GridGap + i/cols*(GridCellH+GridGap), W: GridCellW, H: GridCellH}
		if i < len(sorted) {
			b.Booth, b.StallID = sorted[i].Booth, sorted[i].ID
		} else {
			for {
				next++
				b.Booth = fmt.Sprintf("%s-%03d", prefix, next)
				if !used[b.Booth] {
					break
				}
			}
			used[b.Booth] = true
		}
		booths = append(booths, b)
	}
	return booths
}

// SortByBooth sorts stalls by booth number as people read them: "A-2"
// before "A-10", "A-999" before "A-1000".
func SortByBooth(stalls []Stall) {
	slices.SortStableFunc(stalls, func(x, y Stall) int { return CompareBooths(x.Booth, y.Booth) })
}

// CompareBooths orders booth numbers by their letters, then by the number
// that ends them.
func CompareBooths(x, y string) int {
	xp, xn := splitBooth(x)
	yp, yn := splitBooth(y)
	if c := strings.Compare(xp, yp); c != 0 {
		return c
	}
	if c := cmp.Compare(xn, yn); c != 0 {
		return c
	}
	return strings.Compare(x, y)
}

// splitBooth is a booth number's text before its final digits, and those
// digits' value (-1 when there are none).
func splitBooth(b string) (string, int) {
	i := len(b)
	for i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(b[i:])
	if err != nil || i == len(b) {
		return b, -1
	}
	return b[:i], n
}

// SetFloorPlanImage stores an uploaded image of the fair's plan (checked and
// encoded afresh as product photos are) and makes it the plan's image; the
// booths stay. Only the fair's organizer may.
func (s *Service) SetFloorPlanImage(ctx context.Context, a Actor, slug string, data []byte) (*FloorPlan, error) {
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, Fail(ErrForbidden, "only the fair's organizer edits its floor plan")
	}
	enc, err := checkedUpload(data, "image")
	if err != nil {
		return nil, err
	}
	cur, err := s.FloorPlan(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	file := "maps/" + NewID() + enc.ext
	if err := writeFileAtomic(filepath.Join(s.mediaDir, filepath.FromSlash(file)), enc.data); err != nil {
		return nil, err
	}
	p, err := s.SetFloorPlan(ctx, a, slug, FloorPlan{ImageURL: "/media/" + file, Booths: cur.Booths})
	if err != nil {
		os.Remove(filepath.Join(s.mediaDir, filepath.FromSlash(file)))
		return nil, err
	}
	return p, nil
}

// MapImageSize is the size in pixels of a plan image uploaded to this site
// (read from its header), so the booths, in its pixels, can be drawn over
// it; 0, 0 for an image elsewhere or none.
func (s *Service) MapImageSize(p *FloorPlan) (w, h int) {
	file, ok := strings.CutPrefix(p.ImageURL, "/media/maps/")
	if !ok || strings.ContainsAny(file, `/\`) || strings.Contains(file, "..") {
		return 0, 0
	}
	f, err := os.Open(filepath.Join(s.mediaDir, "maps", file))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}
