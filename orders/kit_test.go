package orders_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/migrations/testdb"
	"miaohui/orders"
)

// window is the platform's payment window in these tests.
const window = 15 * time.Minute

// kit is an orders service over a fresh database with an open fair, a fake
// provider (the sandbox unless a test says otherwise) and recorded events.
type kit struct {
	*catalogtest.World
	t        *testing.T
	ctx      context.Context
	Orders   *orders.Service
	Events   *events
	Provider *provider
}

func newKit(t *testing.T) *kit {
	t.Helper()
	db := testdb.Open(t)
	w := catalogtest.NewWorld(t, db)
	k := &kit{World: w, t: t, ctx: context.Background(), Events: &events{}, Provider: &provider{}}
	k.Orders = orders.NewService(db, w.Catalog, k.Provider, k.Events, w.Clock.Now, window)
	return k
}

// admission is a flash-sale admission over a fresh Redis.
func (k *kit) admission() (*orders.Admission, *testdb.Redis) {
	k.t.Helper()
	r := testdb.NewRedis(k.t)
	return orders.NewAdmission(r.Client, k.Orders, k.Clock.Now), r
}

// shop is a stall of the kit's fair with its merchant.
type shop struct {
	Merchant catalog.Actor
	Stall    *catalog.Stall
}

// shop opens a stall on the kit's fair.
func (k *kit) shop(name string) shop {
	k.t.Helper()
	m, st := k.Stall(k.t, k.Fair, name)
	return shop{m, st}
}

// goods lists goods on a shop.
func (k *kit) goods(s shop, p catalogtest.Product) *catalog.Product {
	k.t.Helper()
	return k.Goods(k.t, s.Merchant, s.Stall.ID, p)
}

func (k *kit) buyer() catalog.Actor {
	k.t.Helper()
	return k.User(k.t, catalog.RoleShopper)
}

// put sets a cart line and fails the test on error.
func (k *kit) put(a catalog.Actor, productID string, quantity int) *orders.Cart {
	k.t.Helper()
	c, err := k.Orders.SetCartItem(k.ctx, a, productID, quantity)
	if err != nil {
		k.t.Fatalf("SetCartItem(%s, %d): %v", productID, quantity, err)
	}
	return c
}

// checkout checks the buyer's cart out and fails the test on error.
func (k *kit) checkout(a catalog.Actor, in orders.CheckoutInput) *orders.Checkout {
	k.t.Helper()
	c, err := k.Orders.Checkout(k.ctx, a, in)
	if err != nil {
		k.t.Fatalf("Checkout: %v", err)
	}
	return c
}

// pay settles a checkout's payment as succeeded on the sandbox.
func (k *kit) pay(a catalog.Actor, c *orders.Checkout) {
	k.t.Helper()
	if _, err := k.Orders.CompleteSandbox(k.ctx, a.UserID, c.Payment.ID, orders.PaymentSucceeded); err != nil {
		k.t.Fatalf("CompleteSandbox: %v", err)
	}
}

// buy puts quantity of a product in a new buyer's cart, checks it out
// (shipped to an address when the product ships) and pays when paid is
// true. It returns the buyer and the order.
func (k *kit) buy(p *catalog.Product, quantity int, paid bool) (catalog.Actor, *orders.Order) {
	k.t.Helper()
	b := k.buyer()
	k.put(b, p.ID, quantity)
	c := k.checkout(b, orders.CheckoutInput{ShippingAddress: "1 Qianmen St, Beijing"})
	if paid {
		k.pay(b, c)
	}
	return b, k.order(b, c.Orders[0].ID)
}

// redeem has the shop's merchant redeem a picked-up order at the booth,
// which releases its payout.
func (k *kit) redeem(s shop, o *orders.Order) *orders.Order {
	k.t.Helper()
	got, err := k.Orders.Redeem(k.ctx, s.Merchant, o.ID, o.PickupCode)
	if err != nil {
		k.t.Fatalf("Redeem(%s): %v", o.ID, err)
	}
	return got
}

// order reads an order as the actor sees it.
func (k *kit) order(a catalog.Actor, id string) *orders.Order {
	k.t.Helper()
	o, err := k.Orders.Order(k.ctx, a, id)
	if err != nil {
		k.t.Fatalf("Order(%s): %v", id, err)
	}
	return o
}

// payment reads a payment as its payer sees it.
func (k *kit) payment(a catalog.Actor, id string) *orders.Payment {
	k.t.Helper()
	p, _, err := k.Orders.Payment(k.ctx, a, id)
	if err != nil {
		k.t.Fatalf("Payment(%s): %v", id, err)
	}
	return p
}

