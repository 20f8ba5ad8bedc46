package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"golang.org/x/sync/singleflight"

	"miaohui/catalog"
)

// Flash-sale admission errors, each with the contract's code.
var (
	ErrSoldOut      = catalog.Coded("sold_out", catalog.Fail(catalog.ErrConflict, "sold out"))
	ErrLimitReached = catalog.Coded("limit_reached", catalog.Fail(catalog.ErrConflict, "you have reached this sale's per-person limit"))
	ErrNotStarted   = catalog.Coded("not_started", catalog.Fail(catalog.ErrConflict, "the sale has not started yet"))
	ErrEnded        = catalog.Coded("ended", catalog.Fail(catalog.ErrGone, "the sale has ended"))
	ErrFlashShort   = catalog.Coded("insufficient_stock", catalog.Fail(catalog.ErrConflict, "fewer units are left than you asked for"))
	// ErrFairClosed and ErrFairNotOpen refuse a sale whose fair is closed or
	// over, or was moved to later: the fair's dates bound its sales.
	ErrFairClosed  = catalog.Coded("ended", catalog.Fail(catalog.ErrGone, "the fair is closed"))
	ErrFairNotOpen = catalog.Coded("not_started", catalog.Fail(catalog.ErrConflict, "the fair has not opened yet"))
)

// Ticket is a place won in a flash sale, admitted in Redis and turned into
// an order by the workers.
type Ticket struct {
	ID         string    `json:"id"`
	SaleID     string    `json:"sale_id"`
	UserID     string    `json:"user_id"`
	Quantity   int       `json:"quantity"`
	AdmittedAt time.Time `json:"admitted_at"`
}

// TicketRow is a ticket's fate in the database.
type TicketRow struct {
	bun.BaseModel `bun:"table:flash_tickets"`

	ID         string  `bun:",pk"`
	SaleID     string  `bun:"sale_id"`
	UserID     string  `bun:"user_id"`
	Quantity   int     `bun:"quantity"`
	Status     string  `bun:"status"`
	OrderID    *string `bun:"order_id"`
	Reason     string  `bun:"reason"`
	AdmittedAt time.Time
	CreatedAt  time.Time
}

// Ticket statuses.
const (
	TicketQueued   = "queued"
	TicketOrdered  = "ordered"
	TicketRejected = "rejected"
)

// Redis keys of a sale; the {id} hash tag keeps them on one cluster slot.
func stockKey(id string) string     { return "fs:{" + id + "}:stock" }
func usersKey(id string) string     { return "fs:{" + id + "}:users" }
func ticketsKey(id string) string   { return "fs:{" + id + "}:tickets" }
func restockedKey(id string) string { return "fs:{" + id + "}:restocked" }
func boundsKey(id string) string    { return "fs:{" + id + "}:bounds" }

// boundsValue is a fair's window as admission keeps it in Redis: the
// milliseconds from which and until which it sells ("0|0" when closed).
func boundsValue(w catalog.FairWindow) string {
	if w.Closed {
		return "0|0"
	}
	return strconv.FormatInt(w.StartsAt.UnixMilli(), 10) + "|" + strconv.FormatInt(w.EndsAt.UnixMilli(), 10)
}

// admitScript is the whole admission in one round trip: it checks what is
// left and the buyer's count against the limit, takes the units and records
// the ticket. It answers {code, left}: 1 admitted, -3 limit reached, -4 not
// enough left, -5 the sale's state is missing (Redis restarted empty), -6
// the fair is closed or over, -7 the fair has not opened (KEYS[4], the fair's
// window, shared by every server so that a change of the fair stops them
// all at once; ARGV[5] is now in milliseconds). A ticket already recorded is
// admitted again without taking anything, so a call the client retries after
// a dropped connection changes nothing twice.
var admitScript = redis.NewScript(AdmitLua)

