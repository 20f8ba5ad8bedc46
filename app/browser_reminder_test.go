//go:build browser

package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"miaohui/catalog"
	"miaohui/jobs"
)

// A 开抢 reminder set on the phone survives a restart that loses the queue
// (the in-process Redis starts empty): the starting worker queues it again
// from the database, and at the start the shopper's inbox has it.
func TestBrowserReminderAfterRestart(t *testing.T) {
	env := newTestEnv(t)
	w := newFlashWorld(t, env, "reminder-restart-2026")
	sale := w.createSale(t, w.saleBody(990, 10, 1))["id"].(string)
	shopper := w.shopper(t)
	base := serveForBrowser(t, env)
	tab := bcTab(t, newBrowser(t), "shopper")
	browserDo(t, tab, "emulate a phone", bbPhone())
	bcSignIn(t, tab, base, shopper.Email)

	// 1. The shopper asks to be reminded.
	browserNavigate(t, tab, "open the sale", chromedp.Navigate(base+"/flash-sales/"+sale))
	browserDo(t, tab, "ask for the reminder", chromedp.Click(chromedp.CSS("[data-testid=remind-button]"), chromedp.NodeVisible))
	browserDo(t, tab, "see it set", chromedp.WaitVisible(chromedp.CSS("[data-testid=reminded]")))

	// 2. The restart: the queue lost the reminder's task.
	insp := asynq.NewInspectorFromRedisClient(env.redis.Client)
	reminders := func() []*asynq.TaskInfo {
		t.Helper()
		tasks, err := insp.ListScheduledTasks(jobs.QueueLow)
		if err != nil {
			t.Fatal(err)
		}
		var out []*asynq.TaskInfo
		for _, ti := range tasks {
			if ti.Type == jobs.TypeFlashRemind {
				out = append(out, ti)
			}
		}
		return out
	}
	if got := len(reminders()); got != 1 {
		t.Fatalf("reminder tasks before the restart = %d, want 1", got)
	}
	if _, err := insp.DeleteAllScheduledTasks(jobs.QueueLow); err != nil {
		t.Fatal(err)
	}

	// 3. A worker starts: what it queues first brings the reminder back.
	env.runWorkers()
	queueStartupWork(env.srv.Enqueuer, env.srv.Logger)
	var task *asynq.TaskInfo
	eventually(t, 10*time.Second, func() error {
		if r := reminders(); len(r) == 1 {
			task = r[0]
			return nil
		}
		return errors.New("the reminder is not queued again")
	})

	// 4. The sale starts (the task is run now rather than at its time).
	env.clock.Advance(time.Minute + time.Second)
	if err := insp.RunTask(jobs.QueueLow, task.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		n, _, err := env.srv.Inbox.List(context.Background(), shopper.ID, catalog.Page{Limit: 10})
		if err != nil {
			return err
		}
		for _, m := range n {
			if m.Kind == "flash_start" {
				return nil
			}
		}
		return errors.New("no flash_start message yet")
	})
	browserNavigate(t, tab, "open the inbox", chromedp.Navigate(base+"/account#inbox"))
	inbox := browserRun(t, tab, "read the inbox", chromedp.Text(chromedp.CSS("#inbox"), chromedp.NodeVisible))
	if !strings.Contains(inbox, "抢购开始了") {
		t.Errorf("the inbox lacks the reminder:\n%s", inbox)
	}
}
