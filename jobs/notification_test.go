package jobs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/catalog"
	"miaohui/jobs"
)

func TestInbox(t *testing.T) {
	welcome := func(userID, key string) jobs.NotifyPayload {
		return jobs.NotifyPayload{UserID: userID, EventKey: key, Kind: "welcome", Params: map[string]string{"Name": "Li"}}
	}

	t.Run("DeliverOnce", func(t *testing.T) {
		k := newKit(t, false)
		u := k.User(t, catalog.RoleShopper)
		n, fresh, err := k.Inbox.Deliver(k.ctx, welcome(u.UserID, "welcome:1"))
		if err != nil {
			t.Fatal(err)
		}
		if !fresh || n.Title != "Welcome to Miaohui, Li" || n.ReadAt != nil {
			t.Errorf("notification = %+v (new %v), want a new unread welcome in English", n, fresh)
		}
		if _, fresh, err := k.Inbox.Deliver(k.ctx, welcome(u.UserID, "welcome:1")); err != nil || fresh {
			t.Errorf("second delivery: new %v, %v; want not new", fresh, err)
		}
		if got := len(k.inbox(u.UserID)); got != 1 {
			t.Errorf("inbox = %d entries, want 1", got)
		}
	})

	t.Run("RecipientsLanguage", func(t *testing.T) {
		k := newKit(t, false)
		u := k.UserLang(t, catalog.RoleShopper, "zh-CN")
		n, _, err := k.Inbox.Deliver(k.ctx, welcome(u.UserID, "welcome:1"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(n.Title, "Welcome") || !strings.Contains(n.Title, "Li") {
			t.Errorf("title = %q, want the Chinese one", n.Title)
		}
	})

	t.Run("ListUnreadMarkRead", func(t *testing.T) {
		k := newKit(t, false)
		u, other := k.User(t, catalog.RoleShopper), k.User(t, catalog.RoleShopper)
		var ids []string
		for _, key := range []string{"a", "b", "c"} {
			n, _, err := k.Inbox.Deliver(k.ctx, welcome(u.UserID, key))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, n.ID)
		}
		if _, _, err := k.Inbox.Deliver(k.ctx, welcome(other.UserID, "a")); err != nil {
			t.Fatal(err)
		}

		page, next, err := k.Inbox.List(k.ctx, u.UserID, catalog.Page{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] || next == nil {
			t.Fatalf("first page = %v (next %v), want the two newest and a cursor", page, next)
		}
		rest, next, err := k.Inbox.List(k.ctx, u.UserID, catalog.Page{Limit: 2, Cursor: *next})
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 1 || rest[0].ID != ids[0] || next != nil {
			t.Errorf("second page = %v (next %v), want the oldest and no cursor", rest, next)
		}

		k.Clock.Advance(time.Minute)
		n, err := k.Inbox.MarkRead(k.ctx, u.UserID, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if n.ReadAt == nil || !n.ReadAt.Equal(k.Clock.Now()) {
			t.Errorf("read at %v, want %v", n.ReadAt, k.Clock.Now())
		}
		// Marking again keeps the first time.
		k.Clock.Advance(time.Minute)
		if n2, err := k.Inbox.MarkRead(k.ctx, u.UserID, ids[1]); err != nil || !n2.ReadAt.Equal(*n.ReadAt) {
			t.Errorf("marked again: %v, %v; want read at %v", n2.ReadAt, err, n.ReadAt)
		}
		unread, err := k.Inbox.Unread(k.ctx, u.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := unread, int64(2); got != want {
			t.Errorf("unread = %d, want %d", got, want)
		}
		_, err = k.Inbox.MarkRead(k.ctx, other.UserID, ids[0])
		if !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("another user's: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("UnknownKindNotRetried", func(t *testing.T) {
		k := newKit(t, false)
		u := k.User(t, catalog.RoleShopper)
		_, _, err := k.Inbox.Deliver(k.ctx, jobs.NotifyPayload{UserID: u.UserID, EventKey: "x", Kind: "no_such_kind"})
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("err = %v, want SkipRetry", err)
		}
	})
}

func TestNotifyAndEmail(t *testing.T) {
	t.Run("InboxOnlyWithoutMailer", func(t *testing.T) {
		k := newKit(t, false)
		u := k.User(t, catalog.RoleShopper)
		task, _ := jobs.NewNotifyTask(jobs.NotifyPayload{UserID: u.UserID, EventKey: "welcome", Kind: "welcome", Params: map[string]string{"Name": "Li"}})
		k.mustRun(task)
		k.mustRun(task)
		if got := kinds(k.inbox(u.UserID)); !slices.Equal(got, []string{"welcome"}) {
			t.Errorf("inbox = %v, want one welcome", got)
		}
		if got := k.queued(jobs.TypeEmail); len(got) != 0 {
			t.Errorf("email tasks = %d, want none", len(got))
		}
	})

	t.Run("EmailedOnce", func(t *testing.T) {
		k := newKit(t, true)
		u := k.User(t, catalog.RoleShopper)
		task, opts := jobs.NewNotifyTask(jobs.NotifyPayload{UserID: u.UserID, EventKey: "welcome", Kind: "welcome", Params: map[string]string{"Name": "Li"}})
		if len(opts) == 0 {
			t.Error("the notify task has no options (TaskID, queue)")
		}
		k.mustRun(task)
		k.mustRun(task) // the same event again queues no second email
		email := k.one(jobs.TypeEmail)
		k.mustRun(email)
		k.mustRun(email) // a retry after a lost acknowledgement sends nothing more
		sent := k.Mailer.Sent()
		if len(sent) != 1 || !strings.HasSuffix(sent[0], ": Welcome to Miaohui, Li") || !strings.Contains(sent[0], "@example.com") {
			t.Errorf("sent = %q, want one welcome to the user's address", sent)
		}
	})

	t.Run("MailServerDownRetried", func(t *testing.T) {
		k := newKit(t, true)
		u := k.User(t, catalog.RoleShopper)
		task, _ := jobs.NewNotifyTask(jobs.NotifyPayload{UserID: u.UserID, EventKey: "welcome", Kind: "welcome"})
		k.mustRun(task)
		email := k.one(jobs.TypeEmail)
		down := errors.New("421 service not available")
		k.Mailer.SendFunc = func(context.Context, string, string, string) error { return down }
		if err := k.run(email); !errors.Is(err, down) {
			t.Fatalf("err = %v, want the mail server's", err)
		}
		k.Mailer.SendFunc = nil
		k.mustRun(email)
		if got := len(k.Mailer.Sent()); got != 1 {
			t.Errorf("sent = %d, want 1", got)
		}
	})

	t.Run("EmailWithoutMailerDoesNothing", func(t *testing.T) {
		k := newKit(t, false)
		task, _ := jobs.NewEmailTask(catalog.NewID())
		if err := k.run(task); err != nil {
			t.Errorf("err = %v, want nil", err)
		}
	})

	t.Run("EmailOfUnknownNotification", func(t *testing.T) {
		k := newKit(t, true)
		task, _ := jobs.NewEmailTask(catalog.NewID())
		if err := k.run(task); !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("err = %v, want SkipRetry", err)
		}
	})
}

func TestBadPayloadsSkipRetry(t *testing.T) {
	k := newKit(t, true)
	types := []string{
		jobs.TypeNotify, jobs.TypeEmail, jobs.TypePaymentExpire, jobs.TypePaymentsExpire, jobs.TypeOrderPayout,
		jobs.TypeRefundReverse, jobs.TypeFlashTicket, jobs.TypeFlashTickets, jobs.TypeFlashRestock, jobs.TypeFlashRemind,
		jobs.TypeOrderNotify, jobs.TypePaymentRemind, jobs.TypePaymentsRemind,
	}
	payloads := map[string][]byte{"NotJSON": []byte("{"), "Empty": []byte("{}")}
	for _, typ := range types {
		for name, payload := range payloads {
			t.Run(typ+"/"+name, func(t *testing.T) {
				err := k.run(asynq.NewTask(typ, payload))
				if !errors.Is(err, asynq.SkipRetry) {
					t.Errorf("err = %v, want SkipRetry", err)
				}
			})
		}
	}
}
