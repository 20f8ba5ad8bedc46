package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
}

// Stripe settles payments with Stripe: a PaymentIntent per checkout in CNY,
// refunds against it, and Connect "separate charges and transfers" payouts to
// each stall's connected account. Every write carries an Idempotency-Key
// derived from our own row's id, so a retry after a crash repeats nothing.
type Stripe struct {
	api *client.API
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
	return &Stripe{api: client.New(cfg.SecretKey, backends)}
}

// Name is "stripe".
func (*Stripe) Name() string { return "stripe" }

// Start creates the checkout's PaymentIntent.
func (s *Stripe) Start(_ context.Context, p *Payment) (string, string, error) {
	params := &stripe.PaymentIntentParams{
		Amount:        stripe.Int64(p.Amount),
		Currency:      stripe.String(string(stripe.CurrencyCNY)),
		TransferGroup: stripe.String(p.ID),
		Description:   stripe.String("Miaohui checkout " + p.ID),
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{
			Enabled: stripe.Bool(true),
		},
	}
	params.AddMetadata("payment_id", p.ID)
	params.SetIdempotencyKey("pi-" + p.ID)
	pi, err := s.api.PaymentIntents.New(params)
	if err != nil {
		return "", "", err
	}
	return pi.ID, pi.ClientSecret, nil
}

// Cancel cancels the PaymentIntent; if it succeeded meanwhile, ErrAlreadyPaid.
func (s *Stripe) Cancel(_ context.Context, p *Payment) error {
	if p.ProviderRef == "" {
		return nil
	}
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

// Lookup reads the PaymentIntent's status.
func (s *Stripe) Lookup(_ context.Context, p *Payment) (string, error) {
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

// Refund refunds part of the PaymentIntent.
func (s *Stripe) Refund(_ context.Context, p *Payment, r *Refund) (string, error) {
	params := &stripe.RefundParams{PaymentIntent: stripe.String(p.ProviderRef), Amount: stripe.Int64(r.Amount)}
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
		if err := s.connectPayoutAccount(ctx, stallID, acct); err != nil {
			return "", err
		}
	}
	return url, nil
}

// ErrInvalidSignature is a webhook whose Stripe-Signature does not verify.
var ErrInvalidSignature = catalog.Coded("invalid_signature", catalog.Fail(catalog.ErrBadRequest, "the Stripe-Signature header does not verify"))

// ApplyStripeEvent settles what a verified Stripe event says. Unknown event
// types and events about payments we do not know are acknowledged and ignored.
func (s *Service) ApplyStripeEvent(ctx context.Context, ev stripe.Event) error {
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return catalog.Invalid("data", "not a PaymentIntent")
		}
		p, err := s.paymentForIntent(ctx, &pi)
		if err != nil {
			return nil // not ours
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
			return nil
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

func (s *Service) paymentForIntent(ctx context.Context, pi *stripe.PaymentIntent) (*Payment, error) {
	if id := pi.Metadata["payment_id"]; id != "" {
		p := new(Payment)
		if err := s.db.NewSelect().Model(p).Where("id = ?", id).Scan(ctx); err == nil {
			return p, nil
		}
	}
	return s.PaymentByRef(ctx, pi.ID)
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
