package orders_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// The fair's dates, publication and stalls bound what may still be sold and
// paid for: flash sales stop with their fair, and an order whose fair closed
// or whose stall was suspended is not paid for.

// editFair changes the kit's fair as its organizer would.
func (k *kit) editFair(in catalog.FairInput) {
	k.t.Helper()
	if _, err := k.Catalog.UpdateFair(k.ctx, k.Organizer, k.Fair.Slug, in); err != nil {
		k.t.Fatalf("UpdateFair: %v", err)
	}
}

// closeFair ends the kit's fair now.
func (k *kit) closeFair() {
	k.t.Helper()
	now := k.Clock.Now()
	k.editFair(catalog.FairInput{EndsAt: &now})
}

// postponeFair moves the kit's fair to next week.
func (k *kit) postponeFair() {
	k.t.Helper()
	from, to := k.Clock.Now().Add(7*24*time.Hour), k.Clock.Now().Add(9*24*time.Hour)
	k.editFair(catalog.FairInput{StartsAt: &from, EndsAt: &to})
}

// suspend suspends a shop's stall as the fair's organizer.
func (k *kit) suspend(s shop) {
	k.t.Helper()
	if _, err := k.Catalog.SetStallStatus(k.ctx, k.Organizer, s.Stall.ID, catalog.StallSuspended, "违规经营"); err != nil {
		k.t.Fatalf("SetStallStatus: %v", err)
	}
}

func TestFlashSaleBoundByFair(t *testing.T) {
	// Each case changes the fair of a sale that has sold once (so this
	// server keeps the offer in memory) and expects the next purchase refused
	// with code, on this server and on another one sharing Redis.
	cases := []struct {
		name   string
		change func(k *kit, f sale)
		code   string
		status string
	}{
		{"Closed", func(k *kit, _ sale) { k.closeFair() }, "ended", catalog.FlashEnded},
		{"Unpublished", func(k *kit, _ sale) {
			no := false
			k.editFair(catalog.FairInput{Published: &no})
		}, "ended", catalog.FlashEnded},
		{"Postponed", func(k *kit, _ sale) { k.postponeFair() }, "not_started", catalog.FlashUpcoming},
		{"StallSuspended", func(k *kit, f sale) { k.suspend(f.Shop) }, "ended", catalog.FlashEnded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKit(t)
			f := k.flashSale(catalogtest.FlashSale{Quantity: 5, PerUserLimit: 2})
			adm, r := k.admission()
			other := orders.NewAdmission(r.Client, k.Orders, k.Clock.Now)
			k.open(f)
			k.admit(adm, f, 1)
			k.admit(other, f, 1)
			c.change(k, f)
			// What the jobs do when the catalog says the fair changed.
			if err := adm.Rebound(k.ctx, k.Fair.ID); err != nil {
				t.Fatal(err)
			}
			stock := func() int {
				n, err := r.Client.Get(k.ctx, "fs:{"+f.ID+"}:stock").Int()
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := stock()
			for _, a := range []*orders.Admission{adm, other} { // this server, another one
				_, err := a.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
				catalogtest.WantCode(t, err, c.code)
			}
			if got := stock(); got != before {
				t.Errorf("Redis stock %d after the refusals, want %d untouched", got, before)
			}
			if got := liveSale(k, f).Status; got != c.status {
				t.Errorf("status = %s, want %s", got, c.status)
			}
		})
	}

	t.Run("ReopenedSellsAgain", func(t *testing.T) {
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 5})
		adm, _ := k.admission()
		k.open(f)
		k.admit(adm, f, 1)
		no, yes := false, true
		k.editFair(catalog.FairInput{Published: &no})
		if err := adm.Rebound(k.ctx, k.Fair.ID); err != nil {
			t.Fatal(err)
		}
		_, err := adm.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
		catalogtest.WantCode(t, err, "ended")
		k.editFair(catalog.FairInput{Published: &yes})
		if err := adm.Rebound(k.ctx, k.Fair.ID); err != nil {
			t.Fatal(err)
		}
		k.admit(adm, f, 1)
	})

	t.Run("RebuiltStateKeepsTheBound", func(t *testing.T) {
		// A Redis that lost its state rebuilds the fair's window too.
		k := newKit(t)
		f := k.flashSale(catalogtest.FlashSale{Quantity: 5})
		adm, r := k.admission()
		k.open(f)
		k.admit(adm, f, 1)
		k.closeFair()
		if err := r.Client.FlushDB(k.ctx).Err(); err != nil {
			t.Fatal(err)
		}
		other := orders.NewAdmission(r.Client, k.Orders, k.Clock.Now)
		for _, a := range []*orders.Admission{other, adm} {
			_, err := a.Purchase(k.ctx, k.buyer().UserID, f.ID, 1)
			catalogtest.WantCode(t, err, "ended")
		}
	})
}

// fairEvents records what the catalog says of fairs.
type fairEvents struct {
	catalog.NoEvents
	changed []string
}

func (e *fairEvents) FairChanged(_ context.Context, id string) error {
	e.changed = append(e.changed, id)
	return nil
}

func TestFairChangeTold(t *testing.T) {
	k := newKit(t)
	ev := &fairEvents{}
	cat := catalog.NewService(k.DB, k.Clock.Now, t.TempDir(), ev)
	s := k.shop("剪纸")
	now := k.Clock.Now()
	if _, err := cat.UpdateFair(k.ctx, k.Organizer, k.Fair.Slug, catalog.FairInput{EndsAt: &now}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.SetStallStatus(k.ctx, k.Organizer, s.Stall.ID, catalog.StallSuspended, "违规经营"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ev.changed, ","), k.Fair.ID+","+k.Fair.ID; got != want {
		t.Errorf("FairChanged = %s, want %s (the fair's edit, the stall's suspension)", got, want)
	}
}

func TestFlashTicketOfClosedFair(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(k *kit, f sale)
	}{
		{"Closed", func(k *kit, _ sale) { k.closeFair() }},
		{"Postponed", func(k *kit, _ sale) { k.postponeFair() }},
		{"StallSuspended", func(k *kit, f sale) { k.suspend(f.Shop) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := newKit(t)
			f := k.flashSale(catalogtest.FlashSale{Quantity: 3})
			adm, _ := k.admission()
			k.open(f)
			b, tk := k.admit(adm, f, 1) // admitted while the fair was open
			c.change(k, f)
			k.process(*tk)
			row, err := adm.TicketStatus(k.ctx, b.UserID, f.ID, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if row.Status != orders.TicketRejected || row.Reason != "fair_closed" || row.OrderID != nil {
				t.Errorf("ticket = %s (%s), order %v; want rejected (fair_closed)", row.Status, row.Reason, row.OrderID)
			}
			if got := k.flashOrders(b, f.ID); len(got) != 0 {
				t.Errorf("orders = %d, want none", len(got))
			}
			if got := k.Events.Returned(); len(got) != 1 || got[0] != tk.ID {
				t.Errorf("units put back on sale for %v, want the ticket %s", got, tk.ID)
			}
			if got := liveSale(k, f); got.Remaining != 3 {
				t.Errorf("remaining in the database = %d, want 3", got.Remaining)
			}
		})
	}
}
