package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/webhook"
	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// StripeConfig is how to reach Stripe.
type StripeConfig struct {
	SecretKey string
	// APIBase replaces https://api.stripe.com (a local stripe-mock in tests).
	APIBase string
	// HTTPClient, if set, carries every request (tests record them).
	HTTPClient *http.Client
	// PublicURL is where buyers reach the site (http://host:port, no
	// trailing slash): Stripe Checkout sends them back there.
	PublicURL string
	// PaymentMethods are the payment method types Stripe Checkout offers
	// (card, alipay, wechat_pay); empty offers all three.
	PaymentMethods []string
	// Now is the wall clock (time.Now when nil; tests fix it).
	Now func() time.Time
}

// StripePaymentMethods are the payment method types a Checkout Session may
// offer, the default set.
var StripePaymentMethods = []string{"card", "alipay", "wechat_pay"}

// Stripe settles payments with Stripe: a Checkout Session per payment in CNY
// (the buyer pays on Stripe's page by card, Alipay or WeChat Pay), refunds
// against its PaymentIntent, and Connect "separate charges and transfers"
// payouts to each stall's connected account. Every write carries an
// Idempotency-Key derived from our own row's id, so a retry after a crash
// repeats nothing. Payments opened before Checkout (a PaymentIntent as their
// reference) are still cancelled, looked up and refunded as they were.
type Stripe struct {
	api       *client.API
	publicURL string
	methods   []string
	now       func() time.Time // the wall clock Stripe checks expires_at with
}

// NewStripe returns the Stripe provider.
func NewStripe(cfg StripeConfig) *Stripe {
	bc := &stripe.BackendConfig{HTTPClient: cfg.HTTPClient, LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}, MaxNetworkRetries: stripe.Int64(2)}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(cfg.APIBase)
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, bc),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, bc),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, bc),
	}
	st := &Stripe{api: client.New(cfg.SecretKey, backends), publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		methods: cfg.PaymentMethods, now: cfg.Now}
	if st.now == nil {
		st.now = time.Now
	}
	if st.publicURL == "" {
		st.publicURL = "http://localhost:8080"
	}
	if len(st.methods) == 0 {
		st.methods = StripePaymentMethods
	}
	return st
}

// Name is "stripe".
func (*Stripe) Name() string { return "stripe" }

// Stripe accepts a Checkout Session's expires_at from 30 minutes to 24 hours
// ahead; sessionMargin keeps a request in flight inside those bounds.
//
// Stripe replays a request sent again with the same idempotency key only if
// its parameters are the same, so expires_at must not move with the clock
// between a request and its retry. Sessions are opened in periods of
// sessionPeriod: within one, every request for a payment's session is the
// same (same expires_at, same key); a request in the next period has a key of
// its own (the period's start is part of it). A session opened in a period
// and lost with its answer is never shown to anyone; it expires by itself,
// and money paid through it would still find its payment by the metadata.
const (
	sessionMinLife = 30 * time.Minute
	sessionMaxLife = 24 * time.Hour
	sessionMargin  = 2 * time.Minute
	sessionPeriod  = 5 * time.Minute
)

// sessionExpiry is when a Checkout Session opened in the period starting at
// period, for a payment due at due, expires: at due, but no sooner and no
// later than Stripe allows at any moment of the period. A session that
// outlives the payment window is expired by Cancel when the window closes.
func sessionExpiry(due, period time.Time) time.Time {
	if lo := period.Add(sessionPeriod + sessionMinLife + sessionMargin); due.Before(lo) {
		return lo
	}
	if hi := period.Add(sessionMaxLife - sessionMargin); due.After(hi) {
		return hi
	}
	return due
}

// sessionKey is the idempotency key of a write about p's current Checkout
// Session: from the payment id, and the attempt when a session was replaced.
func sessionKey(prefix string, p *Payment) string {
	if p.ProviderAttempt == 0 {
		return prefix + p.ID
	}
	return fmt.Sprintf("%s%s-%d", prefix, p.ID, p.ProviderAttempt)
}

// openKey is the idempotency key that creates p's session in the period
// starting at period.
func openKey(p *Payment, period time.Time) string {
	return sessionKey("cs-", p) + "-" + period.UTC().Format("20060102T1504")
}

