package app

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A database or Redis that cannot be reached right now is a 503 with
// Retry-After, which a client may retry; anything else unknown stays a 500.
func TestUnavailableIs503(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "connection refused", Addr: "127.0.0.1:5432"}}
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"DialRefused", fmt.Errorf("checkout: %w", refused), http.StatusServiceUnavailable},
		{"BadConn", fmt.Errorf("begin: %w", driver.ErrBadConn), http.StatusServiceUnavailable},
		{"ConnectionClosed", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), http.StatusServiceUnavailable},
		{"Reset", fmt.Errorf("write: %w", syscall.ECONNRESET), http.StatusServiceUnavailable},
		{"RedisClosed", redis.ErrClosed, http.StatusServiceUnavailable},
		{"RedisPoolTimeout", redis.ErrPoolTimeout, http.StatusServiceUnavailable},
		{"Unknown", errors.New("boom"), http.StatusInternalServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := problemFor(context.Background(), c.err)
			if p.Status != c.want {
				t.Fatalf("%v → %d, want %d", c.err, p.Status, c.want)
			}
			if c.want == http.StatusServiceUnavailable && (p.Code != "unavailable" || p.retryAfter == 0) {
				t.Fatalf("%v → code %q, retry after %d", c.err, p.Code, p.retryAfter)
			}
		})
	}
}
