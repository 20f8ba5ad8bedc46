package orders

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// The totals are read from the rollups (rollup.go), kept by the
// transactions that pay, refund and redeem; flash sales and property
// vouchers, few by nature, are summed from their orders.

// StallTotal is one stall's line of the fair's totals.
type StallTotal struct {
	StallID string `json:"stall_id"`
	Name    string `json:"name"`
	GMV     Money  `json:"gmv"`
	Orders  int64  `json:"orders"`
}

// DayTotal is one day (in the fair's time zone, Asia/Shanghai) of sales.
type DayTotal struct {
	Date   string `json:"date" example:"2026-02-01"`
	GMV    Money  `json:"gmv"`
	Orders int64  `json:"orders"`
}

// HourTotal is one hour of sales, by the hour the orders were paid in.
type HourTotal struct {
	Hour   time.Time `json:"hour" doc:"the start of the hour, in Asia/Shanghai time"`
	GMV    Money     `json:"gmv"`
	Orders int64     `json:"orders"`
}

// CategoryTotal is the sales of one product category (as the products were
// filed at checkout); a refund is shared among an order's lines in
// proportion to their totals.
type CategoryTotal struct {
	Category string `json:"category" doc:"the category's slug; empty for products filed under none"`
	Name     string `json:"name"`
	NameEN   string `json:"name_en"`
	GMV      Money  `json:"gmv"`
	Units    int64  `json:"units"`
}

// FulfillmentBooth is the by_fulfillment row of the sales made and paid at
// the booth (offline-sales): Orders counts the sales.
const FulfillmentBooth = "booth"

// FulfillmentTotal is the sales delivered one way: shipped (online),
// collected at the booth or sales office (offline), with how many of those
// codes were redeemed, or sold at the booth itself (booth: its orders are
// the booth sales).
type FulfillmentTotal struct {
	Fulfillment string `json:"fulfillment" enum:"ship,pickup,booth"`
	GMV         Money  `json:"gmv"`
	Orders      int64  `json:"orders"`
	Redeemed    int64  `json:"redeemed"`
}

// FlashSaleTotal is one flash sale's progress.
type FlashSaleTotal struct {
	FlashSaleID string    `json:"flash_sale_id"`
	StallID     string    `json:"stall_id"`
	Title       string    `json:"title"`
	Price       Money     `json:"price"`
	Quantity    int64     `json:"quantity"`
	Ordered     int64     `json:"ordered" doc:"units won and ordered (paid or awaiting payment)"`
	PaidOrders  int64     `json:"paid_orders"`
	GMV         Money     `json:"gmv"`
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at"`
	Withdrawn   bool      `json:"withdrawn"`
}

// DevelopmentTotal is one development's deposit vouchers and viewing
// bookings in a property season.
type DevelopmentTotal struct {
	StallID  string `json:"stall_id"`
	Name     string `json:"name"`
	Sold     int64  `json:"vouchers_sold"`
	Redeemed int64  `json:"vouchers_redeemed"`
	Refunded int64  `json:"vouchers_refunded" doc:"vouchers of orders refunded in full"`
	Bookings int64  `json:"bookings" doc:"live viewing bookings"`
}

// OfflineTotal is the sales made and paid at the booth, recorded by the
// stall's merchant or staff; they are not part of gmv (the platform did not
// take the money).
type OfflineTotal struct {
	GMV   Money `json:"gmv" doc:"in fen"`
	Sales int64 `json:"sales"`
}

// Breakdown is what the fair's and a stall's totals both show.
type Breakdown struct {
	Offline       OfflineTotal       `json:"offline"`
	ByHour        []HourTotal        `json:"by_hour"`
	ByCategory    []CategoryTotal    `json:"by_category"`
	ByFulfillment []FulfillmentTotal `json:"by_fulfillment"`
	FlashSales    []FlashSaleTotal   `json:"flash_sales"`
	Developments  []DevelopmentTotal `json:"developments,omitempty" doc:"property seasons only"`
}

// Totals are a fair's sales as organizers report them. GMV is what was paid
// minus what was refunded; participants are the distinct paying buyers.
type Totals struct {
	Currency     string        `json:"currency"`
	GMV          Money         `json:"gmv"`
	PaidOrders   int64         `json:"paid_orders"`
	Refunded     Money         `json:"refunded"`
	Participants int64         `json:"participants"`
	Merchants    int64         `json:"merchants"`
	Stalls       int64         `json:"stalls"`
	ByStall      []StallTotal  `json:"by_stall"`
	ByDay        []DayTotal    `json:"by_day"`
	Coupons      []CouponTotal `json:"coupons"`
	Breakdown
	// PreviousEdition is the headline of the edition before this one, to
	// compare with (往届对比); absent for a first edition.
	PreviousEdition *EditionTotals `json:"previous_edition,omitempty" doc:"the previous edition's headline figures, when the fair has one"`
}

