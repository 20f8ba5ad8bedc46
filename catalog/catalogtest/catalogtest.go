// Package catalogtest builds the catalog's world for the tests of the
// packages above it (orders, jobs, app): a clock tests move, users, an open
// fair, approved stalls, products and flash-sale offers, made through the
// catalog's own service methods so they obey its rules.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Clock is a catalog.Clock tests can move; it is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at start (in UTC, to the microsecond both
// databases keep).
func NewClock(start time.Time) *Clock {
	return &Clock{now: start.UTC().Truncate(time.Microsecond)}
}

// Now is the clock's time; pass c.Now where a catalog.Clock is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC().Truncate(time.Microsecond)
}

// World is one open temple fair on a database, with the catalog service over
// it and the organizer who runs the fair.
type World struct {
	DB        *bun.DB
	Clock     *Clock
	Catalog   *catalog.Service
	Organizer catalog.Actor
	Fair      *catalog.Fair
}

// Start is the time a world's clock starts at: a fixed instant, so the
// hours and days of the totals do not depend on when the tests run.
var Start = time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC)

// FairDuration is how long a world's fair stays open from Start.
const FairDuration = 14 * 24 * time.Hour

var seq atomic.Int64

// NewWorld makes an organizer and an open, published temple fair with a 5%
// commission on db (a migrated database, see migrations/testdb).
func NewWorld(t testing.TB, db *bun.DB) *World {
	t.Helper()
	return NewWorldAt(t, db, Start)
}

// NewWorldAt is NewWorld with the clock starting at start (tests of work
// scheduled on a real queue start it at the wall clock's now).
func NewWorldAt(t testing.TB, db *bun.DB, start time.Time) *World {
	t.Helper()
	clock := NewClock(start)
	w := &World{DB: db, Clock: clock, Catalog: catalog.NewService(db, clock.Now, t.TempDir(), catalog.NoEvents{}).WithPeople(People{db})}
	w.Organizer = w.User(t, catalog.RoleOrganizer)
	w.Fair = w.NewFair(t, FairInput{})
	return w
}

// FairInput tunes a fair NewFair makes; zero fields take the defaults.
type FairInput struct {
	Kind                 string // catalog.KindTempleFair
	CommissionBPS        *int   // 500
	PaymentWindowSeconds int    // the platform default
	StartsAt             time.Time
	EndsAt               time.Time
}

// NewFair makes another fair of the world's organizer, open now unless in
// says otherwise.
func (w *World) NewFair(t testing.TB, in FairInput) *catalog.Fair {
	t.Helper()
	n := seq.Add(1)
	slug := fmt.Sprintf("fair-%d", n)
	name := fmt.Sprintf("庙会 %d", n)
	kind := in.Kind
	if kind == "" {
		kind = catalog.KindTempleFair
	}
	bps := 500
	if in.CommissionBPS != nil {
		bps = *in.CommissionBPS
	}
	starts, ends := in.StartsAt, in.EndsAt
	if starts.IsZero() {
		starts = w.Clock.Now().Add(-time.Hour)
	}
	if ends.IsZero() {
		ends = w.Clock.Now().Add(FairDuration)
	}
	window := in.PaymentWindowSeconds
	f, err := w.Catalog.CreateFair(context.Background(), w.Organizer, catalog.FairInput{
		Slug: &slug, Name: &name, Kind: &kind, StartsAt: &starts, EndsAt: &ends, CommissionBPS: &bps, PaymentWindowSeconds: &window,
	})
	if err != nil {
		t.Fatalf("create fair: %v", err)
	}
	return f
}

// User makes a user of role (lang "en", so notices read in English) and
// returns them as an actor. Users belong to the app's accounts, which the
// domains below it cannot call, so the row is written directly.
func (w *World) User(t testing.TB, role catalog.Role) catalog.Actor {
	t.Helper()
	return w.UserLang(t, role, "en")
}

// UserLang is User with the user's language ("en" or "zh-CN").
func (w *World) UserLang(t testing.TB, role catalog.Role, lang string) catalog.Actor {
	t.Helper()
	return NewUser(t, w.DB, role, lang, w.Clock.Now())
}

// NewUser adds an account of role on db, created at now. The accounts'
// table belongs to the app, which the domain packages below it cannot
// import; their tests make the rows the catalog's tables refer to.
func NewUser(t testing.TB, db bun.IDB, role catalog.Role, lang string, now time.Time) catalog.Actor {
	t.Helper()
	id := catalog.NewID()
	row := map[string]any{
		"id": id, "email": fmt.Sprintf("%s-%d@example.com", role, seq.Add(1)), "name": string(role) + " " + id[len(id)-4:],
		"role": string(role), "password_hash": "-", "lang": lang, "created_at": now,
	}
	if _, err := db.NewInsert().Model(&row).TableExpr("users").Exec(context.Background()); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return catalog.Actor{UserID: id, Role: role}
}

// Stall makes a merchant whose application to fair the organizer approved,
// and returns the merchant and the stall.
func (w *World) Stall(t testing.TB, fair *catalog.Fair, name string) (catalog.Actor, *catalog.Stall) {
	t.Helper()
	ctx := context.Background()
	m := w.User(t, catalog.RoleMerchant)
	app, err := w.Catalog.Apply(ctx, m, fair.Slug, name, "")
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	_, st, err := w.Catalog.Approve(ctx, w.Organizer, app.ID)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	return m, st
}

