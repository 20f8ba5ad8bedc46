package orders

import "context"

// Sandbox is the in-app payment provider: the payer chooses the outcome on
// a page of the app, which settles through the same code as Stripe's webhooks.
type Sandbox struct{}

// Name is "sandbox".
func (Sandbox) Name() string { return "sandbox" }

// Start needs nothing outside the app.
func (Sandbox) Start(_ context.Context, p *Payment) (Opening, error) {
	return Opening{Ref: "sbx_" + p.ID}, nil
}

// Cancel needs nothing: the sandbox page refuses payments that are not pending.
func (Sandbox) Cancel(context.Context, *Payment) error { return nil }

// Lookup: the app's own record is the sandbox's truth.
func (Sandbox) Lookup(_ context.Context, p *Payment) (string, error) { return p.Status, nil }

// Refund always succeeds.
func (Sandbox) Refund(_ context.Context, _ *Payment, r *Refund) (string, error) {
	return "sbx_re_" + r.ID, nil
}

// Payout records a transfer that moves no real money.
func (Sandbox) Payout(_ context.Context, o *Order, _ Money, _ string) (string, error) {
	return "sbx_tr_" + o.ID, nil
}

// ReversePayout needs nothing.
func (Sandbox) ReversePayout(context.Context, *Transfer, Money, string) error { return nil }

// CompleteSandbox settles a sandbox payment as the payer chose: "succeeded"
// or "failed". Only the payer may, only while the payment is open, and only
// while its orders may be paid for (their fair open, their stalls not
// suspended): otherwise it is refused and the orders are cancelled.
func (s *Service) CompleteSandbox(ctx context.Context, buyerID, paymentID, outcome string) (*Payment, error) {
	if s.provider.Name() != "sandbox" {
		return nil, errSandboxOff
	}
	p := new(Payment)
	if err := s.db.NewSelect().Model(p).Where("id = ? AND buyer_id = ? AND provider = 'sandbox'", paymentID, buyerID).Scan(ctx); err != nil {
		return nil, errPaymentNotFound
	}
	if p.Status != PaymentPending && p.Status != PaymentFailed {
		return nil, ErrNotPayable
	}
	if !s.now().Before(p.ExpiresAt) {
		if err := s.ExpirePayment(ctx, p.ID); err != nil {
			return nil, err
		}
		return nil, ErrNotPayable
	}
	var err error
	switch outcome {
	case PaymentSucceeded:
		if err := s.checkPayable(ctx, p); err != nil {
			return nil, err
		}
		err = s.MarkPaid(ctx, p.ID, "", "sandbox")
	case PaymentFailed:
		err = s.MarkFailed(ctx, p.ID, "", "sandbox")
	default:
		return nil, invalidOutcome
	}
	if err != nil {
		return nil, err
	}
	if err := s.db.NewSelect().Model(p).WherePK().Scan(ctx); err != nil {
		return nil, err
	}
	return p, nil
}
