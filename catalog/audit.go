package catalog

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"
)

// AuditEntry is one line of a fair's audit log: who changed what, when, and
// the values before and after.
type AuditEntry struct {
	bun.BaseModel `bun:"table:audit_entries"`

	ID      string    `bun:"id,pk"`
	FairID  string    `bun:"fair_id"`
	At      time.Time `bun:"at"`
	ActorID string    `bun:"actor_id"`
	// Action names what was done, as "object.verb": "application.approve",
	// "stall.suspend", "order.refund", "product.update".
	Action string `bun:"action"`
	// Subject is the id of what it was done to.
	Subject string `bun:"subject"`
	// Detail is a JSON object: "before" and "after" for changes, or the
	// action's own fields (a reason, an amount).
	Detail string `bun:"detail"`
}

// Change is an audit entry's detail for an edit: the values before and after.
type Change struct {
	Before any `json:"before,omitempty"`
	After  any `json:"after,omitempty"`
}

// Audit records an action in the transaction that performs it, so the log
// has an entry exactly when the change committed. detail is marshalled to
// JSON: a Change, or a map of the action's fields; nil records "{}".
func Audit(ctx context.Context, db bun.IDB, at time.Time, a Actor, fairID, action, subject string, detail any) error {
	body := []byte("{}")
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		body = b
	}
	_, err := db.NewInsert().Model(&AuditEntry{
		ID: NewID(), FairID: fairID, At: at, ActorID: a.UserID,
		Action: action, Subject: subject, Detail: string(body),
	}).Exec(ctx)
	return err
}

// AuditItem is an audit entry as the fair's organizer reads it.
type AuditItem struct {
	At      time.Time       `json:"at"`
	ActorID string          `json:"actor_id"`
	Action  string          `json:"action" example:"application.approve"`
	Subject string          `json:"subject" doc:"the id of what it was done to"`
	Detail  json.RawMessage `json:"detail" doc:"a JSON object: before and after of an edit, or the action's own fields"`
	// ID orders the log; it is the cursor of the page after it.
	ID string `json:"id"`
}

// AuditQuery filters a fair's audit log.
type AuditQuery struct {
	Action  string // one action, e.g. "stall.suspend"
	ActorID string // one actor's entries
	Page    Page
}

// AuditLog pages a fair's audit log, newest first; only its organizer may
// read it.
func (s *Service) AuditLog(ctx context.Context, a Actor, slug string, in AuditQuery) ([]AuditItem, *string, error) {
	var c Check
	c.That(len(in.Action) <= 64, "action", "must be at most 64 characters")
	c.That(len(in.ActorID) <= 64, "actor_id", "must be at most 64 characters")
	if err := c.Err(); err != nil {
		return nil, nil, err
	}
	f, err := s.ownFair(ctx, s.db, a, slug)
	if err != nil {
		return nil, nil, err
	}
	p := in.Page
	var rows []AuditEntry
	q := s.db.NewSelect().Model(&rows).Where("fair_id = ?", f.ID).OrderExpr("id DESC").Limit(p.Size() + 1)
	if in.Action != "" {
		q = q.Where("action = ?", in.Action)
	}
	if in.ActorID != "" {
		q = q.Where("actor_id = ?", in.ActorID)
	}
	if p.Cursor != "" {
		q = q.Where("id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := NextCursor(p, rows, func(e AuditEntry) string { return e.ID })
	out := make([]AuditItem, len(rows))
	for i, e := range rows {
		detail := json.RawMessage(e.Detail)
		if !json.Valid(detail) {
			detail = json.RawMessage("{}")
		}
		out[i] = AuditItem{ID: e.ID, At: e.At.UTC(), ActorID: e.ActorID, Action: e.Action, Subject: e.Subject, Detail: detail}
	}
	return out, next, nil
}
