package orders

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Order statuses.
const (
	StatusPendingPayment    = "pending_payment"
	StatusPaid              = "paid"
	StatusShipped           = "shipped"
	StatusRedeemed          = "redeemed"
	StatusCompleted         = "completed"
	StatusCancelled         = "cancelled"
	StatusRefunded          = "refunded"
	StatusPartiallyRefunded = "partially_refunded"
)

// PaidStatuses are the statuses of orders whose payment was captured.
var PaidStatuses = []string{StatusPaid, StatusShipped, StatusRedeemed, StatusCompleted, StatusRefunded, StatusPartiallyRefunded}

// Errors of the order domain.
var (
	ErrInsufficientStock = catalog.ErrInsufficientStock
	ErrNotPayable        = catalog.Fail(catalog.ErrConflict, "the payment is no longer pending")
	ErrProvider          = errors.New("the payment provider did not answer")
)

// Order is what one buyer bought from one stall in one checkout. Its items
// keep the price they had at checkout, whatever happens to the product later.
type Order struct {
	bun.BaseModel `bun:"table:orders"`

	ID              string     `bun:",pk" json:"id"`
	PaymentID       string     `json:"payment_id"`
	FairID          string     `json:"fair_id"`
	StallID         string     `json:"stall_id"`
	BuyerID         string     `json:"buyer_id"`
	Status          string     `json:"status" enum:"pending_payment,paid,shipped,redeemed,completed,cancelled,refunded,partially_refunded"`
	Fulfillment     string     `json:"fulfillment" enum:"ship,pickup"`
	Subtotal        Money      `json:"subtotal" doc:"the lines' sum before coupons, in fen"`
	Discount        Money      `json:"discount" doc:"what coupons took off the subtotal, in fen"`
	Total           Money      `json:"total" doc:"what the buyer pays: subtotal − discount, in fen"`
	Currency        string     `json:"currency"`
	PlatformFee     Money      `json:"platform_fee" doc:"the platform's commission, in fen"`
	MerchantShare   Money      `json:"merchant_share" doc:"what the merchant receives, in fen"`
	Refunded        Money      `json:"refunded" doc:"refunded so far, in fen"`
	Subsidy         Money      `json:"subsidy" doc:"what the fair's organizer pays the merchant on top (an organizer-funded discount), in fen"`
	RefundPending   Money      `json:"-"`
	ShippingAddress string     `json:"shipping_address,omitempty"`
	Tracking        string     `json:"tracking,omitempty"`
	PickupCode      string     `json:"pickup_code,omitempty" doc:"pickup orders and vouchers: the code shown at the booth or sales office"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at" doc:"an unpaid order is cancelled at this time"`
	PaidAt          *time.Time `json:"paid_at,omitempty"`
	ShippedAt       *time.Time `json:"shipped_at,omitempty"`
	RedeemedAt      *time.Time `json:"redeemed_at,omitempty"`
	CancelledAt     *time.Time `json:"cancelled_at,omitempty"`
	FlashSaleID     *string    `json:"flash_sale_id,omitempty" doc:"set when the order was won in a flash sale"`
	TicketID        *string    `json:"ticket_id,omitempty" doc:"the flash-sale ticket it was made from"`
	// HasCode tells that the order is redeemed with a code (a pickup order
	// or a voucher), also when the code itself is hidden from the reader.
	HasCode bool `bun:"-" json:"-"`

	Items []Item `bun:"rel:has-many,join:id=order_id" json:"items"`
}

// forReader hides the pickup or voucher code from anyone but the buyer: the
// buyer presents it at the booth; merchants, staff and organizers never read
// it. Every order a service returns goes through it.
func (o *Order) forReader(buyer bool) {
	o.HasCode = o.PickupCode != ""
	if !buyer {
		o.PickupCode = ""
	}
}

// Refundable is what can still be refunded.
func (o *Order) Refundable() Money { return o.Total - o.Refunded - o.RefundPending }

// Item is one line of an order.
type Item struct {
	bun.BaseModel `bun:"table:order_items"`

	ID          string     `bun:",pk" json:"id"`
	OrderID     string     `json:"-"`
	ProductID   string     `json:"product_id"`
	Title       string     `json:"title"`
	Kind        string     `json:"kind" enum:"goods,voucher"`
	UnitPrice   Money      `json:"unit_price"`
	Quantity    int        `json:"quantity"`
	LineTotal   Money      `json:"line_total"`
	Category    string     `json:"-"` // the product's category at checkout, for the totals by category
	OffsetValue Money      `json:"offset_value,omitempty"`
	ValidUntil  *time.Time `json:"valid_until,omitempty"`
}

// Payment collects the money of one checkout, whatever the number of orders.
type Payment struct {
	bun.BaseModel `bun:"table:payments"`

	ID           string `bun:",pk" json:"id"`
	BuyerID      string `json:"-"`
	FairID       string `json:"-"`
	Provider     string `json:"provider" enum:"sandbox,stripe"`
	Status       string `json:"status" enum:"pending,succeeded,failed,cancelled"`
	Amount       Money  `json:"amount"`
	Currency     string `json:"currency"`
	ProviderRef  string `json:"-"`
	ClientSecret string `json:"client_secret,omitempty" doc:"Stripe: the PaymentIntent's client secret for Stripe.js"`
	CheckoutURL  string `json:"checkout_url,omitempty" doc:"Stripe: the Stripe Checkout page where the payer pays (card, Alipay, WeChat Pay)"`
	// ProviderIntent is the Stripe PaymentIntent behind a Checkout Session,
	// once known (refunds and charge events name it).
	ProviderIntent string `json:"-"`
	// ProviderAttempt counts the provider sessions opened before the current
	// one: each new session gets an idempotency key of its own.
	ProviderAttempt int       `json:"-"`
	ExpiresAt       time.Time `json:"expires_at"`
	CreatedAt       time.Time `json:"-"`
	UpdatedAt       time.Time `json:"-"`
}

