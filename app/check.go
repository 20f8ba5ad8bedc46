package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/migrations"
	"miaohui/orders"
)

// `fair check totals [--fair SLUG]` recomputes each fair's totals in Go from
// its orders rows, streamed, and compares them with orders.Service.FairTotals
// (the SQL the API and the dashboard use). Any difference is printed and the
// command fails.

// noEvents is orders.Events that does nothing: checking reads only.
type noEvents struct{}

func (noEvents) PaymentOpened(context.Context, string, time.Time) error                { return nil }
func (noEvents) OrdersPaid(context.Context, []string) error                            { return nil }
func (noEvents) Refunded(context.Context, string) error                                { return nil }
func (noEvents) OrderChanged(context.Context, string, string) error                    { return nil }
func (noEvents) TicketAdmitted(context.Context, orders.Ticket) error                   { return nil }
func (noEvents) FlashUnitsReturned(context.Context, string, string, string, int) error { return nil }
func (noEvents) FlashSaleScheduled(context.Context, string, time.Time) error           { return nil }

var _ orders.Events = noEvents{}

func checkCommand(ctx context.Context, cfg Config, out io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "totals" {
		return errors.New("usage: fair check totals [--fair SLUG]")
	}
	fs := flag.NewFlagSet("check totals", flag.ContinueOnError)
	fs.SetOutput(out)
	slug := fs.String("fair", "", "the fair to check (default: every fair)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := migrations.OpenDB(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := migrations.Up(ctx, db); err != nil {
		return err
	}
	return checkTotals(ctx, db, cfg.DataDir, *slug, out)
}

