package orders

import (
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// A stall's statement lists its paid orders with what each one is worth to
// the merchant, and the fair's payables sum them per stall for the
// organizer. All amounts are fen; for every order
//
//	gross − refunded + subsidy = commission + net
//
// where the refunds are shared between merchant and platform in proportion
// to the order's shares (merchantPart), the commission is the platform fee
// left after refunds, and the subsidy (an organizer-funded discount) is owed
// to the merchant on top of its share, less its part of the refunds
// (subsidyKept: a refunded sale is not subsidised). What was paid out is the stall's
// transfer for the order once made, less what was taken back after refunds;
// a transfer still being made counts as due, not paid out.

// StatementLine is one paid order of a stall's statement.
type StatementLine struct {
	OrderID      string    `json:"order_id"`
	PaidAt       time.Time `json:"paid_at"`
	Gross        Money     `json:"gross" doc:"the order's total, in fen"`
	Commission   Money     `json:"commission" doc:"the platform's fee left after refunds, in fen"`
	Subsidy      Money     `json:"subsidy" doc:"organizer-funded discount owed to the merchant, in fen"`
	Refunded     Money     `json:"refunded" doc:"refunded to the buyer, in fen"`
	Net          Money     `json:"net" doc:"the merchant's: share less its part of refunds, plus subsidy, in fen"`
	PaidOut      Money     `json:"paid_out" doc:"transferred to the stall, less reversals, in fen"`
	PayoutStatus string    `json:"payout_status" enum:"held,due,paid,none"`
}

// StatementTotals add up a statement's lines (or a stall's payables).
// Owed is net − paid_out; Held is the part of it not yet released (orders
// neither redeemed nor shipped the payout hold ago), Due the rest.
type StatementTotals struct {
	Orders     int64 `json:"orders"`
	Gross      Money `json:"gross"`
	Commission Money `json:"commission"`
	Subsidy    Money `json:"subsidy"`
	Refunded   Money `json:"refunded"`
	Net        Money `json:"net"`
	PaidOut    Money `json:"paid_out"`
	Owed       Money `json:"owed"`
	Held       Money `json:"held" doc:"owed but not yet released"`
	Due        Money `json:"due" doc:"owed and released (owed − held)"`
}

// add counts one line.
func (t *StatementTotals) add(l *StatementLine) {
	t.Orders++
	t.Gross += l.Gross
	t.Commission += l.Commission
	t.Subsidy += l.Subsidy
	t.Refunded += l.Refunded
	t.Net += l.Net
	t.PaidOut += l.PaidOut
	owed := l.Net - l.PaidOut
	t.Owed += owed
	if l.PayoutStatus == PayoutHeld {
		t.Held += owed
	} else {
		t.Due += owed
	}
}

// Statement is one page of a stall's statement over a period, with the
// totals of the whole period.
type Statement struct {
	Currency   string          `json:"currency"`
	StallID    string          `json:"stall_id"`
	From       *time.Time      `json:"from,omitempty" doc:"the period's start (inclusive)"`
	To         *time.Time      `json:"to,omitempty" doc:"the period's end (exclusive)"`
	Lines      []StatementLine `json:"lines" doc:"by paid_at, then order id"`
	NextCursor *string         `json:"next_cursor" nullable:"true"`
	Totals     StatementTotals `json:"totals" doc:"over the whole period, whatever the page"`
}

// Period is a statement's [From, To) on paid_at; a nil end is open.
type Period struct {
	From, To *time.Time
}

// ParsePeriod reads a period from RFC 3339 texts (any offset; empty: open).
func ParsePeriod(from, to string) (Period, error) {
	var p Period
	var c catalog.Check
	parse := func(field, v string) *time.Time {
		if v == "" {
			return nil
		}
		v = strings.TrimSpace(v)
		// A "+" offset sent unencoded in a query arrives as a space.
		if len(v) > 6 && v[len(v)-6] == ' ' {
			v = v[:len(v)-6] + "+" + v[len(v)-5:]
		}
		t, err := time.Parse(time.RFC3339, v)
		c.That(err == nil, field, "must be an RFC 3339 time, such as 2026-02-10T00:00:00+08:00")
		if err != nil {
			return nil
		}
		t = t.UTC()
		return &t
	}
	p.From, p.To = parse("from", from), parse("to", to)
	c.That(p.From == nil || p.To == nil || p.From.Before(*p.To), "to", "must be after from")
	return p, c.Err()
}

// statementRow is what a statement reads of an order and its transfer.
type statementRow struct {
	ID            string
	Status        string
	Total         Money
	PlatformFee   Money
	MerchantShare Money
	Refunded      Money
	Subsidy       Money
	PaidAt        *time.Time
	ShippedAt     *time.Time
	RedeemedAt    *time.Time
	TAmount       sql.NullInt64
	TReversed     sql.NullInt64
	TRef          sql.NullString
}

// statementColumns are the columns statementRow reads from "orders AS o"
// left-joined with "transfers AS t".
const statementColumns = "o.id, o.status, o.total, o.platform_fee, o.merchant_share, o.refunded, o.subsidy, o.paid_at, o.shipped_at, o.redeemed_at, " +
	"t.amount AS t_amount, t.reversed AS t_reversed, t.provider_ref AS t_ref"

// line computes the row's statement line at now.
func (r *statementRow) line(now time.Time, hold time.Duration) StatementLine {
	o := &Order{ID: r.ID, Status: r.Status, Total: r.Total, PlatformFee: r.PlatformFee, MerchantShare: r.MerchantShare,
		Refunded: r.Refunded, Subsidy: r.Subsidy, PaidAt: r.PaidAt, ShippedAt: r.ShippedAt, RedeemedAt: r.RedeemedAt}
	var t *Transfer
	if r.TAmount.Valid {
		t = &Transfer{OrderID: r.ID, Amount: r.TAmount.Int64, Reversed: r.TReversed.Int64, ProviderRef: r.TRef.String}
	}
	return StatementLineOf(o, t, now, hold)
}

// StatementLineOf is an order's statement line given its transfer (nil when
// none was made) at now.
func StatementLineOf(o *Order, t *Transfer, now time.Time, hold time.Duration) StatementLine {
	mp := merchantPart(o, o.Refunded)
	l := StatementLine{
		OrderID: o.ID, Gross: o.Total, Refunded: o.Refunded, Subsidy: subsidyKept(o),
		Commission: o.PlatformFee - (o.Refunded - mp), Net: o.MerchantShare - mp + subsidyKept(o),
		PayoutStatus: PayoutStatusOf(o, t, now, hold),
	}
	if o.PaidAt != nil {
		l.PaidAt = o.PaidAt.UTC()
	}
	if t != nil && t.ProviderRef != "" {
		l.PaidOut = t.Amount - t.Reversed
	}
	return l
}

// statementCursor is where a page of a statement starts: after the line
// paid at t with this order id. It is opaque to clients.
type statementCursor struct {
	at time.Time
	id string
}

func (c statementCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at.UnixNano(), 10) + "." + c.id))
}

