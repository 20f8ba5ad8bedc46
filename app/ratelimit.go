package app

import (
	"context"
	"miaohui/app/account"
	"time"

	"github.com/redis/go-redis/v9"
)

// RateLimiter counts attempts per key in fixed windows kept in Redis, so
// every process of a deployment shares the count.
type RateLimiter struct {
	rdb redis.UniversalClient
}

// fixedWindow increments the key, starts its window on the first hit and
// returns the count and the milliseconds left in the window.
var fixedWindow = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`)

// Allow counts one attempt for each key and refuses when any key is past
// limit within window, with the seconds until it may retry.
func (r *RateLimiter) Allow(ctx context.Context, limit int, window time.Duration, keys ...string) error {
	worst := 0
	for _, k := range keys {
		res, err := fixedWindow.Run(ctx, r.rdb, []string{"rl:" + k}, window.Milliseconds()).Int64Slice()
		if err != nil {
			return err
		}
		if res[0] > int64(limit) {
			secs := int((res[1] + 999) / 1000)
			if secs < 1 {
				secs = 1
			}
			worst = max(worst, secs)
		}
	}
	if worst > 0 {
		return &account.RateLimitedError{RetryAfter: worst}
	}
	return nil
}
