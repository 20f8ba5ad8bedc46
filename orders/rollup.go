package orders

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Rollups keep a fair's sales summed by stall and fulfilment, by hour, by
// stall and product category, and its distinct paying buyers. The
// transactions that pay, refund and redeem orders add their changes to them,
// so the totals API and the dashboards read a few thousand rows whatever
// the number of orders. An order counts from the moment it is paid (its
// status stays among PaidStatuses from then on); its refunds count against
// the hour it was paid in, as the totals by day always have. A refund is
// shared among the order's lines in proportion to their totals (Split), so
// the categories add up to the fair.

// rollupShards is how many rows share one key's sums in the incremental
// path: the payments of one busy stall are spread over them instead of
// queuing on one row lock. RebuildRollups writes shard 0 only.
const rollupShards = 8

func rollupShard(orderID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(orderID))
	return int(h.Sum32() % rollupShards)
}

// unixHour is the hour since the Unix epoch a time falls in.
func unixHour(t time.Time) int64 { return t.Unix() / 3600 }

type rollupStall struct {
	bun.BaseModel `bun:"table:rollup_stalls"`

	StallID     string `bun:",pk"`
	Fulfillment string `bun:",pk"`
	Shard       int    `bun:",pk"`
	FairID      string
	Orders      int64
	Paid        Money
	Refunded    Money
	Redeemed    int64
}

type rollupHour struct {
	bun.BaseModel `bun:"table:rollup_hours"`

	ScopeID      string `bun:",pk"` // the fair's id or a stall's
	Hour         int64  `bun:",pk"`
	Shard        int    `bun:",pk"`
	FairID       string
	Orders       int64
	Paid         Money
	Refunded     Money
	Participants int64 // buyers new to the scope in this hour
}

type rollupCategory struct {
	bun.BaseModel `bun:"table:rollup_categories"`

	StallID  string `bun:",pk"`
	Category string `bun:",pk"`
	Shard    int    `bun:",pk"`
	FairID   string
	Units    int64
	Paid     Money
	Refunded Money
}

type rollupBuyer struct {
	bun.BaseModel `bun:"table:rollup_buyers"`

	ScopeID string `bun:",pk"`
	BuyerID string `bun:",pk"`
	FairID  string
}

// rollupOrder is what the rollups need to know of an order.
type rollupOrder struct {
	ID, FairID, StallID, BuyerID, Fulfillment string
	Total, Refunded                           Money
	PaidAt                                    time.Time
	Redeemed                                  bool
	Lines                                     []rollupLine // in item id order
}

type rollupLine struct {
	Category  string
	Quantity  int64
	LineTotal Money
}

type (
	stallKey struct {
		stall, fulfillment string
		shard              int
	}
	hourKey struct {
		scope string
		hour  int64
		shard int
	}
	categoryKey struct {
		stall, category string
		shard           int
	}
	buyerKey struct{ scope, buyer string }
)

// rollup collects changes to the rollups, to be written by flush (adding to
// what is there) or by insert (into emptied rows).
type rollup struct {
	shard  func(orderID string) int
	fresh  bool // rebuilding into empty rollups: a buyer not seen yet is new
	stalls map[stallKey]*rollupStall
	hours  map[hourKey]*rollupHour
	cats   map[categoryKey]*rollupCategory
	buyers map[buyerKey]*rollupHour // the hour row that counts the buyer if new
}

func newRollup(shard func(string) int) *rollup {
	return &rollup{shard: shard, stalls: map[stallKey]*rollupStall{}, hours: map[hourKey]*rollupHour{},
		cats: map[categoryKey]*rollupCategory{}, buyers: map[buyerKey]*rollupHour{}}
}

func (r *rollup) stall(o *rollupOrder) *rollupStall {
	k := stallKey{o.StallID, o.Fulfillment, r.shard(o.ID)}
	row := r.stalls[k]
	if row == nil {
		row = &rollupStall{StallID: k.stall, Fulfillment: k.fulfillment, Shard: k.shard, FairID: o.FairID}
		r.stalls[k] = row
	}
	return row
}