// AdmitLua is the admission script's source (benchmarks run it as their
// one-EVALSHA reference).
const AdmitLua = `
local stock = redis.call('GET', KEYS[1])
if not stock then return {-5, 0} end
stock = tonumber(stock)
if KEYS[4] then
  local w = redis.call('GET', KEYS[4])
  if w then
    local from, to = string.match(w, '^(%d+)|(%d+)$')
    local now = tonumber(ARGV[5])
    if now < tonumber(from) then return {-7, stock} end
    if now >= tonumber(to) then return {-6, stock} end
  end
end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return {1, stock} end
local qty = tonumber(ARGV[2])
local had = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if had + qty > tonumber(ARGV[3]) then return {-3, stock} end
if stock < qty then return {-4, stock} end
redis.call('DECRBY', KEYS[1], qty)
redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[5])
return {1, stock - qty}
`

// initScript sets a sale's state unless another process already did:
// ARGV[1] is the fair's window (KEYS[3], set when missing), ARGV[2] the
// stock, then user/count pairs.
var initScript = redis.NewScript(`
redis.call('SET', KEYS[3], ARGV[1], 'NX')
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i+1]) end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// restockScript puts a cancelled order's units back once per order.
var restockScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[3])
local left = redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[3]))
if left <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1
`)

// saleMeta is what admission needs of an offer, cached in memory.
type saleMeta struct {
	id               string
	startsAt, endsAt time.Time
	bounds           catalog.FairWindow // its fair's, as read at loaded
	limit            int
	loaded           time.Time
	missing          bool
}

// lasting reports whether the copy may be kept past metaTTL: an offer
// cannot change once it has started, and a change of its fair reaches
// every server through Redis (the window the admission script checks),
// which drops the copy.
func (m *saleMeta) lasting() bool {
	return !m.missing && !m.loaded.Before(m.startsAt) && m.bounds.Open(m.loaded)
}

// Admission admits flash-sale purchases at the speed of one Redis round trip:
// no database on this path, offers cached in memory, and a sold-out sale
// answered from memory for a second at a time (units can come back when an
// order goes unpaid). The purchases of a burst share their round trips: the
// script calls waiting at the same moment go to Redis as one pipeline.
type Admission struct {
	rdb redis.UniversalClient
	// admit runs the admission script: the client's autopipeliner when it
	// has one, so that admissions arriving together share a write and a
	// read (each still its own script call, atomic for its buyer).
	admit   redis.Scripter
	svc     *Service
	now     catalog.Clock
	mu      sync.RWMutex
	sales   map[string]*saleMeta
	soldOut sync.Map // sale id (or "cp:" + campaign id) → unix nanos until which it is known sold out
	// campaigns keeps the coupon campaigns claims need (id → *campaignMeta).
	campaigns sync.Map
	loads     singleflight.Group
	// winners carries admitted tickets to the goroutine that queues them, so
	// an admitted request costs one round trip; a ticket whose process dies
	// first is still in Redis, where the recovery sweep finds it.
	winners chan Ticket
	// claims carries answered coupons to the goroutines that write them to
	// the database together (see writeClaims).
	claims chan Coupon
	writes chan []Coupon // a burst's batches, to the writers
	// Redis calls made, for tests and benchmarks.
	Calls atomic.Int64
}

// NewAdmission returns the admission engine over rdb; winners go to the
// service's events.
func NewAdmission(rdb redis.UniversalClient, svc *Service, now catalog.Clock) *Admission {
	a := &Admission{rdb: rdb, admit: rdb, svc: svc, now: now, sales: map[string]*saleMeta{}, winners: make(chan Ticket, 65536), claims: make(chan Coupon, 65536), writes: make(chan []Coupon, 256)}
	if ap, err := rdb.AutoPipeline(); err == nil {
		a.admit = ap
	}
	go a.queueWinners()
	go a.gatherClaims()
	for range claimWriters {
		go a.writeClaims()
	}
	return a
}

// Winners are queued once their burst is over: while a sale is selling,
// Redis serves admissions only. A batch goes when no winner came for
// burstGap, when its oldest ticket has waited burstMaxWait, or when it is
// large; the workers batch them again into orders.
const (
	burstGap     = 30 * time.Millisecond
	burstMaxWait = time.Second
	burstMax     = 20000
)

