package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/wneessen/go-mail"
)

// TypeEmail sends one notification by email.
const TypeEmail = "notify:email"

// Mailer sends one email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// SMTPMailer sends through the server of an smtp:// or smtps:// URL.
type SMTPMailer struct {
	url  *url.URL
	from string
}

// NewSMTPMailer returns a mailer for raw (smtp://user:pass@host:port; smtps://
// for implicit TLS; smtp:// uses STARTTLS when the server offers it).
func NewSMTPMailer(raw, from string) (*SMTPMailer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("FAIR_SMTP_URL: want smtp://user:pass@host:port")
	}
	return &SMTPMailer{url: u, from: from}, nil
}

// Send delivers a plain-text message.
func (m *SMTPMailer) Send(ctx context.Context, to, subject, body string) error {
	opts := []mail.Option{mail.WithTimeout(10 * time.Second)}
	if m.url.Scheme == "smtps" {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if p := m.url.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return err
		}
		opts = append(opts, mail.WithPort(port))
	}
	if user := m.url.User.Username(); user != "" {
		pass, _ := m.url.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(user), mail.WithPassword(pass))
	}
	c, err := mail.NewClient(m.url.Hostname(), opts...)
	if err != nil {
		return err
	}
	msg := mail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return err
	}
	if err := msg.To(to); err != nil {
		return err
	}
	msg.Subject(subject)
	msg.SetBodyString(mail.TypeTextPlain, body)
	return c.DialAndSendWithContext(ctx, msg)
}

// NewEmailTask returns the email task of a notification: once per
// notification, retried with backoff when the mail server fails.
func NewEmailTask(notificationID string) (*asynq.Task, []asynq.Option) {
	return idTask(TypeEmail, notificationID), []asynq.Option{
		asynq.Queue(QueueLow), asynq.TaskID("email:" + notificationID), asynq.MaxRetry(8), asynq.Timeout(30 * time.Second),
	}
}

func (w *Worker) handleEmail(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	if w.deps.Mailer == nil {
		return nil
	}
	var n Notification
	if err := w.deps.DB.NewSelect().Model(&n).Where("id = ?", id).Scan(ctx); err != nil {
		return fmt.Errorf("notification %s: %v: %w", id, err, asynq.SkipRetry)
	}
	if n.EmailedAt != nil {
		return nil // sent by an earlier run
	}
	if w.deps.Users == nil {
		return fmt.Errorf("notification %s: %v: %w", id, errNoUsers, asynq.SkipRetry)
	}
	to, err := w.deps.Users.Recipient(ctx, n.UserID)
	if err != nil {
		return fmt.Errorf("notification %s: %v: %w", id, err, asynq.SkipRetry)
	}
	if err := w.deps.Mailer.Send(ctx, to.Email, n.Title, n.Body); err != nil {
		return err
	}
	_, err = w.deps.DB.NewUpdate().Model((*Notification)(nil)).Set("emailed_at = ?", w.deps.Now()).Where("id = ?", id).Exec(ctx)
	return err
}

// notify puts a notification in its recipient's inbox (once per event) and,
// with a mail server configured, queues its email.
func (w *Worker) notify(ctx context.Context, p NotifyPayload) error {
	n, fresh, err := w.inbox.Deliver(ctx, p)
	if err != nil {
		return err
	}
	if fresh && w.deps.Mailer != nil && w.enq != nil {
		task, opts := NewEmailTask(n.ID)
		return w.enq.Enqueue(ctx, task, opts...)
	}
	return nil
}

var errBadNotify = errors.New("bad notification payload")

func decodeNotify(t *asynq.Task) (NotifyPayload, error) {
	var p NotifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.UserID == "" || p.EventKey == "" {
		return p, fmt.Errorf("%w: %w", errBadNotify, asynq.SkipRetry)
	}
	return p, nil
}
