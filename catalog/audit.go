package catalog

import (
	"context"
	"encoding/json"
	"reflect"
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

// Diff is the Change of an edit: the fields (by their JSON names) whose
// values differ between before and after, each side with its own value;
// the bookkeeping fields updated_at and images are left out. before and
// after are values of one type that marshals to a JSON object.
func Diff(before, after any) Change {
	b, a := jsonFields(before), jsonFields(after)
	ch := Change{Before: map[string]any{}, After: map[string]any{}}
	for k, av := range a {
		if k == "updated_at" || k == "images" {
			continue
		}
		if bv, ok := b[k]; !ok || !reflect.DeepEqual(bv, av) {
			ch.Before.(map[string]any)[k], ch.After.(map[string]any)[k] = b[k], av
		}
	}
	return ch
}

// Changed reports whether a Diff found a difference.
func (c Change) Changed() bool {
	m, ok := c.After.(map[string]any)
	return !ok || len(m) > 0
}

// Only reports whether a Diff's differences are exactly the fields named.
func (c Change) Only(fields ...string) bool {
	m, ok := c.After.(map[string]any)
	if !ok || len(m) != len(fields) {
		return false
	}
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			return false
		}
	}
	return true
}

// jsonFields is v's JSON object as a map (nil for anything else).
func jsonFields(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}