func (a *Admission) queueWinners() {
	var batch []Ticket
	var oldest time.Time
	timer := time.NewTimer(time.Hour)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		work := make(chan Ticket)
		var wg sync.WaitGroup
		for range 32 { // the queue's client pipelines what they send together
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t := range work {
					a.enqueue(t)
				}
			}()
		}
		for _, t := range batch {
			work <- t
		}
		close(work)
		wg.Wait()
		batch = batch[:0]
	}
	for {
		select {
		case t, ok := <-a.winners:
			if !ok {
				flush()
				return
			}
			if len(batch) == 0 {
				oldest = time.Now()
			}
			batch = append(batch, t)
			if len(batch) >= burstMax || time.Since(oldest) >= burstMaxWait {
				flush()
				continue
			}
			timer.Reset(burstGap)
		case <-timer.C:
			flush()
		}
	}
}

func (a *Admission) enqueue(t Ticket) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.svc.events.TicketAdmitted(ctx, t) // on failure the recovery sweep queues it
}

const (
	metaTTL     = 2 * time.Second
	soldOutHold = time.Second
)

func (a *Admission) meta(ctx context.Context, id string, now time.Time) (*saleMeta, error) {
	a.mu.RLock()
	m := a.sales[id]
	a.mu.RUnlock()
	// An entry read after the start, its fair open, stays (lasting); one read
	// before is re-read every couple of seconds (the offer may have moved or
	// been withdrawn, its fair moved or closed, on any server).
	if m != nil && (now.Sub(m.loaded) < metaTTL || m.lasting()) {
		if m.missing {
			return nil, catalog.Fail(catalog.ErrNotFound, "flash sale")
		}
		return m, nil
	}
	v, err, _ := a.loads.Do("meta:"+id, func() (any, error) {
		// Read whatever the public may see of it: a sale hidden because its
		// fair was unpublished or its stall suspended is closed (410), as
		// the servers that had it in memory answer.
		return a.svc.catalog.FlashSaleByID(context.WithoutCancel(ctx), a.svc.db, catalog.Actor{}, id, true)
	})
	f, _ := v.(*catalog.FlashSale)
	m = &saleMeta{id: id, loaded: now}
	if err != nil {
		if !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
		m.missing = true
	} else {
		m.startsAt, m.endsAt, m.limit = f.StartsAt, f.EndsAt, f.PerUserLimit
		m.missing = f.Withdrawn
		if f.Bounds != nil {
			m.bounds = *f.Bounds
		}
	}
	a.mu.Lock()
	a.sales[id] = m
	a.mu.Unlock()
	if m.missing {
		return nil, catalog.Fail(catalog.ErrNotFound, "flash sale")
	}
	return m, nil
}

// remember keeps the offer just read from the database for the admission:
// the phones polling a sale before it starts spare its first purchases a
// database read (with every buyer waiting on it).
func (a *Admission) remember(f *catalog.FlashSale) {
	if f.Status != catalog.FlashUpcoming && f.Status != catalog.FlashLive {
		return
	}
	now := a.now()
	a.mu.RLock()
	m := a.sales[f.ID]
	a.mu.RUnlock()
	if m != nil && !m.missing && now.Sub(m.loaded) < metaTTL/2 {
		return
	}
	if f.Bounds == nil {
		return
	}
	a.mu.Lock()
	a.sales[f.ID] = &saleMeta{id: f.ID, startsAt: f.StartsAt, endsAt: f.EndsAt, bounds: *f.Bounds, limit: f.PerUserLimit, loaded: now}
	a.mu.Unlock()
}

// drop forgets this process's copy of an offer.
func (a *Admission) drop(saleID string) {
	a.mu.Lock()
	delete(a.sales, saleID)
	a.mu.Unlock()
}