// EditionTotals are an edition's headline figures, counted as its own totals
// count them.
type EditionTotals struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	GMV          Money  `json:"gmv"`
	PaidOrders   int64  `json:"paid_orders"`
	Participants int64  `json:"participants"`
	Merchants    int64  `json:"merchants"`
}

// StallTotals are one stall's own sales.
type StallTotals struct {
	Currency     string     `json:"currency"`
	GMV          Money      `json:"gmv"`
	PaidOrders   int64      `json:"paid_orders"`
	Refunded     Money      `json:"refunded"`
	Participants int64      `json:"participants"`
	ByDay        []DayTotal `json:"by_day"`
	Breakdown
}

// scope is what a totals query sums: a fair or one stall.
type scope struct {
	fairID, stallID string
	property        bool
}

// FairTotals reads a fair's totals, for its organizer.
func (s *Service) FairTotals(ctx context.Context, a catalog.Actor, slug string) (*Totals, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the fair's organizer sees its totals")
	}
	sm, err := s.sums(ctx, scope{fairID: f.ID, property: f.Kind == catalog.KindPropertySeason})
	if err != nil {
		return nil, err
	}
	t := &Totals{Currency: catalog.CurrencyCNY, GMV: sm.gmv, PaidOrders: sm.paidOrders, Refunded: sm.refunded,
		Participants: sm.participants, ByStall: []StallTotal{}, ByDay: sm.byDay, Breakdown: sm.Breakdown}
	stalls, err := catalog.StallsOfFair(ctx, s.db, f.ID)
	if err != nil {
		return nil, err
	}
	var sums []StallTotal
	err = s.db.NewSelect().TableExpr("rollup_stalls").ColumnExpr("stall_id, SUM(paid) - SUM(refunded) AS gmv, SUM(orders) AS orders").
		Where("fair_id = ?", f.ID).GroupExpr("stall_id").Scan(ctx, &sums)
	if err != nil {
		return nil, err
	}
	byStall := map[string]StallTotal{}
	for _, r := range sums {
		byStall[r.StallID] = r
	}
	merchants := map[string]bool{}
	for _, st := range stalls {
		merchants[st.MerchantID] = true
		r := byStall[st.ID]
		t.ByStall = append(t.ByStall, StallTotal{StallID: st.ID, Name: st.Name, GMV: r.GMV, Orders: r.Orders})
	}
	t.Stalls, t.Merchants = int64(len(stalls)), int64(len(merchants))
	if t.Coupons, err = s.couponTotals(ctx, f.ID); err != nil {
		return nil, err
	}
	slices.SortStableFunc(t.ByStall, func(a, b StallTotal) int {
		return cmp.Or(cmp.Compare(b.GMV, a.GMV), cmp.Compare(a.StallID, b.StallID))
	})
	if t.PreviousEdition, err = s.previousEdition(ctx, f); err != nil {
		return nil, err
	}
	return t, nil
}

// previousEdition reads the headline of the edition before f, or nil when f
// is a first edition.
func (s *Service) previousEdition(ctx context.Context, f *catalog.Fair) (*EditionTotals, error) {
	prev, err := catalog.PreviousEdition(ctx, s.db, f)
	if err != nil || prev == nil {
		return nil, err
	}
	sm, err := s.sums(ctx, scope{fairID: prev.ID, property: prev.Kind == catalog.KindPropertySeason})
	if err != nil {
		return nil, err
	}
	stalls, err := catalog.StallsOfFair(ctx, s.db, prev.ID)
	if err != nil {
		return nil, err
	}
	merchants := map[string]bool{}
	for _, st := range stalls {
		merchants[st.MerchantID] = true
	}
	return &EditionTotals{Slug: prev.Slug, Name: prev.Name, GMV: sm.gmv, PaidOrders: sm.paidOrders,
		Participants: sm.participants, Merchants: int64(len(merchants))}, nil
}

// StallTotalsFor reads one stall's totals for its merchant (or the fair's organizer).
func (s *Service) StallTotalsFor(ctx context.Context, a catalog.Actor, stallID string) (*StallTotals, error) {
	sa, err := s.catalog.Stall(ctx, a, stallID)
	if err != nil {
		return nil, err
	}
	if !sa.Merchant && !sa.Organizer {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant sees its totals")
	}
	sm, err := s.sums(ctx, scope{fairID: sa.Fair.ID, stallID: stallID, property: sa.Fair.Kind == catalog.KindPropertySeason})
	if err != nil {
		return nil, err
	}
	return &StallTotals{Currency: catalog.CurrencyCNY, GMV: sm.gmv, PaidOrders: sm.paidOrders, Refunded: sm.refunded,
		Participants: sm.participants, ByDay: sm.byDay, Breakdown: sm.Breakdown}, nil
}

