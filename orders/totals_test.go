package orders_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// market makes a morning of sales on the kit's fair: two stalls, three
// buyers, pickups and shipments, a refund, a redemption, an unpaid order
// and a cancelled one, over two hours.
func market(k *kit) (a, b shop) {
	k.t.Helper()
	a, b = k.shop("小吃"), k.shop("手作")
	food := k.goods(a, catalogtest.Product{Price: 1200, Stock: 50, Category: "food"})
	snack := k.goods(a, catalogtest.Product{Price: 300, Stock: 50, Category: "food"})
	kite := k.goods(b, catalogtest.Product{Price: 4500, Stock: 50, Category: "crafts", Fulfillment: catalog.ShipDelivery})
	card := k.goods(b, catalogtest.Product{Price: 800, Stock: 50})

	u1, u2, u3 := k.buyer(), k.buyer(), k.buyer()
	k.put(u1, food.ID, 2)
	k.put(u1, kite.ID, 1)
	c1 := k.checkout(u1, orders.CheckoutInput{ShippingAddress: "Beijing"})
	k.pay(u1, c1)

	k.Clock.Advance(time.Hour)
	k.put(u2, snack.ID, 3)
	k.put(u2, card.ID, 1)
	c2 := k.checkout(u2, orders.CheckoutInput{})
	k.pay(u2, c2)
	for _, o := range c2.Orders {
		if o.StallID == a.Stall.ID {
			if _, err := k.Orders.Redeem(k.ctx, a.Merchant, o.ID, o.PickupCode); err != nil {
				k.t.Fatal(err)
			}
		} else if _, err := k.Orders.RefundOrder(k.ctx, b.Merchant, o.ID, money(300), "bent"); err != nil {
			k.t.Fatal(err)
		}
	}

	k.put(u3, food.ID, 1)
	k.checkout(u3, orders.CheckoutInput{}) // unpaid
	k.put(u1, snack.ID, 1)
	c4 := k.checkout(u1, orders.CheckoutInput{})
	if _, err := k.Orders.CancelOrder(k.ctx, u1, c4.Orders[0].ID); err != nil {
		k.t.Fatal(err)
	}
	return a, b
}

