package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// MaxLineQuantity bounds one cart line.
const MaxLineQuantity = 999

// CartItem is one product in a shopper's cart.
type CartItem struct {
	bun.BaseModel `bun:"table:cart_items"`

	UserID    string    `bun:",pk" json:"-"`
	ProductID string    `bun:",pk" json:"product_id"`
	FairID    string    `json:"-"`
	Quantity  int       `json:"quantity"`
	UpdatedAt time.Time `json:"-"`
}

// CartLine is a cart item priced from the product as it is now.
type CartLine struct {
	ProductID string `json:"product_id"`
	StallID   string `json:"stall_id"`
	Title     string `json:"title"`
	Kind      string `json:"kind"`
	Quantity  int    `json:"quantity"`
	UnitPrice Money  `json:"unit_price" doc:"current price, in fen"`
	LineTotal Money  `json:"line_total"`
	Stock     int64  `json:"stock"`
	Available bool   `json:"available" doc:"false when the product can no longer be bought"`
}

// Cart is a shopper's cart over the stalls of one fair. Prices are always the
// server's current ones.
type Cart struct {
	FairID   string     `json:"fair_id,omitempty"`
	Items    []CartLine `json:"items"`
	Total    Money      `json:"total"`
	Currency string     `json:"currency"`
}

// SetCartItem sets the quantity of a product in the actor's cart (0 removes
// it). A cart holds the products of one fair; quantities are checked against
// stock.
func (s *Service) SetCartItem(ctx context.Context, a catalog.Actor, productID string, quantity int) (*Cart, error) {
	if quantity < 0 || quantity > MaxLineQuantity {
		return nil, catalog.Invalid("quantity", fmt.Sprintf("must be from 0 to %d", MaxLineQuantity))
	}
	if quantity == 0 {
		_, err := s.db.NewDelete().Model((*CartItem)(nil)).Where("user_id = ? AND product_id = ?", a.UserID, productID).Exec(ctx)
		if err != nil {
			return nil, err
		}
		return s.Cart(ctx, a)
	}
	// The product is read before the transaction: checkout checks it again.
	p, sa, err := s.catalog.Product(ctx, a, productID)
	if err != nil {
		return nil, err
	}
	if !p.Active || !sa.Public() || sa.Fair.Status != catalog.FairOpen {
		return nil, catalog.Fail(catalog.ErrConflict, "this product is not on sale")
	}
	if int64(quantity) > p.Stock {
		return nil, catalog.Failf(ErrInsufficientStock, "only %d left", p.Stock)
	}
	if p.Kind == catalog.KindVoucher && quantity > 1 {
		return nil, catalog.Invalid("quantity", "one voucher per buyer per development")
	}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var other string
		err = tx.NewSelect().Model((*CartItem)(nil)).Column("fair_id").Where("user_id = ? AND fair_id <> ?", a.UserID, p.FairID).Limit(1).Scan(ctx, &other)
		if err == nil {
			return catalog.Fail(catalog.ErrConflict, "your cart holds another fair's products; check out or empty it first")
		}
		item := &CartItem{UserID: a.UserID, ProductID: productID, FairID: p.FairID, Quantity: quantity, UpdatedAt: s.now()}
		_, err = tx.NewInsert().Model(item).On("CONFLICT (user_id, product_id) DO UPDATE").Set("quantity = EXCLUDED.quantity, updated_at = EXCLUDED.updated_at").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Cart(ctx, a)
}

// ClearCart empties the actor's cart.
func (s *Service) ClearCart(ctx context.Context, a catalog.Actor) error {
	_, err := s.db.NewDelete().Model((*CartItem)(nil)).Where("user_id = ?", a.UserID).Exec(ctx)
	return err
}

// Cart returns the actor's cart priced now.
func (s *Service) Cart(ctx context.Context, a catalog.Actor) (*Cart, error) {
	return s.cart(ctx, s.db, a)
}

func (s *Service) cart(ctx context.Context, db bun.IDB, a catalog.Actor) (*Cart, error) {
	var items []CartItem
	err := db.NewSelect().Model(&items).Where("user_id = ?", a.UserID).OrderExpr("updated_at ASC, product_id ASC").Scan(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	products, err := s.catalog.ProductsByID(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	var stallIDs []string
	for _, p := range products {
		stallIDs = append(stallIDs, p.StallID)
	}
	stalls, err := s.catalog.StallsByID(ctx, db, stallIDs)
	if err != nil {
		return nil, err
	}
	c := &Cart{Items: []CartLine{}, Currency: catalog.CurrencyCNY}
	for _, it := range items {
		p, st := products[it.ProductID], (*catalog.Stall)(nil)
		if p != nil {
			st = stalls[p.StallID]
		}
		if st == nil {
			continue // gone with its product (the cart line goes too)
		}
		c.FairID = it.FairID
		line := CartLine{ProductID: it.ProductID, StallID: p.StallID, Title: p.Title, Kind: p.Kind, Quantity: it.Quantity,
			UnitPrice: p.Price, LineTotal: p.Price * int64(it.Quantity), Stock: p.Stock,
			Available: p.Active && st.Status == catalog.StallActive && p.Stock >= int64(it.Quantity)}
		c.Items = append(c.Items, line)
		c.Total += line.LineTotal
	}
	return c, nil
}
