package jobs

import (
	"context"

	"github.com/hibiken/asynq"
)

// TypePurgeSessions deletes expired and revoked sign-ins (hourly).
const TypePurgeSessions = "sessions:purge"

func (w *Worker) handlePurgeSessions(ctx context.Context, _ *asynq.Task) error {
	n, err := w.deps.PurgeSessions(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.deps.Logger.Info("purged sessions", "count", n)
	}
	return nil
}
