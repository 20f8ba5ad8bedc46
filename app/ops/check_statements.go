package ops

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"miaohui/catalog"
	"miaohui/orders"
)

// The money check of `fair check totals`: every stall's statement, summed,
// must give the fair's totals (gmv = gross − refunded, the refunds, the paid
// orders) and each stall's, each statement must balance (gross − refunded +
// subsidy = commission + net), and the organizer's payables must be the
// statements per stall, with owed + paid_out = net.

// statementCheck is what checkStatements found.
type statementCheck struct {
	sum                  orders.StatementTotals
	statements, payables time.Duration
	diffs                []string
}

// checkStatements compares a fair's statements with its recomputed totals
// (want, stalls) and with its payables.
func checkStatements(ctx context.Context, svc *orders.Service, f catalog.Fair, want *orders.Totals, stalls map[string]*orders.StallTotals) (*statementCheck, error) {
	c := &statementCheck{}
	diff := func(format string, args ...any) { c.diffs = append(c.diffs, fmt.Sprintf(format, args...)) }
	t0 := time.Now()
	per := map[string]orders.StatementTotals{}
	for _, id := range slices.Sorted(maps.Keys(stalls)) {
		st, err := svc.StatementTotalsOf(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("stall %s: statement: %w", id, err)
		}
		per[id] = st
		if st.Orders == 0 {
			continue
		}
		if st.Gross-st.Refunded+st.Subsidy != st.Commission+st.Net {
			diff("statement of stall %s: gross %d − refunded %d + subsidy %d ≠ commission %d + net %d", id, st.Gross, st.Refunded, st.Subsidy, st.Commission, st.Net)
		}
		if g := st.Gross - st.Refunded; g != stalls[id].GMV || st.Refunded != stalls[id].Refunded || st.Orders != stalls[id].PaidOrders {
			diff("statement of stall %s: gross − refunded %d, refunded %d, %d orders; its totals: gmv %d, refunded %d, %d orders",
				id, g, st.Refunded, st.Orders, stalls[id].GMV, stalls[id].Refunded, stalls[id].PaidOrders)
		}
		addTotals(&c.sum, st)
	}
	if g := c.sum.Gross - c.sum.Refunded; g != want.GMV || c.sum.Refunded != want.Refunded || c.sum.Orders != want.PaidOrders {
		diff("statements: gross − refunded %d, refunded %d, %d orders; the fair's totals: gmv %d, refunded %d, %d paid orders",
			g, c.sum.Refunded, c.sum.Orders, want.GMV, want.Refunded, want.PaidOrders)
	}
	if c.sum.Gross-c.sum.Refunded+c.sum.Subsidy != c.sum.Commission+c.sum.Net {
		diff("statements: gross − refunded + subsidy %d ≠ commission + net %d", c.sum.Gross-c.sum.Refunded+c.sum.Subsidy, c.sum.Commission+c.sum.Net)
	}
	t1 := time.Now()
	c.statements = t1.Sub(t0)

	organizer := catalog.Actor{UserID: f.OrganizerID, Role: catalog.RoleOrganizer}
	p, err := svc.FairPayables(ctx, organizer, f.Slug)
	if err != nil {
		return nil, fmt.Errorf("payables: %w", err)
	}
	c.payables = time.Since(t1)
	listed := map[string]bool{}
	for _, it := range p.Items {
		listed[it.StallID] = true
		if st := per[it.StallID]; it.StatementTotals != st {
			diff("payables of stall %s: %+v; its statement: %+v", it.StallID, it.StatementTotals, st)
		}
	}
	for id, st := range per {
		if st.Orders > 0 && !listed[id] {
			diff("payables: stall %s with %d paid orders is missing", id, st.Orders)
		}
	}
	if p.Totals != c.sum {
		diff("payables' totals %+v; the statements add up to %+v", p.Totals, c.sum)
	}
	if p.Totals.Owed+p.Totals.PaidOut != p.Totals.Net {
		diff("payables: owed %d + paid out %d ≠ net %d", p.Totals.Owed, p.Totals.PaidOut, p.Totals.Net)
	}
	return c, nil
}

// addTotals adds b to a.
func addTotals(a *orders.StatementTotals, b orders.StatementTotals) {
	a.Orders += b.Orders
	a.Gross += b.Gross
	a.Commission += b.Commission
	a.Subsidy += b.Subsidy
	a.Refunded += b.Refunded
	a.Net += b.Net
	a.PaidOut += b.PaidOut
	a.Owed += b.Owed
	a.Held += b.Held
	a.Due += b.Due
}
