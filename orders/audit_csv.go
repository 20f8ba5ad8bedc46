package orders

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"miaohui/catalog"
)

// The fair's audit log as a spreadsheet. The log is the catalog's; it is
// served here so that it is written by csvOf, which every CSV of the server
// goes through (it neutralises cells a spreadsheet would run as formulas:
// a stall's name or a rejection reason is typed by people).

// maxAuditCSV bounds the entries one download holds.
const maxAuditCSV = 100000

// auditRoutes registers the audit log's CSV (called from Routes).
func (h *Handler) auditRoutes(api huma.API) {
	fairs := catalog.Tag("Fairs")
	huma.Register(api, fairs.Signed("fair-audit-csv", http.MethodGet, "/fairs/{slug}/audit.csv", "Who did what at the fair, newest first, as CSV (its organizer)", 0, 403, 404, 422), catalog.SignedInRaw(h.actor, h.fairAuditCSV))
}

type fairAuditCSVIn struct {
	Slug    string `path:"slug"`
	Action  string `query:"action" maxLength:"64" doc:"only this action, e.g. stall.suspend"`
	ActorID string `query:"actor_id" maxLength:"64" doc:"only this user's actions"`
}

func (h *Handler) fairAuditCSV(ctx context.Context, a catalog.Actor, in *fairAuditCSVIn) (*csvOut, error) {
	b, err := h.svc.AuditCSV(ctx, a, in.Slug, catalog.AuditQuery{Action: in.Action, ActorID: in.ActorID})
	if err != nil {
		return nil, err
	}
	return newCSVOut(in.Slug+"-audit", b), nil
}

// AuditCSV is the fair's audit log (filtered as q asks; its page is
// ignored), newest first, as CSV; only the fair's organizer may read it.
func (s *Service) AuditCSV(ctx context.Context, a catalog.Actor, slug string, q catalog.AuditQuery) ([]byte, error) {
	var rows [][]any
	q.Page = catalog.Page{Limit: catalog.MaxLimit}
	for len(rows) < maxAuditCSV {
		items, next, err := s.catalog.AuditLog(ctx, a, slug, q)
		if err != nil {
			return nil, err
		}
		for _, e := range items {
			rows = append(rows, []any{e.At, e.ActorID, e.Action, e.Subject, string(e.Detail)})
		}
		if next == nil {
			break
		}
		q.Page.Cursor = *next
	}
	return csvOf([]string{"at", "actor_id", "action", "subject", "detail"}, rows), nil
}
