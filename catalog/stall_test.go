package catalog_test

import (
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

func TestApplications(t *testing.T) {
	t.Run("Apply", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		m := k.user(catalog.RoleMerchant)
		app, err := k.svc.Apply(k.ctx, m, f.Slug, " 老北京糖葫芦 ", "冰糖")
		if err != nil || app.Status != catalog.ApplicationPending || app.StallName != "老北京糖葫芦" || app.FairID != f.ID {
			t.Fatalf("Apply = %+v, %v", app, err)
		}
		mine, err := k.svc.MyApplications(k.ctx, m)
		if err != nil || len(mine) != 1 || mine[0].ID != app.ID {
			t.Fatalf("MyApplications = %+v, %v", mine, err)
		}
	})
	t.Run("OnlyMerchants", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		_, err := k.svc.Apply(k.ctx, k.user(catalog.RoleShopper), f.Slug, "摊", "")
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, "", "")
		catalogtest.WantInvalid(t, err, "stall_name")
	})
	t.Run("AlreadyApplied", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		m := k.user(catalog.RoleMerchant)
		if _, err := k.svc.Apply(k.ctx, m, f.Slug, "一", ""); err != nil {
			t.Fatal(err)
		}
		_, err := k.svc.Apply(k.ctx, m, f.Slug, "二", "")
		catalogtest.WantErr(t, err, catalog.ErrAlreadyApplied)
	})
	t.Run("FairEnded", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		k.advance(8 * 24 * time.Hour)
		_, err := k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, "迟到", "")
		catalogtest.WantErr(t, err, catalog.ErrFairEnded)
	})
	t.Run("ApproveOpensStall", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		first, _ := k.stall(org, f)
		m := k.user(catalog.RoleMerchant)
		app, _ := k.svc.Apply(k.ctx, m, f.Slug, "剪纸", "")
		got, st, err := k.svc.Approve(k.ctx, org, app.ID)
		if err != nil || got.Status != catalog.ApplicationApproved || got.DecidedAt == nil {
			t.Fatalf("Approve = %+v, %v", got, err)
		}
		if first.Booth != "A-001" || st.Booth != "A-002" || st.MerchantID != m.UserID || st.Status != catalog.StallActive || st.Name != "剪纸" {
			t.Fatalf("stalls = %+v, %+v; want booths A-001 and A-002", first, st)
		}
		if n := len(k.decided); n != 2 || k.decided[1].ID != app.ID {
			t.Fatalf("%d decisions told, want 2 ending with %s", n, app.ID)
		}
		mine, err := k.svc.MyStalls(k.ctx, m)
		if err != nil || len(mine) != 1 || mine[0].ID != st.ID {
			t.Fatalf("MyStalls = %+v, %v", mine, err)
		}
		_, _, err = k.svc.Approve(k.ctx, org, app.ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})
	t.Run("PropertyBooths", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org, func(in *catalog.FairInput) { in.Kind = ptr(catalog.KindPropertySeason) })
		st, _ := k.stall(org, f)
		if st.Booth != "P-001" {
			t.Fatalf("booth %s, want P-001", st.Booth)
		}
	})
	t.Run("Reject", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		app, _ := k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, "烟花", "")
		_, err := k.svc.Reject(k.ctx, org, app.ID, " ")
		catalogtest.WantInvalid(t, err, "reason")
		got, err := k.svc.Reject(k.ctx, org, app.ID, "不安全")
		if err != nil || got.Status != catalog.ApplicationRejected || got.Reason != "不安全" {
			t.Fatalf("Reject = %+v, %v", got, err)
		}
		if len(k.decided) != 1 || k.decided[0].Status != catalog.ApplicationRejected {
			t.Fatalf("decisions told: %+v", k.decided)
		}
		_, _, err = k.svc.Approve(k.ctx, org, app.ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		stalls, _ := catalog.StallsOfFair(k.ctx, k.db, f.ID)
		if len(stalls) != 0 {
			t.Fatalf("a rejected application opened %d stalls", len(stalls))
		}
	})
	t.Run("AnotherOrganizersApplication", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		app, _ := k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, "茶", "")
		_, _, err := k.svc.Approve(k.ctx, k.user(catalog.RoleOrganizer), app.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		_, _, err = k.svc.Approve(k.ctx, org, "no-such-application")
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})
	t.Run("ListByStatus", func(t *testing.T) {
		k := newKit(t)
		org := k.user(catalog.RoleOrganizer)
		f := k.fair(org)
		k.stall(org, f)
		for range 3 {
			if _, err := k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, "待定", ""); err != nil {
				t.Fatal(err)
			}
		}
		pending, next, err := k.svc.Applications(k.ctx, org, f.Slug, catalog.ApplicationPending, catalog.Page{Limit: 2})
		if err != nil || len(pending) != 2 || next == nil {
			t.Fatalf("first page = %d, %v, %v; want 2 and a cursor", len(pending), next, err)
		}
		rest, next, _ := k.svc.Applications(k.ctx, org, f.Slug, catalog.ApplicationPending, catalog.Page{Limit: 2, Cursor: *next})
		if len(rest) != 1 || next != nil {
			t.Fatalf("second page = %d, %v", len(rest), next)
		}
		all, _, _ := k.svc.Applications(k.ctx, org, f.Slug, "", catalog.Page{})
		if len(all) != 4 {
			t.Fatalf("%d applications in all, want 4", len(all))
		}
		_, _, err = k.svc.Applications(k.ctx, k.user(catalog.RoleOrganizer), f.Slug, "", catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
}

func TestStalls(t *testing.T) {
	t.Run("Suspend", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		k.product(w, goods("糖人", 500, 3))
		st, err := k.svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallSuspended, "违规经营")
		if err != nil || st.Status != catalog.StallSuspended {
			t.Fatalf("SetStallStatus = %+v, %v", st, err)
		}
		_, err = k.svc.Stall(k.ctx, k.user(catalog.RoleShopper), w.stall.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		if sa, err := k.svc.Stall(k.ctx, w.merchant, w.stall.ID); err != nil || !sa.Merchant || sa.Public() {
			t.Fatalf("merchant's view = %+v, %v", sa, err)
		}
		list, _, _ := k.svc.Products(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.ProductQuery{})
		if len(list) != 0 {
			t.Fatalf("%d products of a suspended stall listed", len(list))
		}
		stalls, _, _ := k.svc.Stalls(k.ctx, catalog.Actor{}, w.fair.Slug, catalog.Page{})
		all, _, _ := k.svc.Stalls(k.ctx, w.org, w.fair.Slug, catalog.Page{})
		if len(stalls) != 0 || len(all) != 1 {
			t.Fatalf("stalls listed: %d public, %d to the organizer; want 0 and 1", len(stalls), len(all))
		}
		if st, err := k.svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallActive, ""); err != nil || st.Status != catalog.StallActive {
			t.Fatalf("reinstate = %+v, %v", st, err)
		}
	})
	t.Run("OnlyTheOrganizerSuspends", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		_, err := k.svc.SetStallStatus(k.ctx, w.merchant, w.stall.ID, catalog.StallSuspended, "违规经营")
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.svc.SetStallStatus(k.ctx, w.org, w.stall.ID, "closed", "")
		catalogtest.WantInvalid(t, err, "status")
	})
	t.Run("UpdateProfile", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		st, err := k.svc.UpdateStall(k.ctx, w.merchant, w.stall.ID, catalog.StallInput{Name: ptr(" 新名字 "), District: ptr("东城区")})
		if err != nil || st.Name != "新名字" || st.District != "东城区" {
			t.Fatalf("UpdateStall = %+v, %v", st, err)
		}
		stored, _ := k.svc.StallByID(k.ctx, k.db, w.stall.ID)
		if stored.Name != "新名字" {
			t.Fatalf("stored name %q", stored.Name)
		}
		_, err = k.svc.UpdateStall(k.ctx, w.merchant, w.stall.ID, catalog.StallInput{Name: ptr(strings.Repeat("长", 61))})
		catalogtest.WantInvalid(t, err, "name")
		_, err = k.svc.UpdateStall(k.ctx, k.user(catalog.RoleMerchant), w.stall.ID, catalog.StallInput{Name: ptr("抢")})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.svc.UpdateStall(k.ctx, w.merchant, "no-such-stall", catalog.StallInput{})
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})
	t.Run("HiddenWhileTheFairIsADraft", func(t *testing.T) {
		k := newKit(t)
		w := k.world()
		if _, err := k.svc.UpdateFair(k.ctx, w.org, w.fair.Slug, catalog.FairInput{Published: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		_, err := k.svc.Stall(k.ctx, catalog.Actor{}, w.stall.ID)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		if sa, err := k.svc.Stall(k.ctx, w.org, w.stall.ID); err != nil || !sa.Organizer {
			t.Fatalf("organizer's view = %+v, %v", sa, err)
		}
	})
}
