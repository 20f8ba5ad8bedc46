package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/migrations/testdb"
)

// The test kit: a world of users, fairs, stalls and products built through
// the service, on a database of the test's own, at a time the test moves.

// fakeEvents is catalog.Events as a struct of function fields; nil ones do
// nothing.
type fakeEvents struct {
	applicationDecided func(ctx context.Context, app *catalog.Application) error
	fairChanged        func(ctx context.Context, fairID string) error
	stallStatus        func(ctx context.Context, st *catalog.Stall, reason string) error
}

func (f fakeEvents) StallStatusChanged(ctx context.Context, st *catalog.Stall, reason string) error {
	if f.stallStatus == nil {
		return nil
	}
	return f.stallStatus(ctx, st, reason)
}

func (f fakeEvents) FairChanged(ctx context.Context, fairID string) error {
	if f.fairChanged == nil {
		return nil
	}
	return f.fairChanged(ctx, fairID)
}

func (f fakeEvents) ApplicationDecided(ctx context.Context, app *catalog.Application) error {
	if f.applicationDecided == nil {
		return nil
	}
	return f.applicationDecided(ctx, app)
}

type kit struct {
	t       *testing.T
	ctx     context.Context
	db      *bun.DB
	svc     *catalog.Service
	dataDir string

	clk     *catalogtest.Clock
	mu      sync.Mutex
	decided []catalog.Application
	n       int
}

// start is the kit's "now" when it is made.
var start = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func newKit(t *testing.T) *kit {
	t.Helper()
	k := &kit{t: t, ctx: context.Background(), db: testdb.Open(t), dataDir: t.TempDir(), clk: catalogtest.NewClock(start)}
	events := fakeEvents{applicationDecided: func(_ context.Context, app *catalog.Application) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.decided = append(k.decided, *app)
		return nil
	}}
	k.svc = catalog.NewService(k.db, k.clock, k.dataDir, events).WithPeople(catalogtest.People{DB: k.db})
	return k
}

// clock is the kit's time, which the test moves with advance.
func (k *kit) clock() time.Time { return k.clk.Now() }

// advance moves the kit's clock.
func (k *kit) advance(d time.Duration) { k.clk.Advance(d) }

func (k *kit) seq() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	return k.n
}

// user adds an account of role (the accounts' table belongs to the app; the
// catalog's tables refer to it).
func (k *kit) user(role catalog.Role) catalog.Actor {
	k.t.Helper()
	return catalogtest.NewUser(k.t, k.db, role, "zh-CN", k.clock())
}

func ptr[T any](v T) *T { return &v }

// fairInput is a valid temple fair open from an hour ago for a week.
func (k *kit) fairInput() catalog.FairInput {
	now := k.clock()
	return catalog.FairInput{
		Slug: ptr(fmt.Sprintf("fair-%d", k.seq())), Name: ptr("春节庙会"), Kind: ptr(catalog.KindTempleFair),
		StartsAt: ptr(now.Add(-time.Hour)), EndsAt: ptr(now.Add(7 * 24 * time.Hour)), CommissionBPS: ptr(500),
	}
}

// fair creates a fair of org's; edit changes the input first.
func (k *kit) fair(org catalog.Actor, edit ...func(*catalog.FairInput)) *catalog.Fair {
	k.t.Helper()
	in := k.fairInput()
	for _, e := range edit {
		e(&in)
	}
	f, err := k.svc.CreateFair(k.ctx, org, in)
	if err != nil {
		k.t.Fatalf("create fair: %v", err)
	}
	return f
}

// stall opens a stall for a new merchant at f (organized by org).
func (k *kit) stall(org catalog.Actor, f *catalog.Fair) (*catalog.Stall, catalog.Actor) {
	k.t.Helper()
	m := k.user(catalog.RoleMerchant)
	app, err := k.svc.Apply(k.ctx, m, f.Slug, fmt.Sprintf("摊位%d", k.seq()), "")
	if err != nil {
		k.t.Fatalf("apply: %v", err)
	}
	_, st, err := k.svc.Approve(k.ctx, org, app.ID)
	if err != nil {
		k.t.Fatalf("approve: %v", err)
	}
	return st, m
}

// world is one organizer's open temple fair with one stall.
type world struct {
	org      catalog.Actor
	fair     *catalog.Fair
	stall    *catalog.Stall
	merchant catalog.Actor
}

func (k *kit) world() world {
	k.t.Helper()
	org := k.user(catalog.RoleOrganizer)
	f := k.fair(org)
	st, m := k.stall(org, f)
	return world{org: org, fair: f, stall: st, merchant: m}
}

// goods is a valid product input: stock units of title at price fen.
func goods(title string, price, stock int64) catalog.ProductInput {
	return catalog.ProductInput{Title: ptr(title), Price: ptr(price), Stock: ptr(stock)}
}

// product adds goods to the world's stall.
func (k *kit) product(w world, in catalog.ProductInput) *catalog.Product {
	k.t.Helper()
	p, err := k.svc.CreateProduct(k.ctx, w.merchant, w.stall.ID, in)
	if err != nil {
		k.t.Fatalf("create product: %v", err)
	}
	return p
}

// stock reads a product's stock as stored.
func (k *kit) stock(productID string) int64 {
	k.t.Helper()
	p, err := k.svc.ProductByID(k.ctx, k.db, productID)
	if err != nil {
		k.t.Fatalf("product: %v", err)
	}
	return p.Stock
}

// flashInput is a valid offer of qty units of p at 1 fen, starting in an
// hour for an hour.
func (k *kit) flashInput(p *catalog.Product, qty int) catalog.FlashInput {
	now := k.clock()
	return catalog.FlashInput{ProductID: p.ID, Price: ptr(int64(1)), Quantity: ptr(qty), PerUserLimit: ptr(2),
		StartsAt: ptr(now.Add(time.Hour)), EndsAt: ptr(now.Add(2 * time.Hour))}
}

// sale reads an offer as stored.
func (k *kit) sale(id string) *catalog.FlashSale {
	k.t.Helper()
	f, err := k.svc.FlashSaleByID(k.ctx, k.db, catalog.Actor{}, id, true)
	if err != nil {
		k.t.Fatalf("flash sale: %v", err)
	}
	return f
}

// inTx runs fn in a transaction of the test's, as another domain would.
func (k *kit) inTx(fn func(tx bun.Tx) error) error {
	return k.db.RunInTx(k.ctx, nil, func(_ context.Context, tx bun.Tx) error { return fn(tx) })
}

// pngBytes is a w×h PNG image.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
