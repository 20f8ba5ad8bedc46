package orders

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Recompute sums a fair's totals again from its orders and their lines,
// read one row at a time, without the rollups: `fair check totals` and the
// tests compare what the API reads with it. Flash sales and property
// vouchers are summed from the orders by the API already and are left out.
// Orders that break the invariants of amounts are reported as an error.
func Recompute(ctx context.Context, db *bun.DB, fairID string) (fair *Totals, stalls map[string]*StallTotals, orders int64, err error) {
	st, err := catalog.StallsOfFair(ctx, db, fairID)
	if err != nil {
		return nil, nil, 0, err
	}
	cats, err := catalog.CategoriesOf(ctx, db, fairID)
	if err != nil {
		return nil, nil, 0, err
	}
	names := map[string]catalog.Category{}
	for _, c := range cats {
		names[c.Slug] = c
	}

	all := newTally()
	per := map[string]*tally{}
	merchants := map[string]bool{}
	for _, s := range st {
		per[s.ID] = newTally()
		merchants[s.MerchantID] = true
	}
	var invalid []string

	rows, err := db.NewSelect().TableExpr("orders AS o").Join("LEFT JOIN order_items AS i ON i.order_id = o.id").
		ColumnExpr("o.id, o.stall_id, o.buyer_id, o.status, o.fulfillment, o.total, o.platform_fee, o.merchant_share, o.refunded, o.paid_at, o.redeemed_at").
		ColumnExpr("COALESCE(i.category, '') AS category, COALESCE(i.quantity, 0) AS quantity, COALESCE(i.line_total, 0) AS line_total").
		Where("o.fair_id = ?", fairID).OrderExpr("o.id, i.id").Rows(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	var cur *recomputeRow
	var lines []rollupLine
	done := func() {
		if cur == nil {
			return
		}
		orders++
		o := cur
		var sum Money
		for _, l := range lines {
			sum += l.LineTotal
		}
		paid := slices.Contains(PaidStatuses, o.Status)
		switch {
		case o.PlatformFee+o.MerchantShare != o.Total || o.Refunded < 0 || o.Refunded > o.Total:
			invalid = append(invalid, fmt.Sprintf("order %s: total %d, fee %d + share %d, refunded %d", o.ID, o.Total, o.PlatformFee, o.MerchantShare, o.Refunded))
		case sum != o.Total:
			invalid = append(invalid, fmt.Sprintf("order %s: lines add up to %d, total %d", o.ID, sum, o.Total))
		case paid && o.PaidAt == nil:
			invalid = append(invalid, fmt.Sprintf("order %s: status %s without paid_at", o.ID, o.Status))
		case paid:
			all.add(o, lines)
			if t := per[o.StallID]; t != nil {
				t.add(o, lines)
			}
		}
	}
	for rows.Next() {
		var r recomputeRow
		if err := db.ScanRow(ctx, rows, &r); err != nil {
			return nil, nil, 0, err
		}
		if cur == nil || cur.ID != r.ID {
			done()
			cur, lines = &r, lines[:0]
		}
		if r.Quantity > 0 {
			lines = append(lines, rollupLine{Category: r.Category, Quantity: r.Quantity, LineTotal: r.LineTotal})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, 0, err
	}
	done()
	var booth []struct {
		StallID string
		Amount  Money
	}
	if err := db.NewSelect().TableExpr("offline_sales").Column("stall_id", "amount").Where("fair_id = ?", fairID).Scan(ctx, &booth); err != nil {
		return nil, nil, 0, err
	}
	for _, b := range booth {
		all.boothSale(b.Amount)
		if t := per[b.StallID]; t != nil {
			t.boothSale(b.Amount)
		}
	}
	if len(invalid) > 0 {
		if len(invalid) > 10 {
			invalid = append(invalid[:10], fmt.Sprintf("… and %d more", len(invalid)-10))
		}
		return nil, nil, orders, fmt.Errorf("orders break the amounts' invariants:\n  %s", strings.Join(invalid, "\n  "))
	}

	fair = &Totals{Currency: catalog.CurrencyCNY, Stalls: int64(len(st)), Merchants: int64(len(merchants)), ByStall: []StallTotal{}}
	fair.GMV, fair.Refunded, fair.PaidOrders, fair.Participants = all.gmv-all.refunded, all.refunded, all.orders, int64(len(all.buyers))
	fair.ByDay, fair.Breakdown = all.breakdown(names)
	stalls = map[string]*StallTotals{}
	for _, s := range st {
		t := per[s.ID]
		fair.ByStall = append(fair.ByStall, StallTotal{StallID: s.ID, Name: s.Name, GMV: t.gmv - t.refunded, Orders: t.orders})
		one := &StallTotals{Currency: catalog.CurrencyCNY, GMV: t.gmv - t.refunded, Refunded: t.refunded, PaidOrders: t.orders, Participants: int64(len(t.buyers))}
		one.ByDay, one.Breakdown = t.breakdown(names)
		stalls[s.ID] = one
	}
	slices.SortFunc(fair.ByStall, func(a, b StallTotal) int { return cmp.Or(cmp.Compare(b.GMV, a.GMV), cmp.Compare(a.StallID, b.StallID)) })
	return fair, stalls, orders, nil
}

type recomputeRow struct {
	ID            string
	StallID       string
	BuyerID       string
	Status        string
	Fulfillment   string
	Total         Money
	PlatformFee   Money
	MerchantShare Money
	Refunded      Money
	PaidAt        *time.Time
	RedeemedAt    *time.Time
	Category      string
	Quantity      int64
	LineTotal     Money
}

// tally is the sums of one fair or stall, in plain maps.
type tally struct {
	orders        int64
	gmv, refunded Money // gmv here is what was paid, before refunds
	buyers        map[string]bool
	hours         map[int64]*HourTotal
	fulfil        map[string]*FulfillmentTotal
	catUnits      map[string]int64
	catGMV        map[string]Money
	offline       OfflineTotal
}

// boothSale counts a sale made at the booth: offline, and as its own
// fulfillment.
func (t *tally) boothSale(amount Money) {
	t.offline.GMV += amount
	t.offline.Sales++
	if t.fulfil[FulfillmentBooth] == nil {
		t.fulfil[FulfillmentBooth] = &FulfillmentTotal{Fulfillment: FulfillmentBooth}
	}
	t.fulfil[FulfillmentBooth].GMV += amount
	t.fulfil[FulfillmentBooth].Orders++
}

func newTally() *tally {
	return &tally{buyers: map[string]bool{}, hours: map[int64]*HourTotal{}, fulfil: map[string]*FulfillmentTotal{},
		catUnits: map[string]int64{}, catGMV: map[string]Money{}}
}

func (t *tally) add(o *recomputeRow, lines []rollupLine) {
	net := o.Total - o.Refunded
	t.orders++
	t.gmv += o.Total
	t.refunded += o.Refunded
	t.buyers[o.BuyerID] = true
	h := unixHour(*o.PaidAt)
	if t.hours[h] == nil {
		t.hours[h] = &HourTotal{Hour: time.Unix(h*3600, 0).In(catalog.FairZone)}
	}
	t.hours[h].GMV += net
	t.hours[h].Orders++
	if t.fulfil[o.Fulfillment] == nil {
		t.fulfil[o.Fulfillment] = &FulfillmentTotal{Fulfillment: o.Fulfillment}
	}
	f := t.fulfil[o.Fulfillment]
	f.GMV += net
	f.Orders++
	if o.RedeemedAt != nil {
		f.Redeemed++
	}
	refunds := lineRefunds(lines, o.Refunded)
	for i, l := range lines {
		t.catUnits[l.Category] += l.Quantity
		t.catGMV[l.Category] += l.LineTotal - refunds[i]
	}
}

func (t *tally) breakdown(names map[string]catalog.Category) ([]DayTotal, Breakdown) {
	b := Breakdown{Offline: t.offline, ByHour: []HourTotal{}, ByCategory: []CategoryTotal{}, ByFulfillment: []FulfillmentTotal{}}
	days := []DayTotal{}
	for _, h := range slices.Sorted(maps.Keys(t.hours)) {
		ht := *t.hours[h]
		b.ByHour = append(b.ByHour, ht)
		date := ht.Hour.Format(time.DateOnly)
		if len(days) == 0 || days[len(days)-1].Date != date {
			days = append(days, DayTotal{Date: date})
		}
		days[len(days)-1].GMV += ht.GMV
		days[len(days)-1].Orders += ht.Orders
	}
	for _, k := range slices.Sorted(maps.Keys(t.fulfil)) {
		b.ByFulfillment = append(b.ByFulfillment, *t.fulfil[k])
	}
	for c, units := range t.catUnits {
		b.ByCategory = append(b.ByCategory, CategoryTotal{Category: c, Name: names[c].Name, NameEN: names[c].NameEN, GMV: t.catGMV[c], Units: units})
	}
	slices.SortFunc(b.ByCategory, func(x, y CategoryTotal) int {
		return cmp.Or(cmp.Compare(y.GMV, x.GMV), cmp.Compare(x.Category, y.Category))
	})
	return days, b
}

// DiffTotals lists how a fair's totals (got) differ from their
// recomputation (want), leaving out flash sales and developments.
func DiffTotals(want, got *Totals) []string {
	var d diffs
	d.eq("currency", want.Currency, got.Currency)
	d.eq("gmv", want.GMV, got.GMV)
	d.eq("paid_orders", want.PaidOrders, got.PaidOrders)
	d.eq("refunded", want.Refunded, got.Refunded)
	d.eq("participants", want.Participants, got.Participants)
	d.eq("merchants", want.Merchants, got.Merchants)
	d.eq("stalls", want.Stalls, got.Stalls)
	diffRows(&d, "by_stall", want.ByStall, got.ByStall)
	diffRows(&d, "by_day", want.ByDay, got.ByDay)
	d.breakdown(want.Breakdown, got.Breakdown)
	return d.list()
}

// DiffStallTotals is DiffTotals for one stall.
func DiffStallTotals(want, got *StallTotals) []string {
	var d diffs
	d.eq("gmv", want.GMV, got.GMV)
	d.eq("paid_orders", want.PaidOrders, got.PaidOrders)
	d.eq("refunded", want.Refunded, got.Refunded)
	d.eq("participants", want.Participants, got.Participants)
	diffRows(&d, "by_day", want.ByDay, got.ByDay)
	d.breakdown(want.Breakdown, got.Breakdown)
	return d.list()
}

type diffs []string

func (d *diffs) eq(what string, want, got any) {
	if fmt.Sprint(want) != fmt.Sprint(got) {
		*d = append(*d, fmt.Sprintf("%s: recomputed %v, read %v", what, want, got))
	}
}

func diffRows[T any](d *diffs, what string, want, got []T) {
	d.eq(what+" rows", len(want), len(got))
	for i := range min(len(want), len(got)) {
		d.eq(fmt.Sprintf("%s[%d]", what, i), fmt.Sprintf("%+v", want[i]), fmt.Sprintf("%+v", got[i]))
	}
}

func (d *diffs) breakdown(want, got Breakdown) {
	d.eq("offline", want.Offline, got.Offline)
	diffRows(d, "by_hour", want.ByHour, got.ByHour)
	diffRows(d, "by_category", want.ByCategory, got.ByCategory)
	diffRows(d, "by_fulfillment", want.ByFulfillment, got.ByFulfillment)
}

func (d diffs) list() []string {
	if len(d) > 40 {
		return append(d[:40], fmt.Sprintf("… and %d more", len(d)-40))
	}
	return d
}
