package catalog_test

import (
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

// The tx-taking methods other domains change the catalog's tables with.

func TestStock(t *testing.T) {
	t.Run("ReserveAndReturn", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("灯笼", 100, 5))
		err := k.inTx(func(tx bun.Tx) error { return k.svc.ReserveStock(k.ctx, tx, p.ID, 3) })
		if err != nil || k.stock(p.ID) != 2 {
			t.Fatalf("reserve 3 of 5: %v, stock %d; want 2", err, k.stock(p.ID))
		}
		err = k.inTx(func(tx bun.Tx) error { return k.svc.ReturnStock(k.ctx, tx, p.ID, 3) })
		if err != nil || k.stock(p.ID) != 5 {
			t.Fatalf("return 3: %v, stock %d; want 5", err, k.stock(p.ID))
		}
	})
	t.Run("Insufficient", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("灯笼", 100, 2))
		err := k.inTx(func(tx bun.Tx) error { return k.svc.ReserveStock(k.ctx, tx, p.ID, 3) })
		catalogtest.WantErr(t, err, catalog.ErrInsufficientStock)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		catalogtest.WantCode(t, err, "insufficient_stock")
		if got := k.stock(p.ID); got != 2 {
			t.Fatalf("stock %d after a refused reservation, want 2", got)
		}
		err = k.inTx(func(tx bun.Tx) error { return k.svc.ReserveStock(k.ctx, tx, "no-such-product", 1) })
		catalogtest.WantErr(t, err, catalog.ErrInsufficientStock)
	})
	t.Run("RolledBackWithTheCaller", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("灯笼", 100, 5))
		boom := errors.New("the caller's next step failed")
		err := k.inTx(func(tx bun.Tx) error {
			if err := k.svc.ReserveStock(k.ctx, tx, p.ID, 4); err != nil {
				return err
			}
			return boom
		})
		catalogtest.WantErr(t, err, boom)
		if got := k.stock(p.ID); got != 5 {
			t.Fatalf("stock %d after the caller rolled back, want 5", got)
		}
	})
	t.Run("ConcurrentNeverBelowZero", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		const stock, buyers = 5, 12
		p := k.product(w, goods("灯笼", 100, stock))
		var wg sync.WaitGroup
		errs := make([]error, buyers)
		for i := range buyers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = k.inTx(func(tx bun.Tx) error { return k.svc.ReserveStock(k.ctx, tx, p.ID, 1) })
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, catalog.ErrInsufficientStock):
				t.Fatalf("reserve: %v", err)
			}
		}
		if won != stock || k.stock(p.ID) != 0 {
			t.Fatalf("%d reservations won, stock %d; want %d and 0", won, k.stock(p.ID), stock)
		}
	})
}

// startedSale is an offer of qty of a product of stock units, moved to its start.
func (k *kit) startedSale(stock int64, qty int) (world, *catalog.Product, *catalog.FlashSale) {
	k.t.Helper()
	w := k.world()
	p := k.product(w, goods("糖葫芦", 1000, stock))
	f, err := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, qty))
	if err != nil {
		k.t.Fatalf("create flash sale: %v", err)
	}
	k.advance(time.Hour)
	return w, p, f
}