// isIntentRef tells a payment opened as a bare PaymentIntent (before Checkout).
func isIntentRef(ref string) bool { return strings.HasPrefix(ref, "pi_") }

// Start creates the payment's Checkout Session: one line in CNY for the
// whole payment, the configured payment methods, and the PaymentIntent
// tagged with the payment (metadata and transfer group, for the payouts).
func (s *Stripe) Start(_ context.Context, p *Payment) (Opening, error) {
	period := s.now().Truncate(sessionPeriod)
	params := &stripe.CheckoutSessionParams{
		Mode: stripe.String(string(stripe.CheckoutSessionModePayment)),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionLineItemPriceDataParams{
				Currency:    stripe.String(string(stripe.CurrencyCNY)),
				UnitAmount:  stripe.Int64(p.Amount),
				ProductData: &stripe.CheckoutSessionLineItemPriceDataProductDataParams{Name: stripe.String("庙会订单 " + p.ID)},
			},
		}},
		PaymentMethodTypes: stripe.StringSlice(s.methods),
		ClientReferenceID:  stripe.String(p.ID),
		SuccessURL:         stripe.String(s.publicURL + "/orders?paid=" + url.QueryEscape(p.ID)),
		CancelURL:          stripe.String(s.publicURL + "/pay/" + url.PathEscape(p.ID) + "?back=1"),
		ExpiresAt:          stripe.Int64(sessionExpiry(p.ExpiresAt, period).Unix()),
		PaymentIntentData: &stripe.CheckoutSessionPaymentIntentDataParams{
			TransferGroup: stripe.String(p.ID),
			Description:   stripe.String("Miaohui checkout " + p.ID),
		},
	}
	if slices.Contains(s.methods, "wechat_pay") {
		params.PaymentMethodOptions = &stripe.CheckoutSessionPaymentMethodOptionsParams{
			WeChatPay: &stripe.CheckoutSessionPaymentMethodOptionsWeChatPayParams{Client: stripe.String("web")},
		}
	}
	params.AddMetadata("payment_id", p.ID)
	params.PaymentIntentData.AddMetadata("payment_id", p.ID)
	params.SetIdempotencyKey(openKey(p, period))
	cs, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		return Opening{}, err
	}
	return Opening{Ref: cs.ID, CheckoutURL: cs.URL}, nil
}

// sessionPaid tells a session whose money was captured.
func sessionPaid(cs *stripe.CheckoutSession) bool {
	return cs.Status == stripe.CheckoutSessionStatusComplete &&
		(cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid || cs.PaymentStatus == stripe.CheckoutSessionPaymentStatusNoPaymentRequired)
}

// Cancel expires the Checkout Session, so it can no longer be paid; if it
// was paid meanwhile, ErrAlreadyPaid. A session completed but not yet paid
// (an asynchronous payment under way) cannot be expired: that is an error
// until Stripe tells how it ended.
func (s *Stripe) Cancel(ctx context.Context, p *Payment) error {
	if p.ProviderRef == "" {
		return nil
	}
	if isIntentRef(p.ProviderRef) {
		return s.cancelIntent(ctx, p)
	}
	params := &stripe.CheckoutSessionExpireParams{}
	params.SetIdempotencyKey(sessionKey("cs-expire-", p))
	_, err := s.api.CheckoutSessions.Expire(p.ProviderRef, params)
	if err == nil {
		return nil
	}
	cs, gerr := s.api.CheckoutSessions.Get(p.ProviderRef, nil)
	if gerr != nil {
		return err
	}
	switch {
	case sessionPaid(cs):
		return ErrAlreadyPaid
	case cs.Status == stripe.CheckoutSessionStatusExpired:
		return nil
	}
	return err
}

// cancelIntent cancels a PaymentIntent; if it succeeded meanwhile, ErrAlreadyPaid.
func (s *Stripe) cancelIntent(_ context.Context, p *Payment) error {
	params := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String(string(stripe.PaymentIntentCancellationReasonAbandoned))}
	params.SetIdempotencyKey("pi-cancel-" + p.ID)
	_, err := s.api.PaymentIntents.Cancel(p.ProviderRef, params)
	if err == nil {
		return nil
	}
	pi, gerr := s.api.PaymentIntents.Get(p.ProviderRef, nil)
	if gerr != nil {
		return err
	}
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return ErrAlreadyPaid
	case stripe.PaymentIntentStatusCanceled:
		return nil
	}
	return err
}

