// Package ops holds the operator's tools: the flash-sale and totals
// benchmarks, the article-scale seed, the totals check and the demo data.
// Each takes what it works on explicitly; none builds the HTTP server.
package ops

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
)

// Env is what the command-line tools are given by the process.
type Env struct {
	Log     *slog.Logger
	DataDir string
	// PasswordMemoryKiB and PasswordIterations are the deployment's argon2id cost.
	PasswordMemoryKiB, PasswordIterations uint32
	// OpenDB opens the deployment's database with every migration applied.
	OpenDB func(ctx context.Context) (*bun.DB, error)
	// OpenPlatform opens the deployment's database (migrated) and Redis.
	OpenPlatform func(ctx context.Context) (*Platform, error)
}

// Platform is a deployment's database and Redis as a tool sees them.
type Platform struct {
	DB    *bun.DB
	Redis redis.UniversalClient
	// Embedded is true when the Redis runs inside this process (so it is not
	// the deployment's).
	Embedded bool
	// Close releases both.
	Close func()
}
