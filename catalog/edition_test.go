package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"miaohui/catalog"
)

// edition starts the next edition of f, a day after f starts, for a month.
func (k *kit) edition(org catalog.Actor, f *catalog.Fair) *catalog.Fair {
	k.t.Helper()
	nf, err := k.svc.CreateEdition(k.ctx, org, f.Slug, catalog.EditionInput{
		Slug: fmt.Sprintf("%s-next-%d", f.Slug, k.seq()), StartsAt: f.StartsAt.Add(24 * time.Hour), EndsAt: k.clock().Add(30 * 24 * time.Hour),
	})
	if err != nil {
		k.t.Fatalf("create edition: %v", err)
	}
	return nf
}

func TestCreateEditionOnce(t *testing.T) {
	k := newKit(t)
	w := k.world()
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = k.svc.CreateEdition(k.ctx, w.org, w.fair.Slug, catalog.EditionInput{
				Slug: fmt.Sprintf("race-%d", i), StartsAt: w.fair.StartsAt.Add(time.Hour), EndsAt: k.clock().Add(48 * time.Hour),
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, catalog.ErrConflict):
			t.Fatalf("a racing edition failed with %v, want a conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d next editions started at once, want 1", ok)
	}
}

func TestReapplyOnce(t *testing.T) {
	k := newKit(t)
	w := k.world()
	m := k.user(catalog.RoleMerchant)
	app, err := k.svc.Apply(k.ctx, m, w.fair.Slug, "糖人", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.svc.Reject(k.ctx, w.org, app.ID, "资料不全"); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = k.svc.Apply(k.ctx, m, w.fair.Slug, fmt.Sprintf("糖人 %d", i), "")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, catalog.ErrAlreadyApplied) && !errors.Is(err, catalog.ErrConflict):
			t.Fatalf("a racing re-application failed with %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d re-applications filed at once, want 1", ok)
	}
}

func TestReEnrolAcrossEditions(t *testing.T) {
	k := newKit(t)
	w := k.world()
	lantern := k.product(w, goods("兔子灯", 1250, 20))
	second := k.edition(w.org, w.fair)
	third := k.edition(w.org, second)

	// The merchant skipped the second edition: the third offers their first stall.
	rows, err := k.svc.ReEnrolments(k.ctx, w.merchant)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Into.ID != second.ID || rows[1].Into.ID != third.ID || rows[1].Stall.ID != w.stall.ID {
		t.Fatalf("re-enrolments %+v, want the second and the third edition from the first stall", rows)
	}
	app, err := k.svc.ReEnrol(k.ctx, w.merchant, third.Slug, w.stall.ID, "", "新的简介")
	if err != nil {
		t.Fatal(err)
	}
	if app.StallName != w.stall.Name || app.Description != "新的简介" {
		t.Fatalf("application %+v carries the wrong profile", app)
	}
	_, st, err := k.svc.Approve(k.ctx, w.org, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	prods, err := k.svc.StallProducts(k.ctx, w.merchant, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(prods) != 1 || prods[0].Title != lantern.Title || prods[0].Stock != 20 || prods[0].FairID != third.ID {
		t.Fatalf("copied products %+v", prods)
	}
	// The third edition's stall may not go back to the second.
	if _, err := k.svc.ReEnrol(k.ctx, w.merchant, second.Slug, st.ID, "", ""); !isInvalid(err, "from_stall") {
		t.Fatalf("re-enrolling a later stall: %v, want from_stall invalid", err)
	}
	rows, err = k.svc.ReEnrolments(k.ctx, w.merchant)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Into.ID != second.ID {
		t.Fatalf("re-enrolments after joining the third %+v, want the second only", rows)
	}
}

func TestReEnrolDevelopment(t *testing.T) {
	k := newKit(t)
	org := k.user(catalog.RoleOrganizer)
	f := k.fair(org, func(in *catalog.FairInput) { in.Kind = ptr(catalog.KindPropertySeason) })
	st, m := k.stall(org, f)
	if _, err := k.svc.UpdateStall(k.ctx, m, st.ID, catalog.StallInput{Address: ptr("海陵区坡子街1号"), District: ptr("海陵区")}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.svc.AddUnitType(k.ctx, m, st.ID, catalog.UnitTypeInput{Name: "三室两厅", AreaM2: 118.5, PricePerM2: 2_500_000, UnitsAvailable: 8}); err != nil {
		t.Fatal(err)
	}
	voucher := catalog.ProductInput{Title: ptr("购房抵用券"), Price: ptr(int64(100_00)), Stock: ptr(int64(50)), Kind: ptr(catalog.KindVoucher),
		OffsetValue: ptr(int64(10_000_00)), ValidUntil: ptr(k.clock().Add(48 * time.Hour)), Category: ptr("residential")}
	p, err := k.svc.CreateProduct(k.ctx, m, st.ID, voucher)
	if err != nil {
		t.Fatal(err)
	}
	img, err := k.svc.AddImage(k.ctx, m, p.ID, pngBytes(t, 900, 600))
	if err != nil {
		t.Fatal(err)
	}
	next := k.edition(org, f)
	app, err := k.svc.ReEnrol(k.ctx, m, next.Slug, st.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// The voucher expires before the approval; its photo's file is lost.
	k.advance(72 * time.Hour)
	if err := os.Remove(filepath.Join(k.svc.MediaDir(), filepath.FromSlash(img.URL[len("/media/"):]))); err != nil {
		t.Fatal(err)
	}
	_, nst, err := k.svc.Approve(k.ctx, org, app.ID)
	if err != nil {
		t.Fatalf("approve with a lost photo: %v", err)
	}
	if nst.Address != "海陵区坡子街1号" || nst.District != "海陵区" {
		t.Fatalf("new development %+v lacks the address", nst)
	}
	units, err := k.svc.UnitTypes(k.ctx, m, nst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 1 || units[0].Name != "三室两厅" || units[0].UnitsAvailable != 8 {
		t.Fatalf("unit types %+v", units)
	}
	prods, err := k.svc.StallProducts(k.ctx, m, nst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(prods) != 1 || prods[0].Active || prods[0].Category != "residential" || prods[0].OffsetValue != 10_000_00 || len(prods[0].Images) != 0 {
		t.Fatalf("copied voucher %+v: want it inactive (expired), its category kept, no photo", prods)
	}
}

func TestDocumentName(t *testing.T) {
	k := newKit(t)
	w := k.world()
	m := k.user(catalog.RoleMerchant)
	app, err := k.svc.Apply(k.ctx, m, w.fair.Slug, "证照", "")
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.7\n%%EOF\n")
	for name, want := range map[string]string{
		"../../etc/passwd":        "passwd",
		`C:\证照\执照.pdf`:            "执照.pdf",
		"a\x00b\"c\u202e.pdf":     "abc.pdf",
		"":                        "document.pdf",
		"..":                      "document.pdf",
		"/":                       "document.pdf",
		string(make([]rune, 300)): "document.pdf",
	} {
		d, err := k.svc.AddDocument(k.ctx, m, app.ID, name, pdf)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if d.Name != want {
			t.Errorf("name %q stored as %q, want %q", name, d.Name, want)
		}
	}
	for range catalog.MaxDocumentsPerApplication - 7 {
		if _, err := k.svc.AddDocument(k.ctx, m, app.ID, "x.pdf", pdf); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := k.svc.AddDocument(k.ctx, m, app.ID, "x.pdf", pdf); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("one document too many: %v, want a conflict", err)
	}
}

// isInvalid reports whether err is a validation error naming field.
func isInvalid(err error, field string) bool {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}
