package app

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"

	"miaohui/app/web"
	"miaohui/catalog"
	"miaohui/jobs"
)

// mailbox is an SMTP server on loopback that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []mailMsg
	addr string
}

type mailMsg struct {
	To   []string
	Data string
}

type mailSession struct {
	box *mailbox
	msg mailMsg
}

func (s *mailSession) Reset()                               { s.msg = mailMsg{} }
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.msg)
	s.box.mu.Unlock()
	return nil
}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: box}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box.addr = ln.Addr().String()
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return box
}

// readMail decodes a received message's subject and text.
func readMail(t testing.TB, raw string) (subject, body string) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(msg.Body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return subject, string(b)
}

func (b *mailbox) to(addr string) []mailMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []mailMsg
	for _, m := range b.msgs {
		for _, r := range m.To {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// fastRetries has the workers retry a few milliseconds apart.
func fastRetries(d *jobs.Deps) {
	d.RetryDelay = func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond }
}

// inboxOf lists a user's notifications by kind.
func inboxOf(t testing.TB, e *testEnv, userID string) map[string]int {
	t.Helper()
	var kinds []string
	if err := e.srv.DB.NewSelect().Table("notifications").Column("kind").Where("user_id = ?", userID).Scan(context.Background(), &kinds); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, k := range kinds {
		out[k]++
	}
	return out
}

func TestNotificationEmail(t *testing.T) {
	box := startMailbox(t)
	e := newTestEnv(t, func(c *Config) { c.SMTPURL = "smtp://" + box.addr })
	e.runWorkers(fastRetries)

	zh := e.register("zh.buyer@example.com", catalog.RoleShopper)
	res := e.do(req{Method: "POST", Path: "/api/v1/auth/register", Header: map[string]string{"Cookie": web.LangCookie + "=en"},
		Body: map[string]any{"email": "en.buyer@example.com", "password": testPassword, "name": "Lin"}})
	wantStatus(t, res, http.StatusCreated)

	eventually(t, 15*time.Second, func() error {
		if len(box.to("zh.buyer@example.com")) != 1 || len(box.to("en.buyer@example.com")) != 1 {
			return errorf("mails: zh %d, en %d", len(box.to("zh.buyer@example.com")), len(box.to("en.buyer@example.com")))
		}
		return nil
	})
	zhSubject, zhBody := readMail(t, box.to("zh.buyer@example.com")[0].Data)
	enSubject, enBody := readMail(t, box.to("en.buyer@example.com")[0].Data)
	if zhSubject != "欢迎来到庙会，测试用户" || !strings.Contains(zhBody, "您的账户已开通") {
		t.Errorf("the Chinese user's mail: %q / %q", zhSubject, zhBody)
	}
	if enSubject != "Welcome to Miaohui, Lin" || !strings.Contains(enBody, "Your account is ready") {
		t.Errorf("the English user's mail: %q / %q", enSubject, enBody)
	}
	// Delivered once, however often the task runs.
	if n := inboxOf(t, e, zh.ID)["welcome"]; n != 1 {
		t.Errorf("%d welcome notifications, want 1", n)
	}
	task, opts := jobs.NewNotifyTask(jobs.NotifyPayload{UserID: zh.ID, EventKey: "welcome", Kind: "welcome", Params: map[string]string{"Name": "x"}})
	client := asynq.NewClientFromRedisClient(e.redis.Client)
	defer client.Close()
	opts = append(opts, asynq.TaskID("again"))
	if _, err := client.Enqueue(task, opts...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(box.to("zh.buyer@example.com")); n != 1 {
		t.Errorf("%d mails after the task ran again, want 1", n)
	}
}

func TestNotificationMailServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there
	e := newTestEnv(t, func(c *Config) { c.SMTPURL = "smtp://" + dead })
	org := e.createUser("ops@example.com", catalog.RoleOrganizer)
	e.runWorkers(fastRetries)

	u := e.register("unlucky@example.com", catalog.RoleShopper)
	// The inbox entry is there at once; the email is retried, then archived,
	// and the organizers hear of it.
	eventually(t, 20*time.Second, func() error {
		if inboxOf(t, e, u.ID)["welcome"] != 1 {
			return errorf("no welcome in the inbox")
		}
		if inboxOf(t, e, org.ID)["task_archived"] != 1 {
			return errorf("organizer not told of the archived email task")
		}
		return nil
	})
	info, err := asynq.NewInspectorFromRedisClient(e.redis.Client).GetQueueInfo(jobs.QueueLow)
	if err != nil {
		t.Fatal(err)
	}
	if info.Archived < 1 {
		t.Errorf("archived %d, want the email task", info.Archived)
	}
}

func TestNotificationEvents(t *testing.T) {
	e := newTestEnv(t)
	e.runWorkers()
	ctx := context.Background()
	_, orgTok := e.organizer(t, "org@example.com")
	fair := e.createFair(t, orgTok, e.fairBody("notify-fair", catalog.KindTempleFair))["slug"].(string)
	merchant := e.register("m@example.com", catalog.RoleMerchant)
	other := e.register("other@example.com", catalog.RoleMerchant)
	stall := e.openStall(t, orgTok, merchant.Token, fair, "通知摊位")["id"].(string)
	res := e.do(req{Method: "POST", Path: "/api/v1/fairs/" + fair + "/applications", Token: other.Token, Body: map[string]any{"stall_name": "被拒摊位"}})
	wantStatus(t, res, http.StatusCreated)
	rej := res.JSON(t)["id"].(string)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/applications/" + rej + "/reject", Token: orgTok, Body: map[string]any{"reason": "重复"}}), http.StatusOK)

	product := e.createProduct(t, merchant.Token, stall, goods("臭干", 1000, 10))["id"].(string)
	buyer := e.register("b@example.com", catalog.RoleShopper)
	stranger := e.register("s@example.com", catalog.RoleShopper)
	wantStatus(t, e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + product, Token: buyer.Token, Body: map[string]any{"quantity": 2}}), http.StatusOK)
	res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{}})
	wantStatus(t, res, http.StatusCreated)
	co := res.JSON(t)
	payID := co["payment"].(map[string]any)["id"].(string)
	ord := co["orders"].([]any)[0].(map[string]any)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + payID + "/complete", Token: buyer.Token, Body: map[string]any{"outcome": "succeeded"}}), http.StatusOK)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + ord["id"].(string) + "/redeem", Token: merchant.Token, Body: map[string]any{"code": ord["pickup_code"]}}), http.StatusOK)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + ord["id"].(string) + "/refunds", Token: merchant.Token, Body: map[string]any{"amount": 500, "reason": "少一块"}}), http.StatusCreated)

	eventually(t, 15*time.Second, func() error {
		m, b := inboxOf(t, e, merchant.ID), inboxOf(t, e, buyer.ID)
		if m["application_approved"] != 1 || m["new_order"] != 1 || inboxOf(t, e, other.ID)["application_rejected"] != 1 ||
			b["order_paid"] != 1 || b["order_redeemed"] != 1 || b["order_refunded"] != 1 {
			return errorf("merchant %v, buyer %v, other %v", m, b, inboxOf(t, e, other.ID))
		}
		return nil
	})
	// Nobody else hears of it, and nothing twice.
	if s := inboxOf(t, e, stranger.ID); len(s) != 1 || s["welcome"] != 1 {
		t.Errorf("a stranger got %v", s)
	}
	for _, u := range []string{merchant.ID, buyer.ID} {
		for kind, n := range inboxOf(t, e, u) {
			if n != 1 {
				t.Errorf("user %s has %d %s notifications", u, n, kind)
			}
		}
	}
	if inboxOf(t, e, merchant.ID)["order_paid"] != 0 || inboxOf(t, e, buyer.ID)["new_order"] != 0 {
		t.Error("a notice went to the wrong party")
	}

	// A shipped order tells its buyer.
	shipBody := goods("鱼饼", 2000, 5)
	shipBody["fulfillment"] = "ship"
	ship := e.createProduct(t, merchant.Token, stall, shipBody)["id"].(string)
	wantStatus(t, e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + ship, Token: buyer.Token, Body: map[string]any{"quantity": 1}}), http.StatusOK)
	res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: buyer.Token, Body: map[string]any{"shipping_address": "泰州市海陵区"}})
	wantStatus(t, res, http.StatusCreated)
	co = res.JSON(t)
	payID = co["payment"].(map[string]any)["id"].(string)
	shipOrder := co["orders"].([]any)[0].(map[string]any)["id"].(string)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + payID + "/complete", Token: buyer.Token, Body: map[string]any{"outcome": "succeeded"}}), http.StatusOK)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + shipOrder + "/ship", Token: merchant.Token, Body: map[string]any{"tracking": "SF123"}}), http.StatusOK)

	// The payment-window reminder reaches a buyer who has not paid.
	wantStatus(t, e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + product, Token: stranger.Token, Body: map[string]any{"quantity": 1}}), http.StatusOK)
	res = e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: stranger.Token, Body: map[string]any{}})
	wantStatus(t, res, http.StatusCreated)
	unpaid := res.JSON(t)["payment"].(map[string]any)["id"].(string)
	client := asynq.NewClientFromRedisClient(e.redis.Client)
	defer client.Close()
	if _, err := client.EnqueueContext(ctx, asynq.NewTask(jobs.TypePaymentRemind, []byte(`{"id":"`+unpaid+`"}`)), asynq.Queue(jobs.QueueLow)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, func() error {
		if inboxOf(t, e, buyer.ID)["order_shipped"] != 1 || inboxOf(t, e, stranger.ID)["payment_closing"] != 1 {
			return errorf("buyer %v, stranger %v", inboxOf(t, e, buyer.ID), inboxOf(t, e, stranger.ID))
		}
		return nil
	})
}
