package catalog

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// Product kinds and fulfilment.
const (
	KindGoods    = "goods"
	KindVoucher  = "voucher"
	ShipDelivery = "ship"
	ShipPickup   = "pickup"
	CurrencyCNY  = "CNY"
)

// Price and stock bounds a product must stay within.
const (
	MaxPrice = 100_000_000_00 // ¥100,000,000 in fen
	MaxStock = 10_000_000
)

// Product is something a stall sells: goods (shipped, or picked up at the
// booth) or a voucher. A property development's deposit voucher is a voucher
// whose price is what the buyer pays and whose offset value is what it takes
// off the price at signing, valid until ValidUntil.
type Product struct {
	bun.BaseModel `bun:"table:products"`

	ID          string     `bun:",pk" json:"id"`
	FairID      string     `json:"fair_id"`
	StallID     string     `json:"stall_id"`
	Category    string     `json:"category" doc:"slug of one of the fair's categories, or empty"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Price       int64      `json:"price" doc:"in fen"`
	Currency    string     `json:"currency" enum:"CNY"`
	Stock       int64      `json:"stock"`
	Kind        string     `json:"kind" enum:"goods,voucher"`
	Fulfillment string     `json:"fulfillment" enum:"ship,pickup"`
	OffsetValue int64      `json:"offset_value,omitempty" doc:"vouchers: what the voucher takes off at signing, in fen"`
	ValidUntil  *time.Time `json:"valid_until,omitempty" doc:"vouchers: last moment the voucher can be redeemed"`
	Active      bool       `json:"active" doc:"inactive products are hidden from shoppers"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`

	Images []Image `bun:"rel:has-many,join:id=product_id" json:"images"`

	// Highlight, in search results, is where the query matched the title.
	Highlight [][2]int `bun:"-" json:"highlight,omitempty" doc:"search results: the parts of the title the query matched, as [start, end) offsets in characters (Unicode code points)"`
}

// ProductInput is what a merchant sets on a product; nil fields stay as they
// are when editing.
type ProductInput struct {
	Title       *string
	Description *string
	Price       *int64
	Currency    *string
	Stock       *int64
	Kind        *string
	Fulfillment *string
	Category    *string
	OffsetValue *int64
	ValidUntil  *time.Time
	Active      *bool
}

func (in ProductInput) apply(p *Product, fair *Fair, categories []Category, now time.Time) error {
	if in.Title != nil {
		p.Title = strings.TrimSpace(*in.Title)
	}
	if in.Description != nil {
		p.Description = strings.TrimSpace(*in.Description)
	}
	if in.Price != nil {
		p.Price = *in.Price
	}
	if in.Currency != nil {
		p.Currency = *in.Currency
	}
	if in.Stock != nil {
		p.Stock = *in.Stock
	}
	if in.Kind != nil {
		p.Kind = *in.Kind
	}
	if in.Fulfillment != nil {
		p.Fulfillment = *in.Fulfillment
	}
	if in.Category != nil {
		p.Category = strings.TrimSpace(*in.Category)
	}
	if in.OffsetValue != nil {
		p.OffsetValue = *in.OffsetValue
	}
	if in.ValidUntil != nil {
		v := in.ValidUntil.UTC()
		p.ValidUntil = &v
	}
	if in.Active != nil {
		p.Active = *in.Active
	}
	switch {
	case p.Kind == KindVoucher:
		p.Fulfillment = ShipPickup // redeemed in person at the booth or sales office
	case in.Kind != nil && in.OffsetValue == nil && in.ValidUntil == nil:
		// Turning a voucher into goods drops the voucher's own fields.
		p.OffsetValue, p.ValidUntil = 0, nil
	}
	var c Check
	c.That(p.Title != "" && utf8.RuneCountInString(p.Title) <= 100, "title", "must be 1 to 100 characters")
	c.That(utf8.RuneCountInString(p.Description) <= 5000, "description", "must be at most 5000 characters")
	c.That(p.Price >= 1 && p.Price <= MaxPrice, "price", "must be a whole number of fen from 1 to 10000000000")
	c.That(p.Currency == CurrencyCNY, "currency", "must be CNY")
	c.That(p.Stock >= 0 && p.Stock <= MaxStock, "stock", "must be a whole number from 0 to 10000000")
	c.That(p.Kind == KindGoods || p.Kind == KindVoucher, "kind", "must be goods or voucher")
	c.That(p.Fulfillment == ShipDelivery || p.Fulfillment == ShipPickup, "fulfillment", "must be ship or pickup")
	known := p.Category == ""
	for _, cat := range categories {
		known = known || cat.Slug == p.Category
	}
	c.That(known, "category", "must be one of the fair's categories")
	if fair.Kind == KindPropertySeason {
		c.That(p.Kind == KindVoucher, "kind", "a development sells deposit vouchers")
	}
	if p.Kind == KindVoucher {
		c.That(p.OffsetValue >= p.Price && p.OffsetValue <= MaxPrice, "offset_value", "must be at least the price (what the voucher takes off at signing)")
		c.That(p.ValidUntil != nil && p.ValidUntil.After(now), "valid_until", "must be in the future")
	} else {
		c.That(p.OffsetValue == 0, "offset_value", "only vouchers have an offset value")
		c.That(p.ValidUntil == nil, "valid_until", "only vouchers have a validity end")
	}
	return c.Err()
}

// CreateProduct adds a product to the merchant's own stall.
func (s *Service) CreateProduct(ctx context.Context, a Actor, stallID string, in ProductInput) (*Product, error) {
	var p *Product
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.ownStall(ctx, tx, a, stallID)
		if err != nil {
			return err
		}
		cats, err := categories(ctx, tx, sa.Fair.ID)
		if err != nil {
			return err
		}
		now := s.now()
		p = &Product{ID: NewID(), FairID: sa.Fair.ID, StallID: sa.Stall.ID, Currency: CurrencyCNY, Kind: KindGoods, Fulfillment: ShipDelivery, Active: true, CreatedAt: now, UpdatedAt: now}
		if sa.Fair.Kind == KindPropertySeason {
			p.Kind = KindVoucher
		}
		if err := in.apply(p, sa.Fair, cats, now); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(p).Exec(ctx); err != nil {
			return err
		}
		if err := Audit(ctx, tx, now, a, p.FairID, "product.create", p.ID, Change{After: p}); err != nil {
			return err
		}
		return indexProduct(ctx, tx, p, sa.Stall.Name)
	})
	if err != nil {
		return nil, err
	}
	p.Images = []Image{}
	return p, nil
}

// UpdateProduct edits a product of the merchant's own stall. Orders already
// placed keep the price they were placed at.
func (s *Service) UpdateProduct(ctx context.Context, a Actor, id string, in ProductInput) (*Product, error) {
	var p *Product
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var sa StallAccess
		var err error
		if p, sa, err = s.ownProduct(ctx, tx, a, id); err != nil {
			return err
		}
		cats, err := categories(ctx, tx, sa.Fair.ID)
		if err != nil {
			return err
		}
		title, description := p.Title, p.Description
		before := *p
		if err := in.apply(p, sa.Fair, cats, s.now()); err != nil {
			return err
		}
		p.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(p).ExcludeColumn("id", "fair_id", "stall_id", "created_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		// A change of stock alone is its own action: what a merchant does
		// most, and what an organizer looks for when stock is disputed.
		action, ch := "product.update", Diff(&before, p)
		if ch.Only("stock") {
			action = "product.stock"
		}
		if err := Audit(ctx, tx, p.UpdatedAt, a, p.FairID, action, p.ID, ch); err != nil {
			return err
		}
		if p.Title == title && p.Description == description {
			return nil
		}
		return indexProduct(ctx, tx, p, sa.Stall.Name)
	})
	if err != nil {
		return nil, err
	}
	return s.productWithImages(ctx, s.db, p.ID)
}

// ownProduct loads a product for the merchant of its stall.
func (s *Service) ownProduct(ctx context.Context, db bun.IDB, a Actor, id string) (*Product, StallAccess, error) {
	p := new(Product)
	if err := db.NewSelect().Model(p).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, StallAccess{}, notFound(err, "product")
	}
	sa, err := s.stallAccess(ctx, db, a, p.StallID)
	if err != nil {
		return nil, StallAccess{}, hidden(err, "product")
	}
	if !sa.Merchant {
		if !p.Active || !sa.Public() {
			return nil, StallAccess{}, Fail(ErrNotFound, "product")
		}
		return nil, StallAccess{}, Fail(ErrForbidden, "only the stall's merchant may change its products")
	}
	return p, sa, nil
}

func (s *Service) productWithImages(ctx context.Context, db bun.IDB, id string) (*Product, error) {
	p := new(Product)
	err := db.NewSelect().Model(p).Relation("Images", func(q *bun.SelectQuery) *bun.SelectQuery { return q.OrderExpr("id ASC") }).
		Where("product.id = ?", id).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "product")
	}
	p.Images = withURLs(p.Images)
	return p, nil
}

// Product returns a product the actor may see: active products of active
// stalls for everyone, any product to its merchant and the fair's organizer.
func (s *Service) Product(ctx context.Context, a Actor, id string) (*Product, StallAccess, error) {
	p, err := s.productWithImages(ctx, s.db, id)
	if err != nil {
		return nil, StallAccess{}, err
	}
	sa, err := s.stallAccess(ctx, s.db, a, p.StallID)
	if err != nil {
		return nil, StallAccess{}, hidden(err, "product")
	}
	if (!p.Active || !sa.Public()) && !sa.Merchant && !sa.Organizer {
		return nil, StallAccess{}, Fail(ErrNotFound, "product")
	}
	return p, sa, nil
}

// ProductQuery filters a fair's product list.
type ProductQuery struct {
	Q        string // words, each in the title, the stall's name or the description (or as pinyin)
	StallID  string
	Kind     string
	Category string
	Page
}

// Products lists what shoppers may buy at a fair: active products of active
// stalls, in the order they were listed; with a query, those matching it,
// best first (see Searcher), each with where its title matched.
func (s *Service) Products(ctx context.Context, a Actor, slug string, pq ProductQuery) ([]Product, *string, error) {
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	if pq.Kind != "" && pq.Kind != KindGoods && pq.Kind != KindVoucher {
		return nil, nil, Invalid("kind", "must be goods or voucher")
	}
	if text := strings.TrimSpace(pq.Q); text != "" {
		if utf8.RuneCountInString(text) > 100 {
			return nil, nil, Invalid("q", "must be at most 100 characters")
		}
		return s.searchProducts(ctx, f.ID, pq)
	}
	var rows []Product
	q := s.db.NewSelect().Model(&rows).
		Relation("Images", func(q *bun.SelectQuery) *bun.SelectQuery { return q.OrderExpr("id ASC") }).
		Join("JOIN stalls AS st ON st.id = product.stall_id").
		Where("product.fair_id = ?", f.ID).
		Where("product.active").
		Where("st.status = ?", StallActive).
		OrderExpr("product.id ASC").Limit(pq.Size() + 1)
	if pq.StallID != "" {
		q = q.Where("product.stall_id = ?", pq.StallID)
	}
	if pq.Kind != "" {
		q = q.Where("product.kind = ?", pq.Kind)
	}
	if pq.Category != "" {
		q = q.Where("product.category = ?", pq.Category)
	}
	if pq.Cursor != "" {
		q = q.Where("product.id > ?", pq.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	for i := range rows {
		rows[i].Images = withURLs(rows[i].Images)
	}
	rows, next := NextCursor(pq.Page, rows, func(p Product) string { return p.ID })
	return rows, next, nil
}

// searchProducts is Products with a query: the searcher ranks, then the
// products of the page are read with their images.
func (s *Service) searchProducts(ctx context.Context, fairID string, pq ProductQuery) ([]Product, *string, error) {
	hits, next, err := s.search.Search(ctx, fairID, SearchQuery{Text: pq.Q, StallID: pq.StallID, Kind: pq.Kind, Category: pq.Category}, pq.Page)
	if err != nil || len(hits) == 0 {
		return []Product{}, nil, err
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ProductID
	}
	var rows []Product
	err = s.db.NewSelect().Model(&rows).
		Relation("Images", func(q *bun.SelectQuery) *bun.SelectQuery { return q.OrderExpr("id ASC") }).
		Where("product.id IN (?)", bun.In(ids)).Scan(ctx)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]*Product, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	out := make([]Product, 0, len(hits))
	for _, h := range hits {
		if p := byID[h.ProductID]; p != nil {
			p.Images = withURLs(p.Images)
			p.Highlight = h.Highlight
			out = append(out, *p)
		}
	}
	return out, next, nil
}

// Suggest completes what a shopper types in a fair's search box: up to
// limit titles and stall names (see Searcher).
func (s *Service) Suggest(ctx context.Context, a Actor, slug, text string, limit int) ([]Suggestion, error) {
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > 100 {
		return nil, Invalid("q", "must be at most 100 characters")
	}
	if limit <= 0 || limit > MaxSuggestions {
		limit = MaxSuggestions
	}
	if text == "" {
		return []Suggestion{}, nil
	}
	return s.search.Suggest(ctx, f.ID, text, limit)
}

// MaxSuggestions is the most suggestions one answer gives.
const MaxSuggestions = 8

// StallProducts lists every product of a stall for its merchant (hidden ones
// included), or the active ones for everyone else.
func (s *Service) StallProducts(ctx context.Context, a Actor, stallID string) ([]Product, error) {
	sa, err := s.stallAccess(ctx, s.db, a, stallID)
	if err != nil {
		return nil, err
	}
	var rows []Product
	q := s.db.NewSelect().Model(&rows).
		Relation("Images", func(q *bun.SelectQuery) *bun.SelectQuery { return q.OrderExpr("id ASC") }).
		Where("product.stall_id = ?", stallID).OrderExpr("product.id ASC")
	if !sa.Merchant && !sa.Organizer {
		q = q.Where("product.active")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Images = withURLs(rows[i].Images)
	}
	return rows, nil
}