// Purchase tries to win quantity units of a sale for a user and returns the
// ticket. Winners are handed to the workers; nobody else is queued.
func (a *Admission) Purchase(ctx context.Context, userID, saleID string, quantity int) (*Ticket, error) {
	now := a.now()
	m, err := a.meta(ctx, saleID, now)
	if err != nil {
		return nil, err
	}
	switch {
	case now.Before(m.startsAt):
		return nil, ErrNotStarted
	case !now.Before(m.endsAt):
		return nil, ErrEnded
	case m.bounds.Closed, !now.Before(m.bounds.EndsAt):
		return nil, ErrFairClosed
	case now.Before(m.bounds.StartsAt):
		return nil, ErrFairNotOpen
	case quantity < 1:
		return nil, catalog.Invalid("quantity", "must be at least 1")
	case quantity > m.limit:
		return nil, ErrLimitReached
	}
	if until, ok := a.soldOut.Load(saleID); ok && now.UnixNano() < until.(int64) {
		return nil, ErrSoldOut
	}
	t := &Ticket{ID: catalog.NewID(), SaleID: saleID, UserID: userID, Quantity: quantity, AdmittedAt: now}
	for attempt := 0; ; attempt++ {
		a.Calls.Add(1)
		res, err := admitScript.Run(ctx, a.admit, []string{stockKey(saleID), usersKey(saleID), ticketsKey(saleID), boundsKey(saleID)},
			userID, quantity, m.limit, t.ID, now.UnixMilli()).Int64Slice()
		if err != nil {
			return nil, err
		}
		switch res[0] {
		case 1:
			if res[1] == 0 {
				a.soldOut.Store(saleID, now.Add(soldOutHold).UnixNano())
			}
			select {
			case a.winners <- *t:
			default:
				a.enqueue(*t) // the hand-over is full: queue it here
			}
			return t, nil
		case -3:
			return nil, ErrLimitReached
		case -6, -7:
			// The fair changed since this copy was read: read it again next time.
			a.drop(saleID)
			if res[0] == -6 {
				return nil, ErrFairClosed
			}
			return nil, ErrFairNotOpen
		case -4:
			if res[1] == 0 {
				a.soldOut.Store(saleID, now.Add(soldOutHold).UnixNano())
				return nil, ErrSoldOut
			}
			return nil, ErrFlashShort
		case -5:
			if attempt > 0 {
				return nil, fmt.Errorf("flash sale %s: state could not be rebuilt", saleID)
			}
			if _, err, _ := a.loads.Do("rebuild:"+saleID, func() (any, error) {
				return nil, a.Rebuild(context.WithoutCancel(ctx), saleID)
			}); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("flash admission: unexpected answer %v", res)
		}
	}
}

// Rebuild sets a sale's Redis state from the database, the source of truth:
// what is left is the quantity less the units of live flash orders, and each
// buyer's count is theirs. It changes nothing if the state exists.
func (a *Admission) Rebuild(ctx context.Context, saleID string) error {
	f, err := a.svc.catalog.FlashSaleByID(ctx, a.svc.db, catalog.Actor{}, saleID, true)
	if err != nil {
		return err
	}
	var counts []struct {
		BuyerID string
		Units   int
	}
	err = a.svc.db.NewSelect().TableExpr("orders AS o").Join("JOIN order_items AS i ON i.order_id = o.id").
		ColumnExpr("o.buyer_id, SUM(i.quantity) AS units").
		Where("o.flash_sale_id = ? AND o.status <> ?", saleID, StatusCancelled).
		GroupExpr("o.buyer_id").Scan(ctx, &counts)
	if err != nil {
		return err
	}
	left := max(f.Quantity-f.Sold, 0)
	if f.Settled {
		left = 0
	}
	args := []any{boundsValue(*f.Bounds), left}
	for _, c := range counts {
		args = append(args, c.BuyerID, c.Units)
	}
	a.Calls.Add(1)
	return initScript.Run(ctx, a.rdb, []string{stockKey(saleID), usersKey(saleID), boundsKey(saleID)}, args...).Err()
}

