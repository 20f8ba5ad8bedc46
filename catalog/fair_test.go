package catalog_test

import (
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

func TestFairs(t *testing.T) {
	t.Run("Create", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		if f.Status != catalog.FairOpen || !f.Published || f.OrganizerID != org.UserID {
			t.Fatalf("fair = %+v, want open, published, of its organizer", f)
		}
		got, err := k.svc.Fair(k.ctx, catalog.Actor{}, f.Slug)
		if err != nil || got.ID != f.ID || got.CommissionBPS != 500 {
			t.Fatalf("Fair = %+v, %v", got, err)
		}
		cats, err := k.svc.Categories(k.ctx, f.ID)
		if err != nil || len(cats) != 6 || cats[0].Slug != "food" {
			t.Fatalf("categories = %+v, %v; want the temple fair's six, food first", cats, err)
		}
	})
	t.Run("OnlyOrganizers", func(t *testing.T) {
		k := newKit(t)
		_, err := k.svc.CreateFair(k.ctx, k.user(catalog.RoleMerchant), k.fairInput())
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
	t.Run("Validation", func(t *testing.T) {
		// Subtest names are unique: the SQLite file's path is made from them.
		cases := []struct {
			name, field string
			edit        func(k *kit, in *catalog.FairInput)
		}{
			{"SlugPattern", "slug", func(_ *kit, in *catalog.FairInput) { in.Slug = ptr("Bad Slug") }},
			{"SlugMissing", "slug", func(_ *kit, in *catalog.FairInput) { in.Slug = nil }},
			{"NameBlank", "name", func(_ *kit, in *catalog.FairInput) { in.Name = ptr("  ") }},
			{"KindUnknown", "kind", func(_ *kit, in *catalog.FairInput) { in.Kind = ptr("circus") }},
			{"EndsAtStart", "ends_at", func(_ *kit, in *catalog.FairInput) { in.EndsAt = ptr(*in.StartsAt) }},
			{"CommissionOver100", "commission_bps", func(_ *kit, in *catalog.FairInput) { in.CommissionBPS = ptr(10001) }},
			{"PaymentWindowShort", "payment_window_seconds", func(_ *kit, in *catalog.FairInput) { in.PaymentWindowSeconds = ptr(30) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				k := newKit(t)
				in := k.fairInput()
				c.edit(k, &in)
				_, err := k.svc.CreateFair(k.ctx, k.user(catalog.RoleOrganizer), in)
				catalogtest.WantInvalid(t, err, c.field)
			})
		}
	})
	t.Run("SlugTaken", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		_, err := k.svc.CreateFair(k.ctx, k.user(catalog.RoleOrganizer), func() catalog.FairInput {
			in := k.fairInput()
			in.Slug = ptr(f.Slug)
			return in
		}())
		catalogtest.WantErr(t, err, catalog.ErrSlugTaken)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		// Renaming another fair to the slug is taken too.
		other := k.fair(org)
		_, err = k.svc.UpdateFair(k.ctx, org, other.Slug, catalog.FairInput{Slug: ptr(f.Slug)})
		catalogtest.WantErr(t, err, catalog.ErrSlugTaken)
	})
	t.Run("Update", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		got, err := k.svc.UpdateFair(k.ctx, org, f.Slug, catalog.FairInput{Name: ptr("元宵灯会"), PaymentWindowSeconds: ptr(600)})
		if err != nil || got.Name != "元宵灯会" || got.PaymentWindow(time.Hour) != 10*time.Minute {
			t.Fatalf("UpdateFair = %+v, %v", got, err)
		}
		stored, _ := k.svc.FairByID(k.ctx, k.db, f.ID)
		if stored.Name != "元宵灯会" {
			t.Fatalf("stored name %q", stored.Name)
		}
		_, err = k.svc.UpdateFair(k.ctx, k.user(catalog.RoleOrganizer), f.Slug, catalog.FairInput{Name: ptr("x")})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
	t.Run("KindLockedOnceStalls", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		// Without stalls the kind changes and the categories follow.
		got, err := k.svc.UpdateFair(k.ctx, org, f.Slug, catalog.FairInput{Kind: ptr(catalog.KindPropertySeason)})
		if err != nil || got.Kind != catalog.KindPropertySeason {
			t.Fatalf("UpdateFair = %+v, %v", got, err)
		}
		cats, _ := k.svc.Categories(k.ctx, f.ID)
		if len(cats) != 4 || cats[0].Slug != "residential" {
			t.Fatalf("categories after the kind changed: %+v", cats)
		}
		k.stall(org, f)
		_, err = k.svc.UpdateFair(k.ctx, org, f.Slug, catalog.FairInput{Kind: ptr(catalog.KindTempleFair)})
		catalogtest.WantErr(t, err, catalog.ErrKindLocked)
	})
	t.Run("StatusByDates", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org, func(in *catalog.FairInput) {
			in.StartsAt, in.EndsAt = ptr(start.Add(24*time.Hour)), ptr(start.Add(48*time.Hour))
		})
		for _, step := range []struct {
			by   time.Duration
			want string
		}{{0, catalog.FairUpcoming}, {24 * time.Hour, catalog.FairOpen}, {24 * time.Hour, catalog.FairClosed}} {
			k.advance(step.by)
			got, err := k.svc.Fair(k.ctx, catalog.Actor{}, f.Slug)
			if err != nil || got.Status != step.want {
				t.Fatalf("at %v: status %v, %v; want %s", k.clock(), got, err, step.want)
			}
		}
		draft := k.fair(org, func(in *catalog.FairInput) { in.Published = ptr(false) })
		if draft.Status != catalog.FairDraft {
			t.Fatalf("unpublished fair is %s", draft.Status)
		}
	})
	t.Run("DraftsOnlyToTheirOrganizer", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		pub := k.fair(org)
		draft := k.fair(org, func(in *catalog.FairInput) { in.Published = ptr(false) })
		_, err := k.svc.Fair(k.ctx, k.user(catalog.RoleShopper), draft.Slug)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		if _, err := k.svc.Fair(k.ctx, org, draft.Slug); err != nil {
			t.Fatalf("organizer reads own draft: %v", err)
		}
		_, err = k.svc.Fair(k.ctx, catalog.Actor{}, "no-such-fair")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)

		list, next, err := k.svc.Fairs(k.ctx, catalog.Actor{}, catalog.Page{})
		if err != nil || next != nil || len(list) != 1 || list[0].ID != pub.ID {
			t.Fatalf("public list = %v, %v, %v; want only the published fair", list, next, err)
		}
		list, _, _ = k.svc.Fairs(k.ctx, org, catalog.Page{})
		if len(list) != 2 {
			t.Fatalf("organizer's list has %d fairs, want 2", len(list))
		}
		mine, err := k.svc.OrganizedFairs(k.ctx, org)
		if err != nil || len(mine) != 2 {
			t.Fatalf("OrganizedFairs = %d, %v", len(mine), err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		for range 3 {
			k.fair(org)
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 1; ; pages++ {
			list, next, err := k.svc.Fairs(k.ctx, catalog.Actor{}, catalog.Page{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range list {
				seen[f.ID] = true
			}
			if next == nil {
				if pages != 2 || len(seen) != 3 {
					t.Fatalf("%d pages, %d fairs; want 2 pages of 3 fairs", pages, len(seen))
				}
				return
			}
			cursor = *next
		}
	})
}
