package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uptrace/bun"

	"miaohui/app/account"
	"miaohui/app/ops"
	"miaohui/catalog"
	"miaohui/migrations"
	"miaohui/orders"
)

const usage = `fair — the Miaohui online fair

Usage:
  fair demo                     serve with embedded defaults and a seeded demo
  fair serve [--no-worker]      the HTTP server (and the workers, unless --no-worker)
  fair worker                   the background workers alone (needs FAIR_REDIS_URL)
  fair migrate [up|down|status] apply, roll back or list database migrations
  fair users create --role R --email E --password P [--name N]
  fair bench flash [--url U] [--stock N] [--limit N] [--buyers N] [--conns N]
                                load a running deployment's flash sale, with references
                                (served by a child process: fair bench references)
  fair bench coupons [same flags]   the release moment of a coupon campaign (--stock is its quantity)
  fair bench totals --fair SLUG [--url U] [--requests N] [--conns N] [--email E --password P]
                                latency of a fair's totals API and dashboard, as its organizer
  fair bench console [--fair seed-article] [--url U] [--rounds N] [--conns N]
                                the organizer's console: page and search all stalls and applications
  fair seed --scale article [--slug S] [--stalls N] [--products N] [--shoppers N] [--orders N]
                                bulk-create a temple fair of the article's size
  fair check totals [--fair SLUG]
                                recompute fairs' totals from their orders and compare

Configuration comes from FAIR_* environment variables; see README.md.
`

