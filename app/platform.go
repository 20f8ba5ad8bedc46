package app

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/migrations"
)

// Platform is the set of outside parts one process runs on: the database and
// Redis (a real one, or an in-process one for a single machine).
type Platform struct {
	Config Config
	Log    *slog.Logger
	DB     *bun.DB
	Redis  *redis.Client
	Now    catalog.Clock

	mini     *miniredis.Miniredis
	stopTick func()
}

// OpenPlatform connects to the database and Redis the configuration names.
func OpenPlatform(ctx context.Context, cfg Config, log *slog.Logger) (*Platform, error) {
	db, err := migrations.OpenDB(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	p := &Platform{Config: cfg, Log: log, DB: db, Now: catalog.SystemClock}
	if cfg.RedisURL == "" {
		if err := p.startMiniRedis(); err != nil {
			db.Close()
			return nil, err
		}
	} else {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("FAIR_REDIS_URL: %w", err)
		}
		// A flash sale starts with every phone pressing at once: keep
		// connections open for the burst rather than dial them in it.
		opt.PoolSize, opt.MinIdleConns = 64, 32
		opt.AutoPipelineOptions = autoPipelining()
		p.Redis = redis.NewClient(opt)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := p.Redis.Ping(pctx).Err(); err != nil {
			p.Close()
			return nil, fmt.Errorf("redis not reachable: %w", err)
		}
	}
	return p, nil
}

// autoPipelining is how the client batches the commands many requests send
// at once (flash-sale admissions, the winners' tasks): up to 300 a batch and
// four batches in flight, so that Redis works on one while the replies of
// another are read. The commands batched are independent of one another, so
// their order across callers does not matter (each caller waits for its
// own).
func autoPipelining() *redis.AutoPipelineOptions {
	return &redis.AutoPipelineOptions{MaxBatchSize: 300, MaxConcurrentBatches: 4, Unordered: true}
}

// startMiniRedis runs Redis inside the process for one-machine use. Its clock
// only moves when told, so a ticker moves it with the wall clock and keys
// with a TTL (rate-limit windows, task leases) expire as on a real server.
func (p *Platform) startMiniRedis() error {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("in-process redis: %w", err)
	}
	p.mini = mr
	p.Redis = redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64, AutoPipelineOptions: autoPipelining()})
	stop := make(chan struct{})
	var once sync.Once
	p.stopTick = func() { once.Do(func() { close(stop) }) }
	go func() {
		last := time.Now()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	p.Log.Info("using the in-process Redis; set FAIR_REDIS_URL to share a real Redis between processes", "addr", mr.Addr())
	return nil
}

// Embedded reports whether Redis runs inside this process.
func (p *Platform) Embedded() bool { return p.mini != nil }

// Migrate applies pending migrations.
func (p *Platform) Migrate(ctx context.Context) error {
	applied, err := migrateUp(ctx, p.DB)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		p.Log.Info("migrated", "applied", applied)
	}
	return nil
}

// Close releases everything.
func (p *Platform) Close() {
	if p.Redis != nil {
		p.Redis.Close()
	}
	if p.stopTick != nil {
		p.stopTick()
	}
	if p.mini != nil {
		p.mini.Close()
	}
	if p.DB != nil {
		p.DB.Close()
	}
}

// Workers are the Asynq server and scheduler of one process.
type Workers struct {
	server    *asynq.Server
	scheduler *asynq.Scheduler
	stopRelay context.CancelFunc
	relayDone chan struct{}
}

// relayEvery is how often the outbox relay looks for messages a commit's
// own delivery missed (Redis down, the process killed).
const relayEvery = 2 * time.Second

// StartWorkers starts processing every queue and the periodic work.
func StartWorkers(p *Platform, svc *Services, concurrency int) (*Workers, error) {
	deps, err := svc.WorkerDeps()
	if err != nil {
		return nil, err
	}
	w := jobs.NewWorker(deps)
	mux := asynq.NewServeMux()
	w.Register(mux)
	srv := w.NewServer(p.Redis, p.Log, concurrency)
	if err := srv.Start(mux); err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	sched, err := jobs.NewScheduler(p.Redis, p.Log)
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	if err := sched.Start(); err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	queueStartupWork(jobs.NewEnqueuer(p.Redis, p.Log), p.Log)
	// The outbox relay runs beside the queue: what a commit could not
	// deliver (Redis down, the process killed) is queued within seconds.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.NewRelay(p.DB, svc.Enqueuer, svc.Now, p.Log).Loop(ctx, relayEvery)
	}()
	return &Workers{server: srv, scheduler: sched, stopRelay: stop, relayDone: done}, nil
}

// queueStartupWork queues what a starting worker does first. Payments whose
// window closed while no worker ran (or whose expiry task was lost with
// Redis) are closed at once, not at the next sweep; so are the payouts that
// came due meanwhile. The flash sales' reminders are queued again from the
// database, since the queue may have lost them (the in-process Redis loses
// everything at every restart).
func queueStartupWork(enq *jobs.Enqueuer, log *slog.Logger) {
	for _, typ := range []string{jobs.TypePaymentSweep, jobs.TypePayoutsDue, jobs.TypeRemindersRebuild} {
		if err := enq.Enqueue(context.Background(), asynq.NewTask(typ, nil), asynq.Queue(jobs.QueueDefault), asynq.Unique(10*time.Second)); err != nil {
			log.Warn("start-up sweep not queued", "type", typ, "err", err)
		}
	}
}

// Stop stops taking tasks and waits for the running ones to finish.
func (w *Workers) Stop() {
	w.stopRelay()
	<-w.relayDone
	w.scheduler.Shutdown()
	w.server.Shutdown()
}

var errNeedRedis = errors.New("fair worker needs FAIR_REDIS_URL: with the in-process Redis only `fair serve` sees its own queue")

// unavailable reports whether err says that the database or Redis cannot be
// reached right now (refused, reset, closed, shutting down, starting up), so
// the request may succeed when retried: a 503, not a 500.
func unavailable(err error) bool {
	for _, target := range []error{
		driver.ErrBadConn, io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE,
		redis.ErrClosed, redis.ErrPoolTimeout, redis.ErrPoolExhausted,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe pgdriver.Error
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01-57P05: shutting down, starting up.
		code := pe.Field('C')
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P")
	}
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "LOADING")
}