// totals reads the kit's fair's totals as its organizer.
func (k *kit) totals() *orders.Totals {
	k.t.Helper()
	t, err := k.Orders.FairTotals(k.ctx, k.Organizer, k.Fair.Slug)
	if err != nil {
		k.t.Fatalf("FairTotals: %v", err)
	}
	return t
}

// stock is a product's stock now.
func (k *kit) stock(productID string) int64 {
	k.t.Helper()
	return k.Stock(k.t, productID)
}

// events records what the orders service asks the workers to do.
type events struct {
	mu       sync.Mutex
	opened   [][]string
	paid     []string
	refunds  []string
	changed  []string // order id + ":" + status
	tickets  []orders.Ticket
	returned []string // order ids of flash units put back on sale
}

var _ orders.Events = (*events)(nil)

func (e *events) PaymentsOpened(_ context.Context, ids []string, _ time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opened = append(e.opened, ids)
	return nil
}

// Outboxed records the follow-ups committed to the outbox, by what they announce.
func (e *events) Outboxed(_ context.Context, msgs []orders.OutboxMessage) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range msgs {
		switch {
		case m.Kind == orders.OutboxNotice && m.Event == "paid":
			e.paid = append(e.paid, m.OrderID)
		case m.Kind == orders.OutboxNotice && m.Event == "refunded":
			e.refunds = append(e.refunds, m.RefundID)
		case m.Kind == orders.OutboxNotice:
			e.changed = append(e.changed, m.OrderID+":"+m.Event)
		case m.Kind == orders.OutboxRestock:
			e.returned = append(e.returned, m.OrderID)
		}
	}
	return nil
}

func (e *events) TicketAdmitted(_ context.Context, t orders.Ticket) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tickets = append(e.tickets, t)
	return nil
}

func (e *events) FlashSaleScheduled(context.Context, string, time.Time) error { return nil }

// Paid is the ids of the orders announced paid so far.
func (e *events) Paid() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.paid...)
}

// Refunds is the ids of the refunds announced so far.
func (e *events) Refunds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.refunds...)
}

// Changed is the order changes announced so far, as "id:status".
func (e *events) Changed() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.changed...)
}

// Opened is the payment ids of each PaymentsOpened call so far.
func (e *events) Opened() [][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]string(nil), e.opened...)
}

// Returned is the flash orders whose units went back on sale.
func (e *events) Returned() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.returned...)
}

// provider is the sandbox with each call replaceable by a function field;
// it counts the payouts and reversals it was asked for.
type provider struct {
	orders.Sandbox
	StartFunc  func(ctx context.Context, p *orders.Payment) (orders.Opening, error)
	CancelFunc func(ctx context.Context, p *orders.Payment) error
	LookupFunc func(ctx context.Context, p *orders.Payment) (string, error)
	RefundFunc func(ctx context.Context, p *orders.Payment, r *orders.Refund) (string, error)

	mu        sync.Mutex
	payouts   []orders.Money
	reversals []orders.Money
}

func (p *provider) Start(ctx context.Context, pay *orders.Payment) (orders.Opening, error) {
	if p.StartFunc != nil {
		return p.StartFunc(ctx, pay)
	}
	return p.Sandbox.Start(ctx, pay)
}

func (p *provider) Cancel(ctx context.Context, pay *orders.Payment) error {
	if p.CancelFunc != nil {
		return p.CancelFunc(ctx, pay)
	}
	return p.Sandbox.Cancel(ctx, pay)
}

func (p *provider) Lookup(ctx context.Context, pay *orders.Payment) (string, error) {
	if p.LookupFunc != nil {
		return p.LookupFunc(ctx, pay)
	}
	return p.Sandbox.Lookup(ctx, pay)
}

func (p *provider) Refund(ctx context.Context, pay *orders.Payment, r *orders.Refund) (string, error) {
	if p.RefundFunc != nil {
		return p.RefundFunc(ctx, pay, r)
	}
	return p.Sandbox.Refund(ctx, pay, r)
}

func (p *provider) Payout(ctx context.Context, o *orders.Order, amount orders.Money, account string) (string, error) {
	p.mu.Lock()
	p.payouts = append(p.payouts, amount)
	p.mu.Unlock()
	return p.Sandbox.Payout(ctx, o, amount, account)
}

func (p *provider) ReversePayout(ctx context.Context, t *orders.Transfer, amount orders.Money, key string) error {
	p.mu.Lock()
	p.reversals = append(p.reversals, amount)
	p.mu.Unlock()
	return p.Sandbox.ReversePayout(ctx, t, amount, key)
}

// Payouts is the amounts paid out so far.
func (p *provider) Payouts() []orders.Money {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]orders.Money(nil), p.payouts...)
}

// Reversals is the amounts taken back from payouts so far.
func (p *provider) Reversals() []orders.Money {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]orders.Money(nil), p.reversals...)
}
