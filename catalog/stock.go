package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// The catalog owns products' stock, flash sales' sold counts and stalls'
// payout accounts. Other domains change them only through the methods below,
// which run in the caller's transaction (db): a checkout stays one
// transaction across catalog and orders.

// ErrInsufficientStock is a reservation of more units than are left.
var ErrInsufficientStock = Coded("insufficient_stock", Fail(ErrConflict, "not enough stock left"))

// ReserveStock takes quantity units of a product if that many are left. It is
// one conditional update (stock >= quantity), so reservations running at once
// never take the stock below zero; when too few are left it returns
// ErrInsufficientStock. The units count as sold (the search ranks by it)
// until ReturnStock gives them back.
func (s *Service) ReserveStock(ctx context.Context, db bun.IDB, productID string, quantity int64) error {
	res, err := db.NewUpdate().Table("products").Set("stock = stock - ?, sold = sold + ?", quantity, quantity).
		Where("id = ? AND stock >= ?", productID, quantity).Exec(ctx)
	if err != nil {
		if IsCheckViolation(err) {
			return ErrInsufficientStock
		}
		return fmt.Errorf("reserve stock: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrInsufficientStock
	}
	return nil
}

// ReturnStock puts quantity units of a product back (a cancelled, expired or
// refunded order's): they no longer count as sold.
func (s *Service) ReturnStock(ctx context.Context, db bun.IDB, productID string, quantity int64) error {
	_, err := db.NewUpdate().Table("products").
		Set("stock = stock + ?, sold = CASE WHEN sold > ? THEN sold - ? ELSE 0 END", quantity, quantity, quantity).
		Where("id = ?", productID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("return stock: %w", err)
	}
	return nil
}

// restock puts units of a flash sale back into its product's stock: they
// were never sold through ReserveStock.
func restock(ctx context.Context, db bun.IDB, productID string, quantity int64) error {
	if _, err := db.NewUpdate().Table("products").Set("stock = stock + ?", quantity).Where("id = ?", productID).Exec(ctx); err != nil {
		return fmt.Errorf("return stock: %w", err)
	}
	return nil
}

// PayoutAccount returns the Stripe account a stall is paid out to; empty
// until its merchant has connected one.
func (s *Service) PayoutAccount(ctx context.Context, db bun.IDB, stallID string) (string, error) {
	var account string
	if err := db.NewSelect().Table("stalls").Column("stripe_account_id").Where("id = ?", stallID).Scan(ctx, &account); err != nil {
		return "", NotFound(err, "stall")
	}
	return account, nil
}

// SetPayoutAccount stores the Stripe account a stall is paid out to.
func (s *Service) SetPayoutAccount(ctx context.Context, db bun.IDB, stallID, account string) error {
	res, err := db.NewUpdate().Table("stalls").Set("stripe_account_id = ?", account).Where("id = ?", stallID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set payout account: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Fail(ErrNotFound, "stall")
	}
	return nil
}

// LockFlashSale reads an offer and, on PostgreSQL, locks it until the
// caller's transaction ends (SQLite's transactions hold the write lock).
func (s *Service) LockFlashSale(ctx context.Context, tx bun.IDB, id string) (*FlashSale, error) {
	f := new(FlashSale)
	if err := ForUpdate(tx.NewSelect().Model(f).Where("id = ?", id)).Scan(ctx); err != nil {
		return nil, NotFound(err, "flash sale")
	}
	return f, nil
}

// AddFlashSold changes an offer's sold count by n units (negative gives them
// back). A CHECK keeps the count within 0 and the offer's quantity whatever
// the caller believed; the violation is returned as is.
func (s *Service) AddFlashSold(ctx context.Context, tx bun.IDB, saleID string, n int) error {
	if _, err := tx.NewUpdate().Model((*FlashSale)(nil)).Set("sold = sold + ?", n).Where("id = ?", saleID).Exec(ctx); err != nil {
		return fmt.Errorf("flash sale %s sold count: %w", saleID, err)
	}
	return nil
}

// ReturnFlashUnits gives a cancelled flash order's units back: to the sale
// while it has not been settled (onSale: the caller puts them back on sale in
// Redis), or to the product's stock once the sale has been settled (its
// quantity shrinks with them).
func (s *Service) ReturnFlashUnits(ctx context.Context, tx bun.IDB, saleID string, units int) (onSale bool, err error) {
	f, err := s.LockFlashSale(ctx, tx, saleID)
	if err != nil {
		return false, err
	}
	if f.Settled {
		if _, err := tx.NewUpdate().Model(f).Set("sold = sold - ?, quantity = quantity - ?", units, units).WherePK().Exec(ctx); err != nil {
			return false, fmt.Errorf("flash sale %s: %w", saleID, err)
		}
		return false, restock(ctx, tx, f.ProductID, int64(units))
	}
	if err := s.AddFlashSold(ctx, tx, saleID, -units); err != nil {
		return false, err
	}
	return true, nil
}

// SettleFlashSaleIn closes an ended offer in the caller's transaction: its
// unsold units go back to the product's stock and its quantity shrinks to
// what was sold. An offer already settled is left alone.
func (s *Service) SettleFlashSaleIn(ctx context.Context, tx bun.IDB, saleID string, now time.Time) error {
	f, err := s.LockFlashSale(ctx, tx, saleID)
	if err != nil {
		return err
	}
	if f.Settled {
		return nil
	}
	unsold := f.Quantity - f.Sold
	if _, err := tx.NewUpdate().Model(f).Set("quantity = sold, settled = TRUE, updated_at = ?", now).WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("settle flash sale %s: %w", saleID, err)
	}
	return restock(ctx, tx, f.ProductID, int64(unsold))
}

// UnsettledFlashSaleIDs lists up to limit offers ended by now and not yet
// settled (withdrawn ones are settled when withdrawn).
func (s *Service) UnsettledFlashSaleIDs(ctx context.Context, db bun.IDB, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := db.NewSelect().Model((*FlashSale)(nil)).Column("id").
		Where("NOT settled AND NOT withdrawn AND ends_at <= ?", now).Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("unsettled flash sales: %w", err)
	}
	return ids, nil
}

// StartedFlashSaleIDs lists up to limit offers started by now and not yet
// settled: running, or ended and waiting to be settled.
func (s *Service) StartedFlashSaleIDs(ctx context.Context, db bun.IDB, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := db.NewSelect().Model((*FlashSale)(nil)).Column("id").
		Where("NOT settled AND NOT withdrawn AND starts_at <= ?", now).Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("started flash sales: %w", err)
	}
	return ids, nil
}