// Reset drops a sale's Redis state and sets it again from the database, for
// an offer created or changed before it starts.
func (a *Admission) Reset(ctx context.Context, saleID string) error {
	if err := a.rdb.Del(ctx, stockKey(saleID), usersKey(saleID), boundsKey(saleID)).Err(); err != nil {
		return err
	}
	a.drop(saleID)
	a.soldOut.Delete(saleID)
	return a.Rebuild(ctx, saleID)
}

// Rebound sets again, from the database, the fair's window that admission
// checks for each flash sale of the fair not yet settled, and drops this
// process's copies of them: every server refuses a closed or postponed
// fair's purchases from its next one (and admits again a reopened fair's),
// without touching what is left to win or what each buyer has won.
func (a *Admission) Rebound(ctx context.Context, fairID string) error {
	fair, err := a.svc.catalog.FairByID(ctx, a.svc.db, fairID)
	if err != nil {
		return err
	}
	sales, err := catalog.FlashSalesOf(ctx, a.svc.db, fairID, "")
	if err != nil {
		return err
	}
	stalls, err := catalog.StallsOfFair(ctx, a.svc.db, fairID)
	if err != nil {
		return err
	}
	suspended := map[string]bool{}
	for _, st := range stalls {
		suspended[st.ID] = st.Status != catalog.StallActive
	}
	pipe := a.rdb.Pipeline()
	for _, f := range sales {
		if f.Settled || f.Withdrawn {
			continue
		}
		w := fair.Window()
		w.Closed = w.Closed || suspended[f.StallID]
		pipe.Set(ctx, boundsKey(f.ID), boundsValue(w), 0)
	}
	a.Calls.Add(1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for _, f := range sales {
		a.drop(f.ID)
	}
	return nil
}

// Remaining is what is left to win: Redis's count while the sale runs (the
// database's when Redis has none yet).
func (a *Admission) Remaining(ctx context.Context, f *catalog.FlashSale) int {
	a.remember(f)
	if f.Status != catalog.FlashLive {
		return f.Remaining
	}
	n, err := a.rdb.Get(ctx, stockKey(f.ID)).Int()
	if err != nil {
		return f.Remaining
	}
	return n
}

// TicketStatus tells a ticket's owner what became of it.
func (a *Admission) TicketStatus(ctx context.Context, userID, saleID, ticketID string) (*TicketRow, error) {
	row := new(TicketRow)
	err := a.svc.db.NewSelect().Model(row).Where("id = ? AND sale_id = ? AND user_id = ?", ticketID, saleID, userID).Scan(ctx)
	if err == nil {
		return row, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("ticket: %w", err)
	}
	raw, rerr := a.rdb.HGet(ctx, ticketsKey(saleID), ticketID).Result()
	if errors.Is(rerr, redis.Nil) {
		return nil, catalog.Fail(catalog.ErrNotFound, "ticket")
	}
	if rerr != nil {
		return nil, fmt.Errorf("ticket: %w", rerr)
	}
	t, perr := parseTicket(saleID, ticketID, raw)
	if perr != nil || t.UserID != userID {
		return nil, catalog.Fail(catalog.ErrNotFound, "ticket")
	}
	return &TicketRow{ID: ticketID, SaleID: saleID, UserID: userID, Quantity: t.Quantity, Status: TicketQueued, AdmittedAt: t.AdmittedAt}, nil
}

func parseTicket(saleID, id, raw string) (Ticket, error) {
	parts := strings.Split(raw, "|")
	if len(parts) != 3 {
		return Ticket{}, fmt.Errorf("bad ticket %q", raw)
	}
	q, err1 := strconv.Atoi(parts[1])
	ms, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return Ticket{}, fmt.Errorf("bad ticket %q", raw)
	}
	return Ticket{ID: id, SaleID: saleID, UserID: parts[0], Quantity: q, AdmittedAt: time.UnixMilli(ms).UTC()}, nil
}

