package ops

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/uptrace/bun"

	"miaohui/orders"
)

// CheckOutbox reports (it never fails) the outbox messages older than age
// whose task has not run: a relay that is not running, a Redis that is
// down, or tasks failing their retries. Payouts, reversals, receipts and
// restocks wait in them.
func CheckOutbox(ctx context.Context, db bun.IDB, now time.Time, age time.Duration, out io.Writer) error {
	n, oldest, err := orders.OutboxBacklog(ctx, db, now.Add(-age))
	if err != nil {
		fmt.Fprintf(out, "outbox: not checked: %v\n", err)
		return nil
	}
	if n == 0 {
		fmt.Fprintf(out, "outbox OK (nothing waiting longer than %s)\n", age)
		return nil
	}
	fmt.Fprintf(out, "outbox: WARNING %d message(s) waiting longer than %s, the oldest since %s (is a worker running, is Redis up?)\n",
		n, age, oldest.UTC().Format(time.RFC3339))
	return nil
}