// id is the scope's own id: the stall's, or the fair's.
func (sc scope) id() string { return cmp.Or(sc.stallID, sc.fairID) }

// filter limits a query on a table with fair_id and stall_id columns.
func (sc scope) filter(q *bun.SelectQuery, alias string) *bun.SelectQuery {
	if sc.stallID != "" {
		return q.Where("?.stall_id = ?", bun.Ident(alias), sc.stallID)
	}
	return q.Where("?.fair_id = ?", bun.Ident(alias), sc.fairID)
}

// scopeSums is what a scope's rollups add up to: the headline figures (from
// its hours, which every paid order and refund passes through) and the charts.
type scopeSums struct {
	gmv, refunded            Money
	paidOrders, participants int64
	byDay                    []DayTotal
	Breakdown
}

// sums reads a scope's headline figures and charts.
func (s *Service) sums(ctx context.Context, sc scope) (*scopeSums, error) {
	sm := &scopeSums{byDay: []DayTotal{}}
	b := &sm.Breakdown
	*b = Breakdown{ByHour: []HourTotal{}, ByCategory: []CategoryTotal{}, ByFulfillment: []FulfillmentTotal{}, FlashSales: []FlashSaleTotal{}}
	var hours []struct {
		Hour                 int64
		Paid, Refunded       Money
		Orders, Participants int64
	}
	err := s.db.NewSelect().TableExpr("rollup_hours").
		ColumnExpr("hour, SUM(paid) AS paid, SUM(refunded) AS refunded, SUM(orders) AS orders, SUM(participants) AS participants").
		Where("scope_id = ?", sc.id()).GroupExpr("hour").OrderExpr("hour").Scan(ctx, &hours)
	if err != nil {
		return nil, err
	}
	for _, h := range hours {
		sm.gmv += h.Paid - h.Refunded
		sm.refunded += h.Refunded
		sm.paidOrders += h.Orders
		sm.participants += h.Participants
		at := time.Unix(h.Hour*3600, 0).In(catalog.FairZone)
		b.ByHour = append(b.ByHour, HourTotal{Hour: at, GMV: h.Paid - h.Refunded, Orders: h.Orders})
		date := at.Format(time.DateOnly)
		if n := len(sm.byDay); n == 0 || sm.byDay[n-1].Date != date {
			sm.byDay = append(sm.byDay, DayTotal{Date: date})
		}
		sm.byDay[len(sm.byDay)-1].GMV += h.Paid - h.Refunded
		sm.byDay[len(sm.byDay)-1].Orders += h.Orders
	}

	err = sc.filter(s.db.NewSelect().TableExpr("rollup_stalls AS r"), "r").
		ColumnExpr("r.fulfillment, SUM(r.paid) - SUM(r.refunded) AS gmv, SUM(r.orders) AS orders, SUM(r.redeemed) AS redeemed").
		GroupExpr("r.fulfillment").OrderExpr("r.fulfillment").Scan(ctx, &b.ByFulfillment)
	if err != nil {
		return nil, err
	}

	// Booth sales are few (typed in by hand): summed from their rows.
	err = sc.filter(s.db.NewSelect().TableExpr("offline_sales AS x"), "x").
		ColumnExpr("COALESCE(SUM(x.amount), 0) AS gmv, COUNT(*) AS sales").Scan(ctx, &b.Offline)
	if err != nil {
		return nil, err
	}
	if b.Offline.Sales > 0 {
		b.ByFulfillment = append(b.ByFulfillment, FulfillmentTotal{Fulfillment: FulfillmentBooth, GMV: b.Offline.GMV, Orders: b.Offline.Sales})
		slices.SortFunc(b.ByFulfillment, func(x, y FulfillmentTotal) int { return cmp.Compare(x.Fulfillment, y.Fulfillment) })
	}

	err = sc.filter(s.db.NewSelect().TableExpr("rollup_categories AS r"), "r").
		ColumnExpr("r.category, SUM(r.paid) - SUM(r.refunded) AS gmv, SUM(r.units) AS units").
		GroupExpr("r.category").OrderExpr("gmv DESC, r.category ASC").Scan(ctx, &b.ByCategory)
	if err != nil {
		return nil, err
	}
	if len(b.ByCategory) > 0 {
		cats, err := catalog.CategoriesOf(ctx, s.db, sc.fairID)
		if err != nil {
			return nil, err
		}
		for i := range b.ByCategory {
			for _, c := range cats {
				if c.Slug == b.ByCategory[i].Category {
					b.ByCategory[i].Name, b.ByCategory[i].NameEN = c.Name, c.NameEN
				}
			}
		}
	}

	if b.FlashSales, err = s.flashSaleTotals(ctx, sc); err != nil {
		return nil, err
	}
	if sc.property {
		if b.Developments, err = s.developments(ctx, sc); err != nil {
			return nil, err
		}
	}
	return sm, nil
}

