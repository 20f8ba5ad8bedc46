package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// The organizer's console at scale: a fair's applications and stalls paged,
// filtered by status and searched; many applications decided at once; booth
// numbers the organizer sets.

// ApplicationQuery filters a fair's applications for its organizer.
type ApplicationQuery struct {
	// Status keeps one status ("" for all).
	Status string
	// Q matches the stall's name (any part, any case) or the merchant's
	// email (the whole address).
	Q    string
	Page Page
}

// StallQuery filters a fair's stalls.
type StallQuery struct {
	// Status keeps one status ("" for all); everyone but the organizer sees
	// active stalls only whatever they ask.
	Status string
	// Q matches the stall's name (any part, any case) or its booth number;
	// for the organizer also the merchant's email (the whole address).
	Q    string
	Page Page
}

// MaxQuery bounds a console search's text.
const MaxQuery = 100

// likePattern is q as a LIKE pattern matching any text that contains it,
// its own % and _ taken literally (with ESCAPE '!').
func likePattern(q string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + strings.ToLower(r.Replace(q)) + "%"
}

// checkQuery validates a search's text and status.
func checkQuery(q, status string, statuses ...string) (string, error) {
	q = strings.TrimSpace(q)
	var c Check
	c.That(utf8.RuneCountInString(q) <= MaxQuery, "q", "must be at most 100 characters")
	ok := status == ""
	for _, s := range statuses {
		ok = ok || status == s
	}
	c.That(ok, "status", "must be one of "+strings.Join(statuses, ", "))
	return q, c.Err()
}

// merchantByEmail is the id of the user whose whole email q is, when q looks
// like one; "" otherwise.
func (s *Service) merchantByEmail(ctx context.Context, q string) (string, error) {
	if !strings.Contains(q, "@") || s.people == nil {
		return "", nil
	}
	return s.people.UserIDByEmail(ctx, q)
}

