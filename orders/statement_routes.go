package orders

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"miaohui/catalog"
)

// statementRoutes registers the merchant's statement and the organizer's
// payables (called from Routes).
func (h *Handler) statementRoutes(api huma.API) {
	const get = http.MethodGet
	payouts := catalog.Tag("Payouts")
	huma.Register(api, payouts.Signed("stall-statement", get, "/stalls/{id}/statement", "A stall's statement: its paid orders in a period with commission, refunds, subsidy, net and payout status, and the period's totals (its merchant)", 0, 403, 404, 422), catalog.SignedIn(h.actor, h.stallStatement))
	huma.Register(api, payouts.Signed("stall-statement-csv", get, "/stalls/{id}/statement.csv", "A stall's statement as CSV, every line of the period (its merchant)", 0, 403, 404, 422), catalog.SignedInRaw(h.actor, h.stallStatementCSV))
	huma.Register(api, payouts.Signed("fair-payables", get, "/fairs/{slug}/payables", "What the fair owes each stall with paid orders: net, paid out, owed (its organizer)", 0, 404), catalog.SignedIn(h.actor, h.fairPayables))
	huma.Register(api, payouts.Signed("fair-payables-csv", get, "/fairs/{slug}/payables.csv", "The fair's payables per stall, as CSV (its organizer)", 0, 404), catalog.SignedInRaw(h.actor, h.fairPayablesCSV))
}

type statementIn struct {
	ID   string `path:"id"`
	From string `query:"from" doc:"RFC 3339, inclusive; paid_at from this time"`
	To   string `query:"to" doc:"RFC 3339, exclusive; paid_at before this time"`
}

type statementPageIn struct {
	ID   string `path:"id"`
	From string `query:"from" doc:"RFC 3339, inclusive; paid_at from this time"`
	To   string `query:"to" doc:"RFC 3339, exclusive; paid_at before this time"`
	catalog.PageQuery
}

func (h *Handler) stallStatement(ctx context.Context, a catalog.Actor, in *statementPageIn) (*Statement, error) {
	p, err := ParsePeriod(in.From, in.To)
	if err != nil {
		return nil, err
	}
	return h.svc.StallStatement(ctx, a, in.ID, p, in.Page())
}

// stallStatementCSV checks access and the period first, so that refusals
// are problems; the lines are then written as they are read.
func (h *Handler) stallStatementCSV(ctx context.Context, a catalog.Actor, in *statementIn) (*huma.StreamResponse, error) {
	p, err := ParsePeriod(in.From, in.To)
	if err != nil {
		return nil, err
	}
	if err := h.svc.CheckStatement(ctx, a, in.ID); err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hc.SetHeader("Content-Disposition", `attachment; filename="stall-`+in.ID+`-statement.csv"`)
		hc.SetStatus(http.StatusOK)
		if err := h.svc.WriteStatementCSV(hc.Context(), a, in.ID, p, hc.BodyWriter()); err != nil {
			// The status is sent: the truncated file is all that can tell.
			hc.BodyWriter().Write([]byte("\nerror: the statement could not be read in full\n")) //nolint:errcheck
		}
	}}, nil
}

func (h *Handler) fairPayables(ctx context.Context, a catalog.Actor, in *slugPath) (*Payables, error) {
	return h.svc.FairPayables(ctx, a, in.Slug)
}

func (h *Handler) fairPayablesCSV(ctx context.Context, a catalog.Actor, in *slugPath) (*csvOut, error) {
	p, err := h.svc.FairPayables(ctx, a, in.Slug)
	if err != nil {
		return nil, err
	}
	return newCSVOut(in.Slug+"-payables", p.CSV()), nil
}