func TestFlashSold(t *testing.T) {
	t.Run("AddWithinQuantity", func(t *testing.T) {
		k := newKit(t)
		_, _, f := k.startedSale(10, 4)
		err := k.inTx(func(tx bun.Tx) error {
			locked, err := k.svc.LockFlashSale(k.ctx, tx, f.ID)
			if err != nil || locked.Sold != 0 {
				return fmt.Errorf("lock: %+v, %w", locked, err)
			}
			return k.svc.AddFlashSold(k.ctx, tx, f.ID, 3)
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := k.sale(f.ID); got.Sold != 3 || got.Remaining != 1 {
			t.Fatalf("sale after selling 3 of 4: %+v", got)
		}
	})
	t.Run("NeverPastQuantity", func(t *testing.T) {
		k := newKit(t)
		_, _, f := k.startedSale(10, 4)
		err := k.inTx(func(tx bun.Tx) error { return k.svc.AddFlashSold(k.ctx, tx, f.ID, 5) })
		if !catalog.IsCheckViolation(err) {
			t.Fatalf("selling 5 of 4: %v, want a CHECK violation", err)
		}
		err = k.inTx(func(tx bun.Tx) error { return k.svc.AddFlashSold(k.ctx, tx, f.ID, -1) })
		if !catalog.IsCheckViolation(err) {
			t.Fatalf("sold below zero: %v, want a CHECK violation", err)
		}
		if got := k.sale(f.ID); got.Sold != 0 {
			t.Fatalf("sold %d after refused changes, want 0", got.Sold)
		}
	})
	t.Run("ReturnWhileOnSale", func(t *testing.T) {
		k := newKit(t)
		_, p, f := k.startedSale(10, 4)
		var onSale bool
		err := k.inTx(func(tx bun.Tx) error {
			if err := k.svc.AddFlashSold(k.ctx, tx, f.ID, 3); err != nil {
				return err
			}
			var err error
			onSale, err = k.svc.ReturnFlashUnits(k.ctx, tx, f.ID, 2)
			return err
		})
		if err != nil || !onSale {
			t.Fatalf("ReturnFlashUnits = %v, %v; want back on sale", onSale, err)
		}
		if got := k.sale(f.ID); got.Sold != 1 || got.Quantity != 4 || k.stock(p.ID) != 6 {
			t.Fatalf("sale %+v, stock %d; want sold 1 of 4, stock 6", got, k.stock(p.ID))
		}
	})
	t.Run("SettleAndReturnAfter", func(t *testing.T) {
		k := newKit(t)
		_, p, f := k.startedSale(10, 4)
		if err := k.inTx(func(tx bun.Tx) error { return k.svc.AddFlashSold(k.ctx, tx, f.ID, 3) }); err != nil {
			t.Fatal(err)
		}
		k.advance(time.Hour)
		ids, err := k.svc.UnsettledFlashSaleIDs(k.ctx, k.db, k.clock(), 10)
		if err != nil || len(ids) != 1 || ids[0] != f.ID {
			t.Fatalf("UnsettledFlashSaleIDs = %v, %v", ids, err)
		}
		for range 2 { // settling twice changes nothing more
			if err := k.inTx(func(tx bun.Tx) error { return k.svc.SettleFlashSaleIn(k.ctx, tx, f.ID, k.clock()) }); err != nil {
				t.Fatal(err)
			}
		}
		if got := k.sale(f.ID); !got.Settled || got.Quantity != 3 || got.Sold != 3 || k.stock(p.ID) != 7 {
			t.Fatalf("settled sale %+v, stock %d; want quantity 3, stock 7", got, k.stock(p.ID))
		}
		if ids, _ := k.svc.UnsettledFlashSaleIDs(k.ctx, k.db, k.clock(), 10); len(ids) != 0 {
			t.Fatalf("still unsettled: %v", ids)
		}
		// A cancelled order of a settled sale goes back to the product.
		var onSale bool
		err = k.inTx(func(tx bun.Tx) error {
			var err error
			onSale, err = k.svc.ReturnFlashUnits(k.ctx, tx, f.ID, 2)
			return err
		})
		if err != nil || onSale {
			t.Fatalf("ReturnFlashUnits = %v, %v; want to the stock", onSale, err)
		}
		if got := k.sale(f.ID); got.Quantity != 1 || got.Sold != 1 || k.stock(p.ID) != 9 {
			t.Fatalf("sale %+v, stock %d; want 1 of 1, stock 9", got, k.stock(p.ID))
		}
	})
	t.Run("Started", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		f, _ := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 1))
		if ids, _ := k.svc.StartedFlashSaleIDs(k.ctx, k.db, k.clock(), 10); len(ids) != 0 {
			t.Fatalf("started before its start: %v", ids)
		}
		k.advance(time.Hour)
		if ids, err := k.svc.StartedFlashSaleIDs(k.ctx, k.db, k.clock(), 10); err != nil || len(ids) != 1 || ids[0] != f.ID {
			t.Fatalf("StartedFlashSaleIDs = %v, %v", ids, err)
		}
	})
	t.Run("UnknownSale", func(t *testing.T) {
		k := newKit(t)
		err := k.inTx(func(tx bun.Tx) error { _, err := k.svc.LockFlashSale(k.ctx, tx, "no-such-sale"); return err })
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		err = k.inTx(func(tx bun.Tx) error { return k.svc.SettleFlashSaleIn(k.ctx, tx, "no-such-sale", k.clock()) })
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})
}