// Run is the fair command: args are the command line (args[0] is the program),
// getenv reads the environment, and out receives output and logs.
func Run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(out, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(out, usage)
		return nil
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(out)
		noWorker := fs.Bool("no-worker", false, "do not run the background workers in this process")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		return serve(ctx, cfg, newLogger(out, "json"), out, !*noWorker, false)
	case "demo":
		return serve(ctx, cfg, newLogger(out, "text"), out, true, true)
	case "worker":
		return worker(ctx, cfg, newLogger(out, "json"))
	case "migrate":
		return migrate(ctx, cfg, newLogger(out, "text"), out, rest)
	case "users":
		return users(ctx, cfg, newLogger(out, "text"), out, rest)
	case "seed":
		return ops.Seed(ctx, opsEnv(cfg, newLogger(out, "text")), out, rest)
	case "check":
		return ops.Check(ctx, opsEnv(cfg, newLogger(out, "text")), out, rest)
	case "bench":
		return ops.Bench(ctx, opsEnv(cfg, newLogger(os.Stderr, "text")), out, rest)
	}
	fmt.Fprint(out, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func newLogger(out io.Writer, format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// serve runs the HTTP server until ctx ends, with the workers in-process when
// withWorkers; demo also seeds an empty database.
func serve(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer, withWorkers, demo bool) error {
	log.Info("starting", append([]any{"command", map[bool]string{true: "demo", false: "serve"}[demo], "workers", withWorkers}, cfg.Masked()...)...)
	p, svc, err := openServices(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	defer svc.Close()
	srv, err := NewServer(svc)
	if err != nil {
		return err
	}
	defer srv.Close()
	// The address is taken before anything else, so a busy port stops the
	// start at once, with the variable to change.
	ln, err := Listen(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if demo {
		if err := ops.SeedDemo(ctx, svc.Demo(), cfg.HTTPAddr, out); err != nil {
			return fmt.Errorf("seed demo: %w", err)
		}
	}
	var workers *Workers
	if withWorkers {
		if workers, err = StartWorkers(p, svc, 10); err != nil {
			return err
		}
	}
	log.Info("listening", "addr", cfg.HTTPAddr)
	err = srv.Serve(ctx, ln, 20*time.Second)
	log.Info("draining")
	if workers != nil {
		workers.Stop()
	}
	log.Info("stopped")
	return err
}

// openServices opens the platform, applies pending migrations and builds the
// services over it.
func openServices(ctx context.Context, cfg Config, log *slog.Logger) (*Platform, *Services, error) {
	p, err := OpenPlatform(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Migrate(ctx); err != nil {
		p.Close()
		return nil, nil, err
	}
	svc, err := NewServices(Deps{Config: cfg, Logger: log, DB: p.DB, Redis: p.Redis, Now: p.Now})
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return p, svc, nil
}

// worker runs the background workers alone, for deployments that scale the
// HTTP servers and the workers separately.
func worker(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.RedisURL == "" {
		return errNeedRedis
	}
	log.Info("starting", append([]any{"command", "worker"}, cfg.Masked()...)...)
	p, svc, err := openServices(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	defer svc.Close()
	workers, err := StartWorkers(p, svc, 20)
	if err != nil {
		return err
	}
	log.Info("processing queues")
	<-ctx.Done()
	log.Info("draining")
	workers.Stop()
	log.Info("stopped")
	return nil
}

func migrate(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer, args []string) error {
	db, err := migrations.OpenDB(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	action := "up"
	if len(args) > 0 {
		action = args[0]
	}
	switch action {
	case "up":
		applied, err := migrateUp(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "applied %d migration(s) %s\n", len(applied), strings.Join(applied, " "))
	case "down":
		undone, err := migrations.Down(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "rolled back %d migration(s) %s\n", len(undone), strings.Join(undone, " "))
	case "status":
		ms, err := migrations.Status(ctx, db)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATUS")
		for _, m := range ms {
			st := "pending"
			if m.IsApplied() {
				st = "applied " + m.MigratedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\n", m.Name, st)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("fair migrate: unknown action %q (up, down or status)", action)
	}
	_ = log
	return nil
}

func users(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: fair users create --role R --email E --password P [--name N]")
	}
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(out)
	role := fs.String("role", "shopper", "shopper, merchant, organizer or admin (runs the queues)")
	email := fs.String("email", "", "email address")
	password := fs.String("password", "", "password")
	name := fs.String("name", "", "display name (default: the email's local part)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	accounts, err := account.NewAccounts(ctx, db, catalog.SystemClock, cfg.PasswordMemoryKiB, cfg.PasswordIterations)
	if err != nil {
		return err
	}
	u, err := accounts.CreateUser(ctx, account.NewUser{Email: *email, Password: *password, Name: *name, Role: catalog.Role(*role)})
	if err != nil {
		return err
	}
	log.Info("user created", "id", u.ID, "email", u.Email, "role", u.Role)
	fmt.Fprintf(out, "created %s %s (%s)\n", u.Role, u.Email, u.ID)
	return nil
}

// openMigrated opens the configured database with every migration applied,
// for the commands that work on it directly.
func openMigrated(ctx context.Context, cfg Config) (*bun.DB, error) {
	db, err := migrations.OpenDB(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if _, err := migrateUp(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// migrateUp applies pending migrations. When the rollups' migration is among
// them, the rollups are filled from the orders already there.
func migrateUp(ctx context.Context, db *bun.DB) ([]string, error) {
	applied, err := migrations.Up(ctx, db)
	if err != nil {
		return nil, err
	}
	if slices.Contains(applied, migrations.Rollups) {
		if err := orders.RebuildRollups(ctx, db, ""); err != nil {
			return applied, fmt.Errorf("filling the rollups: %w", err)
		}
	}
	return applied, nil
}

// opsEnv is what the operator tools get of the configuration.
func opsEnv(cfg Config, log *slog.Logger) ops.Env {
	return ops.Env{
		Log: log, DataDir: cfg.DataDir,
		PasswordMemoryKiB: cfg.PasswordMemoryKiB, PasswordIterations: cfg.PasswordIterations,
		OpenDB: func(ctx context.Context) (*bun.DB, error) { return openMigrated(ctx, cfg) },
		OpenPlatform: func(ctx context.Context) (*ops.Platform, error) {
			p, err := OpenPlatform(ctx, cfg, log)
			if err != nil {
				return nil, err
			}
			if err := p.Migrate(ctx); err != nil {
				p.Close()
				return nil, err
			}
			return &ops.Platform{DB: p.DB, Redis: p.Redis, Embedded: p.Embedded(), Close: p.Close}, nil
		},
	}
}
