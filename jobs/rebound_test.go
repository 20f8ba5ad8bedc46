package jobs_test

import (
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/jobs"

	"github.com/hibiken/asynq"
)

func TestFairChanged(t *testing.T) {
	// setup opens a sale that has sold once (admission keeps it in memory)
	// and closes its fair; the catalog's notice is given by the test.
	setup := func(t *testing.T) (*kit, *catalog.FlashSale) {
		k := newKit(t, false)
		_, f := k.sale(catalogtest.FlashSale{Quantity: 5})
		k.Clock.Set(f.StartsAt)
		k.win(f)
		now := k.Clock.Now()
		if _, err := k.Catalog.UpdateFair(k.ctx, k.Organizer, k.Fair.Slug, catalog.FairInput{EndsAt: &now}); err != nil {
			t.Fatal(err)
		}
		return k, f
	}
	refused := func(t *testing.T, k *kit, f *catalog.FlashSale) {
		t.Helper()
		_, err := k.Admission.Purchase(k.ctx, k.User(t, catalog.RoleShopper).UserID, f.ID, 1)
		catalogtest.WantCode(t, err, "ended")
	}

	t.Run("AtOnce", func(t *testing.T) {
		k, f := setup(t)
		k.Events.UseAdmission(k.Admission)
		if err := k.Events.FairChanged(k.ctx, k.Fair.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(k.queued(jobs.TypeFlashRebound)); n != 0 {
			t.Errorf("%d tasks queued, want none (done at once)", n)
		}
		refused(t, k, f)
	})

	t.Run("ThroughTheQueue", func(t *testing.T) {
		k, f := setup(t)
		if err := k.Events.FairChanged(k.ctx, k.Fair.ID); err != nil {
			t.Fatal(err)
		}
		if n := k.runQueued(jobs.TypeFlashRebound); n != 1 {
			t.Fatalf("%d rebound tasks run, want 1", n)
		}
		refused(t, k, f)
	})

	t.Run("NoticeLostRecoverySweep", func(t *testing.T) {
		k, f := setup(t)
		// Nobody told admission; the periodic recovery writes the fair's
		// window again.
		k.mustRun(asynq.NewTask(jobs.TypeFlashRecover, nil))
		refused(t, k, f)
	})
}
