package catalog_test

import (
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

func TestFlashSales(t *testing.T) {
	t.Run("CreateTakesStock", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		f, err := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 4))
		if err != nil || f.Status != catalog.FlashUpcoming || f.Remaining != 4 || f.StallID != w.stall.ID {
			t.Fatalf("CreateFlashSale = %+v, %v", f, err)
		}
		if got := k.stock(p.ID); got != 6 {
			t.Fatalf("stock %d after offering 4 of 10, want 6", got)
		}
		got, err := k.svc.FlashSaleByID(k.ctx, k.db, catalog.Actor{}, f.ID, false)
		if err != nil || got.Title != "糖葫芦" || got.Remaining != 4 {
			t.Fatalf("FlashSaleByID = %+v, %v", got, err)
		}
	})
	t.Run("InsufficientStock", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 3))
		_, err := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 4))
		catalogtest.WantErr(t, err, catalog.ErrFlashStock)
		catalogtest.WantCode(t, err, "insufficient_stock")
		if got := k.stock(p.ID); got != 3 {
			t.Fatalf("stock %d after a refused offer, want 3", got)
		}
	})
	t.Run("Validation", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 3))
		in := k.flashInput(p, 1)
		in.StartsAt = ptr(start.Add(-time.Minute))
		_, err := k.svc.CreateFlashSale(k.ctx, w.merchant, in)
		catalogtest.WantInvalid(t, err, "starts_at")
		in = k.flashInput(p, 1)
		in.EndsAt = ptr(w.fair.EndsAt.Add(time.Hour))
		_, err = k.svc.CreateFlashSale(k.ctx, w.merchant, in)
		catalogtest.WantInvalid(t, err, "starts_at") // outside the fair's dates
		in = k.flashInput(p, 1)
		in.Price = nil
		_, err = k.svc.CreateFlashSale(k.ctx, w.merchant, in)
		catalogtest.WantInvalid(t, err, "price")
		_, err = k.svc.CreateFlashSale(k.ctx, k.user(catalog.RoleMerchant), k.flashInput(p, 1))
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
	t.Run("NoVouchers", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		until := start.Add(30 * 24 * time.Hour)
		in := goods("代金券", 100, 5)
		in.Kind, in.OffsetValue, in.ValidUntil = ptr(catalog.KindVoucher), ptr(int64(200)), &until
		p := k.product(w, in)
		_, err := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 1))
		catalogtest.WantInvalid(t, err, "product_id")
	})
	t.Run("UpdateMovesStock", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		f, _ := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 4))
		if _, err := k.svc.UpdateFlashSale(k.ctx, w.merchant, f.ID, catalog.FlashInput{Quantity: ptr(7)}); err != nil {
			t.Fatal(err)
		}
		if got := k.stock(p.ID); got != 3 {
			t.Fatalf("stock %d after raising the offer to 7, want 3", got)
		}
		got, err := k.svc.UpdateFlashSale(k.ctx, w.merchant, f.ID, catalog.FlashInput{Quantity: ptr(2), Price: ptr(int64(5))})
		if err != nil || got.Quantity != 2 || got.Price != 5 || k.stock(p.ID) != 8 {
			t.Fatalf("lowering to 2: %+v, %v, stock %d; want stock 8", got, err, k.stock(p.ID))
		}
		_, err = k.svc.UpdateFlashSale(k.ctx, w.merchant, f.ID, catalog.FlashInput{Quantity: ptr(11)})
		catalogtest.WantErr(t, err, catalog.ErrFlashStock)
		k.advance(time.Hour)
		_, err = k.svc.UpdateFlashSale(k.ctx, w.merchant, f.ID, catalog.FlashInput{Price: ptr(int64(2))})
		catalogtest.WantErr(t, err, catalog.ErrFlashStarted)
	})
	t.Run("WithdrawReturnsStock", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		f, _ := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 4))
		got, err := k.svc.WithdrawFlashSale(k.ctx, w.merchant, f.ID)
		if err != nil || got.Status != catalog.FlashWithdrawn || k.stock(p.ID) != 10 {
			t.Fatalf("WithdrawFlashSale = %+v, %v, stock %d", got, err, k.stock(p.ID))
		}
		_, err = k.svc.WithdrawFlashSale(k.ctx, w.merchant, f.ID)
		catalogtest.WantErr(t, err, catalog.ErrFlashStarted)
		_, err = k.svc.FlashSaleByID(k.ctx, k.db, k.user(catalog.RoleShopper), f.ID, false)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		if _, err := k.svc.FlashSaleByID(k.ctx, k.db, w.merchant, f.ID, false); err != nil {
			t.Fatalf("the merchant still sees a withdrawn offer: %v", err)
		}
	})
	t.Run("Lists", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		live, _ := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 1))
		gone, _ := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 1))
		if _, err := k.svc.WithdrawFlashSale(k.ctx, w.merchant, gone.ID); err != nil {
			t.Fatal(err)
		}
		list, err := k.svc.FlashSales(k.ctx, catalog.Actor{}, w.fair.Slug, false)
		if err != nil || len(list) != 1 || list[0].ID != live.ID || list[0].Title != "糖葫芦" {
			t.Fatalf("FlashSales = %+v, %v", list, err)
		}
		k.advance(3 * time.Hour)
		if list, _ := k.svc.FlashSales(k.ctx, catalog.Actor{}, w.fair.Slug, false); len(list) != 0 {
			t.Fatalf("%d ended sales listed without ended=true", len(list))
		}
		if list, _ := k.svc.FlashSales(k.ctx, catalog.Actor{}, w.fair.Slug, true); len(list) != 1 || list[0].Status != catalog.FlashEnded {
			t.Fatalf("with ended: %+v", list)
		}
		all, err := k.svc.StallFlashSales(k.ctx, w.merchant, w.stall.ID)
		if err != nil || len(all) != 2 {
			t.Fatalf("StallFlashSales = %d, %v; want both", len(all), err)
		}
		_, err = k.svc.StallFlashSales(k.ctx, k.user(catalog.RoleShopper), w.stall.ID)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		report, err := catalog.FlashSalesOf(k.ctx, k.db, w.fair.ID, "")
		if err != nil || len(report) != 2 || report[0].Title != "糖葫芦" {
			t.Fatalf("FlashSalesOf = %+v, %v", report, err)
		}
	})
	t.Run("Reminders", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		f, _ := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 1))
		shopper := k.user(catalog.RoleShopper)
		for range 2 { // twice is once
			if err := k.svc.Remind(k.ctx, shopper, f.ID); err != nil {
				t.Fatal(err)
			}
		}
		ids, err := k.svc.Reminded(k.ctx, f.ID)
		if err != nil || len(ids) != 1 || ids[0] != shopper.UserID {
			t.Fatalf("Reminded = %v, %v", ids, err)
		}
		if ok, err := k.svc.IsReminded(k.ctx, f.ID, shopper.UserID); err != nil || !ok {
			t.Fatalf("IsReminded = %v, %v", ok, err)
		}
		k.advance(time.Hour)
		catalogtest.WantErr(t, k.svc.Remind(k.ctx, k.user(catalog.RoleShopper), f.ID), catalog.ErrConflict)
	})
}
