package orders

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"miaohui/catalog"
)

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

// Totals are a fair's sales as organizers report them. GMV is what was paid
// minus what was refunded; participants are the distinct paying buyers.
type Totals struct {
	Currency     string       `json:"currency"`
	GMV          Money        `json:"gmv"`
	PaidOrders   int64        `json:"paid_orders"`
	Refunded     Money        `json:"refunded"`
	Participants int64        `json:"participants"`
	Merchants    int64        `json:"merchants"`
	Stalls       int64        `json:"stalls"`
	ByStall      []StallTotal `json:"by_stall"`
	ByDay        []DayTotal   `json:"by_day"`
}

// StallTotals are one stall's own sales.
type StallTotals struct {
	Currency   string     `json:"currency"`
	GMV        Money      `json:"gmv"`
	PaidOrders int64      `json:"paid_orders"`
	Refunded   Money      `json:"refunded"`
	ByDay      []DayTotal `json:"by_day"`
}

// paidOrders selects the orders whose money was captured and kept.
func paidOrders(q *bun.SelectQuery) *bun.SelectQuery {
	return q.Where("o.status IN (?)", bun.In(PaidStatuses))
}

// localDay is the SQL for an order's payment date in Asia/Shanghai (UTC+8
// all year); the two databases spell it differently.
func localDay(db bun.IDB) string {
	if db.Dialect().Name() == dialect.PG {
		return "to_char(o.paid_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"
	}
	return "strftime('%Y-%m-%d', o.paid_at, '+8 hours')"
}

// FairTotals computes a fair's totals from its orders, for its organizer.
func (s *Service) FairTotals(ctx context.Context, a catalog.Actor, slug string) (*Totals, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, fmt.Errorf("only the fair's organizer sees its totals: %w", catalog.ErrForbidden)
	}
	t := &Totals{Currency: catalog.CurrencyCNY, ByStall: []StallTotal{}, ByDay: []DayTotal{}}
	err = paidOrders(s.db.NewSelect().TableExpr("orders AS o")).Where("o.fair_id = ?", f.ID).
		ColumnExpr("COALESCE(SUM(o.total), 0), COALESCE(SUM(o.refunded), 0), COUNT(*), COUNT(DISTINCT o.buyer_id)").
		Scan(ctx, &t.GMV, &t.Refunded, &t.PaidOrders, &t.Participants)
	if err != nil {
		return nil, err
	}
	t.GMV -= t.Refunded
	err = s.db.NewSelect().TableExpr("stalls").Where("fair_id = ?", f.ID).
		ColumnExpr("COUNT(*), COUNT(DISTINCT merchant_id)").Scan(ctx, &t.Stalls, &t.Merchants)
	if err != nil {
		return nil, err
	}
	err = s.db.NewSelect().TableExpr("stalls AS st").
		Join("LEFT JOIN orders AS o ON o.stall_id = st.id AND o.status IN (?)", bun.In(PaidStatuses)).
		ColumnExpr("st.id AS stall_id, st.name").
		ColumnExpr("COALESCE(SUM(o.total), 0) - COALESCE(SUM(o.refunded), 0) AS gmv, COUNT(o.id) AS orders").
		Where("st.fair_id = ?", f.ID).GroupExpr("st.id, st.name").OrderExpr("gmv DESC, st.id ASC").Scan(ctx, &t.ByStall)
	if err != nil {
		return nil, err
	}
	t.ByDay, err = s.byDay(ctx, "o.fair_id = ?", f.ID)
	return t, err
}

// StallTotalsFor computes one stall's totals for its merchant (or the fair's organizer).
func (s *Service) StallTotalsFor(ctx context.Context, a catalog.Actor, stallID string) (*StallTotals, error) {
	sa, err := s.catalog.Stall(ctx, a, stallID)
	if err != nil {
		return nil, err
	}
	if !sa.Merchant && !sa.Organizer {
		return nil, fmt.Errorf("only the stall's merchant sees its totals: %w", catalog.ErrForbidden)
	}
	t := &StallTotals{Currency: catalog.CurrencyCNY, ByDay: []DayTotal{}}
	err = paidOrders(s.db.NewSelect().TableExpr("orders AS o")).Where("o.stall_id = ?", stallID).
		ColumnExpr("COALESCE(SUM(o.total), 0), COALESCE(SUM(o.refunded), 0), COUNT(*)").
		Scan(ctx, &t.GMV, &t.Refunded, &t.PaidOrders)
	if err != nil {
		return nil, err
	}
	t.GMV -= t.Refunded
	t.ByDay, err = s.byDay(ctx, "o.stall_id = ?", stallID)
	return t, err
}

func (s *Service) byDay(ctx context.Context, where string, arg any) ([]DayTotal, error) {
	day := localDay(s.db)
	rows := []DayTotal{}
	err := paidOrders(s.db.NewSelect().TableExpr("orders AS o")).Where(where, arg).
		ColumnExpr(day+" AS date").
		ColumnExpr("COALESCE(SUM(o.total), 0) - COALESCE(SUM(o.refunded), 0) AS gmv, COUNT(*) AS orders").
		GroupExpr(day).OrderExpr("date ASC").Scan(ctx, &rows)
	return rows, err
}
