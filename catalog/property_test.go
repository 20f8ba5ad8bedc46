package catalog_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

// development is a property season's open fair with one development (stall).
func (k *kit) development() world {
	k.t.Helper()
	org := k.user(catalog.RoleOrganizer)
	f := k.fair(org, func(in *catalog.FairInput) { in.Kind = ptr(catalog.KindPropertySeason) })
	st, m := k.stall(org, f)
	return world{org: org, fair: f, stall: st, merchant: m}
}

// slot publishes a viewing slot of capacity starting in a day.
func (k *kit) slot(w world, capacity int) *catalog.ViewingSlot {
	k.t.Helper()
	at := k.clock().Add(24 * time.Hour)
	v, err := k.svc.AddSlot(k.ctx, w.merchant, w.stall.ID, catalog.SlotInput{StartsAt: at, EndsAt: at.Add(time.Hour), Capacity: capacity})
	if err != nil {
		k.t.Fatalf("add slot: %v", err)
	}
	return v
}

func TestPropertyListings(t *testing.T) {
	t.Run("UnitTypes", func(t *testing.T) {
		k := newKit(t)
		w := k.development()
		u, err := k.svc.AddUnitType(k.ctx, w.merchant, w.stall.ID, catalog.UnitTypeInput{Name: " 三室两厅 ", AreaM2: 120.456, PricePerM2: 4500000, UnitsAvailable: 12})
		if err != nil || u.Name != "三室两厅" || u.AreaM2 != 120.46 {
			t.Fatalf("AddUnitType = %+v, %v", u, err)
		}
		list, err := k.svc.UnitTypes(k.ctx, catalog.Actor{}, w.stall.ID)
		if err != nil || len(list) != 1 || list[0].ID != u.ID {
			t.Fatalf("UnitTypes = %+v, %v", list, err)
		}
		_, err = k.svc.AddUnitType(k.ctx, w.merchant, w.stall.ID, catalog.UnitTypeInput{Name: "x", AreaM2: 0})
		catalogtest.WantInvalid(t, err, "area_m2")
		_, err = k.svc.AddUnitType(k.ctx, k.user(catalog.RoleMerchant), w.stall.ID, catalog.UnitTypeInput{Name: "x", AreaM2: 1})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		if err := k.svc.RemoveUnitType(k.ctx, w.merchant, w.stall.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		catalogtest.WantErr(t, k.svc.RemoveUnitType(k.ctx, w.merchant, w.stall.ID, u.ID), catalog.ErrNotFound)
	})
	t.Run("OnlyInPropertySeasons", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		_, err := k.svc.AddUnitType(k.ctx, w.merchant, w.stall.ID, catalog.UnitTypeInput{Name: "x", AreaM2: 1})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		_, err = k.svc.AddSlot(k.ctx, w.merchant, w.stall.ID, catalog.SlotInput{StartsAt: start.Add(time.Hour), EndsAt: start.Add(2 * time.Hour), Capacity: 1})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})
	t.Run("SlotValidation", func(t *testing.T) {
		k := newKit(t)
		w := k.development()
		cases := []struct {
			field string
			in    catalog.SlotInput
		}{
			{"starts_at", catalog.SlotInput{StartsAt: start.Add(-time.Hour), EndsAt: start, Capacity: 1}},
			{"ends_at", catalog.SlotInput{StartsAt: start.Add(time.Hour), EndsAt: start.Add(14 * time.Hour), Capacity: 1}},
			{"capacity", catalog.SlotInput{StartsAt: start.Add(time.Hour), EndsAt: start.Add(2 * time.Hour), Capacity: 0}},
		}
		for _, c := range cases {
			_, err := k.svc.AddSlot(k.ctx, w.merchant, w.stall.ID, c.in)
			catalogtest.WantInvalid(t, err, c.field)
		}
	})
	t.Run("BookAndCancel", func(t *testing.T) {
		k := newKit(t)
		w := k.development()
		v := k.slot(w, 2)
		shopper := k.user(catalog.RoleShopper)
		b, err := k.svc.Book(k.ctx, shopper, v.ID)
		if err != nil || b.Status != catalog.BookingBooked || b.Slot.Booked != 1 {
			t.Fatalf("Book = %+v, %v", b, err)
		}
		_, err = k.svc.Book(k.ctx, shopper, v.ID)
		catalogtest.WantErr(t, err, catalog.ErrAlreadyBooked)
		who, err := k.svc.SlotBookings(k.ctx, w.merchant, w.stall.ID)
		if err != nil || len(who) != 1 || who[0].UserID != shopper.UserID || who[0].UserEmail == "" || who[0].UserName == "" {
			t.Fatalf("SlotBookings = %+v, %v", who, err)
		}
		_, err = k.svc.SlotBookings(k.ctx, shopper, w.stall.ID)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		mine, _ := k.svc.MyBookings(k.ctx, shopper)
		if len(mine) != 1 || mine[0].Slot == nil || mine[0].Slot.ID != v.ID {
			t.Fatalf("MyBookings = %+v", mine)
		}
		got, err := k.svc.CancelBooking(k.ctx, shopper, b.ID)
		if err != nil || got.Status != catalog.BookingCancelled || got.CancelledAt == nil {
			t.Fatalf("CancelBooking = %+v, %v", got, err)
		}
		_, err = k.svc.CancelBooking(k.ctx, shopper, b.ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		_, err = k.svc.CancelBooking(k.ctx, k.user(catalog.RoleShopper), b.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		slots, _ := k.svc.Slots(k.ctx, catalog.Actor{}, w.stall.ID)
		if len(slots) != 1 || slots[0].Booked != 0 || slots[0].Full() {
			t.Fatalf("slot after the cancellation: %+v", slots)
		}
		// A cancelled booking leaves room for a new one.
		if _, err := k.svc.Book(k.ctx, shopper, v.ID); err != nil {
			t.Fatalf("book again: %v", err)
		}
	})
	t.Run("Full", func(t *testing.T) {
		k := newKit(t)
		w := k.development()
		v := k.slot(w, 3)
		shoppers := make([]catalog.Actor, 6)
		for i := range shoppers {
			shoppers[i] = k.user(catalog.RoleShopper)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(shoppers))
		for i, s := range shoppers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = k.svc.Book(k.ctx, s, v.ID)
			}()
		}
		wg.Wait()
		booked := 0
		for _, err := range errs {
			switch {
			case err == nil:
				booked++
			case !errors.Is(err, catalog.ErrSlotFull):
				t.Fatalf("Book: %v", err)
			}
		}
		slots, _ := k.svc.Slots(k.ctx, catalog.Actor{}, w.stall.ID)
		if booked != 3 || slots[0].Booked != 3 || !slots[0].Full() {
			t.Fatalf("%d booked, slot %+v; want 3 and full", booked, slots[0])
		}
	})
	t.Run("SlotStarted", func(t *testing.T) {
		k := newKit(t)
		w := k.development()
		v := k.slot(w, 1)
		k.advance(25 * time.Hour)
		_, err := k.svc.Book(k.ctx, k.user(catalog.RoleShopper), v.ID)
		catalogtest.WantErr(t, err, catalog.ErrSlotStarted)
		_, err = k.svc.Book(k.ctx, catalog.Actor{}, v.ID)
		catalogtest.WantErr(t, err, catalog.ErrUnauthorized)
		_, err = k.svc.Book(k.ctx, k.user(catalog.RoleShopper), "no-such-slot")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})
	t.Run("LiveBookings", func(t *testing.T) {
		k := newKit(t)
		w := k.development()
		v := k.slot(w, 5)
		for range 2 {
			if _, err := k.svc.Book(k.ctx, k.user(catalog.RoleShopper), v.ID); err != nil {
				t.Fatal(err)
			}
		}
		n, err := catalog.LiveBookings(k.ctx, k.db, []string{w.stall.ID, "other"})
		if err != nil || n[w.stall.ID] != 2 || len(n) != 1 {
			t.Fatalf("LiveBookings = %v, %v", n, err)
		}
	})
}
