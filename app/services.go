package app

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"miaohui/app/account"
	"miaohui/app/ops"
	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
)

// Deps are the parts the services are built from.
type Deps struct {
	Config Config
	Logger *slog.Logger
	DB     *bun.DB
	Redis  redis.UniversalClient
	Now    catalog.Clock
	// Provider, when set, is the payment provider instead of the one the
	// configuration names (tests count its calls).
	Provider orders.Provider
}

// Services are the domain services, built once per process from its
// platform and shared by the HTTP server, the workers, the operator tools and
// the tests.
type Services struct {
	Deps
	Accounts  *account.Accounts
	Catalog   *catalog.Service
	Orders    *orders.Service
	Admission *orders.Admission
	Events    *jobs.OrderEvents
	Inbox     *jobs.Inbox
	Enqueuer  *jobs.Enqueuer
}

// NewServices builds the services over d.
func NewServices(d Deps) (*Services, error) {
	if d.Now == nil {
		d.Now = catalog.SystemClock
	}
	accounts, err := account.NewAccounts(context.Background(), d.DB, d.Now, d.Config.PasswordMemoryKiB, d.Config.PasswordIterations)
	if err != nil {
		return nil, err
	}
	provider := d.Provider
	if provider == nil {
		if provider, err = NewProvider(d.Config); err != nil {
			return nil, err
		}
	}
	// Tasks are queued over the client's autopipeliner: a flash sale's
	// winners, queued together once its burst is over, share round trips.
	var queueRedis redis.UniversalClient = d.Redis
	if ap, err := d.Redis.AutoPipeline(); err == nil {
		queueRedis = ap
	}
	enqueue := jobs.NewEnqueuer(queueRedis, d.Logger)
	// A commit's outbox messages are delivered at once, on the services' clock.
	events := jobs.NewOrderEvents(enqueue, d.DB).UseRelay(jobs.NewRelay(d.DB, enqueue, d.Now, d.Logger))
	cat := catalog.NewService(d.DB, d.Now, d.Config.DataDir, events).WithPeople(accounts)
	ord := orders.NewService(d.DB, cat, provider, events, d.Now, d.Config.PaymentWindow).WithPayoutHold(d.Config.PayoutHold).WithAfterSalesReply(d.Config.AfterSalesReply)
	adm := orders.NewAdmission(d.Redis, ord, d.Now)
	events.UseAdmission(adm) // a changed fair's flash sales are bounded at once
	return &Services{
		Deps:      d,
		Accounts:  accounts,
		Catalog:   cat,
		Orders:    ord,
		Admission: adm,
		Events:    events,
		Inbox:     jobs.NewInbox(d.DB, d.Now).WithUsers(accounts),
		Enqueuer:  enqueue,
	}, nil
}

// Close releases what the services opened themselves.
func (s *Services) Close() error { return s.Enqueuer.Close() }

// WorkerDeps are what the background handlers need.
func (s *Services) WorkerDeps() (jobs.Deps, error) {
	d := jobs.Deps{
		DB: s.DB, Now: s.Now, Logger: s.Logger, PurgeSessions: s.Accounts.PurgeSessions, Users: s.Accounts,
		Orders: s.Orders, Admission: s.Admission, Catalog: s.Catalog, Enqueuer: s.Enqueuer,
	}
	if s.Config.SMTPURL != "" {
		m, err := jobs.NewSMTPMailer(s.Config.SMTPURL, mailFrom)
		if err != nil {
			return d, err
		}
		d.Mailer = m
	}
	return d, nil
}

// mailFrom is the sender of notification emails.
const mailFrom = "庙会 Miaohui <no-reply@miaohui.cn>"

// Demo is what the demo data is made with.
func (s *Services) Demo() ops.Demo {
	return ops.Demo{DB: s.DB, Now: s.Now, Accounts: s.Accounts, Catalog: s.Catalog, Admission: s.Admission}
}
