package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/orders"
)

// `fair check totals [--fair SLUG]` recomputes each fair's totals in Go from
// its orders rows, streamed (orders.Recompute), and compares them with what
// the API and the dashboards read from the rollups: the fair's totals and
// every stall's. Any difference is printed and the command fails. It also
// reports (without failing) outbox messages waiting too long (CheckOutbox).

// Check is `fair check totals`.
func Check(ctx context.Context, env Env, out io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "totals" {
		return errors.New("usage: fair check totals [--fair SLUG] [--outbox-age DURATION]")
	}
	fs := flag.NewFlagSet("check totals", flag.ContinueOnError)
	fs.SetOutput(out)
	slug := fs.String("fair", "", "the fair to check (default: every fair)")
	outboxAge := fs.Duration("outbox-age", 10*time.Minute, "report outbox messages waiting longer than this")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	_ = CheckOutbox(ctx, db, time.Now(), *outboxAge, out)
	return CheckTotals(ctx, db, env.DataDir, *slug, out)
}

// CheckTotals checks one fair (slug) or every fair (slug == "").
func CheckTotals(ctx context.Context, db *bun.DB, dataDir, slug string, out io.Writer) error {
	cat := catalog.NewService(db, catalog.SystemClock, dataDir, catalog.NoEvents{})
	// One instant for the whole check, so that statements and payables
	// agree on which shipped orders are past the payout hold.
	at := catalog.SystemClock()
	svc := orders.NewService(db, cat, orders.Sandbox{}, orders.NoEvents{}, func() time.Time { return at }, 15*time.Minute)
	var fairs []catalog.Fair
	q := db.NewSelect().Model(&fairs).OrderExpr("id ASC")
	if slug != "" {
		q = q.Where("slug = ?", slug)
	}
	if err := q.Scan(ctx); err != nil {
		return err
	}
	if slug != "" && len(fairs) == 0 {
		return fmt.Errorf("check totals: no fair %q", slug)
	}
	bad := 0
	for _, f := range fairs {
		t0 := time.Now()
		want, stalls, n, err := orders.Recompute(ctx, db, f.ID)
		if err != nil {
			return fmt.Errorf("fair %s: %w", f.Slug, err)
		}
		t1 := time.Now()
		organizer := catalog.Actor{UserID: f.OrganizerID, Role: catalog.RoleOrganizer}
		got, err := svc.FairTotals(ctx, organizer, f.Slug)
		if err != nil {
			return fmt.Errorf("fair %s: FairTotals: %w", f.Slug, err)
		}
		diffs := orders.DiffTotals(want, got)
		t2 := time.Now()
		for _, id := range slices.Sorted(maps.Keys(stalls)) {
			gotStall, err := svc.StallTotalsFor(ctx, organizer, id)
			if err != nil {
				return fmt.Errorf("fair %s: stall %s: %w", f.Slug, id, err)
			}
			for _, d := range orders.DiffStallTotals(stalls[id], gotStall) {
				diffs = append(diffs, "stall "+id+": "+d)
			}
		}
		t3 := time.Now()
		money, err := checkStatements(ctx, svc, f, want, stalls)
		if err != nil {
			return fmt.Errorf("fair %s: %w", f.Slug, err)
		}
		diffs = append(diffs, money.diffs...)
		fmt.Fprintf(out, "fair %s: %d orders read in %s, FairTotals in %s, %d stalls' totals in %s; GMV %s, paid orders %d, refunded %s, participants %d, stalls %d, merchants %d, days %d, hours %d, categories %d\n",
			f.Slug, n, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), len(stalls), t3.Sub(t2).Round(time.Millisecond),
			orders.Yuan(want.GMV), want.PaidOrders, orders.Yuan(want.Refunded), want.Participants, want.Stalls, want.Merchants,
			len(want.ByDay), len(want.ByHour), len(want.ByCategory))
		fmt.Fprintf(out, "fair %s: %d stalls' statements in %s, payables in %s; commission %s, subsidy %s, net %s, paid out %s, owed %s (held %s)\n",
			f.Slug, len(stalls), money.statements.Round(time.Millisecond), money.payables.Round(time.Millisecond),
			orders.Yuan(money.sum.Commission), orders.Yuan(money.sum.Subsidy), orders.Yuan(money.sum.Net), orders.Yuan(money.sum.PaidOut),
			orders.Yuan(money.sum.Owed), orders.Yuan(money.sum.Held))
		for i, d := range diffs {
			if i == 40 {
				fmt.Fprintf(out, "  … and %d more\n", len(diffs)-40)
				break
			}
			fmt.Fprintf(out, "  DIFF %s\n", d)
		}
		if len(diffs) > 0 {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("check totals: %d fair(s) differ", bad)
	}
	fmt.Fprintf(out, "totals OK (%d fair(s))\n", len(fairs))
	return nil
}