// Lookup reads the Checkout Session: complete and paid is succeeded,
// expired is cancelled, anything else pending.
func (s *Stripe) Lookup(_ context.Context, p *Payment) (string, error) {
	if isIntentRef(p.ProviderRef) {
		pi, err := s.api.PaymentIntents.Get(p.ProviderRef, nil)
		if err != nil {
			return "", err
		}
		switch pi.Status {
		case stripe.PaymentIntentStatusSucceeded:
			return PaymentSucceeded, nil
		case stripe.PaymentIntentStatusCanceled:
			return PaymentCancelled, nil
		}
		return PaymentPending, nil
	}
	cs, err := s.api.CheckoutSessions.Get(p.ProviderRef, nil)
	if err != nil {
		return "", err
	}
	switch {
	case sessionPaid(cs):
		return PaymentSucceeded, nil
	case cs.Status == stripe.CheckoutSessionStatusExpired:
		return PaymentCancelled, nil
	}
	return PaymentPending, nil
}

// intentOf is the PaymentIntent that took p's money: the one recorded from
// Stripe's events, else the one its Checkout Session names.
func (s *Stripe) intentOf(p *Payment) (string, error) {
	switch {
	case p.ProviderIntent != "":
		return p.ProviderIntent, nil
	case isIntentRef(p.ProviderRef):
		return p.ProviderRef, nil
	case p.ProviderRef == "":
		return "", errors.New("the payment was never opened at Stripe")
	}
	cs, err := s.api.CheckoutSessions.Get(p.ProviderRef, nil)
	if err != nil {
		return "", err
	}
	if cs.PaymentIntent == nil || cs.PaymentIntent.ID == "" {
		return "", fmt.Errorf("checkout session %s has no PaymentIntent", cs.ID)
	}
	return cs.PaymentIntent.ID, nil
}

// Refund refunds part of the payment's PaymentIntent.
func (s *Stripe) Refund(_ context.Context, p *Payment, r *Refund) (string, error) {
	intent, err := s.intentOf(p)
	if err != nil {
		return "", err
	}
	params := &stripe.RefundParams{PaymentIntent: stripe.String(intent), Amount: stripe.Int64(r.Amount)}
	params.AddMetadata("refund_id", r.ID)
	params.AddMetadata("order_id", r.OrderID)
	params.SetIdempotencyKey("re-" + r.ID)
	re, err := s.api.Refunds.New(params)
	if err != nil {
		return "", err
	}
	return re.ID, nil
}