func TestPayoutAccount(t *testing.T) {
	t.Run("SetAndRead", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		acct, err := k.svc.PayoutAccount(k.ctx, k.db, w.stall.ID)
		if err != nil || acct != "" {
			t.Fatalf("new stall's account = %q, %v; want none", acct, err)
		}
		if err := k.inTx(func(tx bun.Tx) error { return k.svc.SetPayoutAccount(k.ctx, tx, w.stall.ID, "acct_123") }); err != nil {
			t.Fatal(err)
		}
		if acct, err := k.svc.PayoutAccount(k.ctx, k.db, w.stall.ID); err != nil || acct != "acct_123" {
			t.Fatalf("PayoutAccount = %q, %v", acct, err)
		}
	})
	t.Run("UnknownStall", func(t *testing.T) {
		k := newKit(t)
		_, err := k.svc.PayoutAccount(k.ctx, k.db, "no-such-stall")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		catalogtest.WantErr(t, k.svc.SetPayoutAccount(k.ctx, k.db, "no-such-stall", "acct_1"), catalog.ErrNotFound)
	})
}

func TestLookups(t *testing.T) {
	t.Run("ProductsAndStalls", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		a := k.product(w, goods("甲", 100, 1))
		b := k.product(w, goods("乙", 200, 2))
		ps, err := k.svc.ProductsByID(k.ctx, k.db, []string{a.ID, b.ID, "gone"})
		if err != nil || len(ps) != 2 || ps[b.ID].Price != 200 {
			t.Fatalf("ProductsByID = %v, %v", ps, err)
		}
		if ps, err := k.svc.ProductsByID(k.ctx, k.db, nil); err != nil || len(ps) != 0 {
			t.Fatalf("ProductsByID(nil) = %v, %v", ps, err)
		}
		_, err = k.svc.ProductByID(k.ctx, k.db, "gone")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		sts, err := k.svc.StallsByID(k.ctx, k.db, []string{w.stall.ID})
		if err != nil || sts[w.stall.ID] == nil || sts[w.stall.ID].MerchantID != w.merchant.UserID {
			t.Fatalf("StallsByID = %v, %v", sts, err)
		}
		_, err = k.svc.StallByID(k.ctx, k.db, "gone")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		all, err := catalog.StallsOfFair(k.ctx, k.db, w.fair.ID)
		if err != nil || len(all) != 1 || all[0].ID != w.stall.ID {
			t.Fatalf("StallsOfFair = %v, %v", all, err)
		}
		cats, err := catalog.CategoriesOf(k.ctx, k.db, w.fair.ID)
		if err != nil || len(cats) != 6 {
			t.Fatalf("CategoriesOf = %d, %v", len(cats), err)
		}
	})
	t.Run("NotFoundOnlyForNoRows", func(t *testing.T) {
		catalogtest.WantErr(t, catalog.NotFound(sql.ErrNoRows, "order"), catalog.ErrNotFound)
		broken := errors.New("connection reset")
		err := catalog.NotFound(fmt.Errorf("scan: %w", broken), "order")
		if errors.Is(err, catalog.ErrNotFound) || !errors.Is(err, broken) {
			t.Fatalf("NotFound(database error) = %v; want it wrapped, not a 404", err)
		}
	})
}
