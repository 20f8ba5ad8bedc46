package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Flash-sale statuses, derived from the time and the offer's state.
const (
	FlashUpcoming  = "upcoming"
	FlashLive      = "live"
	FlashEnded     = "ended"
	FlashWithdrawn = "withdrawn"
)

// MaxFlashQuantity bounds one offer.
const MaxFlashQuantity = 1_000_000

// FlashSale is a timed offer (抢购) of a quantity of one product at a flash
// price. Its quantity is taken out of the product's stock when it is created
// and what is left unsold goes back when it ends or is withdrawn.
type FlashSale struct {
	bun.BaseModel `bun:"table:flash_sales"`

	ID           string    `bun:",pk" json:"id"`
	FairID       string    `json:"fair_id"`
	StallID      string    `json:"stall_id"`
	ProductID    string    `json:"product_id"`
	Price        int64     `json:"price" doc:"the flash price, in fen"`
	Quantity     int       `json:"quantity"`
	Sold         int       `json:"-"`
	PerUserLimit int       `json:"per_user_limit"`
	StartsAt     time.Time `json:"starts_at"`
	EndsAt       time.Time `json:"ends_at"`
	Withdrawn    bool      `json:"-"`
	Settled      bool      `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"-"`

	Status    string `bun:"-" json:"status" enum:"upcoming,live,ended,withdrawn"`
	Remaining int    `bun:"-" json:"remaining" doc:"units still to be won"`
	Title     string `bun:",scanonly" json:"title,omitempty" doc:"the product's title"`
	// Bounds is the window of the sale's fair and stall, when loaded: the
	// sale sells only while its fair is open.
	Bounds *FairWindow `bun:"-" json:"-"`
}

// boundsOf is the window a fair and a stall of it give their flash sales.
func boundsOf(fair *Fair, st *Stall) *FairWindow {
	w := fair.Window()
	if st != nil && st.Status != StallActive {
		w.Closed = true
	}
	return &w
}

// FlashBounds reads the window of a stall's fair that bounds the stall's
// flash sales (for admission, which caches it).
func (s *Service) FlashBounds(ctx context.Context, db bun.IDB, stallID string) (FairWindow, error) {
	var row struct {
		StartsAt  time.Time
		EndsAt    time.Time
		Published bool
		Status    string
	}
	err := db.NewSelect().TableExpr("stalls AS st").Join("JOIN fairs AS f ON f.id = st.fair_id").
		ColumnExpr("f.starts_at, f.ends_at, f.published, st.status").Where("st.id = ?", stallID).Scan(ctx, &row)
	if err != nil {
		return FairWindow{}, notFound(err, "stall")
	}
	return FairWindow{StartsAt: row.StartsAt, EndsAt: row.EndsAt, Closed: !row.Published || row.Status != StallActive}, nil
}

// StatusAt is the sale's status at now: within its own dates and, when its
// Bounds are loaded, its fair's (a closed fair ends its sales, a postponed
// one makes them wait).
func (f *FlashSale) StatusAt(now time.Time) string {
	b := f.Bounds
	switch {
	case f.Withdrawn:
		return FlashWithdrawn
	case b != nil && b.Closed:
		return FlashEnded
	case now.Before(f.StartsAt) || b != nil && now.Before(b.StartsAt):
		return FlashUpcoming
	case now.Before(f.EndsAt) && (b == nil || now.Before(b.EndsAt)):
		return FlashLive
	}
	return FlashEnded
}

// FlashInput is what a merchant sets on an offer; nil fields stay when editing.
type FlashInput struct {
	ProductID    string
	Price        *int64
	Quantity     *int
	PerUserLimit *int
	StartsAt     *time.Time
	EndsAt       *time.Time
}

