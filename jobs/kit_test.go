package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/jobs"
	"miaohui/migrations/testdb"
	"miaohui/orders"
)

// window is the platform's payment window in these tests: long enough for
// a payment reminder to be scheduled.
const window = 15 * time.Minute

// kit is a worker over a fresh database and Redis, with an open fair, the
// orders service queueing its follow-up work on that Redis (as in
// production), and the worker's handlers mounted on a mux the tests feed.
type kit struct {
	*catalogtest.World
	t         *testing.T
	ctx       context.Context
	Redis     *testdb.Redis
	Orders    *orders.Service
	Admission *orders.Admission
	Events    *jobs.OrderEvents
	Inbox     *jobs.Inbox
	Mailer    *mailer
	Provider  *provider
	mux       *asynq.ServeMux
	inspector *asynq.Inspector
}

// newKit builds the kit; with a mailer, notifications are also emailed.
func newKit(t *testing.T, withMailer bool) *kit {
	t.Helper()
	db := testdb.Open(t)
	// The queue schedules by the wall clock: the world starts now.
	w := catalogtest.NewWorldAt(t, db, time.Now())
	r := testdb.NewRedis(t)
	enq := jobs.NewEnqueuer(r.Client, discard)
	k := &kit{World: w, t: t, ctx: context.Background(), Redis: r, Provider: &provider{}, mux: asynq.NewServeMux(),
		inspector: asynq.NewInspectorFromRedisClient(r.Client)}
	k.Events = jobs.NewOrderEvents(enq, db)
	k.Orders = orders.NewService(db, w.Catalog, k.Provider, k.Events, w.Clock.Now, window)
	k.Admission = orders.NewAdmission(r.Client, k.Orders, w.Clock.Now)
	users := users{db}
	k.Inbox = jobs.NewInbox(db, w.Clock.Now).WithUsers(users)
	deps := jobs.Deps{DB: db, Now: w.Clock.Now, Logger: discard, Orders: k.Orders, Admission: k.Admission, Catalog: w.Catalog, Enqueuer: enq, Users: users,
		PurgeSessions: func(context.Context) (int64, error) { return 0, nil }}
	if withMailer {
		k.Mailer = &mailer{}
		deps.Mailer = k.Mailer
	}
	jobs.NewWorker(deps).Register(k.mux)
	return k
}

// users stands in for the accounts service (jobs.Users) over the users the
// world made.
type users struct{ db *bun.DB }

func (u users) Recipient(ctx context.Context, id string) (jobs.Recipient, error) {
	var r jobs.Recipient
	err := u.db.NewSelect().TableExpr("users").Column("email", "name", "lang").Where("id = ?", id).Scan(ctx, &r.Email, &r.Name, &r.Lang)
	return r, catalog.NotFound(err, "user")
}

func (u users) WithRole(ctx context.Context, role catalog.Role) ([]string, error) {
	var ids []string
	err := u.db.NewSelect().TableExpr("users").Column("id").Where("role = ?", role).OrderExpr("id ASC").Scan(ctx, &ids)
	return ids, err
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// run hands a task to its handler, as a worker would.
func (k *kit) run(task *asynq.Task) error {
	return k.mux.ProcessTask(k.ctx, task)
}

// mustRun runs a task and fails the test on error.
func (k *kit) mustRun(task *asynq.Task) {
	k.t.Helper()
	if err := k.run(task); err != nil {
		k.t.Fatalf("%s: %v", task.Type(), err)
	}
}

// queued lists the tasks of type typ waiting on any queue: pending,
// scheduled for later, or waiting for their group's batch.
func (k *kit) queued(typ string) []*asynq.Task {
	k.t.Helper()
	var out []*asynq.Task
	keep := func(infos []*asynq.TaskInfo, err error) {
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			k.t.Fatal(err)
		}
		for _, ti := range infos {
			if ti.Type == typ {
				out = append(out, asynq.NewTask(ti.Type, ti.Payload))
			}
		}
	}
	for q := range jobs.Queues() {
		keep(k.inspector.ListPendingTasks(q))
		keep(k.inspector.ListScheduledTasks(q))
		groups, err := k.inspector.Groups(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			k.t.Fatal(err)
		}
		for _, g := range groups {
			keep(k.inspector.ListAggregatingTasks(q, g.Group))
		}
	}
	return out
}