// checkTotals checks one fair (slug) or every fair (slug == "").
func checkTotals(ctx context.Context, db *bun.DB, dataDir, slug string, out io.Writer) error {
	cat := catalog.NewService(db, catalog.SystemClock, dataDir, catalog.NoEvents{})
	svc := orders.NewService(db, cat, orders.Sandbox{}, noEvents{}, catalog.SystemClock, 15*time.Minute)
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
		want, n, err := recomputeTotals(ctx, db, f.ID)
		if err != nil {
			return fmt.Errorf("fair %s: %w", f.Slug, err)
		}
		t1 := time.Now()
		got, err := svc.FairTotals(ctx, catalog.Actor{UserID: f.OrganizerID, Role: catalog.RoleOrganizer}, f.Slug)
		if err != nil {
			return fmt.Errorf("fair %s: FairTotals: %w", f.Slug, err)
		}
		diffs := diffTotals(want, got)
		fmt.Fprintf(out, "fair %s: %d orders read in %s, FairTotals in %s; GMV ¥%s, paid orders %d, refunded ¥%s, participants %d, stalls %d, merchants %d, days %d\n",
			f.Slug, n, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond),
			fenYuan(want.GMV), want.PaidOrders, fenYuan(want.Refunded), want.Participants, want.Stalls, want.Merchants, len(want.ByDay))
		for _, d := range diffs {
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

type checkOrderRow struct {
	bun.BaseModel `bun:"table:orders"`

	ID            string
	StallID       string
	BuyerID       string
	Status        string
	Total         orders.Money
	PlatformFee   orders.Money
	MerchantShare orders.Money
	Refunded      orders.Money
	PaidAt        *time.Time
}

type checkStallRow struct {
	bun.BaseModel `bun:"table:stalls"`

	ID         string
	MerchantID string
	Name       string
}

// recomputeTotals computes a fair's totals in Go, reading its orders one row
// at a time. Rows that break the invariants of amounts are errors too.
func recomputeTotals(ctx context.Context, db *bun.DB, fairID string) (*orders.Totals, int64, error) {
	t := &orders.Totals{Currency: catalog.CurrencyCNY, ByStall: []orders.StallTotal{}, ByDay: []orders.DayTotal{}}
	paid := map[string]bool{}
	for _, s := range orders.PaidStatuses {
		paid[s] = true
	}
	var stalls []checkStallRow
	if err := db.NewSelect().Model(&stalls).Where("fair_id = ?", fairID).Scan(ctx); err != nil {
		return nil, 0, err
	}
	byStall := map[string]*orders.StallTotal{}
	merchants := map[string]bool{}
	for _, s := range stalls {
		byStall[s.ID] = &orders.StallTotal{StallID: s.ID, Name: s.Name}
		merchants[s.MerchantID] = true
	}
	t.Stalls, t.Merchants = int64(len(stalls)), int64(len(merchants))
	byDay := map[string]*orders.DayTotal{}
	buyers := map[string]struct{}{}
	var n int64
	var invalid []string

	rows, err := db.NewSelect().Model((*checkOrderRow)(nil)).Where("fair_id = ?", fairID).Rows(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var o checkOrderRow
		if err := db.ScanRow(ctx, rows, &o); err != nil {
			return nil, 0, err
		}
		n++
		if o.PlatformFee+o.MerchantShare != o.Total || o.Refunded < 0 || o.Refunded > o.Total {
			invalid = append(invalid, fmt.Sprintf("order %s: total %d, fee %d + share %d, refunded %d", o.ID, o.Total, o.PlatformFee, o.MerchantShare, o.Refunded))
		}
		if !paid[o.Status] {
			continue
		}
		if o.PaidAt == nil {
			invalid = append(invalid, fmt.Sprintf("order %s: status %s without paid_at", o.ID, o.Status))
			continue
		}
		net := o.Total - o.Refunded
		t.PaidOrders++
		t.GMV += net
		t.Refunded += o.Refunded
		buyers[o.BuyerID] = struct{}{}
		if st := byStall[o.StallID]; st != nil {
			st.GMV += net
			st.Orders++
		}
		day := o.PaidAt.In(utc8).Format(time.DateOnly)
		d := byDay[day]
		if d == nil {
			d = &orders.DayTotal{Date: day}
			byDay[day] = d
		}
		d.GMV += net
		d.Orders++
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(invalid) > 0 {
		if len(invalid) > 10 {
			invalid = append(invalid[:10], fmt.Sprintf("… and %d more", len(invalid)-10))
		}
		return nil, n, fmt.Errorf("orders break the amounts' invariants:\n  %s", strings.Join(invalid, "\n  "))
	}
	t.Participants = int64(len(buyers))
	for _, s := range byStall {
		t.ByStall = append(t.ByStall, *s)
	}
	slices.SortFunc(t.ByStall, func(a, b orders.StallTotal) int {
		if a.GMV != b.GMV {
			if a.GMV > b.GMV {
				return -1
			}
			return 1
		}
		return strings.Compare(a.StallID, b.StallID)
	})
	for _, d := range byDay {
		t.ByDay = append(t.ByDay, *d)
	}
	slices.SortFunc(t.ByDay, func(a, b orders.DayTotal) int { return strings.Compare(a.Date, b.Date) })
	return t, n, nil
}

// diffTotals lists how got differs from want.
func diffTotals(want, got *orders.Totals) []string {
	var d []string
	cmp := func(what string, w, g any) {
		if w != g {
			d = append(d, fmt.Sprintf("%s: recomputed %v, FairTotals %v", what, w, g))
		}
	}
	cmp("currency", want.Currency, got.Currency)
	cmp("gmv", want.GMV, got.GMV)
	cmp("paid_orders", want.PaidOrders, got.PaidOrders)
	cmp("refunded", want.Refunded, got.Refunded)
	cmp("participants", want.Participants, got.Participants)
	cmp("merchants", want.Merchants, got.Merchants)
	cmp("stalls", want.Stalls, got.Stalls)
	cmp("by_stall rows", len(want.ByStall), len(got.ByStall))
	for i := range min(len(want.ByStall), len(got.ByStall)) {
		if want.ByStall[i] != got.ByStall[i] {
			d = append(d, fmt.Sprintf("by_stall[%d]: recomputed %+v, FairTotals %+v", i, want.ByStall[i], got.ByStall[i]))
		}
	}
	cmp("by_day rows", len(want.ByDay), len(got.ByDay))
	for i := range min(len(want.ByDay), len(got.ByDay)) {
		if want.ByDay[i] != got.ByDay[i] {
			d = append(d, fmt.Sprintf("by_day[%d]: recomputed %+v, FairTotals %+v", i, want.ByDay[i], got.ByDay[i]))
		}
	}
	if len(d) > 40 {
		d = append(d[:40], fmt.Sprintf("… and %d more", len(d)-40))
	}
	return d
}
