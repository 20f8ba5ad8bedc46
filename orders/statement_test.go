package orders_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// statementWorld is one stall (5 % commission) with an order in each state
// a statement shows, paid a minute apart in this order:
//
//	redeemed   ¥10.00 picked up, redeemed, paid out              → paid
//	shipped    ¥100.00 shipped now, ¥3.00 subsidy                → held, due after the hold
//	partial    ¥33.33 picked up, ¥10.01 refunded                 → held
//	refunded   ¥20.00 refunded in full                           → none
//	reversed   ¥100.00 picked up and paid out, then ¥20.00 refunded and taken back → paid
//
// and an unpaid order, which no statement lists.
type statementWorld struct {
	*kit
	s                                             shop
	redeemed, shipped, partial, refunded, reverse *orders.Order
	start                                         time.Time // the first payment
	shippedAt                                     time.Time
}

func newStatementWorld(t *testing.T) *statementWorld {
	k := newKit(t)
	w := &statementWorld{kit: k, s: k.shop("灯笼铺")}
	next := func() { k.Clock.Advance(time.Minute) }
	pickup := func(price int64) *catalog.Product {
		return k.goods(w.s, catalogtest.Product{Price: price, Stock: 10, Fulfillment: catalog.ShipPickup})
	}
	w.start = k.Clock.Now()

	_, w.redeemed = k.buy(pickup(1000), 1, true)
	if _, err := k.Orders.Redeem(k.ctx, w.s.Merchant, w.redeemed.ID, w.redeemed.PickupCode); err != nil {
		t.Fatal(err)
	}
	if err := k.Orders.Payout(k.ctx, w.redeemed.ID); err != nil {
		t.Fatal(err)
	}
	next()

	_, w.shipped = k.buy(k.goods(w.s, catalogtest.Product{Price: 10000, Stock: 10, Fulfillment: catalog.ShipDelivery}), 1, true)
	if _, err := k.Orders.Ship(k.ctx, w.s.Merchant, w.shipped.ID, "SF1"); err != nil {
		t.Fatal(err)
	}
	w.shippedAt = k.Clock.Now()
	// The coupons feature sets the subsidy at checkout; set it by hand here.
	if _, err := k.DB.NewUpdate().Table("orders").Set("subsidy = 300").Where("id = ?", w.shipped.ID).Exec(k.ctx); err != nil {
		t.Fatal(err)
	}
	next()

	_, w.partial = k.buy(pickup(3333), 1, true)
	if _, err := k.Orders.RefundOrder(k.ctx, w.s.Merchant, w.partial.ID, money(1001), "one cracked"); err != nil {
		t.Fatal(err)
	}
	next()

	_, w.refunded = k.buy(pickup(2000), 1, true)
	if _, err := k.Orders.RefundOrder(k.ctx, w.s.Merchant, w.refunded.ID, nil, "cancelled"); err != nil {
		t.Fatal(err)
	}
	next()

	_, w.reverse = k.buy(pickup(10000), 1, true)
	if _, err := k.Orders.Redeem(k.ctx, w.s.Merchant, w.reverse.ID, w.reverse.PickupCode); err != nil {
		t.Fatal(err) // picked up: its share is released
	}
	if err := k.Orders.Payout(k.ctx, w.reverse.ID); err != nil {
		t.Fatal(err)
	}
	r, err := k.Orders.RefundOrder(k.ctx, w.s.Merchant, w.reverse.ID, money(2000), "late")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Orders.ReversePayout(k.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	next()

	k.buy(pickup(500), 1, false) // unpaid
	return w
}

// want is the world's statement line by order, as computed by hand.
func (w *statementWorld) want(shippedStatus string) []orders.StatementLine {
	return []orders.StatementLine{
		// fee 50, share 950, all paid out.
		{OrderID: w.redeemed.ID, Gross: 1000, Commission: 50, Net: 950, PaidOut: 950, PayoutStatus: orders.PayoutPaid},
		// fee 500, share 9500, plus the subsidy.
		{OrderID: w.shipped.ID, Gross: 10000, Commission: 500, Subsidy: 300, Net: 9800, PayoutStatus: shippedStatus},
		// fee 167, share 3166; the merchant bears round(1001 × 3166 / 3333) = 951 of the refund.
		{OrderID: w.partial.ID, Gross: 3333, Commission: 117, Refunded: 1001, Net: 2215, PayoutStatus: orders.PayoutHeld},
		{OrderID: w.refunded.ID, Gross: 2000, Refunded: 2000, PayoutStatus: orders.PayoutNone},
		// 9500 paid out, 1900 taken back after the refund.
		{OrderID: w.reverse.ID, Gross: 10000, Commission: 400, Refunded: 2000, Net: 7600, PaidOut: 7600, PayoutStatus: orders.PayoutPaid},
	}
}

func (w *statementWorld) statement(p orders.Period, pg catalog.Page) *orders.Statement {
	w.t.Helper()
	st, err := w.Orders.StallStatement(w.ctx, w.s.Merchant, w.s.Stall.ID, p, pg)
	if err != nil {
		w.t.Fatalf("StallStatement: %v", err)
	}
	return st
}

// wantLines compares lines with want, paid_at aside, and checks each
// line's identity gross − refunded + subsidy = commission + net.
func wantLines(t *testing.T, got, want []orders.StatementLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range got {
		g := got[i]
		if g.Gross-g.Refunded+g.Subsidy != g.Commission+g.Net {
			t.Errorf("line %s: %d − %d + %d ≠ %d + %d", g.OrderID, g.Gross, g.Refunded, g.Subsidy, g.Commission, g.Net)
		}
		g.PaidAt = time.Time{}
		if g != want[i] {
			t.Errorf("line %d = %+v\nwant %+v", i, g, want[i])
		}
	}
}

func TestStatement(t *testing.T) {
	t.Run("LinesAndTotals", func(t *testing.T) {
		w := newStatementWorld(t)
		st := w.statement(orders.Period{}, catalog.Page{})
		wantLines(t, st.Lines, w.want(orders.PayoutHeld))
		for i, l := range st.Lines {
			if want := w.start.Add(time.Duration(i) * time.Minute); !l.PaidAt.Equal(want) || l.PaidAt.Location() != time.UTC {
				t.Errorf("line %d paid at %v, want %v in UTC", i, l.PaidAt, want)
			}
		}
		want := orders.StatementTotals{Orders: 5, Gross: 26333, Commission: 1067, Subsidy: 300, Refunded: 5001, Net: 20565,
			PaidOut: 8550, Owed: 12015, Held: 12015, Due: 0}
		if st.Totals != want {
			t.Errorf("totals %+v\nwant   %+v", st.Totals, want)
		}
		if st.NextCursor != nil || st.Currency != "CNY" {
			t.Errorf("next cursor %v, currency %q", st.NextCursor, st.Currency)
		}
		// The statement agrees with the fair's totals: gmv = gross − refunded.
		if tot := w.totals(); tot.GMV != want.Gross-want.Refunded || tot.Refunded != want.Refunded || tot.PaidOrders != want.Orders {
			t.Errorf("fair totals gmv %d, refunded %d, %d orders", tot.GMV, tot.Refunded, tot.PaidOrders)
		}
	})

	t.Run("AcrossTheHold", func(t *testing.T) {
		w := newStatementWorld(t)
		hold := w.Orders.PayoutHold()
		w.Clock.Set(w.shippedAt.Add(hold - time.Second))
		wantLines(t, w.statement(orders.Period{}, catalog.Page{}).Lines, w.want(orders.PayoutHeld))
		w.Clock.Set(w.shippedAt.Add(hold))
		st := w.statement(orders.Period{}, catalog.Page{})
		wantLines(t, st.Lines, w.want(orders.PayoutDue))
		if st.Totals.Held != 2215 || st.Totals.Due != 9800 || st.Totals.Owed != 12015 {
			t.Errorf("held %d, due %d, owed %d; want 2215, 9800, 12015", st.Totals.Held, st.Totals.Due, st.Totals.Owed)
		}
		// Paid out: the transfer, subsidy included, makes it paid and settled.
		if err := w.Orders.Payout(w.ctx, w.shipped.ID); err != nil {
			t.Fatal(err)
		}
		st = w.statement(orders.Period{}, catalog.Page{})
		if l := st.Lines[1]; l.PayoutStatus != orders.PayoutPaid || l.PaidOut != 9800 || l.Net != l.PaidOut {
			t.Errorf("shipped line after payout %+v, want paid, 9800 (9500 + the 300 subsidy) out, nothing owed", l)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		w := newStatementWorld(t)
		all := w.statement(orders.Period{}, catalog.Page{})
		var got []orders.StatementLine
		cursor, pages := "", 0
		for {
			st := w.statement(orders.Period{}, catalog.Page{Limit: 2, Cursor: cursor})
			pages++
			if st.Totals != all.Totals {
				t.Errorf("page %d totals %+v, want the whole period's %+v", pages, st.Totals, all.Totals)
			}
			got = append(got, st.Lines...)
			if st.NextCursor == nil {
				break
			}
			cursor = *st.NextCursor
		}
		if pages != 3 {
			t.Errorf("%d pages of 2, want 3", pages)
		}
		wantLines(t, got, w.want(orders.PayoutHeld))
		_, err := w.Orders.StallStatement(w.ctx, w.s.Merchant, w.s.Stall.ID, orders.Period{}, catalog.Page{Cursor: "not-a-cursor!"})
		catalogtest.WantInvalid(t, err, "cursor")
	})

	t.Run("Period", func(t *testing.T) {
		w := newStatementWorld(t)
		// [second payment, fourth payment): the shipped and partial orders.
		in := func(d time.Duration) string { return w.start.Add(d).In(catalog.FairZone).Format(time.RFC3339) }
		p, err := orders.ParsePeriod(in(time.Minute), in(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		st := w.statement(p, catalog.Page{})
		wantLines(t, st.Lines, w.want(orders.PayoutHeld)[1:3])
		if st.Totals.Orders != 2 || st.Totals.Gross != 13333 || st.Totals.Net != 12015 {
			t.Errorf("totals %+v, want 2 orders, gross 13333, net 12015", st.Totals)
		}
		p, _ = orders.ParsePeriod(in(4*time.Minute), "")
		if st := w.statement(p, catalog.Page{}); len(st.Lines) != 1 || st.Lines[0].OrderID != w.reverse.ID {
			t.Errorf("from the fifth payment: %+v", st.Lines)
		}
	})

	t.Run("OffsetSentUnencoded", func(t *testing.T) {
		// "+08:00" typed into a query string arrives as " 08:00".
		p, err := orders.ParsePeriod("2026-02-10T00:00:00 08:00", "")
		if err != nil || p.From == nil || !p.From.Equal(time.Date(2026, 2, 9, 16, 0, 0, 0, time.UTC)) {
			t.Fatalf("ParsePeriod = %+v, %v; want from 2026-02-09T16:00:00Z", p, err)
		}
	})

	t.Run("BadPeriod", func(t *testing.T) {
		for _, c := range []struct{ from, to, field string }{
			{"yesterday", "", "from"},
			{"", "2026-02-30T00:00:00Z", "to"},
			{"2026-02-10", "", "from"},
			{"2026-02-11T00:00:00+08:00", "2026-02-10T16:00:00Z", "to"}, // the same instant: empty
		} {
			_, err := orders.ParsePeriod(c.from, c.to)
			catalogtest.WantInvalid(t, err, c.field)
		}
	})

	t.Run("Access", func(t *testing.T) {
		w := newStatementWorld(t)
		_, err := w.Orders.StallStatement(w.ctx, w.shop("乙").Merchant, w.s.Stall.ID, orders.Period{}, catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		_, err = w.Orders.StallStatement(w.ctx, w.buyer(), w.s.Stall.ID, orders.Period{}, catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		_, err = w.Orders.StallStatement(w.ctx, w.Organizer, w.s.Stall.ID, orders.Period{}, catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = w.Orders.FairPayables(w.ctx, w.s.Merchant, w.Fair.Slug)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})

	t.Run("CSV", func(t *testing.T) {
		w := newStatementWorld(t)
		var buf bytes.Buffer
		if err := w.Orders.WriteStatementCSV(w.ctx, w.s.Merchant, w.s.Stall.ID, orders.Period{}, &buf); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 6 || fmt.Sprint(rows[0]) != "[order_id paid_at gross_fen commission_fen subsidy_fen refunded_fen net_fen paid_out_fen payout_status]" {
			t.Fatalf("csv %v", rows)
		}
		if got, want := fmt.Sprint(rows[3][2:]), "[3333 117 0 1001 2215 0 held]"; rows[3][0] != w.partial.ID || got != want {
			t.Errorf("partial row %v, want %s %s", rows[3], w.partial.ID, want)
		}
		if at, err := time.Parse(time.RFC3339, rows[1][1]); err != nil || !at.Equal(w.start.Truncate(time.Second)) || !strings.HasSuffix(rows[1][1], "Z") {
			t.Errorf("paid_at %q, want %v in UTC", rows[1][1], w.start)
		}
	})
}

func TestPayables(t *testing.T) {
	t.Run("EqualToStatements", func(t *testing.T) {
		w := newStatementWorld(t)
		// A second stall, one order paid out, and a stall with no paid order.
		other := w.shop("剪纸坊")
		_, o := w.buy(w.goods(other, catalogtest.Product{Price: 4999, Stock: 5}), 2, true)
		if _, err := w.Orders.Redeem(w.ctx, other.Merchant, o.ID, o.PickupCode); err != nil {
			t.Fatal(err)
		}
		if err := w.Orders.Payout(w.ctx, o.ID); err != nil {
			t.Fatal(err)
		}
		w.buy(w.goods(other, catalogtest.Product{Price: 1000, Stock: 5}), 1, true) // picked up later: held
		empty := w.shop("空摊")

		w.buy(w.goods(empty, catalogtest.Product{Price: 100}), 1, false)

		for _, at := range []time.Time{w.Clock.Now(), w.shippedAt.Add(w.Orders.PayoutHold())} {
			w.Clock.Set(at)
			p, err := w.Orders.FairPayables(w.ctx, w.Organizer, w.Fair.Slug)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 2 {
				t.Fatalf("payables of %d stalls, want 2 (those with paid orders): %+v", len(p.Items), p.Items)
			}
			var sum orders.StatementTotals
			for _, it := range p.Items {
				sh := shop{Merchant: w.s.Merchant, Stall: w.s.Stall}
				if it.StallID == other.Stall.ID {
					sh = other
				}
				st, err := w.Orders.StallStatement(w.ctx, sh.Merchant, it.StallID, orders.Period{}, catalog.Page{})
				if err != nil {
					t.Fatal(err)
				}
				if it.StatementTotals != st.Totals || it.Name != sh.Stall.Name {
					t.Errorf("payable %s (%s) %+v\nwant its statement's %+v", it.StallID, it.Name, it.StatementTotals, st.Totals)
				}
				if it.Owed != it.Net-it.PaidOut {
					t.Errorf("owed %d ≠ net %d − paid out %d", it.Owed, it.Net, it.PaidOut)
				}
				sum.Net += it.Net
				sum.Owed += it.Owed
				sum.PaidOut += it.PaidOut
				sum.Held += it.Held
			}
			if p.Totals.Net != sum.Net || p.Totals.Owed != sum.Owed || p.Totals.PaidOut != sum.PaidOut || p.Totals.Held != sum.Held {
				t.Errorf("payables totals %+v, items add up to %+v", p.Totals, sum)
			}
			// 2 × ¥49.99: fee 500, share 9498, all paid out; ¥10.00: fee 50, share 950, held.
			if p.Totals.Net != 20565+9498+950 || p.Totals.PaidOut != 8550+9498 {
				t.Errorf("net %d, paid out %d; want %d, %d", p.Totals.Net, p.Totals.PaidOut, 20565+9498+950, 8550+9498)
			}
			if it := p.Items[slices.IndexFunc(p.Items, func(it orders.Payable) bool { return it.StallID == other.Stall.ID })]; it.Held != 950 || it.Due != 0 {
				t.Errorf("second stall held %d, due %d; want 950, 0", it.Held, it.Due)
			}
		}
		b, err := w.Orders.FairPayables(w.ctx, w.Organizer, w.Fair.Slug)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(b.CSV())).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][0] != "stall_id" || rows[0][9] != "owed_fen" {
			t.Fatalf("payables csv %v, %v", rows, err)
		}
	})
}