// Payment statuses.
const (
	PaymentPending   = "pending"
	PaymentSucceeded = "succeeded"
	PaymentFailed    = "failed"
	PaymentCancelled = "cancelled"
)

// codeAlphabet avoids letters and digits people confuse (0/O, 1/I/L).
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// newPickupCode returns an 8-character code a buyer shows at the booth.
func newPickupCode() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

// orderAccess says how the actor relates to an order.
type orderAccess struct {
	buyer, merchant, organizer bool
}

// loadOrder reads an order with its items and checks the actor may see it:
// its buyer, its stall's merchant or its fair's organizer. Anyone else gets
// ErrNotFound.
func (s *Service) loadOrder(ctx context.Context, db bun.IDB, a catalog.Actor, id string, lock bool) (*Order, orderAccess, error) {
	o := new(Order)
	q := db.NewSelect().Model(o).Where("id = ?", id)
	if lock {
		q = catalog.ForUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, orderAccess{}, catalog.NotFound(err, "order")
	}
	if err := db.NewSelect().Model(&o.Items).Where("order_id = ?", o.ID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, orderAccess{}, err
	}
	acc := orderAccess{buyer: a.UserID != "" && o.BuyerID == a.UserID}
	if a.UserID != "" && !acc.buyer {
		st, err := s.catalog.StallByID(ctx, db, o.StallID)
		if err != nil {
			return nil, orderAccess{}, err
		}
		fair, err := s.catalog.FairByID(ctx, db, st.FairID)
		if err != nil {
			return nil, orderAccess{}, err
		}
		acc.merchant, acc.organizer = st.MerchantID == a.UserID, fair.OrganizerID == a.UserID
	}
	if !acc.buyer && !acc.merchant && !acc.organizer {
		return nil, orderAccess{}, catalog.Fail(catalog.ErrNotFound, "order")
	}
	return o, acc, nil
}

// OrderByID reads an order without its items, whoever asks (for workers).
func (s *Service) OrderByID(ctx context.Context, id string) (*Order, error) {
	o := new(Order)
	if err := s.db.NewSelect().Model(o).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "order")
	}
	return o, nil
}

// PaymentByID reads a payment, whoever asks (for workers).
func (s *Service) PaymentByID(ctx context.Context, id string) (*Payment, error) {
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "payment")
	}
	return p, nil
}

// Order returns one order to its buyer, its stall's merchant or its fair's organizer.
func (s *Service) Order(ctx context.Context, a catalog.Actor, id string) (*Order, error) {
	o, acc, err := s.loadOrder(ctx, s.db, a, id, false)
	if err != nil {
		return nil, err
	}
	o.forReader(acc.buyer)
	return o, nil
}

// BuyerOrders lists what the actor bought, newest first.
func (s *Service) BuyerOrders(ctx context.Context, a catalog.Actor, p catalog.Page) ([]Order, *string, error) {
	return s.listOrders(ctx, s.db.NewSelect().Where("o.buyer_id = ?", a.UserID), p, true)
}

// StallOrders lists a stall's orders for its merchant and staff, newest
// first, without their codes.
func (s *Service) StallOrders(ctx context.Context, a catalog.Actor, stallID string, status string, p catalog.Page) ([]Order, *string, error) {
	sa, err := s.catalog.BoothStall(ctx, s.db, a, stallID)
	if err != nil {
		return nil, nil, err
	}
	if !sa.CanWorkBooth() {
		return nil, nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant and staff see its orders")
	}
	q := s.db.NewSelect().Where("o.stall_id = ?", stallID)
	if status != "" {
		q = q.Where("o.status = ?", status)
	}
	return s.listOrders(ctx, q, p, false)
}

// listOrders reads a page of orders; buyer tells whether the reader bought
// them (and so may read their codes).
func (s *Service) listOrders(ctx context.Context, q *bun.SelectQuery, p catalog.Page, buyer bool) ([]Order, *string, error) {
	var rows []Order
	q = q.Model(&rows).ModelTableExpr("orders AS o").ColumnExpr("o.*").OrderExpr("o.id DESC").Limit(p.Size() + 1)
	if p.Cursor != "" {
		q = q.Where("o.id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, nil, err
	}
	rows, next := catalog.NextCursor(p, rows, func(o Order) string { return o.ID })
	if err := s.attachItems(ctx, rows); err != nil {
		return nil, nil, err
	}
	for i := range rows {
		rows[i].forReader(buyer)
	}
	return rows, next, nil
}

func (s *Service) attachItems(ctx context.Context, rows []Order) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]string, len(rows))
	byID := map[string]*Order{}
	for i := range rows {
		ids[i] = rows[i].ID
		rows[i].Items = []Item{}
		byID[rows[i].ID] = &rows[i]
	}
	var items []Item
	if err := s.db.NewSelect().Model(&items).Where("order_id IN (?)", bun.In(ids)).OrderExpr("id ASC").Scan(ctx); err != nil {
		return err
	}
	for _, it := range items {
		o := byID[it.OrderID]
		o.Items = append(o.Items, it)
	}
	return nil
}

var (
	errSandboxOff      = catalog.Fail(catalog.ErrNotFound, "the sandbox payment provider is off")
	errPaymentNotFound = catalog.Fail(catalog.ErrNotFound, "payment")
	invalidOutcome     = catalog.Invalid("outcome", "must be succeeded or failed")
)
