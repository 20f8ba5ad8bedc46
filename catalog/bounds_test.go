package catalog_test

import (
	"testing"
	"time"

	"miaohui/catalog"
)

func TestFlashSaleBounds(t *testing.T) {
	t.Run("StatusAt", func(t *testing.T) {
		now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		sale := func(b *catalog.FairWindow) *catalog.FlashSale {
			return &catalog.FlashSale{StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour), Bounds: b}
		}
		open := catalog.FairWindow{StartsAt: now.Add(-24 * time.Hour), EndsAt: now.Add(24 * time.Hour)}
		cases := []struct {
			name   string
			bounds *catalog.FairWindow
			want   string
		}{
			{"NotLoaded", nil, catalog.FlashLive},
			{"FairOpen", &open, catalog.FlashLive},
			{"FairEnded", &catalog.FairWindow{StartsAt: open.StartsAt, EndsAt: now}, catalog.FlashEnded},
			{"FairClosed", &catalog.FairWindow{StartsAt: open.StartsAt, EndsAt: open.EndsAt, Closed: true}, catalog.FlashEnded},
			{"FairPostponed", &catalog.FairWindow{StartsAt: now.Add(time.Minute), EndsAt: open.EndsAt}, catalog.FlashUpcoming},
		}
		for _, c := range cases {
			if got := sale(c.bounds).StatusAt(now); got != c.want {
				t.Errorf("%s: status %s, want %s", c.name, got, c.want)
			}
		}
	})

	t.Run("FollowTheFairAndStall", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		p := k.product(w, goods("糖葫芦", 1000, 10))
		f, err := k.svc.CreateFlashSale(k.ctx, w.merchant, k.flashInput(p, 4))
		if err != nil {
			t.Fatal(err)
		}
		k.advance(time.Hour + time.Minute)
		if got := k.sale(f.ID).Status; got != catalog.FlashLive {
			t.Fatalf("status %s, want live", got)
		}
		if _, err := k.svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallSuspended, "违规经营"); err != nil {
			t.Fatal(err)
		}
		b, err := k.svc.FlashBounds(k.ctx, k.db, w.stall.ID)
		if err != nil || !b.Closed {
			t.Errorf("FlashBounds of a suspended stall = %+v, %v; want closed", b, err)
		}
		if got := k.sale(f.ID).Status; got != catalog.FlashEnded {
			t.Errorf("status with the stall suspended %s, want ended", got)
		}
		if _, err := k.svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallActive, ""); err != nil {
			t.Fatal(err)
		}
		later, end := k.clock().Add(24*time.Hour), k.clock().Add(48*time.Hour)
		if _, err := k.svc.UpdateFair(k.ctx, w.org, w.fair.Slug, catalog.FairInput{StartsAt: &later, EndsAt: &end}); err != nil {
			t.Fatal(err)
		}
		if got := k.sale(f.ID).Status; got != catalog.FlashUpcoming {
			t.Errorf("status with the fair postponed %s, want upcoming", got)
		}
		list, err := k.svc.StallFlashSales(k.ctx, w.merchant, w.stall.ID)
		if err != nil || len(list) != 1 || list[0].Status != catalog.FlashUpcoming {
			t.Errorf("StallFlashSales = %+v, %v; want the sale upcoming", list, err)
		}
	})
}