func (in FlashInput) apply(f *FlashSale, fair *Fair, now time.Time) error {
	if in.Price != nil {
		f.Price = *in.Price
	}
	if in.Quantity != nil {
		f.Quantity = *in.Quantity
	}
	if in.PerUserLimit != nil {
		f.PerUserLimit = *in.PerUserLimit
	}
	if in.StartsAt != nil {
		f.StartsAt = in.StartsAt.UTC()
	}
	if in.EndsAt != nil {
		f.EndsAt = in.EndsAt.UTC()
	}
	var c Check
	c.That(f.Price >= 1 && f.Price <= MaxPrice, "price", "must be a whole number of fen from 1 to 10000000000")
	c.That(f.Quantity >= 1 && f.Quantity <= MaxFlashQuantity, "quantity", "must be from 1 to 1000000")
	c.That(f.PerUserLimit >= 1 && f.PerUserLimit <= 100, "per_user_limit", "must be from 1 to 100")
	c.That(f.StartsAt.After(now), "starts_at", "must be in the future")
	c.That(f.EndsAt.After(f.StartsAt), "ends_at", "must be after starts_at")
	c.That(!f.StartsAt.Before(fair.StartsAt) && !f.EndsAt.After(fair.EndsAt), "starts_at", "the sale must run within the fair's dates")
	return c.Err()
}

// ErrFlashStarted is a change to an offer that has already started.
var ErrFlashStarted = Fail(ErrConflict, "a flash sale cannot change once it has started")

// CreateFlashSale offers quantity units of the merchant's own product at a
// flash price; the units leave the product's stock at once.
func (s *Service) CreateFlashSale(ctx context.Context, a Actor, in FlashInput) (*FlashSale, error) {
	var f *FlashSale
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		p, sa, err := s.ownProduct(ctx, tx, a, in.ProductID)
		if err != nil {
			return err
		}
		if p.Kind == KindVoucher {
			return Invalid("product_id", "vouchers are not sold in flash sales")
		}
		now := s.now()
		f = &FlashSale{ID: NewID(), FairID: sa.Fair.ID, StallID: sa.Stall.ID, ProductID: p.ID, CreatedAt: now, UpdatedAt: now}
		var c Check
		c.That(in.Price != nil, "price", "is required")
		c.That(in.Quantity != nil, "quantity", "is required")
		c.That(in.PerUserLimit != nil, "per_user_limit", "is required")
		c.That(in.StartsAt != nil, "starts_at", "is required")
		c.That(in.EndsAt != nil, "ends_at", "is required")
		if err := c.Err(); err != nil {
			return err
		}
		if err := in.apply(f, sa.Fair, now); err != nil {
			return err
		}
		if err := takeStock(ctx, tx, p.ID, int64(f.Quantity)); err != nil {
			return err
		}
		f.Bounds = boundsOf(sa.Fair, sa.Stall)
		if _, err = tx.NewInsert().Model(f).Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, now, a, f.FairID, "flash_sale.create", f.ID, Change{After: flashTerms(f)})
	})
	if err != nil {
		return nil, err
	}
	f.Status, f.Remaining = f.StatusAt(s.now()), f.Quantity
	return f, nil
}

// ErrFlashStock is an offer larger than the product's stock.
var ErrFlashStock = Coded("insufficient_stock", Fail(ErrConflict, "the product has not that much stock"))

func takeStock(ctx context.Context, db bun.IDB, productID string, n int64) error {
	res, err := db.NewUpdate().Table("products").Set("stock = stock - ?", n).Where("id = ? AND stock >= ?", productID, n).Exec(ctx)
	if err != nil {
		return fmt.Errorf("take stock: %w", err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return ErrFlashStock
	}
	return nil
}

// ownFlashSale loads an offer for the merchant of its stall, locked.
func (s *Service) ownFlashSale(ctx context.Context, tx bun.Tx, a Actor, id string) (*FlashSale, StallAccess, error) {
	f := new(FlashSale)
	if err := ForUpdate(tx.NewSelect().Model(f).Where("id = ?", id)).Scan(ctx); err != nil {
		return nil, StallAccess{}, notFound(err, "flash sale")
	}
	sa, err := s.stallAccess(ctx, tx, a, f.StallID)
	if err != nil {
		return nil, StallAccess{}, hidden(err, "flash sale")
	}
	if !sa.Merchant {
		return nil, StallAccess{}, Fail(ErrForbidden, "only the stall's merchant changes its flash sales")
	}
	return f, sa, nil
}

// UpdateFlashSale edits an offer before it starts; a new quantity moves the
// difference between the product's stock and the offer.
func (s *Service) UpdateFlashSale(ctx context.Context, a Actor, id string, in FlashInput) (*FlashSale, error) {
	var f *FlashSale
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var sa StallAccess
		var err error
		if f, sa, err = s.ownFlashSale(ctx, tx, a, id); err != nil {
			return err
		}
		now := s.now()
		if f.Withdrawn || !now.Before(f.StartsAt) {
			return ErrFlashStarted
		}
		before, was := f.Quantity, flashTerms(f)
		f.Bounds = boundsOf(sa.Fair, sa.Stall)
		if err := in.apply(f, sa.Fair, now); err != nil {
			return err
		}
		if d := f.Quantity - before; d > 0 {
			if err := takeStock(ctx, tx, f.ProductID, int64(d)); err != nil {
				return err
			}
		} else if d < 0 {
			if err := restock(ctx, tx, f.ProductID, int64(-d)); err != nil {
				return err
			}
		}
		f.UpdatedAt = now
		if _, err = tx.NewUpdate().Model(f).Column("price", "quantity", "per_user_limit", "starts_at", "ends_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, now, a, f.FairID, "flash_sale.update", f.ID, Diff(was, flashTerms(f)))
	})
	if err != nil {
		return nil, err
	}
	f.Status, f.Remaining = f.StatusAt(s.now()), f.Quantity
	return f, nil
}