// developments sums a property season's deposit vouchers and viewing
// bookings per development (stall).
func (s *Service) developments(ctx context.Context, sc scope) ([]DevelopmentTotal, error) {
	var stalls []catalog.Stall
	if sc.stallID != "" {
		st, err := s.catalog.StallByID(ctx, s.db, sc.stallID)
		if err != nil {
			return nil, err
		}
		stalls = append(stalls, *st)
	} else {
		var err error
		if stalls, err = catalog.StallsOfFair(ctx, s.db, sc.fairID); err != nil {
			return nil, err
		}
	}
	rows := make([]DevelopmentTotal, len(stalls))
	ids := make([]string, len(stalls))
	at := map[string]*DevelopmentTotal{}
	for i, st := range stalls {
		rows[i] = DevelopmentTotal{StallID: st.ID, Name: st.Name}
		ids[i] = st.ID
		at[st.ID] = &rows[i]
	}
	var vouchers []struct {
		StallID                  string
		Sold, Redeemed, Refunded int64
	}
	err := sc.filter(s.db.NewSelect().TableExpr("orders AS o"), "o").
		Join("JOIN order_items AS i ON i.order_id = o.id").
		Where("o.status IN (?)", bun.In(PaidStatuses)).Where("i.kind = ?", catalog.KindVoucher).
		ColumnExpr("o.stall_id, SUM(i.quantity) AS sold").
		ColumnExpr("SUM(CASE WHEN o.redeemed_at IS NOT NULL THEN i.quantity ELSE 0 END) AS redeemed").
		ColumnExpr("SUM(CASE WHEN o.status = ? THEN i.quantity ELSE 0 END) AS refunded", StatusRefunded).
		GroupExpr("o.stall_id").Scan(ctx, &vouchers)
	if err != nil {
		return nil, err
	}
	for _, v := range vouchers {
		if d := at[v.StallID]; d != nil {
			d.Sold, d.Redeemed, d.Refunded = v.Sold, v.Redeemed, v.Refunded
		}
	}
	bookings, err := catalog.LiveBookings(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	for id, n := range bookings {
		if d := at[id]; d != nil {
			d.Bookings = n
		}
	}
	return rows, nil
}

// flashSaleTotals reads the progress of a scope's flash sales: the offers
// from the catalog, their paid orders from the orders.
func (s *Service) flashSaleTotals(ctx context.Context, sc scope) ([]FlashSaleTotal, error) {
	sales, err := catalog.FlashSalesOf(ctx, s.db, sc.fairID, sc.stallID)
	if err != nil {
		return nil, err
	}
	out := make([]FlashSaleTotal, len(sales))
	if len(sales) == 0 {
		return out, nil
	}
	ids := make([]string, len(sales))
	for i, f := range sales {
		ids[i] = f.ID
	}
	var paid []struct {
		FlashSaleID string
		PaidOrders  int64
		GMV         Money
	}
	err = s.db.NewSelect().Model((*Order)(nil)).
		ColumnExpr("flash_sale_id, COUNT(*) AS paid_orders, COALESCE(SUM(total - refunded), 0) AS gmv").
		Where("flash_sale_id IN (?) AND status IN (?)", bun.In(ids), bun.In(PaidStatuses)).
		GroupExpr("flash_sale_id").Scan(ctx, &paid)
	if err != nil {
		return nil, err
	}
	bySale := map[string]int{}
	for i, f := range sales {
		bySale[f.ID] = i
		out[i] = FlashSaleTotal{FlashSaleID: f.ID, StallID: f.StallID, Title: f.Title, Price: f.Price, Quantity: int64(f.Quantity),
			Ordered: int64(f.Sold), StartsAt: f.StartsAt, EndsAt: f.EndsAt, Withdrawn: f.Withdrawn}
	}
	for _, p := range paid {
		i := bySale[p.FlashSaleID]
		out[i].PaidOrders, out[i].GMV = p.PaidOrders, p.GMV
	}
	return out, nil
}
