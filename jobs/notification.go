package jobs

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/uptrace/bun"
	"golang.org/x/text/language"

	"miaohui/catalog"
)

// TypeNotify delivers one notification to one user.
const TypeNotify = "notify:send"

// NotifyPayload is one event for one recipient. Kind picks the message
// (title and body in the recipient's language); Params fill it in.
type NotifyPayload struct {
	UserID   string            `json:"user_id"`
	EventKey string            `json:"event_key"`
	Kind     string            `json:"kind"`
	Params   map[string]string `json:"params,omitempty"`
}

// NewNotifyTask returns the task and its options: low priority, and a TaskID
// from the recipient and event so an event is queued once.
func NewNotifyTask(p NotifyPayload) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(p)
	return asynq.NewTask(TypeNotify, b), []asynq.Option{
		asynq.Queue(QueueLow),
		asynq.TaskID("notify:" + p.UserID + ":" + p.EventKey),
		asynq.MaxRetry(10),
		asynq.Retention(24 * time.Hour),
	}
}

// Notification is one entry of a user's in-app inbox.
type Notification struct {
	bun.BaseModel `bun:"table:notifications"`

	ID        string     `bun:",pk" json:"id"`
	UserID    string     `json:"-"`
	EventKey  string     `json:"-"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at" nullable:"true"`
	// EmailedAt is when it was also sent by email.
	EmailedAt *time.Time `json:"-"`
}

//go:embed locales/*.json
var localeFS embed.FS

// messages renders notification texts in the recipient's language.
type messages struct{ bundle *i18n.Bundle }

func newMessages() *messages {
	b := i18n.NewBundle(language.SimplifiedChinese)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, f := range []string{"locales/zh-CN.json", "locales/en.json"} {
		if _, err := b.LoadMessageFileFS(localeFS, f); err != nil {
			panic(err) // embedded at build time: a broken file is a build defect
		}
	}
	return &messages{bundle: b}
}

func (m *messages) render(lang, kind string, params map[string]string) (title, body string, err error) {
	loc := i18n.NewLocalizer(m.bundle, lang)
	title, err = loc.Localize(&i18n.LocalizeConfig{MessageID: "notify." + kind + ".title", TemplateData: params})
	if err != nil {
		return "", "", err
	}
	body, err = loc.Localize(&i18n.LocalizeConfig{MessageID: "notify." + kind + ".body", TemplateData: params})
	return title, body, err
}

// Inbox stores and lists in-app notifications.
type Inbox struct {
	db    bun.IDB
	now   catalog.Clock
	msg   *messages
	users Users
}

// NewInbox returns the inbox over db. Delivering needs the users too
// (WithUsers); listing and marking read do not.
func NewInbox(db bun.IDB, now catalog.Clock) *Inbox {
	return &Inbox{db: db, now: now, msg: newMessages()}
}

// WithUsers returns the inbox delivering in each recipient's language, read
// from users.
func (in *Inbox) WithUsers(users Users) *Inbox {
	c := *in
	c.users = users
	return &c
}

// errNoUsers is a delivery by an inbox built without WithUsers.
var errNoUsers = errors.New("the inbox has no users to deliver to")

// Deliver stores p in its recipient's inbox once: a second delivery of the
// same event changes nothing. It returns the entry and whether it was new.
func (in *Inbox) Deliver(ctx context.Context, p NotifyPayload) (Notification, bool, error) {
	if in.users == nil {
		return Notification{}, false, errNoUsers
	}
	to, err := in.users.Recipient(ctx, p.UserID)
	if err != nil {
		return Notification{}, false, fmt.Errorf("recipient %s: %w", p.UserID, err)
	}
	title, body, err := in.msg.render(to.Lang, p.Kind, p.Params)
	if err != nil {
		return Notification{}, false, fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	n := Notification{ID: catalog.NewID(), UserID: p.UserID, EventKey: p.EventKey, Kind: p.Kind, Title: title, Body: body, CreatedAt: in.now()}
	res, err := in.db.NewInsert().Model(&n).On("CONFLICT (user_id, event_key) DO NOTHING").Exec(ctx)
	if err != nil {
		return Notification{}, false, err
	}
	added, _ := res.RowsAffected()
	return n, added == 1, nil
}

// List returns a page of userID's notifications, newest first.
func (in *Inbox) List(ctx context.Context, userID string, p catalog.Page) ([]Notification, *string, error) {
	var rows []Notification
	q := in.db.NewSelect().Model(&rows).Where("user_id = ?", userID).OrderExpr("id DESC").Limit(p.Size() + 1)
	if p.Cursor != "" {
		q = q.Where("id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := catalog.NextCursor(p, rows, func(n Notification) string { return n.ID })
	return rows, next, nil
}

// Unread counts userID's unread notifications.
func (in *Inbox) Unread(ctx context.Context, userID string) (int64, error) {
	return in.db.NewSelect().Model((*Notification)(nil)).Where("user_id = ? AND read_at IS NULL", userID).Count(ctx)
}

// MarkRead marks one of userID's notifications read; another user's is ErrNotFound.
func (in *Inbox) MarkRead(ctx context.Context, userID, id string) (Notification, error) {
	var n Notification
	if err := in.db.NewSelect().Model(&n).Where("id = ? AND user_id = ?", id, userID).Scan(ctx); err != nil {
		return Notification{}, catalog.ErrNotFound
	}
	if n.ReadAt == nil {
		now := in.now()
		n.ReadAt = &now
		if _, err := in.db.NewUpdate().Model(&n).Column("read_at").WherePK().Exec(ctx); err != nil {
			return Notification{}, err
		}
	}
	return n, nil
}

// MarkAllRead marks all of userID's unread notifications read and returns
// how many it marked.
func (in *Inbox) MarkAllRead(ctx context.Context, userID string) (int64, error) {
	res, err := in.db.NewUpdate().Model((*Notification)(nil)).Set("read_at = ?", in.now()).
		Where("user_id = ? AND read_at IS NULL", userID).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ShortRef is the short form of an id that people read: its last eight
// characters, as the order pages show an order's reference.
func ShortRef(id string) string {
	return id[max(len(id)-8, 0):]
}

// Subject is what a notification is about, read from its event key: the
// kind of thing ("order", "new_order", "payment", "flash_sale",
// "application", "refund") and its id; "" when it is about nothing to open.
func (n Notification) Subject() (kind, id string) {
	prefix, id, ok := strings.Cut(n.EventKey, ":")
	if !ok {
		return "", ""
	}
	switch prefix {
	case "order_paid", "order_shipped", "order_redeemed", "order_completed":
		return "order", id
	case "new_order":
		return "new_order", id
	case "order_refunded":
		return "refund", id
	case "payment_closing":
		return "payment", id
	case "flash_start":
		return "flash_sale", id
	case "application", "application_new":
		return prefix, id
	}
	return "", ""
}

func (w *Worker) handleNotify(ctx context.Context, t *asynq.Task) error {
	p, err := decodeNotify(t)
	if err != nil {
		return err
	}
	return w.notify(ctx, p)
}
