package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// CheckoutInput is what the buyer says at checkout; prices and totals always
// come from the server.
type CheckoutInput struct {
	// Fulfillment "pickup" collects everything at the booths; "ship" or empty
	// follows each product's own fulfilment. Vouchers are always redeemed in person.
	Fulfillment     string
	ShippingAddress string
	// Coupons are the buyer's coupons to spend: at most one fair coupon and
	// one shop coupon per stall.
	Coupons []string
}

// Checkout is the result: one order per stall, one payment for them all.
type Checkout struct {
	ID       string   `json:"id" doc:"the checkout's id (that of its payment)"`
	Orders   []Order  `json:"orders"`
	Total    Money    `json:"total"`
	Currency string   `json:"currency"`
	Payment  *Payment `json:"payment"`
}

// ErrEmptyCart is a checkout with nothing in the cart.
var ErrEmptyCart = catalog.Invalid("cart", "is empty")

// ErrVoucherHeld is a second deposit voucher of one development for one buyer.
var ErrVoucherHeld = catalog.Fail(catalog.ErrConflict, "you already hold a voucher of this development (one per buyer)")

// Checkout turns the actor's cart into orders in one transaction: stock is
// reserved by conditional updates (never below zero), every line copies the
// product's price now, each stall gets one order with its commission split,
// and one payment covers them all. The provider's side of the payment is
// opened after the commit, and the payment window starts now.
func (s *Service) Checkout(ctx context.Context, a catalog.Actor, in CheckoutInput) (*Checkout, error) {
	if a.UserID == "" {
		return nil, catalog.ErrUnauthorized
	}
	in.ShippingAddress = strings.TrimSpace(in.ShippingAddress)
	var c catalog.Check
	c.That(in.Fulfillment == "" || in.Fulfillment == catalog.ShipDelivery || in.Fulfillment == catalog.ShipPickup, "fulfillment", "must be ship or pickup")
	c.That(utf8.RuneCountInString(in.ShippingAddress) <= 300, "shipping_address", "must be at most 300 characters")
	if err := c.Err(); err != nil {
		return nil, err
	}
	if len(in.Coupons) > 0 {
		s.AwaitClaims(ctx, a.UserID) // a coupon just claimed is written
	}
	var out *Checkout
	var items []CartItem
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(&items).Where("user_id = ?", a.UserID).OrderExpr("product_id ASC").Scan(ctx); err != nil {
			return err
		}
		if len(items) == 0 {
			return ErrEmptyCart
		}
		fair, err := s.catalog.FairByID(ctx, tx, items[0].FairID)
		if err != nil {
			return err
		}
		if fair.Status != catalog.FairOpen {
			return catalog.Fail(catalog.ErrConflict, "the fair is not open")
		}
		now := s.now()
		pay := &Payment{ID: catalog.NewID(), BuyerID: a.UserID, FairID: fair.ID, Provider: s.provider.Name(), Status: PaymentPending,
			Currency: catalog.CurrencyCNY, ExpiresAt: now.Add(fair.PaymentWindow(s.window)), CreatedAt: now, UpdatedAt: now}

		// Group the lines by stall, in the order the stalls first appear.
		byStall := map[string]*Order{}
		var orders []*Order
		for _, it := range items {
			p, err := s.catalog.ProductByID(ctx, tx, it.ProductID)
			if err != nil {
				return err
			}
			sa, err := s.catalog.StallIn(ctx, tx, a, p.StallID)
			if err != nil && !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			if err != nil || !sa.Public() || !p.Active || p.FairID != fair.ID {
				return catalog.Failf(catalog.ErrConflict, "%s is no longer on sale", p.Title)
			}
			if p.Kind == catalog.KindVoucher && it.Quantity != 1 {
				return catalog.Invalid("quantity", "one voucher per buyer per development")
			}
			if err := s.catalog.ReserveStock(ctx, tx, p.ID, int64(it.Quantity)); err != nil {
				return fmt.Errorf("%s: %w", p.Title, err)
			}
			o := byStall[p.StallID]
			if o == nil {
				o = &Order{ID: catalog.NewID(), PaymentID: pay.ID, FairID: fair.ID, StallID: p.StallID, BuyerID: a.UserID,
					Status: StatusPendingPayment, Fulfillment: catalog.ShipPickup, Currency: catalog.CurrencyCNY,
					CreatedAt: now, ExpiresAt: pay.ExpiresAt}
				byStall[p.StallID] = o
				orders = append(orders, o)
			}
			if p.Kind == catalog.KindGoods && p.Fulfillment == catalog.ShipDelivery && in.Fulfillment != catalog.ShipPickup {
				o.Fulfillment = catalog.ShipDelivery
			}
			line := Item{ID: catalog.NewID(), OrderID: o.ID, ProductID: p.ID, Title: p.Title, Kind: p.Kind, UnitPrice: p.Price,
				Quantity: it.Quantity, LineTotal: p.Price * int64(it.Quantity), OffsetValue: p.OffsetValue, ValidUntil: p.ValidUntil,
				Category: p.Category}
			o.Items = append(o.Items, line)
			o.Subtotal += line.LineTotal
		}

		for _, o := range orders {
			o.Total = o.Subtotal
		}
		uses, err := s.applyCoupons(ctx, tx, a.UserID, fair.ID, pay.ID, now, orders, in.Coupons)
		if err != nil {
			return err
		}
		for _, o := range orders {
			o.PlatformFee, o.MerchantShare = Commission(o.Total, fair.CommissionBPS)
			if o.Fulfillment == catalog.ShipDelivery {
				if in.ShippingAddress == "" {
					return catalog.Invalid("shipping_address", "is required when something is shipped")
				}
				o.ShippingAddress = in.ShippingAddress
			} else {
				o.PickupCode = newPickupCode()
			}
			pay.Amount += o.Total
		}
		if pay.Amount <= 0 {
			return catalog.Invalid("cart", "has nothing to pay for")
		}
		if _, err := tx.NewInsert().Model(pay).Exec(ctx); err != nil {
			return err
		}
		for _, o := range orders {
			if _, err := tx.NewInsert().Model(o).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&o.Items).Exec(ctx); err != nil {
				return err
			}
			for _, line := range o.Items {
				if line.Kind != catalog.KindVoucher {
					continue
				}
				hold := map[string]any{"buyer_id": a.UserID, "stall_id": o.StallID, "order_id": o.ID}
				if _, err := tx.NewInsert().Model(&hold).TableExpr("voucher_holds").Exec(ctx); err != nil {
					if catalog.IsUniqueViolation(err) {
						return ErrVoucherHeld
					}
					return err
				}
			}
		}
		if len(uses) > 0 {
			if _, err := tx.NewInsert().Model(&uses).Exec(ctx); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Model((*CartItem)(nil)).Where("user_id = ?", a.UserID).Exec(ctx); err != nil {
			return err
		}
		out = &Checkout{ID: pay.ID, Total: pay.Amount, Currency: pay.Currency, Payment: pay}
		for _, o := range orders {
			out.Orders = append(out.Orders, *o)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// The provider's side is opened after the commit, with an idempotency key
	// from the payment id; if it cannot be opened the checkout is undone.
	op, err := s.provider.Start(ctx, out.Payment)
	if err != nil {
		bg := context.WithoutCancel(ctx)
		if _, cerr := s.cancelPayment(bg, out.Payment.ID, false); cerr != nil {
			return nil, fmt.Errorf("%w: %v (undoing the checkout: %v)", ErrProvider, err, cerr)
		}
		if rerr := s.restoreCart(bg, a.UserID, items); rerr != nil {
			return nil, fmt.Errorf("%w: %v (putting the cart back: %v)", ErrProvider, err, rerr)
		}
		return nil, fmt.Errorf("%w: %v", ErrProvider, err)
	}
	out.Payment.ProviderRef, out.Payment.ClientSecret, out.Payment.CheckoutURL = op.Ref, op.ClientSecret, op.CheckoutURL
	if _, err := s.db.NewUpdate().Model(out.Payment).Column("provider_ref", "client_secret", "checkout_url").WherePK().Exec(ctx); err != nil {
		return nil, err
	}
	if err := s.events.PaymentsOpened(ctx, []string{out.Payment.ID}, out.Payment.ExpiresAt); err != nil {
		// The periodic sweep cancels it on time all the same.
		_ = err
	}
	return out, nil
}

// restoreCart puts the lines of a checkout that was undone back in the
// buyer's cart, so they can pay again without filling it anew; a cart the
// buyer started meanwhile at another fair is left as it is.
func (s *Service) restoreCart(ctx context.Context, userID string, items []CartItem) error {
	if len(items) == 0 {
		return nil
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		other, err := tx.NewSelect().Model((*CartItem)(nil)).Where("user_id = ? AND fair_id <> ?", userID, items[0].FairID).Count(ctx)
		if err != nil || other > 0 {
			return err
		}
		now := s.now()
		for i := range items {
			items[i].UpdatedAt = now
		}
		_, err = tx.NewInsert().Model(&items).On("CONFLICT (user_id, product_id) DO NOTHING").Exec(ctx)
		return err
	})
}
