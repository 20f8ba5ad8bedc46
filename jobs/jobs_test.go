package jobs_test

import (
	"miaohui/jobs"
	"miaohui/migrations/testdb"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestRegister(t *testing.T) {
	k := newKit(t, false)
	types := []string{
		jobs.TypeNotify, jobs.TypeEmail, jobs.TypePurgeSessions, jobs.TypePaymentExpire, jobs.TypePaymentSweep,
		jobs.TypePaymentReconcile, jobs.TypeOrderPayout, jobs.TypeRefundReverse, jobs.TypeFlashTicket, jobs.TypeFlashTickets,
		jobs.TypeFlashRestock, jobs.TypeFlashRecover, jobs.TypeFlashSettle, jobs.TypeFlashRemind, jobs.TypeOrderNotify,
		jobs.TypePaymentRemind, jobs.TypePaymentsExpire, jobs.TypePaymentsRemind, jobs.TypeOutboxRelay, jobs.TypePayoutsDue,
		jobs.TypeRemindersRebuild,
	}
	for _, typ := range types {
		if _, pattern := k.mux.Handler(asynq.NewTask(typ, nil)); pattern != typ {
			t.Errorf("%s is handled by %q", typ, pattern)
		}
	}
	// The periodic tasks need no payload.
	for _, typ := range []string{jobs.TypePurgeSessions, jobs.TypePaymentSweep, jobs.TypePaymentReconcile, jobs.TypeFlashRecover, jobs.TypeFlashSettle,
		jobs.TypeOutboxRelay, jobs.TypePayoutsDue, jobs.TypeRemindersRebuild} {
		if err := k.run(asynq.NewTask(typ, nil)); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestScheduler(t *testing.T) {
	r := testdb.NewRedis(t).Client
	s, err := jobs.NewScheduler(r, discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	// The scheduler publishes its entries with its first heartbeat, ten
	// seconds after it starts.
	inspector := asynq.NewInspectorFromRedisClient(r)
	var entries []*asynq.SchedulerEntry
	for deadline := time.Now().Add(15 * time.Second); len(entries) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if entries, err = inspector.SchedulerEntries(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Task.Type()] = e.Spec
	}
	want := map[string]string{
		jobs.TypePurgeSessions:    "@every 1h",
		jobs.TypePaymentSweep:     "@every 30s",
		jobs.TypePaymentReconcile: "@every 5m",
		jobs.TypeFlashRecover:     "@every 15s",
		jobs.TypeFlashSettle:      "@every 30s",
		jobs.TypeOutboxRelay:      "@every 1m",
		jobs.TypePayoutsDue:       "@every 1m",
	}
	if len(got) != len(want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	for typ, spec := range want {
		if got[typ] != spec {
			t.Errorf("%s = %q, want %q", typ, got[typ], spec)
		}
	}
}
