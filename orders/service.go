package orders

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Provider is a payment provider: the in-app sandbox or Stripe. Every call
// that moves money is idempotent by the id of our own row, so a retry after a
// crash never charges or refunds twice.
type Provider interface {
	// Name is "sandbox" or "stripe".
	Name() string
	// Start opens the provider's side of a payment: its reference and what
	// the payer's browser needs to pay.
	Start(ctx context.Context, p *Payment) (Opening, error)
	// Cancel stops a pending payment. It returns ErrAlreadyPaid when the
	// money was captured in the meantime.
	Cancel(ctx context.Context, p *Payment) error
	// Lookup asks the provider how a payment stands: one of the Payment*
	// statuses.
	Lookup(ctx context.Context, p *Payment) (string, error)
	// Refund returns part or all of a captured payment.
	Refund(ctx context.Context, p *Payment, r *Refund) (ref string, err error)
	// Payout sends amount of a paid order's merchant share to the stall's account.
	Payout(ctx context.Context, o *Order, amount Money, account string) (ref string, err error)
	// ReversePayout takes back amount of a payout after refunds; key makes
	// the call idempotent.
	ReversePayout(ctx context.Context, t *Transfer, amount Money, key string) error
}

// Opening is a payment opened at its provider.
type Opening struct {
	// Ref names the provider's side (a Stripe Checkout Session's id).
	Ref string
	// ClientSecret is for a provider's script in the payer's browser.
	ClientSecret string
	// CheckoutURL is the provider's page where the payer pays.
	CheckoutURL string
}

// ErrAlreadyPaid is a cancellation that came too late: the payment succeeded.
var ErrAlreadyPaid = errors.New("the payment has already succeeded")

// Events is what the orders domain asks the background workers to do after
// its transactions commit. The jobs package implements it.
type Events interface {
	// PaymentsOpened schedules the end of payments' windows closing together
	// (a checkout's payment, or the orders of a batch of flash tickets).
	PaymentsOpened(ctx context.Context, paymentIDs []string, expiresAt time.Time) error
	// Outboxed nudges the relay: msgs were just committed to the outbox
	// (what follows a payment, refund, cancellation, shipping or redemption)
	// and may be handed to the queue at once. It is best effort: the relay
	// delivers whatever a nudge did not.
	Outboxed(ctx context.Context, msgs []OutboxMessage) error
	// TicketAdmitted queues a flash-sale ticket to become an order (TaskID = ticket).
	TicketAdmitted(ctx context.Context, t Ticket) error
	// FlashSaleScheduled arranges the reminder of a sale's start.
	FlashSaleScheduled(ctx context.Context, saleID string, startsAt time.Time) error
}

// NoEvents is Events that does nothing, for tools that only read.
type NoEvents struct{}

func (NoEvents) PaymentsOpened(context.Context, []string, time.Time) error   { return nil }
func (NoEvents) Outboxed(context.Context, []OutboxMessage) error             { return nil }
func (NoEvents) TicketAdmitted(context.Context, Ticket) error                { return nil }
func (NoEvents) FlashSaleScheduled(context.Context, string, time.Time) error { return nil }

// Service runs carts, checkout, payments, fulfilment, refunds and totals.
type Service struct {
	db       *bun.DB
	catalog  *catalog.Service
	provider Provider
	events   Events
	now      catalog.Clock
	window   time.Duration
	hold     time.Duration  // how long a shipped order's share is held
	reply    time.Duration  // how long a merchant has to answer an after-sales request
	inFlight claimsInFlight // coupons answered and not yet written, per buyer
}

// NewService returns the orders service. window is the platform's default
// payment window (a fair may set its own).
func NewService(db *bun.DB, cat *catalog.Service, provider Provider, events Events, now catalog.Clock, window time.Duration) *Service {
	return &Service{db: db, catalog: cat, provider: provider, events: events, now: now, window: window, hold: DefaultPayoutHold, reply: DefaultAfterSalesReply}
}

// Provider is the payment provider in use.
func (s *Service) Provider() Provider { return s.provider }

func (s *Service) tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.db.RunInTx(ctx, nil, fn)
}

var errNoRows = sql.ErrNoRows

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }
