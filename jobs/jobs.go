// Package jobs runs Miaohui's background work on Asynq: the task types and
// their handlers, the scheduler of periodic work, and notifications. Tasks are
// enqueued after the transaction that causes them commits, with a TaskID
// derived from the row they concern, and every handler may run twice safely.
// What follows a payment, refund, cancellation, shipping or redemption is
// written to the orders' outbox in that transaction and handed over by the
// Relay (outbox.go), so a crash or a Redis outage after the commit loses none.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/orders"
)

// Queue names, highest priority first.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Queues maps each queue to its weight: workers poll critical six times as
// often as low.
func Queues() map[string]int {
	return map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}
}

// Deps are what the handlers need from the rest of the system.
type Deps struct {
	DB     *bun.DB
	Now    catalog.Clock
	Logger *slog.Logger
	// PurgeSessions deletes stale sign-ins (owned by the accounts service).
	PurgeSessions func(ctx context.Context) (int64, error)
	// Users tells whom a notification goes to (the accounts implement it).
	Users Users
	// Orders settles payments, payouts and refunds.
	Orders *orders.Service
	// Admission is the flash sales' Redis side.
	Admission *orders.Admission
	// Catalog reads offers and reminders.
	Catalog *catalog.Service
	// Enqueuer queues follow-up tasks.
	Enqueuer *Enqueuer
	// Mailer sends notifications by email; nil keeps them to the inbox.
	Mailer Mailer
	// RetryDelay spaces the retries of a failed task; nil is Asynq's
	// exponential backoff (tests shorten it).
	RetryDelay asynq.RetryDelayFunc
}

// Worker holds the task handlers.
type Worker struct {
	deps  Deps
	inbox *Inbox
	enq   *Enqueuer
	relay *Relay
}

// NewWorker returns the handlers over deps.
func NewWorker(deps Deps) *Worker {
	return &Worker{deps: deps, inbox: NewInbox(deps.DB, deps.Now).WithUsers(deps.Users), enq: deps.Enqueuer,
		relay: NewRelay(deps.DB, deps.Enqueuer, deps.Now, deps.Logger)}
}

// Users is what the workers read of the accounts, which the app owns and
// implements this port over: whom a notification goes to, in which
// language, and who the organizers are.
type Users interface {
	// Recipient returns a user's address, name and language; an unknown
	// user is an error wrapping catalog.ErrNotFound.
	Recipient(ctx context.Context, userID string) (Recipient, error)
	// WithRole lists the ids of the users of one role.
	WithRole(ctx context.Context, role catalog.Role) ([]string, error)
}

// Recipient is the user a notification is written for.
type Recipient struct {
	Email string
	Name  string
	Lang  string
}

func catalogActor() catalog.Actor { return catalog.Actor{} }

// Register mounts every task handler on mux.
func (w *Worker) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeNotify, w.handleNotify)
	mux.HandleFunc(TypePurgeSessions, w.handlePurgeSessions)
	mux.HandleFunc(TypePaymentExpire, w.handlePaymentExpire)
	mux.HandleFunc(TypePaymentSweep, w.handlePaymentSweep)
	mux.HandleFunc(TypePaymentReconcile, w.handlePaymentReconcile)
	mux.HandleFunc(TypeOrderPayout, w.outboxed(w.handleOrderPayout))
	mux.HandleFunc(TypeRefundReverse, w.outboxed(w.handleRefundReverse))
	mux.HandleFunc(TypeOutboxRelay, w.handleOutboxRelay)
	mux.HandleFunc(TypePayoutsDue, w.handlePayoutsDue)
	mux.HandleFunc(TypeFlashTicket, w.handleFlashTicket)
	mux.HandleFunc(TypeFlashTickets, w.handleFlashTickets)
	mux.HandleFunc(TypeFlashRestock, w.outboxed(w.handleFlashRestock))
	mux.HandleFunc(TypeFlashRecover, w.handleFlashRecover)
	mux.HandleFunc(TypeFlashSettle, w.handleFlashSettle)
	mux.HandleFunc(TypeFlashRemind, w.handleFlashRemind)
	mux.HandleFunc(TypeFlashRebound, w.handleFlashRebound)
	mux.HandleFunc(TypeRemindersRebuild, w.handleRemindersRebuild)
	mux.HandleFunc(TypeEmail, w.handleEmail)
	mux.HandleFunc(TypeOrderNotify, w.outboxed(w.handleOrderNotify))
	mux.HandleFunc(TypePaymentRemind, w.handlePaymentRemind)
	mux.HandleFunc(TypePaymentsExpire, w.handlePaymentsExpire)
	mux.HandleFunc(TypePaymentsRemind, w.handlePaymentsRemind)
}

// NewServer returns an Asynq server over client processing every queue; a
// task that fails its last retry is reported to the organizers.
func (w *Worker) NewServer(client redis.UniversalClient, logger *slog.Logger, concurrency int) *asynq.Server {
	return asynq.NewServerFromRedisClient(client, asynq.Config{
		Concurrency:     concurrency,
		Queues:          Queues(),
		ShutdownTimeout: 20 * time.Second,
		RetryDelayFunc:  w.deps.RetryDelay,
		// Scheduled tasks (payment expiries, retries) are moved to their
		// queue within a second of their time; an idle worker looks for new
		// tasks ten times a second (a sale's tickets become orders within
		// seconds of its sell-out; the default waits a whole second).
		DelayedTaskCheckInterval: time.Second,
		TaskCheckInterval:        100 * time.Millisecond,
		GroupGracePeriod:         ticketGrace,
		GroupMaxDelay:            ticketMaxDelay,
		GroupMaxSize:             ticketMaxBatch,
		GroupAggregator:          asynq.GroupAggregatorFunc(aggregateTickets),
		Logger:                   asynqLogger{logger},
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, task *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			retried, _ := asynq.GetRetryCount(ctx)
			max, _ := asynq.GetMaxRetry(ctx)
			logger.Warn("task failed", "type", task.Type(), "task_id", id, "retry", retried, "max_retry", max, "err", err)
			if retried >= max || errors.Is(err, asynq.SkipRetry) {
				w.taskArchived(context.WithoutCancel(ctx), task, id, err)
			}
		}),
	})
}

// NewScheduler returns the scheduler of periodic work. Every worker process
// runs one; each periodic task is unique per period, so several schedulers
// enqueue it once.
func NewScheduler(client redis.UniversalClient, logger *slog.Logger) (*asynq.Scheduler, error) {
	s := asynq.NewSchedulerFromRedisClient(client, &asynq.SchedulerOpts{
		Logger:   asynqLogger{logger},
		LogLevel: asynq.WarnLevel,
		Location: time.UTC,
	})
	periodic := []struct {
		spec, typ, queue string
		unique           time.Duration
	}{
		{"@every 1h", TypePurgeSessions, QueueLow, 55 * time.Minute},
		{"@every 30s", TypePaymentSweep, QueueDefault, 25 * time.Second},
		{"@every 5m", TypePaymentReconcile, QueueDefault, 4 * time.Minute},
		{"@every 15s", TypeFlashRecover, QueueCritical, 10 * time.Second},
		{"@every 30s", TypeFlashSettle, QueueDefault, 25 * time.Second},
		{"@every 1m", TypeOutboxRelay, QueueCritical, 50 * time.Second},
		{"@every 1m", TypePayoutsDue, QueueDefault, 50 * time.Second},
	}
	for _, p := range periodic {
		if _, err := s.Register(p.spec, asynq.NewTask(p.typ, nil), asynq.Queue(p.queue), asynq.Unique(p.unique)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Enqueuer puts tasks on the queue.
type Enqueuer struct {
	client *asynq.Client
	logger *slog.Logger
}

// NewEnqueuer returns an Enqueuer over client.
func NewEnqueuer(client redis.UniversalClient, logger *slog.Logger) *Enqueuer {
	return &Enqueuer{client: asynq.NewClientFromRedisClient(client), logger: logger}
}

// Enqueue puts task on the queue; a task whose TaskID is already queued counts
// as enqueued.
func (e *Enqueuer) Enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) error {
	_, err := e.client.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", task.Type(), err)
	}
	return nil
}

// Close releases the client (the Redis connection stays with its owner).
func (e *Enqueuer) Close() error { return e.client.Close() }

// asynqLogger sends Asynq's own log lines to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, "connection is shared") {
		// At shutdown Asynq tries to close the Redis client it was given,
		// which is ours to close: expected, not an error.
		a.l.Debug(msg, "component", "asynq")
		return
	}
	a.l.Error(msg, "component", "asynq")
}
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
