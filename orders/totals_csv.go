package orders

import "miaohui/catalog"

// The totals' tables as CSV (written by csvOf), one per chart of the
// dashboards. Money is in fen, times in Asia/Shanghai.

// CSV renders one table of a fair's totals.
func (t *Totals) CSV(table string) []byte {
	if table == "stall" {
		rows := make([][]any, 0, len(t.ByStall))
		for _, st := range t.ByStall {
			rows = append(rows, []any{st.StallID, st.Name, st.GMV, st.Orders})
		}
		return csvOf([]string{"stall_id", "name", "gmv_fen", "orders"}, rows)
	}
	if table == "coupon" {
		rows := make([][]any, 0, len(t.Coupons))
		for _, c := range t.Coupons {
			stall := ""
			if c.StallID != nil {
				stall = *c.StallID
			}
			rows = append(rows, []any{c.CampaignID, c.Title, c.FundedBy, stall, c.Quantity, c.Claimed, c.Used, c.Discount, c.GMV})
		}
		return csvOf([]string{"campaign_id", "title", "funded_by", "stall_id", "quantity", "claimed", "used", "discount_fen", "gmv_fen"}, rows)
	}
	return breakdownCSV(table, t.ByDay, t.Breakdown)
}

// CSV renders one table of a stall's totals.
func (t *StallTotals) CSV(table string) []byte { return breakdownCSV(table, t.ByDay, t.Breakdown) }

func breakdownCSV(table string, days []DayTotal, b Breakdown) []byte {
	var rows [][]any
	switch table {
	case "hour":
		for _, h := range b.ByHour {
			rows = append(rows, []any{h.Hour, h.GMV, h.Orders})
		}
		return csvOf([]string{"hour", "gmv_fen", "orders"}, rows)
	case "category":
		for _, c := range b.ByCategory {
			rows = append(rows, []any{c.Category, c.Name, c.NameEN, c.GMV, c.Units})
		}
		return csvOf([]string{"category", "name", "name_en", "gmv_fen", "units"}, rows)
	case "fulfillment":
		for _, f := range b.ByFulfillment {
			rows = append(rows, []any{f.Fulfillment, f.GMV, f.Orders, f.Redeemed})
		}
		return csvOf([]string{"fulfillment", "gmv_fen", "orders", "redeemed"}, rows)
	case "flash_sale":
		for _, f := range b.FlashSales {
			rows = append(rows, []any{f.FlashSaleID, f.StallID, f.Title, f.Price, f.Quantity, f.Ordered, f.PaidOrders, f.GMV,
				f.StartsAt.In(catalog.FairZone), f.EndsAt.In(catalog.FairZone), f.Withdrawn})
		}
		return csvOf([]string{"flash_sale_id", "stall_id", "title", "price_fen", "quantity", "ordered", "paid_orders", "gmv_fen", "starts_at", "ends_at", "withdrawn"}, rows)
	case "development":
		for _, d := range b.Developments {
			rows = append(rows, []any{d.StallID, d.Name, d.Sold, d.Redeemed, d.Refunded, d.Bookings})
		}
		return csvOf([]string{"stall_id", "name", "vouchers_sold", "vouchers_redeemed", "vouchers_refunded", "bookings"}, rows)
	}
	for _, d := range days {
		rows = append(rows, []any{d.Date, d.GMV, d.Orders})
	}
	return csvOf([]string{"date", "gmv_fen", "orders"}, rows)
}