// SearchApplications pages a fair's applications for its organizer, oldest
// first, filtered by status and searched by stall name or merchant email.
func (s *Service) SearchApplications(ctx context.Context, a Actor, slug string, in ApplicationQuery) ([]Application, *string, error) {
	q, err := checkQuery(in.Q, in.Status, ApplicationPending, ApplicationApproved, ApplicationRejected)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.ownFair(ctx, s.db, a, slug)
	if err != nil {
		return nil, nil, err
	}
	p := in.Page
	var rows []Application
	sel := s.db.NewSelect().Model(&rows).Where("fair_id = ?", f.ID).OrderExpr("id ASC").Limit(p.Size() + 1)
	if in.Status != "" {
		sel = sel.Where("status = ?", in.Status)
	}
	if q != "" {
		merchant, err := s.merchantByEmail(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		sel = sel.WhereGroup(" AND ", func(w *bun.SelectQuery) *bun.SelectQuery {
			w = w.Where("lower(stall_name) LIKE ? ESCAPE '!'", likePattern(q))
			if merchant != "" {
				w = w.WhereOr("merchant_id = ?", merchant)
			}
			return w
		})
	}
	if p.Cursor != "" {
		sel = sel.Where("id > ?", p.Cursor)
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := NextCursor(p, rows, func(a Application) string { return a.ID })
	return rows, next, nil
}

// SearchStalls pages a fair's stalls in id order: active ones for
// everyone, all of them (or one status) for its organizer; searched by
// name, booth number, or (the organizer) the merchant's email.
func (s *Service) SearchStalls(ctx context.Context, a Actor, slug string, in StallQuery) ([]Stall, *string, error) {
	q, err := checkQuery(in.Q, in.Status, StallActive, StallSuspended)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.Fair(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	organizer := a.UserID != "" && f.OrganizerID == a.UserID
	p := in.Page
	var rows []Stall
	sel := s.db.NewSelect().Model(&rows).Where("fair_id = ?", f.ID).OrderExpr("id ASC").Limit(p.Size() + 1)
	switch {
	case !organizer:
		if in.Status == StallSuspended {
			return []Stall{}, nil, nil
		}
		sel = sel.Where("status = ?", StallActive)
	case in.Status != "":
		sel = sel.Where("status = ?", in.Status)
	}
	if q != "" {
		merchant := ""
		if organizer {
			if merchant, err = s.merchantByEmail(ctx, q); err != nil {
				return nil, nil, err
			}
		}
		sel = sel.WhereGroup(" AND ", func(w *bun.SelectQuery) *bun.SelectQuery {
			w = w.Where("lower(name) LIKE ? ESCAPE '!'", likePattern(q)).WhereOr("lower(booth) = ?", strings.ToLower(q))
			if merchant != "" {
				w = w.WhereOr("merchant_id = ?", merchant)
			}
			return w
		})
	}
	if p.Cursor != "" {
		sel = sel.Where("id > ?", p.Cursor)
	}
	if err := sel.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := NextCursor(p, rows, func(s Stall) string { return s.ID })
	if !organizer {
		for i := range rows {
			rows[i].StatusReason = "" // between the organizer and the merchant
		}
	}
	return rows, next, nil
}

// Bulk decisions.
const (
	BulkApprove = "approve"
	BulkReject  = "reject"
	// MaxBulk is how many applications one bulk decision may name.
	MaxBulk = 100
)

// BulkResult is what became of one application of a bulk decision.
type BulkResult struct {
	ID string `json:"id"`
	// OK tells whether this application was decided now.
	OK bool `json:"ok"`
	// Status is the application's status after the attempt.
	Status string `json:"status,omitempty" enum:"pending,approved,rejected"`
	// StallID and Booth name the stall an approval opened.
	StallID string `json:"stall_id,omitempty"`
	Booth   string `json:"booth,omitempty"`
	// Code and Detail say why it was not decided: not_found, conflict (it
	// was already decided), ...
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// BulkDecide approves or rejects many of a fair's applications at once;
// only its organizer may. Each application is decided in a transaction of
// its own, exactly as one decision would be (the same checks, booth number,
// audit entry and notice), so one that cannot be decided (not the fair's,
// already decided) is reported in its result and the others go on. A
// rejection needs a reason, which every rejected merchant is told.
func (s *Service) BulkDecide(ctx context.Context, a Actor, slug string, ids []string, action, reason string) ([]BulkResult, error) {
	reason = strings.TrimSpace(reason)
	var c Check
	c.That(action == BulkApprove || action == BulkReject, "action", "must be approve or reject")
	c.That(len(ids) >= 1 && len(ids) <= MaxBulk, "ids", fmt.Sprintf("must name 1 to %d applications", MaxBulk))
	c.That(action != BulkReject || reason != "" && utf8.RuneCountInString(reason) <= 500, "reason", "must be 1 to 500 characters")
	c.That(utf8.RuneCountInString(reason) <= 500, "reason", "must be at most 500 characters")
	seen := map[string]bool{}
	for i, id := range ids {
		c.That(id != "" && len(id) <= 64, fmt.Sprintf("ids[%d]", i), "must be an application id")
		c.That(!seen[id], fmt.Sprintf("ids[%d]", i), "is listed twice")
		seen[id] = true
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	f, err := s.ownFair(ctx, s.db, a, slug)
	if err != nil {
		return nil, err
	}
	var ofFair []string
	if err := s.db.NewSelect().Model((*Application)(nil)).Column("id").Where("fair_id = ?", f.ID).Where("id IN (?)", bun.In(ids)).Scan(ctx, &ofFair); err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, id := range ofFair {
		mine[id] = true
	}
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		r := BulkResult{ID: id}
		if !mine[id] {
			r.Code, r.Detail = "not_found", "application: not found"
			out = append(out, r)
			continue
		}
		var app *Application
		var st *Stall
		if action == BulkApprove {
			app, st, err = s.Approve(ctx, a, id)
		} else {
			app, err = s.Reject(ctx, a, id, reason)
		}
		switch {
		case err == nil:
			r.OK, r.Status = true, app.Status
			if st != nil {
				r.StallID, r.Booth = st.ID, st.Booth
			}
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden), errors.Is(err, ErrGone):
			r.Code, r.Detail = ErrorCode(err), err.Error()
			var de *DomainError
			if errors.As(err, &de) {
				r.Detail = de.Detail
			}
			var cur Application
			if s.db.NewSelect().Model(&cur).Column("status").Where("id = ?", id).Scan(ctx) == nil {
				r.Status = cur.Status
			}
		default:
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ErrorCode is the problem code of a domain error, as the HTTP layer
// answers it: a CodedError's own, else its sentinel's.
func ErrorCode(err error) string {
	var coded *CodedError
	var ve *ValidationError
	switch {
	case errors.As(err, &coded):
		return coded.Code()
	case errors.As(err, &ve):
		return "validation_failed"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrGone):
		return "ended"
	}
	return "internal_error"
}

// boothPattern is what a booth number may be: letters, digits and dashes,
// starting with a letter or digit.
var boothPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

// SetBooth gives a stall the booth number the organizer chose (a stall's
// number is otherwise the next free one when it is approved); only the
// fair's organizer may. A number another stall of the fair has is
// ErrConflict. The floor plan follows: the stall's place on it is
// renumbered, or, when the plan has an empty booth of that number, the
// stall moves there; a booth of that number where another stall stands is
// ErrConflict.
func (s *Service) SetBooth(ctx context.Context, a Actor, id, booth string) (*Stall, error) {
	booth = strings.TrimSpace(booth)
	if n := len(booth); n < 1 || n > MaxBoothLabel || !boothPattern.MatchString(booth) {
		return nil, Invalid("booth", "must be 1 to 20 letters, digits and dashes, e.g. A-012")
	}
	var st *Stall
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sa, err := s.stallAccess(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if !sa.Organizer {
			return Fail(ErrForbidden, "only the fair's organizer sets booth numbers")
		}
		st = sa.Stall
		if st.Booth == booth {
			return nil
		}
		// Booth numbers of a fair change one at a time: take the fair's row.
		var locked string
		if err := ForUpdate(tx.NewSelect().Model((*Fair)(nil)).Column("id").Where("id = ?", st.FairID)).Scan(ctx, &locked); err != nil {
			return err
		}
		taken, err := tx.NewSelect().Model((*Stall)(nil)).Where("fair_id = ? AND booth = ? AND id <> ?", st.FairID, booth, st.ID).Exists(ctx)
		if err != nil {
			return err
		}
		if taken {
			return Failf(ErrConflict, "booth %s is another stall's", booth)
		}
		if err := moveOnPlan(ctx, tx, st.FairID, st.ID, booth); err != nil {
			return err
		}
		old := st.Booth
		st.Booth, st.UpdatedAt = booth, s.now()
		if _, err := tx.NewUpdate().Model(st).Column("booth", "updated_at").WherePK().Exec(ctx); err != nil {
			if IsUniqueViolation(err) {
				return Failf(ErrConflict, "booth %s is another stall's", booth)
			}
			return err
		}
		return Audit(ctx, tx, st.UpdatedAt, a, st.FairID, "stall.booth", st.ID, Change{Before: map[string]string{"booth": old}, After: map[string]string{"booth": booth}})
	})
	return st, err
}

// moveOnPlan keeps the fair's floor plan in step with a stall's new booth
// number (see SetBooth).
func moveOnPlan(ctx context.Context, tx bun.IDB, fairID, stallID, booth string) error {
	m := new(fairMap)
	err := tx.NewSelect().Model(m).Where("fair_id = ?", fairID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no plan
	}
	if err != nil {
		return err
	}
	var booths []Booth
	if err := json.Unmarshal([]byte(m.Booths), &booths); err != nil {
		return err
	}
	at, target := -1, -1
	for i, b := range booths {
		if b.StallID == stallID {
			at = i
		}
		if b.Booth == booth {
			target = i
		}
	}
	switch {
	case target >= 0 && booths[target].StallID != "" && booths[target].StallID != stallID:
		return Failf(ErrConflict, "another stall stands at booth %s on the floor plan", booth)
	case target >= 0:
		// An empty booth of that number: the stall moves there.
		if at >= 0 && at != target {
			booths[at].StallID = ""
		}
		booths[target].StallID = stallID
	case at >= 0:
		booths[at].Booth = booth
	default:
		return nil // not on the plan
	}
	raw, err := json.Marshal(booths)
	if err != nil {
		return err
	}
	_, err = tx.NewUpdate().Model((*fairMap)(nil)).Set("booths = ?", string(raw)).Where("fair_id = ?", fairID).Exec(ctx)
	return err
}

// nextBooth is the first free booth number of the fair after its n stalls:
// prefix-(n+1), or the next one up that no stall has taken.
func nextBooth(ctx context.Context, tx bun.IDB, f *Fair) (string, error) {
	n, err := tx.NewSelect().Model((*Stall)(nil)).Where("fair_id = ?", f.ID).Count(ctx)
	if err != nil {
		return "", err
	}
	for i := n + 1; ; i++ {
		b := fmt.Sprintf("%s-%03d", boothPrefix(f), i)
		taken, err := tx.NewSelect().Model((*Stall)(nil)).Where("fair_id = ? AND booth = ?", f.ID, b).Exists(ctx)
		if err != nil || !taken {
			return b, err
		}
	}
}

// PendingApplications counts a fair's applications awaiting a decision, for
// its organizer.
func (s *Service) PendingApplications(ctx context.Context, a Actor, slug string) (int, error) {
	f, err := s.ownFair(ctx, s.db, a, slug)
	if err != nil {
		return 0, err
	}
	n, err := s.db.NewSelect().Model((*Application)(nil)).Where("fair_id = ? AND status = ?", f.ID, ApplicationPending).Count(ctx)
	return int(n), err
}