// one returns the one queued task of type typ.
func (k *kit) one(typ string) *asynq.Task {
	k.t.Helper()
	tasks := k.queued(typ)
	if len(tasks) != 1 {
		k.t.Fatalf("queued %s tasks = %d, want 1", typ, len(tasks))
	}
	return tasks[0]
}

// runQueued runs every queued task of type typ once and returns how many ran.
func (k *kit) runQueued(typ string) int {
	k.t.Helper()
	tasks := k.queued(typ)
	for _, task := range tasks {
		k.mustRun(task)
	}
	return len(tasks)
}

// shop is a stall of the kit's fair with its merchant and one product.
type shop struct {
	Merchant catalog.Actor
	Stall    *catalog.Stall
	Product  *catalog.Product
}

func (k *kit) shop(name string, p catalogtest.Product) shop {
	k.t.Helper()
	m, st := k.Stall(k.t, k.Fair, name)
	return shop{m, st, k.Goods(k.t, m, st.ID, p)}
}

// checkout puts quantity of a product in a new buyer's cart and checks out.
func (k *kit) checkout(productID string, quantity int) (catalog.Actor, *orders.Checkout) {
	k.t.Helper()
	b := k.User(k.t, catalog.RoleShopper)
	if _, err := k.Orders.SetCartItem(k.ctx, b, productID, quantity); err != nil {
		k.t.Fatal(err)
	}
	c, err := k.Orders.Checkout(k.ctx, b, orders.CheckoutInput{})
	if err != nil {
		k.t.Fatal(err)
	}
	return b, c
}

// paid checks out and pays.
func (k *kit) paid(productID string, quantity int) (catalog.Actor, *orders.Order) {
	k.t.Helper()
	b, c := k.checkout(productID, quantity)
	if _, err := k.Orders.CompleteSandbox(k.ctx, b.UserID, c.Payment.ID, orders.PaymentSucceeded); err != nil {
		k.t.Fatal(err)
	}
	return b, k.order(b, c.Orders[0].ID)
}

func (k *kit) order(a catalog.Actor, id string) *orders.Order {
	k.t.Helper()
	o, err := k.Orders.Order(k.ctx, a, id)
	if err != nil {
		k.t.Fatal(err)
	}
	return o
}

// inbox lists a user's notifications, newest first.
func (k *kit) inbox(userID string) []jobs.Notification {
	k.t.Helper()
	list, _, err := k.Inbox.List(k.ctx, userID, catalog.Page{Limit: catalog.MaxLimit})
	if err != nil {
		k.t.Fatal(err)
	}
	return list
}

// kinds is the kinds of notifications, in the order given.
func kinds(list []jobs.Notification) []string {
	out := make([]string, len(list))
	for i, n := range list {
		out[i] = n.Kind
	}
	return out
}

// mailer is a Mailer that records what it sends; SendFunc, when set,
// answers instead (to make the mail server fail).
type mailer struct {
	SendFunc func(ctx context.Context, to, subject, body string) error

	mu   sync.Mutex
	sent []string // "to: subject"
}

func (m *mailer) Send(ctx context.Context, to, subject, body string) error {
	if m.SendFunc != nil {
		if err := m.SendFunc(ctx, to, subject, body); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, to+": "+subject)
	return nil
}

// Sent is what was sent so far.
func (m *mailer) Sent() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sent...)
}

// provider is the sandbox that counts the payouts it makes.
type provider struct {
	orders.Sandbox
	mu      sync.Mutex
	payouts []orders.Money
}

func (p *provider) Payout(ctx context.Context, o *orders.Order, amount orders.Money, account string) (string, error) {
	p.mu.Lock()
	p.payouts = append(p.payouts, amount)
	p.mu.Unlock()
	return p.Sandbox.Payout(ctx, o, amount, account)
}

// Payouts is the amounts paid out so far.
func (p *provider) Payouts() []orders.Money {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]orders.Money(nil), p.payouts...)
}
