package catalog

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// PendingApplications counts the applications waiting for a decision in
// each of fairIDs (fairs without any are left out), for the organizer's
// console, which opens on them.
func PendingApplications(ctx context.Context, db bun.IDB, fairIDs []string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(fairIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		FairID string
		N      int64
	}
	err := db.NewSelect().Model((*Application)(nil)).Column("fair_id").ColumnExpr("COUNT(*) AS n").
		Where("fair_id IN (?) AND status = ?", bun.In(fairIDs), ApplicationPending).Group("fair_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("pending applications: %w", err)
	}
	for _, r := range rows {
		out[r.FairID] = r.N
	}
	return out, nil
}

// ApplicationEvents is more that Events may do (the jobs package does): tell
// a fair's organizer of a new application, after it is filed.
type ApplicationEvents interface {
	ApplicationSubmitted(ctx context.Context, app *Application, fair *Fair) error
}

// applicationSubmitted tells the organizer, when the events can; the notice
// is best effort: the application is filed.
func (s *Service) applicationSubmitted(ctx context.Context, app *Application, fair *Fair) {
	if e, ok := s.events.(ApplicationEvents); ok {
		_ = e.ApplicationSubmitted(ctx, app, fair)
	}
}
