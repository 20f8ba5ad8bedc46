package orders

import (
	"bytes"
	"encoding/csv"
	"miaohui/catalog"
	"strconv"
	"time"
)

// The totals' tables as CSV, one per chart of the dashboards. Money is in
// fen, times in Asia/Shanghai.

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// csvOf writes a header and rows.
func csvOf(header []string, rows [][]string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)  //nolint:errcheck // a bytes.Buffer does not fail
	w.WriteAll(rows) //nolint:errcheck
	return buf.Bytes()
}

// CSV renders one table of a fair's totals.
func (t *Totals) CSV(table string) []byte {
	if table == "stall" {
		rows := make([][]string, 0, len(t.ByStall))
		for _, st := range t.ByStall {
			rows = append(rows, []string{st.StallID, st.Name, i64(st.GMV), i64(st.Orders)})
		}
		return csvOf([]string{"stall_id", "name", "gmv_fen", "orders"}, rows)
	}
	return breakdownCSV(table, t.ByDay, t.Breakdown)
}

// CSV renders one table of a stall's totals.
func (t *StallTotals) CSV(table string) []byte { return breakdownCSV(table, t.ByDay, t.Breakdown) }

func breakdownCSV(table string, days []DayTotal, b Breakdown) []byte {
	var rows [][]string
	switch table {
	case "hour":
		for _, h := range b.ByHour {
			rows = append(rows, []string{h.Hour.Format(time.RFC3339), i64(h.GMV), i64(h.Orders)})
		}
		return csvOf([]string{"hour", "gmv_fen", "orders"}, rows)
	case "category":
		for _, c := range b.ByCategory {
			rows = append(rows, []string{c.Category, c.Name, c.NameEN, i64(c.GMV), i64(c.Units)})
		}
		return csvOf([]string{"category", "name", "name_en", "gmv_fen", "units"}, rows)
	case "fulfillment":
		for _, f := range b.ByFulfillment {
			rows = append(rows, []string{f.Fulfillment, i64(f.GMV), i64(f.Orders), i64(f.Redeemed)})
		}
		return csvOf([]string{"fulfillment", "gmv_fen", "orders", "redeemed"}, rows)
	case "flash_sale":
		for _, f := range b.FlashSales {
			rows = append(rows, []string{f.FlashSaleID, f.StallID, f.Title, i64(f.Price), i64(f.Quantity), i64(f.Ordered), i64(f.PaidOrders), i64(f.GMV),
				f.StartsAt.In(catalog.FairZone).Format(time.RFC3339), f.EndsAt.In(catalog.FairZone).Format(time.RFC3339), strconv.FormatBool(f.Withdrawn)})
		}
		return csvOf([]string{"flash_sale_id", "stall_id", "title", "price_fen", "quantity", "ordered", "paid_orders", "gmv_fen", "starts_at", "ends_at", "withdrawn"}, rows)
	case "development":
		for _, d := range b.Developments {
			rows = append(rows, []string{d.StallID, d.Name, i64(d.Sold), i64(d.Redeemed), i64(d.Refunded), i64(d.Bookings)})
		}
		return csvOf([]string{"stall_id", "name", "vouchers_sold", "vouchers_redeemed", "vouchers_refunded", "bookings"}, rows)
	}
	for _, d := range days {
		rows = append(rows, []string{d.Date, i64(d.GMV), i64(d.Orders)})
	}
	return csvOf([]string{"date", "gmv_fen", "orders"}, rows)
}