// WithdrawFlashSale cancels an offer before it starts; its units go back to
// the product's stock.
func (s *Service) WithdrawFlashSale(ctx context.Context, a Actor, id string) (*FlashSale, error) {
	var f *FlashSale
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if f, _, err = s.ownFlashSale(ctx, tx, a, id); err != nil {
			return err
		}
		if f.Withdrawn || !s.now().Before(f.StartsAt) {
			return ErrFlashStarted
		}
		if err := restock(ctx, tx, f.ProductID, int64(f.Quantity)); err != nil {
			return err
		}
		f.Withdrawn, f.Settled, f.UpdatedAt = true, true, s.now()
		if _, err = tx.NewUpdate().Model(f).Column("withdrawn", "settled", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, f.UpdatedAt, a, f.FairID, "flash_sale.withdraw", f.ID, map[string]any{"product_id": f.ProductID, "quantity": f.Quantity})
	})
	if err != nil {
		return nil, err
	}
	f.Status = f.StatusAt(s.now())
	return f, nil
}

// FlashSaleByID loads an offer with its product's title, for anyone when its
// stall is public (and always for other domains, which pass the zero Actor
// with internal=true).
func (s *Service) FlashSaleByID(ctx context.Context, db bun.IDB, a Actor, id string, internal bool) (*FlashSale, error) {
	f := new(FlashSale)
	err := db.NewSelect().Model(f).ColumnExpr("flash_sale.*").
		Join("JOIN products AS p ON p.id = flash_sale.product_id").ColumnExpr("p.title AS title").
		Where("flash_sale.id = ?", id).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "flash sale")
	}
	if !internal {
		sa, err := s.stallAccess(ctx, db, a, f.StallID)
		if err != nil {
			return nil, hidden(err, "flash sale")
		}
		if (!sa.Public() || f.Withdrawn) && !sa.Merchant && !sa.Organizer {
			return nil, Fail(ErrNotFound, "flash sale")
		}
		f.Bounds = boundsOf(sa.Fair, sa.Stall)
	} else {
		b, err := s.FlashBounds(ctx, db, f.StallID)
		if err != nil {
			return nil, err
		}
		f.Bounds = &b
	}
	f.Status = f.StatusAt(s.now())
	f.Remaining = f.Quantity - f.Sold
	return f, nil
}