// Product is what Goods and Voucher list; zero fields take the defaults.
type Product struct {
	Title       string // "product N"
	Price       int64  // 1000 fen
	Stock       int64  // 10
	Fulfillment string // catalog.ShipPickup
	Category    string // none
}

// Goods lists goods on the merchant's stall.
func (w *World) Goods(t testing.TB, merchant catalog.Actor, stallID string, p Product) *catalog.Product {
	t.Helper()
	kind := catalog.KindGoods
	return w.product(t, merchant, stallID, p, catalog.ProductInput{Kind: &kind})
}

// Voucher lists a voucher (offset value twice its price, valid for 30
// days) on the merchant's stall.
func (w *World) Voucher(t testing.TB, merchant catalog.Actor, stallID string, p Product) *catalog.Product {
	t.Helper()
	kind := catalog.KindVoucher
	price := p.Price
	if price == 0 {
		price = 1000
	}
	offset := 2 * price
	valid := w.Clock.Now().Add(30 * 24 * time.Hour)
	return w.product(t, merchant, stallID, p, catalog.ProductInput{Kind: &kind, OffsetValue: &offset, ValidUntil: &valid})
}

func (w *World) product(t testing.TB, merchant catalog.Actor, stallID string, p Product, in catalog.ProductInput) *catalog.Product {
	t.Helper()
	if p.Title == "" {
		p.Title = fmt.Sprintf("product %d", seq.Add(1))
	}
	if p.Price == 0 {
		p.Price = 1000
	}
	if p.Stock == 0 {
		p.Stock = 10
	}
	if p.Fulfillment == "" {
		p.Fulfillment = catalog.ShipPickup
	}
	in.Title, in.Price, in.Stock, in.Fulfillment, in.Category = &p.Title, &p.Price, &p.Stock, &p.Fulfillment, &p.Category
	pr, err := w.Catalog.CreateProduct(context.Background(), merchant, stallID, in)
	if err != nil {
		t.Fatalf("create product: %v", err)
	}
	return pr
}

// FlashSale is what NewFlashSale offers; zero fields take the defaults.
type FlashSale struct {
	Price        int64         // 100 fen
	Quantity     int           // 5
	PerUserLimit int           // 1
	StartsIn     time.Duration // a minute from now
	Lasts        time.Duration // an hour
}

// NewFlashSale offers units of the merchant's product at a flash price; the
// sale starts in the future (move the clock to open it).
func (w *World) NewFlashSale(t testing.TB, merchant catalog.Actor, productID string, in FlashSale) *catalog.FlashSale {
	t.Helper()
	if in.Price == 0 {
		in.Price = 100
	}
	if in.Quantity == 0 {
		in.Quantity = 5
	}
	if in.PerUserLimit == 0 {
		in.PerUserLimit = 1
	}
	if in.StartsIn == 0 {
		in.StartsIn = time.Minute
	}
	if in.Lasts == 0 {
		in.Lasts = time.Hour
	}
	starts := w.Clock.Now().Add(in.StartsIn)
	ends := starts.Add(in.Lasts)
	f, err := w.Catalog.CreateFlashSale(context.Background(), merchant, catalog.FlashInput{
		ProductID: productID, Price: &in.Price, Quantity: &in.Quantity, PerUserLimit: &in.PerUserLimit, StartsAt: &starts, EndsAt: &ends,
	})
	if err != nil {
		t.Fatalf("create flash sale: %v", err)
	}
	return f
}

// Stock is a product's stock now.
func (w *World) Stock(t testing.TB, productID string) int64 {
	t.Helper()
	p, _, err := w.Catalog.Product(context.Background(), w.Organizer, productID)
	if err != nil {
		t.Fatalf("product %s: %v", productID, err)
	}
	return p.Stock
}

// People names the users NewUser made (catalog.People), as the accounts
// service does in the app.
type People struct{ DB bun.IDB }

// Contacts returns the name and email of each of ids.
func (p People) Contacts(ctx context.Context, ids []string) (map[string]catalog.Contact, error) {
	var rows []struct{ ID, Name, Email string }
	err := p.DB.NewSelect().TableExpr("users").Column("id", "name", "email").Where("id IN (?)", bun.In(ids)).Scan(ctx, &rows)
	out := make(map[string]catalog.Contact, len(rows))
	for _, r := range rows {
		out[r.ID] = catalog.Contact{Name: r.Name, Email: r.Email}
	}
	return out, err
}

// UserIDByEmail finds a user by email.
func (p People) UserIDByEmail(ctx context.Context, email string) (string, error) {
	var ids []string
	err := p.DB.NewSelect().TableExpr("users").Column("id").Where("email = ?", strings.ToLower(strings.TrimSpace(email))).Scan(ctx, &ids)
	if len(ids) == 0 {
		return "", err
	}
	return ids[0], err
}

// WantErr fails the test unless errors.Is(err, want).
func WantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// WantInvalid fails the test unless err is a validation error naming field.
func WantInvalid(t testing.TB, err error, field string) {
	t.Helper()
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			if f.Field == field {
				return
			}
		}
	}
	t.Fatalf("err = %v, want a validation error on %s", err, field)
}

// WantCode fails the test unless err carries the machine code.
func WantCode(t testing.TB, err error, code string) {
	t.Helper()
	var ce *catalog.CodedError
	if !errors.As(err, &ce) || ce.Code() != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}