// PendingTickets lists the tickets Redis admitted for a sale that have no
// fate in the database yet (for the recovery sweep).
func (a *Admission) PendingTickets(ctx context.Context, saleID string) ([]Ticket, error) {
	all, err := a.rdb.HGetAll(ctx, ticketsKey(saleID)).Result()
	if err != nil || len(all) == 0 {
		return nil, err
	}
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	var known []string
	if err := a.svc.db.NewSelect().Model((*TicketRow)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).Scan(ctx, &known); err != nil {
		return nil, err
	}
	done := map[string]bool{}
	for _, id := range known {
		done[id] = true
	}
	var out []Ticket
	for id, raw := range all {
		if done[id] {
			continue
		}
		if t, err := parseTicket(saleID, id, raw); err == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// Restock puts a cancelled flash order's units back on sale in Redis, once
// per order. Without state in Redis there is nothing to do: a rebuild reads
// the database, which already counts the units as free.
func (a *Admission) Restock(ctx context.Context, saleID, orderID, userID string, quantity int) error {
	a.soldOut.Delete(saleID)
	return restockScript.Run(ctx, a.rdb, []string{stockKey(saleID), usersKey(saleID), restockedKey(saleID)}, orderID, userID, quantity).Err()
}

// Forget drops a settled or withdrawn sale's Redis state and this process's
// copy of the offer.
func (a *Admission) Forget(ctx context.Context, saleID string) error {
	a.drop(saleID)
	return a.rdb.Del(ctx, stockKey(saleID), usersKey(saleID), ticketsKey(saleID), restockedKey(saleID), boundsKey(saleID)).Err()
}

// ScheduleSale offers a merchant's product in a flash sale, for the API,
// the pages and the demo alike: the offer is created (its quantity leaves
// the product's stock), the reminder of its start is queued (best effort:
// reminders only) and admission's state in Redis is set from the database.
// When the offer was created but its state could not be set, ScheduleSale
// returns the offer and the error; the first purchase would build the state
// anyway, so a caller may go on with a warning.
func (a *Admission) ScheduleSale(ctx context.Context, actor catalog.Actor, in catalog.FlashInput) (*catalog.FlashSale, error) {
	f, err := a.svc.catalog.CreateFlashSale(ctx, actor, in)
	if err != nil {
		return nil, err
	}
	return f, a.scheduled(ctx, f)
}

// RescheduleSale changes a flash sale before it starts and then, as
// ScheduleSale, queues the reminder of its (maybe new) start and sets its
// state in Redis again. When the change was saved but the state could not
// be set, it returns the sale and the error.
func (a *Admission) RescheduleSale(ctx context.Context, actor catalog.Actor, saleID string, in catalog.FlashInput) (*catalog.FlashSale, error) {
	f, err := a.svc.catalog.UpdateFlashSale(ctx, actor, saleID, in)
	if err != nil {
		return nil, err
	}
	return f, a.scheduled(ctx, f)
}

// scheduled follows an offer's creation or change.
func (a *Admission) scheduled(ctx context.Context, f *catalog.FlashSale) error {
	_ = a.svc.events.FlashSaleScheduled(ctx, f.ID, f.StartsAt) // best effort: reminders only
	if err := a.Reset(ctx, f.ID); err != nil {
		return fmt.Errorf("flash sale %s saved, its admission state not set: %w", f.ID, err)
	}
	return nil
}

// WithdrawSale withdraws a flash sale before it starts (its merchant): its
// units go back to the product's stock and its state in Redis is dropped.
// When the sale was withdrawn but its state could not be dropped, it returns
// the sale and the error.
func (a *Admission) WithdrawSale(ctx context.Context, actor catalog.Actor, saleID string) (*catalog.FlashSale, error) {
	f, err := a.svc.catalog.WithdrawFlashSale(ctx, actor, saleID)
	if err != nil {
		return nil, err
	}
	if err := a.Forget(ctx, f.ID); err != nil {
		return f, fmt.Errorf("flash sale %s withdrawn, its admission state not dropped: %w", f.ID, err)
	}
	return f, nil
}