// FlashSales lists a fair's offers that have not been withdrawn, by start
// time; ended ones only when withEnded.
func (s *Service) FlashSales(ctx context.Context, a Actor, slug string, withEnded bool) ([]FlashSale, error) {
	fair, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	var rows []FlashSale
	q := s.db.NewSelect().Model(&rows).ColumnExpr("flash_sale.*").
		Join("JOIN products AS p ON p.id = flash_sale.product_id").ColumnExpr("p.title AS title").
		Join("JOIN stalls AS st ON st.id = flash_sale.stall_id").
		Where("flash_sale.fair_id = ? AND NOT flash_sale.withdrawn AND st.status = ?", fair.ID, StallActive).
		OrderExpr("flash_sale.starts_at ASC, flash_sale.id ASC")
	if !withEnded {
		q = q.Where("flash_sale.ends_at > ?", s.now())
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	bounds := fair.Window() // the stalls listed are active
	for i := range rows {
		rows[i].Bounds = &bounds
		rows[i].Status = rows[i].StatusAt(now)
		rows[i].Remaining = rows[i].Quantity - rows[i].Sold
	}
	return rows, nil
}

// StallFlashSales lists a stall's offers for its merchant, withdrawn included.
func (s *Service) StallFlashSales(ctx context.Context, a Actor, stallID string) ([]FlashSale, error) {
	sa, err := s.stallAccess(ctx, s.db, a, stallID)
	if err != nil {
		return nil, err
	}
	if !sa.Merchant && !sa.Organizer {
		return nil, Fail(ErrForbidden, "only the stall's merchant lists all its flash sales")
	}
	var rows []FlashSale
	err = s.db.NewSelect().Model(&rows).ColumnExpr("flash_sale.*").
		Join("JOIN products AS p ON p.id = flash_sale.product_id").ColumnExpr("p.title AS title").
		Where("flash_sale.stall_id = ?", stallID).OrderExpr("flash_sale.starts_at DESC").Scan(ctx)
	now := s.now()
	bounds := boundsOf(sa.Fair, sa.Stall)
	for i := range rows {
		rows[i].Bounds = bounds
		rows[i].Status = rows[i].StatusAt(now)
		rows[i].Remaining = rows[i].Quantity - rows[i].Sold
	}
	return rows, err
}

// Remind subscribes the user to a notification when the sale starts.
func (s *Service) Remind(ctx context.Context, a Actor, id string) error {
	f, err := s.FlashSaleByID(ctx, s.db, a, id, false)
	if err != nil {
		return err
	}
	if f.Status != FlashUpcoming {
		return Fail(ErrConflict, "the sale has already started")
	}
	row := map[string]any{"sale_id": id, "user_id": a.UserID, "created_at": s.now()}
	_, err = s.db.NewInsert().Model(&row).TableExpr("flash_reminders").On("CONFLICT (sale_id, user_id) DO NOTHING").Exec(ctx)
	return err
}

// Reminded lists the users subscribed to a sale's start.
func (s *Service) Reminded(ctx context.Context, saleID string) ([]string, error) {
	var ids []string
	err := s.db.NewSelect().TableExpr("flash_reminders").Column("user_id").Where("sale_id = ?", saleID).OrderExpr("user_id").Scan(ctx, &ids)
	return ids, err
}

// IsReminded reports whether the user asked to be told of the sale's start.
func (s *Service) IsReminded(ctx context.Context, saleID, userID string) (bool, error) {
	return s.db.NewSelect().TableExpr("flash_reminders").Where("sale_id = ? AND user_id = ?", saleID, userID).Exists(ctx)
}

// SaleStart is a flash sale's start time, for rebuilding its reminder.
type SaleStart struct {
	ID       string    `bun:"id"`
	StartsAt time.Time `bun:"starts_at"`
}

// RemindedSales lists the sales not yet over, and not withdrawn, that
// someone asked to be reminded of: the reminders the queue must hold. A
// worker starting on an empty Redis queues them again from here.
func (s *Service) RemindedSales(ctx context.Context, now time.Time) ([]SaleStart, error) {
	var out []SaleStart
	err := s.db.NewSelect().TableExpr("flash_sales AS s").ColumnExpr("s.id, s.starts_at").
		Where("NOT s.withdrawn AND s.ends_at > ?", now).
		Where("EXISTS (SELECT 1 FROM flash_reminders AS r WHERE r.sale_id = s.id)").
		OrderExpr("s.starts_at").Scan(ctx, &out)
	return out, err
}

// flashTerms is what a merchant sets of an offer, for the audit log.
func flashTerms(f *FlashSale) map[string]any {
	return map[string]any{"product_id": f.ProductID, "price": f.Price, "quantity": f.Quantity, "per_user_limit": f.PerUserLimit, "starts_at": f.StartsAt, "ends_at": f.EndsAt}
}
