package app

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/migrations"
	"miaohui/orders"
)

// TestSeedTiny seeds a tiny fair through the command, checks it with `fair
// check totals`, and compares FairTotals with a recomputation of its own.
func TestSeedTiny(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := envOf(map[string]string{"FAIR_DATA_DIR": dir})
	args := []string{"fair", "seed", "--scale", "article", "--slug", "tiny", "--stalls", "5", "--products", "20", "--shoppers", "50", "--orders", "300"}
	var out bytes.Buffer
	if err := Run(ctx, args, env, &out); err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	seedOut := out.String()
	if !strings.Contains(seedOut, "organizer: organizer@tiny.seed.miaohui.cn / password: seed organizer tiny") {
		t.Fatalf("seed does not print the organizer:\n%s", seedOut)
	}
	// A second seed of the same slug is refused.
	out.Reset()
	if err := Run(ctx, args, env, &out); err == nil {
		t.Fatal("seeding the same slug twice succeeded")
	}

	out.Reset()
	if err := Run(ctx, []string{"fair", "check", "totals", "--fair", "tiny"}, env, &out); err != nil {
		t.Fatalf("check totals: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "totals OK") {
		t.Fatalf("check totals did not say OK:\n%s", out.String())
	}

	db, err := migrations.OpenDB("", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var f catalog.Fair
	if err := db.NewSelect().Model(&f).Where("slug = ?", "tiny").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	var all []orders.Order
	if err := db.NewSelect().Model(&all).Where("fair_id = ?", f.ID).Relation("Items").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(all) != 300 {
		t.Fatalf("%d orders, want 300", len(all))
	}
	var stalls []catalog.Stall
	if err := db.NewSelect().Model(&stalls).Where("fair_id = ?", f.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(stalls) != 5 {
		t.Fatalf("%d stalls, want 5", len(stalls))
	}
	var products, shoppers int64
	if products, err = db.NewSelect().TableExpr("products").Where("fair_id = ?", f.ID).Count(ctx); err != nil || products != 20 {
		t.Fatalf("%d products (%v), want 20", products, err)
	}
	if shoppers, err = db.NewSelect().TableExpr("users").Where("role = 'shopper'").Count(ctx); err != nil || shoppers != 50 {
		t.Fatalf("%d shoppers (%v), want 50", shoppers, err)
	}

	// The recomputation: plain Go over the orders with their items.
	cst := time.FixedZone("CST", 8*3600)
	var gmv, refunded orders.Money
	var paid, cancelled, refundedOrders int64
	buyers := map[string]bool{}
	stallGMV := map[string]orders.Money{}
	stallN := map[string]int64{}
	dayGMV := map[string]orders.Money{}
	for _, o := range all {
		if len(o.Items) != 1 || o.Items[0].LineTotal != o.Total || o.Items[0].UnitPrice*orders.Money(o.Items[0].Quantity) != o.Total {
			t.Fatalf("order %s: items %+v do not make its total %d", o.ID, o.Items, o.Total)
		}
		if fee, share := orders.Commission(o.Total, f.CommissionBPS); o.PlatformFee != fee || o.MerchantShare != share {
			t.Fatalf("order %s: fee %d share %d, want %d %d", o.ID, o.PlatformFee, o.MerchantShare, fee, share)
		}
		switch {
		case o.Refunded < 0 || o.Refunded > o.Total:
			t.Fatalf("order %s: refunded %d of %d", o.ID, o.Refunded, o.Total)
		case o.Refunded == o.Total && o.Status != orders.StatusRefunded,
			o.Refunded > 0 && o.Refunded < o.Total && o.Status != orders.StatusPartiallyRefunded,
			o.Refunded == 0 && (o.Status == orders.StatusRefunded || o.Status == orders.StatusPartiallyRefunded):
			t.Fatalf("order %s: status %s with %d of %d refunded", o.ID, o.Status, o.Refunded, o.Total)
		}
		if o.Status == orders.StatusCancelled {
			if o.PaidAt != nil || o.Refunded != 0 {
				t.Fatalf("cancelled order %s paid or refunded", o.ID)
			}
			cancelled++
			continue
		}
		if o.PaidAt == nil || o.PaidAt.Before(f.StartsAt) || !o.PaidAt.Before(f.EndsAt) {
			t.Fatalf("order %s paid at %v, outside the fair %v–%v", o.ID, o.PaidAt, f.StartsAt, f.EndsAt)
		}
		if o.Refunded > 0 {
			refundedOrders++
		}
		paid++
		net := o.Total - o.Refunded
		gmv += net
		refunded += o.Refunded
		buyers[o.BuyerID] = true
		stallGMV[o.StallID] += net
		stallN[o.StallID]++
		dayGMV[o.PaidAt.In(cst).Format("2006-01-02")] += net
	}
	if paid == 0 || refundedOrders == 0 && cancelled == 0 {
		t.Logf("paid %d, refunded %d, cancelled %d", paid, refundedOrders, cancelled)
	}

	cat := catalog.NewService(db, catalog.SystemClock, dir, catalog.NoEvents{})
	svc := orders.NewService(db, cat, orders.Sandbox{}, orders.NoEvents{}, catalog.SystemClock, 15*time.Minute)
	got, err := svc.FairTotals(ctx, catalog.Actor{UserID: f.OrganizerID, Role: catalog.RoleOrganizer}, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if got.GMV != gmv || got.PaidOrders != paid || got.Refunded != refunded || got.Participants != int64(len(buyers)) || got.Stalls != 5 || got.Merchants != 5 {
		t.Fatalf("FairTotals %+v; recomputed GMV %d, paid %d, refunded %d, participants %d", got, gmv, paid, refunded, len(buyers))
	}
	if len(got.ByStall) != 5 {
		t.Fatalf("by_stall has %d rows", len(got.ByStall))
	}
	for _, s := range got.ByStall {
		if s.GMV != stallGMV[s.StallID] || s.Orders != stallN[s.StallID] {
			t.Fatalf("stall %s: FairTotals %d/%d, recomputed %d/%d", s.StallID, s.GMV, s.Orders, stallGMV[s.StallID], stallN[s.StallID])
		}
	}
	if len(got.ByDay) != len(dayGMV) {
		t.Fatalf("by_day has %d rows, recomputed %d", len(got.ByDay), len(dayGMV))
	}
	for _, d := range got.ByDay {
		if d.GMV != dayGMV[d.Date] {
			t.Fatalf("day %s: FairTotals %d, recomputed %d", d.Date, d.GMV, dayGMV[d.Date])
		}
	}
	// What the seed printed is what is there.
	if !strings.Contains(seedOut, "GMV "+orders.Yuan(gmv)+" ") {
		t.Fatalf("seed printed other totals than GMV %s:\n%s", orders.Yuan(gmv), seedOut)
	}

	// The data are a function of the flags: a second database gets the same totals.
	dir2 := t.TempDir()
	out.Reset()
	if err := Run(ctx, args, envOf(map[string]string{"FAIR_DATA_DIR": dir2}), &out); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	re := regexp.MustCompile(`totals: .*`)
	if a, b := re.FindString(seedOut), re.FindString(out.String()); a == "" || a != b {
		t.Fatalf("seeds differ:\n%s\n%s", a, b)
	}
}