func TestTotals(t *testing.T) {
	t.Run("Figures", func(t *testing.T) {
		k := newKit(t)
		a, b := market(k)
		tot := k.totals()
		// Paid: 2400 + 4500 + 900 + 800 = 8600, less a refund of 300.
		if tot.GMV != 8300 || tot.Refunded != 300 || tot.PaidOrders != 4 || tot.Participants != 2 || tot.Stalls != 2 || tot.Merchants != 2 {
			t.Errorf("totals = gmv %d, refunded %d, %d orders, %d participants, %d stalls, %d merchants; want 8300, 300, 4, 2, 2, 2",
				tot.GMV, tot.Refunded, tot.PaidOrders, tot.Participants, tot.Stalls, tot.Merchants)
		}
		wantStalls := []orders.StallTotal{
			{StallID: b.Stall.ID, Name: "手作", GMV: 5000, Orders: 2},
			{StallID: a.Stall.ID, Name: "小吃", GMV: 3300, Orders: 2},
		}
		if len(tot.ByStall) != 2 || tot.ByStall[0] != wantStalls[0] || tot.ByStall[1] != wantStalls[1] {
			t.Errorf("by stall = %+v, want %+v", tot.ByStall, wantStalls)
		}
		// 02:00 and 03:00 UTC are 10:00 and 11:00 in Shanghai, on 1 February.
		if len(tot.ByHour) != 2 || tot.ByHour[0].GMV != 6900 || tot.ByHour[1].GMV != 1400 || tot.ByHour[0].Hour.Hour() != 10 {
			t.Errorf("by hour = %+v, want 6900 at 10:00 and 1400 at 11:00", tot.ByHour)
		}
		if len(tot.ByDay) != 1 || tot.ByDay[0].Date != "2026-02-01" || tot.ByDay[0].GMV != 8300 || tot.ByDay[0].Orders != 4 {
			t.Errorf("by day = %+v, want 2026-02-01: 8300 of 4 orders", tot.ByDay)
		}
		fulfil := map[string]orders.FulfillmentTotal{}
		for _, f := range tot.ByFulfillment {
			fulfil[f.Fulfillment] = f
		}
		if got := fulfil[catalog.ShipPickup]; got.GMV != 3800 || got.Orders != 3 || got.Redeemed != 1 {
			t.Errorf("pickup = %+v, want 3800 of 3 orders, 1 redeemed", got)
		}
		if got := fulfil[catalog.ShipDelivery]; got.GMV != 4500 || got.Orders != 1 {
			t.Errorf("ship = %+v, want 4500 of 1 order", got)
		}
		cats := map[string]orders.CategoryTotal{}
		for _, c := range tot.ByCategory {
			cats[c.Category] = c
		}
		if got := cats["food"]; got.GMV != 3300 || got.Units != 5 || got.NameEN != "Food & snacks" {
			t.Errorf("food = %+v, want 3300 of 5 units", got)
		}
		if got := cats[""]; got.GMV != 500 || got.Units != 1 {
			t.Errorf("uncategorised = %+v, want 500 of 1 unit", got)
		}

		st, err := k.Orders.StallTotalsFor(k.ctx, b.Merchant, b.Stall.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.GMV != 5000 || st.Refunded != 300 || st.PaidOrders != 2 || st.Participants != 2 {
			t.Errorf("stall totals = gmv %d, refunded %d, %d orders, %d participants; want 5000, 300, 2, 2", st.GMV, st.Refunded, st.PaidOrders, st.Participants)
		}
	})

	t.Run("Forbidden", func(t *testing.T) {
		k := newKit(t)
		a, b := k.shop("甲"), k.shop("乙")
		_, err := k.Orders.FairTotals(k.ctx, a.Merchant, k.Fair.Slug)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.StallTotalsFor(k.ctx, b.Merchant, a.Stall.ID)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		if _, err := k.Orders.StallTotalsFor(k.ctx, k.Organizer, a.Stall.ID); err != nil {
			t.Errorf("the organizer: %v", err)
		}
	})

	t.Run("RecomputeMatchesRollups", func(t *testing.T) {
		k := newKit(t)
		market(k)
		want, stalls, n, err := orders.Recompute(k.ctx, k.DB, k.Fair.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n, int64(6); got != want {
			t.Errorf("orders read = %d, want %d", got, want)
		}
		if d := orders.DiffTotals(want, k.totals()); len(d) > 0 {
			t.Errorf("totals differ from their recomputation:\n%s", strings.Join(d, "\n"))
		}
		for id, w := range stalls {
			got, err := k.Orders.StallTotalsFor(k.ctx, k.Organizer, id)
			if err != nil {
				t.Fatal(err)
			}
			if d := orders.DiffStallTotals(w, got); len(d) > 0 {
				t.Errorf("stall %s differs:\n%s", id, strings.Join(d, "\n"))
			}
		}
	})

	t.Run("RebuildRollups", func(t *testing.T) {
		for _, fairOnly := range []bool{true, false} {
			k := newKit(t)
			market(k)
			before := k.totals()
			id := ""
			if fairOnly {
				id = k.Fair.ID
			}
			if err := orders.RebuildRollups(k.ctx, k.DB, id); err != nil {
				t.Fatal(err)
			}
			if d := orders.DiffTotals(before, k.totals()); len(d) > 0 {
				t.Errorf("rebuilt (fair %q) totals differ:\n%s", id, strings.Join(d, "\n"))
			}
		}
	})

	t.Run("RecomputeReportsBrokenOrders", func(t *testing.T) {
		k := newKit(t)
		_, o := k.buy(k.goods(k.shop("甲"), catalogtest.Product{Price: 1000}), 1, true)
		// An order whose lines do not add up to its total (written by hand,
		// as a bad migration or a manual fix might; the CHECKs cannot see it).
		if _, err := k.DB.NewUpdate().Model((*orders.Item)(nil)).Set("line_total = line_total + 1").Where("order_id = ?", o.ID).Exec(k.ctx); err != nil {
			t.Fatal(err)
		}
		_, _, _, err := orders.Recompute(k.ctx, k.DB, k.Fair.ID)
		if err == nil || !strings.Contains(err.Error(), o.ID) {
			t.Errorf("err = %v, want it to name order %s", err, o.ID)
		}
	})
}

func TestTotalsCSV(t *testing.T) {
	hour := time.Date(2026, 2, 1, 10, 0, 0, 0, time.FixedZone("Asia/Shanghai", 8*3600))
	tot := &orders.Totals{
		ByStall: []orders.StallTotal{{StallID: "S1", Name: "小吃, 甜品", GMV: 1500, Orders: 2}},
		ByDay:   []orders.DayTotal{{Date: "2026-02-01", GMV: 1500, Orders: 2}},
		Breakdown: orders.Breakdown{
			ByHour:        []orders.HourTotal{{Hour: hour, GMV: 1500, Orders: 2}},
			ByCategory:    []orders.CategoryTotal{{Category: "food", Name: "美食小吃", NameEN: "Food & snacks", GMV: 1500, Units: 3}},
			ByFulfillment: []orders.FulfillmentTotal{{Fulfillment: "pickup", GMV: 1500, Orders: 2, Redeemed: 1}},
			FlashSales: []orders.FlashSaleTotal{{FlashSaleID: "F1", StallID: "S1", Title: "糖葫芦", Price: 99, Quantity: 10, Ordered: 4, PaidOrders: 3, GMV: 297,
				StartsAt: time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC), EndsAt: time.Date(2026, 2, 1, 3, 0, 0, 0, time.UTC)}},
			Developments: []orders.DevelopmentTotal{{StallID: "S2", Name: "万科", Sold: 5, Redeemed: 2, Refunded: 1, Bookings: 7}},
		},
	}
	cases := []struct {
		table string
		want  [][]string
	}{
		{"stall", [][]string{{"stall_id", "name", "gmv_fen", "orders"}, {"S1", "小吃, 甜品", "1500", "2"}}},
		{"day", [][]string{{"date", "gmv_fen", "orders"}, {"2026-02-01", "1500", "2"}}},
		{"hour", [][]string{{"hour", "gmv_fen", "orders"}, {"2026-02-01T10:00:00+08:00", "1500", "2"}}},
		{"category", [][]string{{"category", "name", "name_en", "gmv_fen", "units"}, {"food", "美食小吃", "Food & snacks", "1500", "3"}}},
		{"fulfillment", [][]string{{"fulfillment", "gmv_fen", "orders", "redeemed"}, {"pickup", "1500", "2", "1"}}},
		{"flash_sale", [][]string{
			{"flash_sale_id", "stall_id", "title", "price_fen", "quantity", "ordered", "paid_orders", "gmv_fen", "starts_at", "ends_at", "withdrawn"},
			{"F1", "S1", "糖葫芦", "99", "10", "4", "3", "297", "2026-02-01T10:00:00+08:00", "2026-02-01T11:00:00+08:00", "false"}}},
		{"development", [][]string{{"stall_id", "name", "vouchers_sold", "vouchers_redeemed", "vouchers_refunded", "bookings"}, {"S2", "万科", "5", "2", "1", "7"}}},
	}
	for _, c := range cases {
		t.Run(c.table, func(t *testing.T) {
			got, err := csv.NewReader(bytes.NewReader(tot.CSV(c.table))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if !equalRows(got, c.want) {
				t.Errorf("CSV(%q) = %q, want %q", c.table, got, c.want)
			}
		})
	}
	t.Run("StallTotals", func(t *testing.T) {
		st := &orders.StallTotals{ByDay: tot.ByDay, Breakdown: tot.Breakdown}
		got, err := csv.NewReader(bytes.NewReader(st.CSV("fulfillment"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if want := cases[4].want; !equalRows(got, want) {
			t.Errorf("CSV = %q, want %q", got, want)
		}
	})
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}