func parseStatementCursor(s string) (*statementCursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := catalog.Invalid("cursor", "must be the next_cursor of a previous page")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ns, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, bad
	}
	return &statementCursor{at: time.Unix(0, n).UTC(), id: id}, nil
}

// after reports whether line l comes after the cursor.
func (c *statementCursor) after(l *StatementLine) bool {
	if c == nil {
		return true
	}
	return l.PaidAt.After(c.at) || l.PaidAt.Equal(c.at) && l.OrderID > c.id
}

// merchantStall checks that the actor runs the stall: the fair's organizer,
// who sees the stall, is refused (403); anyone else is told it does not
// exist, a statement being the merchant's private business.
func (s *Service) merchantStall(ctx context.Context, a catalog.Actor, stallID string) (catalog.StallAccess, error) {
	sa, err := s.catalog.Stall(ctx, a, stallID)
	switch {
	case err != nil:
		return sa, err
	case sa.Organizer && !sa.Merchant:
		return sa, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant sees its statement")
	case !sa.Merchant:
		return sa, catalog.Fail(catalog.ErrNotFound, "stall")
	}
	return sa, nil
}

// eachStatementLine calls fn with every line of a stall's statement in the
// period, by paid_at then order id, read one row at a time.
func (s *Service) eachStatementLine(ctx context.Context, stallID string, p Period, fn func(*StatementLine) error) error {
	q := s.db.NewSelect().TableExpr("orders AS o").Join("LEFT JOIN transfers AS t ON t.order_id = o.id").
		ColumnExpr(statementColumns).
		Where("o.stall_id = ? AND o.status IN (?) AND o.paid_at IS NOT NULL", stallID, bun.In(PaidStatuses)).
		OrderExpr("o.paid_at, o.id")
	if p.From != nil {
		q = q.Where("o.paid_at >= ?", *p.From)
	}
	if p.To != nil {
		q = q.Where("o.paid_at < ?", *p.To)
	}
	rows, err := q.Rows(ctx)
	if err != nil {
		return err
	}
	defer rows.Close()
	now, hold := s.now(), s.hold
	for rows.Next() {
		var r statementRow
		if err := s.db.ScanRow(ctx, rows, &r); err != nil {
			return err
		}
		l := r.line(now, hold)
		if err := fn(&l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// StallStatement returns one page of a stall's statement for its merchant,
// with the totals of the whole period.
func (s *Service) StallStatement(ctx context.Context, a catalog.Actor, stallID string, p Period, pg catalog.Page) (*Statement, error) {
	cur, err := parseStatementCursor(pg.Cursor)
	if err != nil {
		return nil, err
	}
	if _, err := s.merchantStall(ctx, a, stallID); err != nil {
		return nil, err
	}
	st := &Statement{Currency: catalog.CurrencyCNY, StallID: stallID, From: p.From, To: p.To, Lines: []StatementLine{}}
	size, more := int(pg.Size()), false
	err = s.eachStatementLine(ctx, stallID, p, func(l *StatementLine) error {
		st.Totals.add(l)
		if cur.after(l) {
			if len(st.Lines) < size {
				st.Lines = append(st.Lines, *l)
			} else {
				more = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if more {
		last := st.Lines[len(st.Lines)-1]
		next := statementCursor{at: last.PaidAt, id: last.OrderID}.String()
		st.NextCursor = &next
	}
	return st, nil
}

// statementCSVHeader names the statement's CSV columns: money in fen, the
// time in Asia/Shanghai.
var statementCSVHeader = []string{"order_id", "paid_at", "gross_fen", "commission_fen", "subsidy_fen", "refunded_fen", "net_fen", "paid_out_fen", "payout_status"}

// CheckStatement checks that the actor may read the stall's statement, so
// that a download can be refused before it starts.
func (s *Service) CheckStatement(ctx context.Context, a catalog.Actor, stallID string) error {
	_, err := s.merchantStall(ctx, a, stallID)
	return err
}

// WriteStatementCSV writes every line of a stall's statement in the period
// as CSV to w, a row as each order is read (call CheckStatement first).
func (s *Service) WriteStatementCSV(ctx context.Context, a catalog.Actor, stallID string, p Period, w io.Writer) error {
	if _, err := s.merchantStall(ctx, a, stallID); err != nil {
		return err
	}
	cw := newCSVStream(w, statementCSVHeader)
	err := s.eachStatementLine(ctx, stallID, p, func(l *StatementLine) error {
		return cw.row(l.OrderID, l.PaidAt.UTC(), l.Gross, l.Commission, l.Subsidy, l.Refunded, l.Net, l.PaidOut, l.PayoutStatus)
	})
	if err != nil {
		return err
	}
	return cw.flush()
}

// StatementTotalsOf sums a stall's whole statement (every paid order), for
// the operator's checks.
func (s *Service) StatementTotalsOf(ctx context.Context, stallID string) (StatementTotals, error) {
	var t StatementTotals
	err := s.eachStatementLine(ctx, stallID, Period{}, func(l *StatementLine) error { t.add(l); return nil })
	return t, err
}

// ---- Payables ----

// Payable is what one stall of a fair is owed.
type Payable struct {
	StallID string `json:"stall_id"`
	Name    string `json:"name"`
	StatementTotals
}

// Payables are what a fair owes its stalls: every stall with paid orders.
type Payables struct {
	Currency string    `json:"currency"`
	Items    []Payable `json:"items" doc:"by stall id"`
	// NextCursor is always null: every stall is in one answer.
	NextCursor *string         `json:"next_cursor" nullable:"true"`
	Totals     StatementTotals `json:"totals"`
}

// FairPayables sums the statements of every stall of a fair with paid
// orders, for its organizer; anyone else is told the fair does not exist.
// Orders without refunds (most of them) are summed by the database, grouped
// by stall and payout state; the refunded ones, whose merchant part is split
// by largest remainder, are read and computed here.
func (s *Service) FairPayables(ctx context.Context, a catalog.Actor, slug string) (*Payables, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	if f.OrganizerID != a.UserID {
		return nil, catalog.Fail(catalog.ErrNotFound, "fair")
	}
	return s.payablesOf(ctx, f.ID)
}

func (s *Service) payablesOf(ctx context.Context, fairID string) (*Payables, error) {
	now, hold := s.now(), s.hold
	by := map[string]*StatementTotals{}
	at := func(id string) *StatementTotals {
		t := by[id]
		if t == nil {
			t = new(StatementTotals)
			by[id] = t
		}
		return t
	}

	// Unrefunded orders: the merchant's part of refunds is 0, so each
	// figure is a plain sum, and what is held is the share and subsidy of
	// the orders PayoutStatusOf calls held (no transfer, a share, not
	// released). The scan reads orders_payables_idx alone, in stall order.
	var groups []struct {
		StallID             string
		Orders              int64
		Gross, Fee, Subsidy Money
		Share, PaidOut      Money
		Held                Money
	}
	held := `CASE WHEN t.order_id IS NULL AND o.merchant_share > 0
		AND o.redeemed_at IS NULL AND (o.shipped_at IS NULL OR o.shipped_at > ? OR o.status = 'refunded')
		THEN o.merchant_share + o.subsidy ELSE 0 END`
	paidOut := `CASE WHEN t.provider_ref IS NOT NULL AND t.provider_ref <> '' THEN t.amount - t.reversed ELSE 0 END`
	err := s.db.NewSelect().TableExpr("orders AS o").Join("LEFT JOIN transfers AS t ON t.order_id = o.id").
		ColumnExpr("o.stall_id, COUNT(*) AS orders, SUM(o.total) AS gross, SUM(o.platform_fee) AS fee, SUM(o.subsidy) AS subsidy, SUM(o.merchant_share) AS share").
		ColumnExpr("SUM("+paidOut+") AS paid_out, SUM("+held+") AS held", now.Add(-hold)).
		Where("o.fair_id = ? AND o.status IN (?) AND o.paid_at IS NOT NULL AND o.refunded = 0", fairID, bun.In(PaidStatuses)).
		GroupExpr("o.stall_id").Scan(ctx, &groups)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		t := at(g.StallID)
		net := g.Share + g.Subsidy
		t.Orders += g.Orders
		t.Gross += g.Gross
		t.Commission += g.Fee
		t.Subsidy += g.Subsidy
		t.Net += net
		t.PaidOut += g.PaidOut
		t.Owed += net - g.PaidOut
		t.Held += g.Held
		t.Due += net - g.PaidOut - g.Held
	}

	// Refunded orders, one by one.
	rows, err := s.db.NewSelect().TableExpr("orders AS o").Join("LEFT JOIN transfers AS t ON t.order_id = o.id").
		ColumnExpr("o.stall_id, "+statementColumns).
		Where("o.fair_id = ? AND o.status IN (?) AND o.paid_at IS NOT NULL AND o.refunded <> 0", fairID, bun.In(PaidStatuses)).
		Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r struct {
			StallID string
			statementRow
		}
		if err := s.db.ScanRow(ctx, rows, &r); err != nil {
			return nil, err
		}
		l := r.line(now, hold)
		at(r.StallID).add(&l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	stalls, err := catalog.StallsOfFair(ctx, s.db, fairID)
	if err != nil {
		return nil, err
	}
	p := &Payables{Currency: catalog.CurrencyCNY, Items: []Payable{}}
	for _, st := range stalls {
		t := by[st.ID]
		if t == nil {
			continue
		}
		p.Items = append(p.Items, Payable{StallID: st.ID, Name: st.Name, StatementTotals: *t})
		p.Totals.Orders += t.Orders
		p.Totals.Gross += t.Gross
		p.Totals.Commission += t.Commission
		p.Totals.Subsidy += t.Subsidy
		p.Totals.Refunded += t.Refunded
		p.Totals.Net += t.Net
		p.Totals.PaidOut += t.PaidOut
		p.Totals.Owed += t.Owed
		p.Totals.Held += t.Held
		p.Totals.Due += t.Due
	}
	slices.SortFunc(p.Items, func(a, b Payable) int { return strings.Compare(a.StallID, b.StallID) })
	return p, nil
}

// payablesCSVHeader names the payables' CSV columns (money in fen).
var payablesCSVHeader = []string{"stall_id", "name", "orders", "gross_fen", "commission_fen", "subsidy_fen", "refunded_fen", "net_fen", "paid_out_fen", "owed_fen", "held_fen", "due_fen"}

// CSV renders the payables, a row per stall.
func (p *Payables) CSV() []byte {
	rows := make([][]any, 0, len(p.Items))
	for _, it := range p.Items {
		rows = append(rows, []any{it.StallID, it.Name, it.Orders, it.Gross, it.Commission, it.Subsidy, it.Refunded, it.Net, it.PaidOut, it.Owed, it.Held, it.Due})
	}
	return csvOf(payablesCSVHeader, rows)
}
