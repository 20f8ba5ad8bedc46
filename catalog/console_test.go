package catalog_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

// The organizer's console in the domain: booth numbers, suspension notices,
// bulk decisions, searches and the audit entries they leave.

func auditCount(t *testing.T, k *kit, action, subject string) int {
	t.Helper()
	n, err := k.db.NewSelect().Model((*catalog.AuditEntry)(nil)).Where("action = ? AND subject = ?", action, subject).Count(k.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestSetBooth(t *testing.T) {
	k := newKit(t)
	w := k.world()
	other, _ := k.stall(w.org, w.fair)
	t.Run("set", func(t *testing.T) {
		st, err := k.svc.SetBooth(k.ctx, w.org, w.stall.ID, " B-12 ")
		if err != nil || st.Booth != "B-12" {
			t.Fatalf("SetBooth = %+v, %v", st, err)
		}
		if n := auditCount(t, k, "stall.booth", w.stall.ID); n != 1 {
			t.Errorf("%d stall.booth entries, want 1", n)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := k.svc.SetBooth(k.ctx, w.org, other.ID, "B-12")
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if n := auditCount(t, k, "stall.booth", other.ID); n != 0 {
			t.Errorf("a refused change left %d audit entries", n)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, b := range []string{"", "B 12", "摊位一", "-B12", "B-123456789012345678901"} {
			_, err := k.svc.SetBooth(k.ctx, w.org, other.ID, b)
			catalogtest.WantInvalid(t, err, "booth")
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		_, err := k.svc.SetBooth(k.ctx, w.merchant, w.stall.ID, "C-1")
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
	})
	t.Run("ApprovalSkipsTaken", func(t *testing.T) {
		// Two stalls: the next number is A-003; another stall takes it.
		if _, err := k.svc.SetBooth(k.ctx, w.org, other.ID, "A-003"); err != nil {
			t.Fatal(err)
		}
		st, _ := k.stall(w.org, w.fair)
		if st.Booth != "A-004" {
			t.Errorf("approved stall's booth = %s, want A-004", st.Booth)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Two stalls racing for one number: one gets it.
		a, _ := k.stall(w.org, w.fair)
		b, _ := k.stall(w.org, w.fair)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{a.ID, b.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = k.svc.SetBooth(k.ctx, w.org, id, "Z-9")
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("errors %v: want exactly one success", errs)
		}
		for _, err := range errs {
			if err != nil {
				catalogtest.WantErr(t, err, catalog.ErrConflict)
			}
		}
	})
}

func TestSuspensionTold(t *testing.T) {
	k := newKit(t)
	var mu sync.Mutex
	var told []string
	svc := catalog.NewService(k.db, k.clock, k.dataDir, fakeEvents{stallStatus: func(_ context.Context, st *catalog.Stall, reason string) error {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, st.Status+":"+reason)
		return nil
	}})
	w := k.world()
	_, err := svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallSuspended, " ")
	catalogtest.WantInvalid(t, err, "reason")
	st, err := svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallSuspended, "假冒商品")
	if err != nil || st.StatusReason != "假冒商品" {
		t.Fatalf("suspend = %+v, %v", st, err)
	}
	// Suspending a suspended stall changes nothing and tells nobody again.
	if _, err := svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallSuspended, "再次"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetStallStatus(k.ctx, w.org, w.stall.ID, catalog.StallActive, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(told), "[suspended:假冒商品 active:]"; got != want {
		t.Errorf("told %s, want %s", got, want)
	}
	if n := auditCount(t, k, "stall.suspend", w.stall.ID); n != 1 {
		t.Errorf("%d stall.suspend entries, want 1", n)
	}
}

func TestBulkDecide(t *testing.T) {
	k := newKit(t)
	org := k.user(catalog.RoleOrganizer)
	f := k.fair(org)
	var ids []string
	for i := range 3 {
		app, err := k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, fmt.Sprintf("批量%d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, app.ID)
	}
	_, err := k.svc.BulkDecide(k.ctx, org, f.Slug, ids, catalog.BulkReject, "")
	catalogtest.WantInvalid(t, err, "reason")
	_, err = k.svc.BulkDecide(k.ctx, k.user(catalog.RoleOrganizer), f.Slug, ids, catalog.BulkApprove, "")
	catalogtest.WantErr(t, err, catalog.ErrForbidden)
	if _, err := k.svc.Reject(k.ctx, org, ids[2], "先拒"); err != nil {
		t.Fatal(err)
	}
	res, err := k.svc.BulkDecide(k.ctx, org, f.Slug, append(ids, "no-such-application"), catalog.BulkApprove, "")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(res), res[0].OK, res[0].Status, res[1].OK, res[2].OK, res[2].Code, res[2].Status, res[3].Code)
	if want := fmt.Sprint(4, true, "approved", true, false, "conflict", "rejected", "not_found"); got != want {
		t.Errorf("results %s, want %s (%+v)", got, want, res)
	}
	if res[0].Booth != "A-001" || res[1].Booth != "A-002" {
		t.Errorf("booths %s, %s", res[0].Booth, res[1].Booth)
	}
	pending, _ := k.svc.PendingApplications(k.ctx, org, f.Slug)
	if pending != 0 {
		t.Errorf("%d pending", pending)
	}
}

func TestSearchApplications(t *testing.T) {
	k := newKit(t)
	org := k.user(catalog.RoleOrganizer)
	f := k.fair(org)
	for _, name := range []string{"糖画张", "糖人李", "100%_纯手工"} {
		if _, err := k.svc.Apply(k.ctx, k.user(catalog.RoleMerchant), f.Slug, name, ""); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]int{"糖": 2, "糖人": 1, "%": 1, "_": 1, "100%_": 1, "无": 0, "": 3} {
		rows, _, err := k.svc.SearchApplications(k.ctx, org, f.Slug, catalog.ApplicationQuery{Q: q})
		if err != nil || len(rows) != want {
			t.Errorf("q=%q: %d rows, %v; want %d", q, len(rows), err, want)
		}
	}
	_, _, err := k.svc.SearchApplications(k.ctx, org, f.Slug, catalog.ApplicationQuery{Status: "closed"})
	catalogtest.WantInvalid(t, err, "status")
}

func TestDiff(t *testing.T) {
	type rec struct {
		A string `json:"a"`
		B int    `json:"b"`
		U string `json:"updated_at"`
	}
	ch := catalog.Diff(rec{"x", 1, "t1"}, rec{"x", 2, "t2"})
	if !ch.Only("b") || fmt.Sprint(ch.Before) != "map[b:1]" || fmt.Sprint(ch.After) != "map[b:2]" {
		t.Errorf("Diff = %+v", ch)
	}
	if catalog.Diff(rec{"x", 1, "t1"}, rec{"x", 1, "t2"}).Changed() {
		t.Error("a change of updated_at alone is a change")
	}
}