// Payout transfers the order's merchant share to the stall's connected account.
func (s *Stripe) Payout(_ context.Context, o *Order, amount Money, account string) (string, error) {
	params := &stripe.TransferParams{
		Amount: stripe.Int64(amount), Currency: stripe.String(string(stripe.CurrencyCNY)),
		Destination: stripe.String(account), TransferGroup: stripe.String(o.PaymentID),
	}
	params.AddMetadata("order_id", o.ID)
	params.SetIdempotencyKey("tr-" + o.ID)
	t, err := s.api.Transfers.New(params)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// ReversePayout reverses amount of a transfer.
func (s *Stripe) ReversePayout(_ context.Context, t *Transfer, amount Money, key string) error {
	params := &stripe.TransferReversalParams{ID: stripe.String(t.ProviderRef), Amount: stripe.Int64(amount)}
	params.AddMetadata("order_id", t.OrderID)
	params.SetIdempotencyKey("trr-" + key)
	_, err := s.api.TransferReversals.New(params)
	return err
}

// OnboardingLink creates (once) the stall's connected account and returns the
// link where its merchant completes Stripe's onboarding.
func (s *Stripe) OnboardingLink(stallID, account, returnURL string) (acct, url string, err error) {
	if account == "" {
		params := &stripe.AccountParams{Type: stripe.String(string(stripe.AccountTypeExpress))}
		params.AddMetadata("stall_id", stallID)
		params.SetIdempotencyKey("acct-" + stallID)
		a, err := s.api.Accounts.New(params)
		if err != nil {
			return "", "", err
		}
		account = a.ID
	}
	link, err := s.api.AccountLinks.New(&stripe.AccountLinkParams{
		Account: stripe.String(account), RefreshURL: stripe.String(returnURL), ReturnURL: stripe.String(returnURL),
		Type: stripe.String("account_onboarding"),
	})
	if err != nil {
		return "", "", err
	}
	return account, link.URL, nil
}

// PayoutAccountLink gives a stall's merchant the Stripe onboarding link of the
// stall's connected account, creating the account the first time.
func (s *Service) PayoutAccountLink(ctx context.Context, a catalog.Actor, stallID, returnURL string) (string, error) {
	st, ok := s.provider.(*Stripe)
	if !ok {
		return "", catalog.Fail(catalog.ErrConflict, "payouts need the stripe provider")
	}
	sa, err := s.catalog.Stall(ctx, a, stallID)
	if err != nil {
		return "", err
	}
	if !sa.Merchant {
		return "", catalog.Fail(catalog.ErrForbidden, "only the stall's merchant connects its payout account")
	}
	account, err := s.catalog.PayoutAccount(ctx, s.db, stallID)
	if err != nil {
		return "", err
	}
	acct, url, err := st.OnboardingLink(stallID, account, returnURL)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrProvider, err)
	}
	if acct != account {
		if err := s.connectPayoutAccount(ctx, a, sa.Stall.FairID, stallID, acct); err != nil {
			return "", err
		}
	}
	return url, nil
}

// ErrInvalidSignature is a webhook whose Stripe-Signature does not verify.
var ErrInvalidSignature = catalog.Coded("invalid_signature", catalog.Fail(catalog.ErrBadRequest, "the Stripe-Signature header does not verify"))

// ApplyStripeEvent settles what a verified Stripe event says. Unknown event
// types and events about payments we do not know are acknowledged and ignored.
//
// A Checkout Session completed and paid (or paid later, asynchronously)
// settles its payment; a failed asynchronous payment marks it failed and
// lets the payer open a new session. A session that expired can no longer be
// paid: while the payment window lasts the payment forgets it, and the pay
// page opens a new one; once the window has passed the payment is cancelled
// (see sessionExpired).
func (s *Service) ApplyStripeEvent(ctx context.Context, ev stripe.Event) error {
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded",
		"checkout.session.async_payment_failed", "checkout.session.expired":
		var cs stripe.CheckoutSession
		if err := json.Unmarshal(ev.Data.Raw, &cs); err != nil {
			return catalog.Invalid("data", "not a Checkout Session")
		}
		p, err := s.paymentForSession(ctx, &cs)
		if err != nil {
			return notOurs(err)
		}
		if cs.PaymentIntent != nil {
			if err := s.noteIntent(ctx, p.ID, cs.PaymentIntent.ID); err != nil {
				return err
			}
		}
		switch ev.Type {
		case "checkout.session.completed":
			if !sessionPaid(&cs) {
				return nil // an asynchronous payment: its outcome follows
			}
			return s.MarkPaid(ctx, p.ID, ev.ID, string(ev.Type))
		case "checkout.session.async_payment_succeeded":
			return s.MarkPaid(ctx, p.ID, ev.ID, string(ev.Type))
		case "checkout.session.async_payment_failed":
			return s.markFailed(ctx, p.ID, ev.ID, string(ev.Type), cs.ID)
		}
		return s.sessionExpired(ctx, p.ID, cs.ID, ev.ID, string(ev.Type))
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return catalog.Invalid("data", "not a PaymentIntent")
		}
		p, err := s.paymentForIntent(ctx, &pi)
		if err != nil {
			return notOurs(err)
		}
		if err := s.noteIntent(ctx, p.ID, pi.ID); err != nil {
			return err
		}
		if ev.Type == "payment_intent.succeeded" {
			return s.MarkPaid(ctx, p.ID, ev.ID, string(ev.Type))
		}
		return s.MarkFailed(ctx, p.ID, ev.ID, string(ev.Type))
	case "charge.refunded":
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil {
			return catalog.Invalid("data", "not a Charge")
		}
		if ch.PaymentIntent == nil {
			return nil
		}
		p, err := s.paymentForIntent(ctx, ch.PaymentIntent)
		if err != nil {
			return notOurs(err)
		}
		var ours []string
		if ch.Refunds != nil {
			for _, r := range ch.Refunds.Data {
				if id := r.Metadata["refund_id"]; id != "" && r.Status != stripe.RefundStatusFailed && r.Status != stripe.RefundStatusCanceled {
					ours = append(ours, id)
				}
			}
		}
		return s.applyRefunded(ctx, p.ID, ev.ID, string(ev.Type), ours)
	}
	return nil
}

