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
