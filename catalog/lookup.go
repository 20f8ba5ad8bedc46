package catalog

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// Reads for the other domains, through their transaction (db) and whoever
// asks: they check what they need themselves. Other domains read the
// catalog's tables through these rather than querying them.

// ProductByID reads a product (without its images) through db, whoever asks:
// for other domains, which check what they need themselves.
func (s *Service) ProductByID(ctx context.Context, db bun.IDB, id string) (*Product, error) {
	p := new(Product)
	if err := db.NewSelect().Model(p).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, NotFound(err, "product")
	}
	return p, nil
}

// ProductsByID reads the products of ids (those that exist) through db,
// keyed by id, for other domains.
func (s *Service) ProductsByID(ctx context.Context, db bun.IDB, ids []string) (map[string]*Product, error) {
	out := make(map[string]*Product, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Product
	if err := db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// StallByID reads a stall through db whatever its status, for other domains.
func (s *Service) StallByID(ctx context.Context, db bun.IDB, id string) (*Stall, error) {
	st := new(Stall)
	if err := db.NewSelect().Model(st).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, NotFound(err, "stall")
	}
	return st, nil
}

// StallsByID reads the stalls of ids (those that exist) through db, keyed by
// id, for other domains.
func (s *Service) StallsByID(ctx context.Context, db bun.IDB, ids []string) (map[string]*Stall, error) {
	out := make(map[string]*Stall, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []Stall
	if err := db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("stalls: %w", err)
	}
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}

// StallsOfFair lists every stall of a fair, whatever its status, by id (for
// other domains' reports).
func StallsOfFair(ctx context.Context, db bun.IDB, fairID string) ([]Stall, error) {
	var rows []Stall
	if err := db.NewSelect().Model(&rows).Where("fair_id = ?", fairID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("stalls of fair %s: %w", fairID, err)
	}
	return rows, nil
}

// CategoriesOf lists a fair's categories through db (for other domains'
// reports).
func CategoriesOf(ctx context.Context, db bun.IDB, fairID string) ([]Category, error) {
	cats, err := categories(ctx, db, fairID)
	if err != nil {
		return nil, fmt.Errorf("categories of fair %s: %w", fairID, err)
	}
	return cats, nil
}

// FlashSalesOf lists every offer of a fair, or of one of its stalls when
// stallID is set, withdrawn ones included, with their products' titles, by
// start time (for other domains' reports).
func FlashSalesOf(ctx context.Context, db bun.IDB, fairID, stallID string) ([]FlashSale, error) {
	var rows []FlashSale
	q := db.NewSelect().Model(&rows).ColumnExpr("flash_sale.*").
		Join("JOIN products AS p ON p.id = flash_sale.product_id").ColumnExpr("p.title AS title").
		OrderExpr("flash_sale.starts_at ASC, flash_sale.id ASC")
	if stallID != "" {
		q = q.Where("flash_sale.stall_id = ?", stallID)
	} else {
		q = q.Where("flash_sale.fair_id = ?", fairID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("flash sales: %w", err)
	}
	return rows, nil
}

// LiveBookings counts the live viewing bookings of each of stallIDs (stalls
// without any are left out).
func LiveBookings(ctx context.Context, db bun.IDB, stallIDs []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(stallIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		StallID string
		N       int64
	}
	err := db.NewSelect().Model((*Booking)(nil)).ColumnExpr("booking.stall_id, COUNT(*) AS n").
		Where("booking.status = ?", BookingBooked).Where("booking.stall_id IN (?)", bun.In(stallIDs)).
		GroupExpr("booking.stall_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("bookings: %w", err)
	}
	for _, r := range rows {
		out[r.StallID] = r.N
	}
	return out, nil
}