// stripePayment is the Stripe payment with the given id, if there is one.
// notOurs acknowledges an event about a payment we do not know (nil), but
// not a failed lookup: that error makes Stripe deliver the event again.
func notOurs(err error) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	return err
}

func (s *Service) stripePayment(ctx context.Context, id string) (*Payment, error) {
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ? AND provider = 'stripe'", id).Scan(ctx); err != nil {
		return nil, catalog.NotFound(err, "payment")
	}
	return p, nil
}

// paymentForSession finds the payment a Checkout Session was opened for: by
// the payment id it carries, else by the session's id.
func (s *Service) paymentForSession(ctx context.Context, cs *stripe.CheckoutSession) (*Payment, error) {
	for _, id := range []string{cs.Metadata["payment_id"], cs.ClientReferenceID} {
		if id == "" {
			continue
		}
		p, err := s.stripePayment(ctx, id)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
	}
	if cs.ID == "" {
		return nil, catalog.ErrNotFound
	}
	return s.PaymentByRef(ctx, cs.ID)
}

// paymentForIntent finds the payment a PaymentIntent took money for: by the
// payment id in its metadata, else by the intent's id (that of a payment
// opened as a bare PaymentIntent, or recorded from a session's events).
func (s *Service) paymentForIntent(ctx context.Context, pi *stripe.PaymentIntent) (*Payment, error) {
	if id := pi.Metadata["payment_id"]; id != "" {
		p, err := s.stripePayment(ctx, id)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			return nil, err
		}
	}
	if pi.ID == "" {
		return nil, catalog.ErrNotFound
	}
	p := new(Payment)
	err := s.db.NewSelect().Model(p).Where("provider_intent = ? OR provider_ref = ?", pi.ID, pi.ID).Limit(1).Scan(ctx)
	if err != nil {
		return nil, catalog.NotFound(err, "payment")
	}
	return p, nil
}

// noteIntent records the PaymentIntent behind a payment's Checkout Session,
// the first time an event names it: refunds are made against it.
func (s *Service) noteIntent(ctx context.Context, paymentID, intent string) error {
	if intent == "" {
		return nil
	}
	_, err := s.db.NewUpdate().Model((*Payment)(nil)).Set("provider_intent = ?", intent).
		Where("id = ? AND provider_intent = ''", paymentID).Exec(ctx)
	return err
}

// sessionExpired applies Stripe's word that the Checkout Session sessionID
// of a payment expired: nobody can pay it any more. A payment that moved on
// (paid, cancelled) or that has since got another session keeps its state.
// A payment still open while its window lasts forgets the session, so its
// pay page opens a new one; once the window has passed it is cancelled and
// its stock returned, as its expiry would (nothing is left to close at
// Stripe). The event is applied once.
func (s *Service) sessionExpired(ctx context.Context, paymentID, sessionID, eventID, eventType string) error {
	var backOnSale []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		backOnSale = nil
		now := s.now()
		fresh, err := recordEvent(ctx, tx, eventID, eventType, now)
		if err != nil || !fresh {
			return err
		}
		p, err := s.lockPayment(ctx, tx, paymentID)
		if err != nil {
			return err
		}
		if p.Status != PaymentPending && p.Status != PaymentFailed || p.ProviderRef != sessionID {
			return nil
		}
		if now.Before(p.ExpiresAt) {
			return forgetSession(ctx, tx, p)
		}
		backOnSale, err = s.cancelPaymentIn(ctx, tx, p, now)
		return err
	})
	if err != nil {
		return err
	}
	s.nudge(ctx, backOnSale)
	return nil
}