// hoursOf returns the order's hour rows: the fair's and its stall's.
func (r *rollup) hoursOf(o *rollupOrder) [2]*rollupHour {
	var rows [2]*rollupHour
	for i, scope := range [2]string{o.FairID, o.StallID} {
		k := hourKey{scope, unixHour(o.PaidAt), r.shard(o.ID)}
		row := r.hours[k]
		if row == nil {
			row = &rollupHour{ScopeID: scope, Hour: k.hour, Shard: k.shard, FairID: o.FairID}
			r.hours[k] = row
		}
		rows[i] = row
	}
	return rows
}

func (r *rollup) category(o *rollupOrder, category string) *rollupCategory {
	k := categoryKey{o.StallID, category, r.shard(o.ID)}
	row := r.cats[k]
	if row == nil {
		row = &rollupCategory{StallID: k.stall, Category: k.category, Shard: k.shard, FairID: o.FairID}
		r.cats[k] = row
	}
	return row
}

// paid counts an order that was just paid, with what it has already had
// refunded and whether it was redeemed (both only when rebuilding).
func (r *rollup) paid(o *rollupOrder) {
	s := r.stall(o)
	s.Orders++
	s.Paid += o.Total
	hours := r.hoursOf(o)
	for i, h := range hours {
		h.Orders++
		h.Paid += o.Total
		// The buyer, in the fair's and in the stall's scope: flush counts them
		// if the database did not know them yet, a rebuild at once.
		k := buyerKey{h.ScopeID, o.BuyerID}
		if _, seen := r.buyers[k]; !seen {
			r.buyers[k] = hours[i]
			if r.fresh {
				h.Participants++
			}
		}
	}
	for _, l := range o.Lines {
		c := r.category(o, l.Category)
		c.Units += l.Quantity
		c.Paid += l.LineTotal
	}
	if o.Refunded > 0 {
		r.refunded(o, 0, o.Refunded)
	}
	if o.Redeemed {
		r.redeemed(o)
	}
}

// refunded counts a paid order's refunded amount going from before to after.
func (r *rollup) refunded(o *rollupOrder, before, after Money) {
	d := after - before
	if d == 0 {
		return
	}
	r.stall(o).Refunded += d
	for _, h := range r.hoursOf(o) {
		h.Refunded += d
	}
	b, a := lineRefunds(o.Lines, before), lineRefunds(o.Lines, after)
	for i, l := range o.Lines {
		r.category(o, l.Category).Refunded += a[i] - b[i]
	}
}

// redeemed counts a paid order whose code was redeemed.
func (r *rollup) redeemed(o *rollupOrder) { r.stall(o).Redeemed++ }

// lineRefunds shares an order's refunded amount among its lines in
// proportion to their totals; the parts add up to refunded.
func lineRefunds(lines []rollupLine, refunded Money) []Money {
	w := make([]Money, len(lines))
	for i, l := range lines {
		w[i] = l.LineTotal
	}
	return Split(refunded, w)
}

func sortedValues[K comparable, V any](m map[K]*V, less func(a, b *V) int) []*V {
	vs := slices.Collect(maps.Values(m))
	slices.SortFunc(vs, less)
	return vs
}

// The rows in key order: concurrent transactions lock them in the same order.
func (r *rollup) rows() ([]*rollupStall, []*rollupHour, []*rollupCategory) {
	stalls := sortedValues(r.stalls, func(a, b *rollupStall) int {
		return cmp.Or(cmp.Compare(a.StallID, b.StallID), cmp.Compare(a.Fulfillment, b.Fulfillment), cmp.Compare(a.Shard, b.Shard))
	})
	hours := sortedValues(r.hours, func(a, b *rollupHour) int {
		return cmp.Or(cmp.Compare(a.ScopeID, b.ScopeID), cmp.Compare(a.Hour, b.Hour), cmp.Compare(a.Shard, b.Shard))
	})
	cats := sortedValues(r.cats, func(a, b *rollupCategory) int {
		return cmp.Or(cmp.Compare(a.StallID, b.StallID), cmp.Compare(a.Category, b.Category), cmp.Compare(a.Shard, b.Shard))
	})
	return stalls, hours, cats
}

