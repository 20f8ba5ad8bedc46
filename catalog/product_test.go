package catalog_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

func TestProducts(t *testing.T) {
	t.Run("Create", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		in := goods(" 泰州臭干 ", 1200, 50)
		in.Category = ptr("food")
		p := k.product(w, in)
		if p.Title != "泰州臭干" || p.Kind != catalog.KindGoods || p.Fulfillment != catalog.ShipDelivery || !p.Active || p.Currency != catalog.CurrencyCNY {
			t.Fatalf("product = %+v", p)
		}
		got, sa, err := k.svc.Product(k.ctx, catalog.Actor{}, p.ID)
		if err != nil || got.Stock != 50 || got.Category != "food" || sa.Stall.ID != w.stall.ID || len(got.Images) != 0 {
			t.Fatalf("Product = %+v, %v", got, err)
		}
	})
	t.Run("Validation", func(t *testing.T) {
		// Subtest names are unique: the SQLite file's path is made from them.
		cases := []struct {
			name, field string
			in          catalog.ProductInput
		}{
			{"TitleEmpty", "title", goods("", 100, 1)},
			{"PriceZero", "price", goods("x", 0, 1)},
			{"PriceOverMax", "price", goods("x", catalog.MaxPrice+1, 1)},
			{"StockNegative", "stock", goods("x", 100, -1)},
			{"StockOverMax", "stock", goods("x", 100, catalog.MaxStock+1)},
			{"CurrencyUSD", "currency", func() catalog.ProductInput { in := goods("x", 100, 1); in.Currency = ptr("USD"); return in }()},
			{"KindUnknown", "kind", func() catalog.ProductInput { in := goods("x", 100, 1); in.Kind = ptr("service"); return in }()},
			{"CategoryOfAnotherKind", "category", func() catalog.ProductInput { in := goods("x", 100, 1); in.Category = ptr("villa"); return in }()},
			{"OffsetOnGoods", "offset_value", func() catalog.ProductInput { in := goods("x", 100, 1); in.OffsetValue = ptr(int64(5)); return in }()},
			{"VoucherWithoutValidity", "valid_until", func() catalog.ProductInput { in := goods("x", 100, 1); in.Kind = ptr(catalog.KindVoucher); return in }()},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := newKit(t)
				w := k.world()
				_, err := k.svc.CreateProduct(k.ctx, w.merchant, w.stall.ID, c.in)
				catalogtest.WantInvalid(t, err, c.field)
			})
		}
	})
	t.Run("Ownership", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("灯笼", 3000, 5))
		other := k.user(catalog.RoleMerchant)
		_, err := k.svc.CreateProduct(k.ctx, other, w.stall.ID, goods("x", 1, 1))
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.svc.UpdateProduct(k.ctx, other, p.ID, catalog.ProductInput{Price: ptr(int64(1))})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		// A hidden product is not even there for others.
		if _, err := k.svc.UpdateProduct(k.ctx, w.merchant, p.ID, catalog.ProductInput{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		_, err = k.svc.UpdateProduct(k.ctx, other, p.ID, catalog.ProductInput{Price: ptr(int64(1))})
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		_, _, err = k.svc.Product(k.ctx, other, p.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		if _, _, err := k.svc.Product(k.ctx, w.org, p.ID); err != nil {
			t.Fatalf("the organizer sees hidden products: %v", err)
		}
		_, _, err = k.svc.Product(k.ctx, catalog.Actor{}, "no-such-product")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})
	t.Run("Patch", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("春联", 800, 10))
		got, err := k.svc.UpdateProduct(k.ctx, w.merchant, p.ID, catalog.ProductInput{Price: ptr(int64(900)), Fulfillment: ptr(catalog.ShipPickup)})
		if err != nil || got.Price != 900 || got.Fulfillment != catalog.ShipPickup || got.Title != "春联" || got.Stock != 10 {
			t.Fatalf("UpdateProduct = %+v, %v", got, err)
		}
		// A voucher is picked up; turning it back into goods drops its fields.
		until := start.Add(30 * 24 * time.Hour)
		got, err = k.svc.UpdateProduct(k.ctx, w.merchant, p.ID, catalog.ProductInput{Kind: ptr(catalog.KindVoucher), OffsetValue: ptr(int64(2000)), ValidUntil: &until})
		if err != nil || got.Kind != catalog.KindVoucher || got.OffsetValue != 2000 || got.ValidUntil == nil {
			t.Fatalf("to a voucher: %+v, %v", got, err)
		}
		got, err = k.svc.UpdateProduct(k.ctx, w.merchant, p.ID, catalog.ProductInput{Kind: ptr(catalog.KindGoods)})
		if err != nil || got.OffsetValue != 0 || got.ValidUntil != nil {
			t.Fatalf("back to goods: %+v, %v", got, err)
		}
	})
	t.Run("PropertySeasonSellsVouchers", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org, func(in *catalog.FairInput) { in.Kind = ptr(catalog.KindPropertySeason) })
		st, m := k.stall(org, f)
		in := goods("认筹金", 500000, 100)
		_, err := k.svc.CreateProduct(k.ctx, m, st.ID, func() catalog.ProductInput { in := in; in.Kind = ptr(catalog.KindGoods); return in }())
		catalogtest.WantInvalid(t, err, "kind")
		until := start.Add(90 * 24 * time.Hour)
		in.OffsetValue, in.ValidUntil = ptr(int64(1000000)), &until
		p, err := k.svc.CreateProduct(k.ctx, m, st.ID, in)
		if err != nil || p.Kind != catalog.KindVoucher || p.Fulfillment != catalog.ShipPickup {
			t.Fatalf("voucher = %+v, %v", p, err)
		}
		in.OffsetValue = ptr(int64(1))
		_, err = k.svc.CreateProduct(k.ctx, m, st.ID, in)
		catalogtest.WantInvalid(t, err, "offset_value")
	})
	t.Run("Search", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		stinky := k.product(w, goods("泰州臭干", 1200, 5))
		k.product(w, catalog.ProductInput{Title: ptr("手工剪纸"), Description: ptr("红色窗花"), Price: ptr(int64(300)), Stock: ptr(int64(9)), Category: ptr("crafts")})
		hidden := k.product(w, goods("臭干礼盒", 5000, 1))
		if _, err := k.svc.UpdateProduct(k.ctx, w.merchant, hidden.ID, catalog.ProductInput{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, q string
			want    []string
		}{
			{"TwoCharacters", "臭干", []string{"泰州臭干"}},    // a substring scan
			{"ThreeCharacters", "州臭干", []string{"泰州臭干"}}, // the trigram index
			{"Description", "窗花", []string{"手工剪纸"}},      // the description counts
			{"WildcardsLiteral", "100%", nil},            // LIKE's wildcards are literal
			{"NoMatch", "冰糖葫芦", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				list, _, err := k.svc.Products(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.ProductQuery{Q: c.q})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range list {
					got = append(got, p.Title)
				}
				if len(got) != len(c.want) || len(got) > 0 && got[0] != c.want[0] {
					t.Fatalf("q=%s found %v, want %v", c.q, got, c.want)
				}
			})
		}
		list, _, _ := k.svc.Products(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.ProductQuery{Category: "crafts"})
		if len(list) != 1 || list[0].Title != "手工剪纸" {
			t.Fatalf("category filter: %v", list)
		}
		list, _, _ = k.svc.Products(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.ProductQuery{StallID: w.stall.ID, Kind: catalog.KindGoods})
		if len(list) != 2 || list[0].ID != stinky.ID {
			t.Fatalf("stall and kind filter: %v", list)
		}
		_, _, err := k.svc.Products(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.ProductQuery{Kind: "service"})
		catalogtest.WantInvalid(t, err, "kind")
		mine, err := k.svc.StallProducts(k.ctx, w.merchant, w.stall.ID)
		theirs, _ := k.svc.StallProducts(k.ctx, catalog.Actor{}, w.stall.ID)
		if err != nil || len(mine) != 3 || len(theirs) != 2 {
			t.Fatalf("StallProducts: %d to the merchant, %d to others (%v); want 3 and 2", len(mine), len(theirs), err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		for range 5 {
			k.product(w, goods("福字", 100, 1))
		}
		seen := map[string]bool{}
		cursor := ""
		for {
			list, next, err := k.svc.Products(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.ProductQuery{Page: catalog.Page{Limit: 2, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range list {
				if seen[p.ID] {
					t.Fatalf("%s listed twice", p.ID)
				}
				seen[p.ID] = true
			}
			if next == nil {
				break
			}
			cursor = *next
		}
		if len(seen) != 5 {
			t.Fatalf("%d products paged through, want 5", len(seen))
		}
	})
}

func TestImages(t *testing.T) {
	t.Run("AddPNG", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, pngBytes(t, 3, 2))
		if err != nil || img.ContentType != "image/png" || img.Width != 3 || img.Height != 2 || img.URL == "" {
			t.Fatalf("AddImage = %+v, %v", img, err)
		}
		file := filepath.Join(k.svc.MediaDir(), filepath.FromSlash(img.URL[len("/media/"):]))
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("image file: %v", err)
		}
		got, _, _ := k.svc.Product(k.ctx, catalog.Actor{}, p.ID)
		if len(got.Images) != 1 || got.Images[0].ID != img.ID || got.Images[0].URL != img.URL {
			t.Fatalf("product's images: %+v", got.Images)
		}
	})
	t.Run("Rejected", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		for name, data := range map[string][]byte{"empty": nil, "text": []byte("not an image at all"), "truncated": pngBytes(t, 2, 2)[:20]} {
			t.Run(name, func(t *testing.T) {
				_, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, data)
				catalogtest.WantInvalid(t, err, "image")
			})
		}
		_, err := k.svc.AddImage(k.ctx, k.user(catalog.RoleMerchant), p.ID, pngBytes(t, 1, 1))
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
	t.Run("AtMostSix", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		for range catalog.MaxImagesPerItem {
			if _, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, pngBytes(t, 1, 1)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, pngBytes(t, 1, 1))
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})
	t.Run("Remove", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("花灯", 2000, 1))
		img, err := k.svc.AddImage(k.ctx, w.merchant, p.ID, pngBytes(t, 1, 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := k.svc.RemoveImage(k.ctx, w.merchant, p.ID, img.ID); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(k.svc.MediaDir(), filepath.FromSlash(img.URL[len("/media/"):]))
		if _, err := os.Stat(file); !os.IsNotExist(err) {
			t.Fatalf("image file still there: %v", err)
		}
		got, _, _ := k.svc.Product(k.ctx, catalog.Actor{}, p.ID)
		if len(got.Images) != 0 {
			t.Fatalf("%d images left", len(got.Images))
		}
		catalogtest.WantErr(t, k.svc.RemoveImage(k.ctx, w.merchant, p.ID, img.ID), catalog.ErrNotFound)
	})
}