// applyRefunded books refunds Stripe reports as done. A refund proves the
// charge was captured, so a payment still pending is settled as paid first:
// whatever order the events arrive in, the end state is the same.
func (s *Service) applyRefunded(ctx context.Context, paymentID, eventID, eventType string, refundIDs []string) error {
	var pay Payment
	if err := s.db.NewSelect().Model(&pay).Where("id = ?", paymentID).Scan(ctx); err != nil {
		return err
	}
	if pay.Status != PaymentSucceeded {
		if err := s.MarkPaid(ctx, paymentID, "", "reconcile"); err != nil {
			return err
		}
	}
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		follow = nil
		fresh, err := recordEvent(ctx, tx, eventID, eventType, s.now())
		if err != nil || !fresh {
			return err
		}
		for _, id := range refundIDs {
			r := new(Refund)
			if err := catalog.ForUpdate(tx.NewSelect().Model(r).Where("id = ? AND payment_id = ?", id, paymentID)).Scan(ctx); err != nil {
				continue // not one of this payment's refunds
			}
			if r.Status != RefundPending {
				continue
			}
			r.Status, r.UpdatedAt = RefundSucceeded, s.now()
			if _, err := tx.NewUpdate().Model(r).Column("status", "updated_at").WherePK().Exec(ctx); err != nil {
				return err
			}
			if err := s.bookRefund(ctx, tx, r.OrderID, r.Amount, true); err != nil {
				return err
			}
			msgs, err := refundedOutbox(ctx, tx, r.UpdatedAt, r)
			if err != nil {
				return err
			}
			follow = append(follow, msgs...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.nudge(ctx, follow)
	return nil
}

// webhookTolerance is how far from now a webhook's signed timestamp may be,
// in the past (a replay) as in the future (a forged or mis-clocked sender).
const webhookTolerance = 5 * time.Minute

// checkSignedAt refuses a Stripe-Signature whose timestamp is more than
// tolerance ahead of now: stripe-go's check bounds only the past, and a
// signature dated ahead would stay replayable for that long.
func checkSignedAt(header string, now time.Time, tolerance time.Duration) error {
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k != "t" {
			continue
		}
		ts, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: bad timestamp", ErrInvalidSignature)
		}
		if time.Unix(ts, 0).After(now.Add(tolerance)) {
			return fmt.Errorf("%w: timestamp in the future", ErrInvalidSignature)
		}
		return nil
	}
	return fmt.Errorf("%w: no timestamp", ErrInvalidSignature)
}

// WebhookHandler receives Stripe's events.
type WebhookHandler struct {
	svc    *Service
	secret string
	now    func() time.Time // the wall clock Stripe signs with
}

// NewWebhookHandler returns the handler verifying events with secret.
func NewWebhookHandler(svc *Service, secret string) *WebhookHandler {
	return &WebhookHandler{svc: svc, secret: secret, now: time.Now}
}

// Routes registers POST /api/v1/payments/stripe/webhook.
func (h *WebhookHandler) Routes(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "stripe-webhook", Method: http.MethodPost, Path: "/api/v1/payments/stripe/webhook",
		Summary: "Stripe's events (signature verified); unknown types are acknowledged", Tags: []string{"Payments"},
		Errors: []int{400, 404},
	}, func(ctx context.Context, in *struct {
		Signature string `header:"Stripe-Signature"`
		RawBody   []byte
	}) (*struct {
		Body struct {
			Received bool `json:"received"`
		}
	}, error) {
		if h.secret == "" {
			return nil, catalog.Fail(catalog.ErrNotFound, "the stripe provider is off")
		}
		ev, err := webhook.ConstructEventWithOptions(in.RawBody, in.Signature, h.secret, webhook.ConstructEventOptions{Tolerance: webhookTolerance})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidSignature, err)
		}
		if err := checkSignedAt(in.Signature, h.now(), webhookTolerance); err != nil {
			return nil, err
		}
		if err := h.svc.ApplyStripeEvent(ctx, ev); err != nil {
			return nil, err
		}
		out := &struct {
			Body struct {
				Received bool `json:"received"`
			}
		}{}
		out.Body.Received = true
		return out, nil
	})
}