func (r *rollup) buyerRows() []rollupBuyer {
	buyers := make([]rollupBuyer, 0, len(r.buyers))
	for k, h := range r.buyers {
		buyers = append(buyers, rollupBuyer{ScopeID: k.scope, BuyerID: k.buyer, FairID: h.FairID})
	}
	slices.SortFunc(buyers, func(a, b rollupBuyer) int {
		return cmp.Or(cmp.Compare(a.ScopeID, b.ScopeID), cmp.Compare(a.BuyerID, b.BuyerID))
	})
	return buyers
}

// flush adds the collected changes to the rollups, inside the transaction
// that made them. The buyers go first: those the database did not know yet
// are new participants in their hour.
func (r *rollup) flush(ctx context.Context, tx bun.IDB) error {
	if buyers := r.buyerRows(); len(buyers) > 0 {
		var fresh []rollupBuyer
		err := tx.NewInsert().Model(&buyers).On("CONFLICT DO NOTHING").Returning("scope_id, buyer_id").Scan(ctx, &fresh)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, b := range fresh {
			r.buyers[buyerKey{b.ScopeID, b.BuyerID}].Participants++
		}
	}
	stalls, hours, cats := r.rows()
	if len(stalls) > 0 {
		_, err := tx.NewInsert().Model(&stalls).
			On("CONFLICT (stall_id, fulfillment, shard) DO UPDATE").
			Set("orders = ?TableAlias.orders + EXCLUDED.orders").
			Set("paid = ?TableAlias.paid + EXCLUDED.paid").
			Set("refunded = ?TableAlias.refunded + EXCLUDED.refunded").
			Set("redeemed = ?TableAlias.redeemed + EXCLUDED.redeemed").
			Exec(ctx)
		if err != nil {
			return err
		}
	}
	if len(hours) > 0 {
		_, err := tx.NewInsert().Model(&hours).
			On("CONFLICT (scope_id, hour, shard) DO UPDATE").
			Set("orders = ?TableAlias.orders + EXCLUDED.orders").
			Set("paid = ?TableAlias.paid + EXCLUDED.paid").
			Set("refunded = ?TableAlias.refunded + EXCLUDED.refunded").
			Set("participants = ?TableAlias.participants + EXCLUDED.participants").
			Exec(ctx)
		if err != nil {
			return err
		}
	}
	if len(cats) > 0 {
		_, err := tx.NewInsert().Model(&cats).
			On("CONFLICT (stall_id, category, shard) DO UPDATE").
			Set("units = ?TableAlias.units + EXCLUDED.units").
			Set("paid = ?TableAlias.paid + EXCLUDED.paid").
			Set("refunded = ?TableAlias.refunded + EXCLUDED.refunded").
			Exec(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}

// rollupOrderRow is an order with one of its lines, as loadRollupOrders reads them.
type rollupOrderRow struct {
	ID          string
	FairID      string
	StallID     string
	BuyerID     string
	Fulfillment string
	Total       Money
	Refunded    Money
	PaidAt      time.Time
	RedeemedAt  *time.Time
	Category    string
	Quantity    int64
	LineTotal   Money
}

// rollupOrders reads the paid orders among ids with their lines.
func rollupOrders(ctx context.Context, db bun.IDB, ids []string) ([]*rollupOrder, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []rollupOrderRow
	err := db.NewSelect().TableExpr("orders AS o").Join("JOIN order_items AS i ON i.order_id = o.id").
		ColumnExpr("o.id, o.fair_id, o.stall_id, o.buyer_id, o.fulfillment, o.total, o.refunded, o.paid_at, o.redeemed_at").
		ColumnExpr("i.category, i.quantity, i.line_total").
		Where("o.status IN (?)", bun.In(PaidStatuses)).Where("o.id IN (?)", bun.In(ids)).
		OrderExpr("o.id, i.id").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	var out []*rollupOrder
	var cur *rollupOrder
	for _, row := range rows {
		if cur == nil || cur.ID != row.ID {
			cur = &rollupOrder{ID: row.ID, FairID: row.FairID, StallID: row.StallID, BuyerID: row.BuyerID, Fulfillment: row.Fulfillment,
				Total: row.Total, Refunded: row.Refunded, PaidAt: row.PaidAt, Redeemed: row.RedeemedAt != nil}
			out = append(out, cur)
		}
		cur.Lines = append(cur.Lines, rollupLine{Category: row.Category, Quantity: row.Quantity, LineTotal: row.LineTotal})
	}
	return out, nil
}

// rollupPaid adds orders just paid to the rollups, in their transaction.
func rollupPaid(ctx context.Context, tx bun.IDB, ids []string) error {
	os, err := rollupOrders(ctx, tx, ids)
	if err != nil {
		return err
	}
	r := newRollup(rollupShard)
	for _, o := range os {
		r.paid(o)
	}
	return r.flush(ctx, tx)
}

// rollupOne applies f to one paid order's rollups, in its transaction.
func rollupOne(ctx context.Context, tx bun.IDB, orderID string, f func(*rollup, *rollupOrder)) error {
	os, err := rollupOrders(ctx, tx, []string{orderID})
	if err != nil || len(os) == 0 {
		return err
	}
	r := newRollup(rollupShard)
	f(r, os[0])
	return r.flush(ctx, tx)
}

// rebuildBatch is how many orders RebuildRollups reads at a time.
const rebuildBatch = 5000

// rollupTables are the rollups, in the order they are written.
var rollupTables = []string{"rollup_stalls", "rollup_hours", "rollup_categories", "rollup_buyers"}

// RebuildRollups recomputes the rollups of one fair (or of every fair when
// fairID is empty) from its orders. It is safe while orders are being paid:
// on PostgreSQL it locks the rollups against writers first, so a payment
// either committed before it read the orders or adds itself afterwards;
// SQLite runs one writer at a time.
func RebuildRollups(ctx context.Context, db *bun.DB, fairID string) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if tx.Dialect().Name() == dialect.PG {
			if _, err := tx.ExecContext(ctx, "LOCK TABLE rollup_stalls, rollup_hours, rollup_categories, rollup_buyers IN SHARE ROW EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		for _, t := range rollupTables {
			q := tx.NewDelete().TableExpr(t)
			if fairID != "" {
				q = q.Where("fair_id = ?", fairID)
			} else {
				q = q.Where("1 = 1")
			}
			if _, err := q.Exec(ctx); err != nil {
				return err
			}
		}
		r := newRollup(func(string) int { return 0 })
		r.fresh = true
		// The orders by id, a few thousand at a time.
		for after := ""; ; {
			var ids []string
			q := tx.NewSelect().TableExpr("orders").Column("id").Where("status IN (?)", bun.In(PaidStatuses)).
				Where("id > ?", after).OrderExpr("id").Limit(rebuildBatch)
			if fairID != "" {
				q = q.Where("fair_id = ?", fairID)
			}
			if err := q.Scan(ctx, &ids); err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			os, err := rollupOrders(ctx, tx, ids)
			if err != nil {
				return err
			}
			for _, o := range os {
				r.paid(o)
			}
			after = ids[len(ids)-1]
		}
		stalls, hours, cats := r.rows()
		if err := insertBatches(ctx, tx, r.buyerRows()); err != nil {
			return err
		}
		if err := insertBatches(ctx, tx, stalls); err != nil {
			return err
		}
		if err := insertBatches(ctx, tx, hours); err != nil {
			return err
		}
		return insertBatches(ctx, tx, cats)
	})
}

// insertBatches inserts rows a thousand at a time.
func insertBatches[T any](ctx context.Context, tx bun.Tx, rows []T) error {
	const batch = 1000
	for i := 0; i < len(rows); i += batch {
		part := rows[i:min(i+batch, len(rows))]
		if _, err := tx.NewInsert().Model(&part).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}
