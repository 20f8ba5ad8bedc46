package orders

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Booth operations (线下参展): a shopper's one pass per fair, whose code
// redeems at a booth everything they collect there; redemption by any code;
// and the sales a stall makes at its booth, counted in the totals as offline.

// passPrefix starts every fair pass code, so that staff and the server tell a
// pass (10 characters, P…) from an order's pickup code (8 characters).
const passPrefix = "P"

// ErrNothingToRedeem is a known code with nothing left to redeem at the stall.
var ErrNothingToRedeem = catalog.Coded("nothing_to_redeem", catalog.Fail(catalog.ErrConflict, "nothing is left to redeem at this stall for this code"))

// errUnknownCode is a code that is no pass nor order of the stall's fair.
var errUnknownCode = catalog.Fail(catalog.ErrNotFound, "code")

// FairPass is a shopper's one pass for a fair: its code, shown as a QR code,
// redeems all their pickups at whichever booth scans it.
type FairPass struct {
	bun.BaseModel `bun:"table:fair_passes"`

	ID        string    `bun:",pk" json:"-"`
	FairID    string    `json:"-"`
	BuyerID   string    `json:"-"`
	Code      string    `json:"code"`
	CreatedAt time.Time `json:"-"`
}

// Pickup is one order the pass holder collects at a booth.
type Pickup struct {
	OrderID   string `json:"order_id"`
	StallID   string `json:"stall_id"`
	StallName string `json:"stall_name"`
	Booth     string `json:"booth"`
	Items     []Item `json:"items"`
	Status    string `json:"status" enum:"paid,shipped,redeemed,completed,refunded,partially_refunded"`
}

// PassView is the pass as its holder sees it.
type PassView struct {
	Code    string   `json:"code" doc:"shown at the booth; also as the QR code at qr_url"`
	QRURL   string   `json:"qr_url" doc:"a PNG of the code's QR code (for the signed-in holder)"`
	Pickups []Pickup `json:"pickups"`
}

// normalCode is a typed or scanned code as stored: upper case, without the
// spaces and dashes people add.
func normalCode(code string) string {
	return strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(strings.ToUpper(strings.TrimSpace(code)))
}

// isPassCode tells a pass code from an order's pickup code.
func isPassCode(code string) bool { return len(code) == 10 && strings.HasPrefix(code, passPrefix) }

// newPassCode returns a fair pass code: the prefix and 9 characters of the
// pickup codes' alphabet.
func newPassCode() string { return passPrefix + newPickupCode() + newPickupCode()[:1] }

// passOf returns the buyer's pass for the fair, making it the first time.
func (s *Service) passOf(ctx context.Context, fairID, buyerID string) (*FairPass, error) {
	p := new(FairPass)
	err := s.db.NewSelect().Model(p).Where("fair_id = ? AND buyer_id = ?", fairID, buyerID).Scan(ctx)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, errNoRows) {
		return nil, err
	}
	for range 5 { // a code already taken (1 in 31^9) is drawn again
		p = &FairPass{ID: catalog.NewID(), FairID: fairID, BuyerID: buyerID, Code: newPassCode(), CreatedAt: s.now()}
		_, err = s.db.NewInsert().Model(p).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, err
		}
		got := new(FairPass)
		if err := s.db.NewSelect().Model(got).Where("fair_id = ? AND buyer_id = ?", fairID, buyerID).Scan(ctx); err == nil {
			return got, nil
		} else if !errors.Is(err, errNoRows) {
			return nil, err
		}
	}
	return nil, errors.New("orders: no free pass code")
}

// Pass returns the actor's pass for the fair (made the first time) and the
// pickup orders it collects, by stall.
func (s *Service) Pass(ctx context.Context, a catalog.Actor, slug string) (*PassView, error) {
	f, err := s.catalog.Fair(ctx, a, slug)
	if err != nil {
		return nil, err
	}
	p, err := s.passOf(ctx, f.ID, a.UserID)
	if err != nil {
		return nil, err
	}
	var list []Order
	if err := s.db.NewSelect().Model(&list).
		Where("fair_id = ? AND buyer_id = ? AND pickup_code <> '' AND status IN (?)", f.ID, a.UserID, bun.In(PaidStatuses)).
		OrderExpr("stall_id ASC, id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	if err := s.attachItems(ctx, list); err != nil {
		return nil, err
	}
	v := &PassView{Code: p.Code, QRURL: "/fairs/" + url.PathEscape(f.Slug) + "/pass/qr.png", Pickups: []Pickup{}}
	stalls := map[string]*catalog.Stall{}
	for _, o := range list {
		st, ok := stalls[o.StallID]
		if !ok {
			if st, err = s.catalog.StallByID(ctx, s.db, o.StallID); err != nil {
				return nil, err
			}
			stalls[o.StallID] = st
		}
		v.Pickups = append(v.Pickups, Pickup{OrderID: o.ID, StallID: o.StallID, StallName: st.Name, Booth: st.Booth, Items: o.Items, Status: o.Status})
	}
	return v, nil
}

// Redeemed is one order redeemed by a code.
type Redeemed struct {
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// buyerOfCode finds whose code it is in the fair: a pass's holder or a
// pickup order's buyer. Codes of other fairs are unknown here.
func (s *Service) buyerOfCode(ctx context.Context, db bun.IDB, fairID, code string) (string, error) {
	if code == "" {
		return "", errUnknownCode
	}
	var buyers []string
	var err error
	if isPassCode(code) {
		err = db.NewSelect().Model((*FairPass)(nil)).Column("buyer_id").Where("fair_id = ? AND code = ?", fairID, code).Scan(ctx, &buyers)
	} else {
		err = db.NewSelect().Model((*Order)(nil)).ColumnExpr("DISTINCT buyer_id").Where("fair_id = ? AND pickup_code = ?", fairID, code).Scan(ctx, &buyers)
	}
	switch {
	case err != nil:
		return "", err
	case len(buyers) == 0:
		return "", errUnknownCode
	case len(buyers) > 1: // two buyers drew the same pickup code: their passes tell them apart
		return "", catalog.Fail(catalog.ErrConflict, "this code is ambiguous: scan the buyer's fair pass")
	}
	return buyers[0], nil
}

// RedeemCode redeems at the stall, in one transaction, what the code shows:
// with a fair pass code, every paid pickup order and voucher of its holder
// not yet redeemed there; with an order's pickup or voucher code, that order.
// The stall's merchant and staff may. Each order goes through
// redeemInTx, as a redemption by the order's card does; locked and updated
// conditionally, a code scanned at several counters at once is redeemed once.
func (s *Service) RedeemCode(ctx context.Context, a catalog.Actor, stallID, code string) ([]Redeemed, error) {
	code = normalCode(code)
	var out []Redeemed
	var follow []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out, follow = nil, nil
		sa, err := s.catalog.BoothStall(ctx, tx, a, stallID)
		if err != nil {
			return err
		}
		if !sa.CanWorkBooth() {
			return catalog.Fail(catalog.ErrForbidden, "only the stall's merchant and staff redeem")
		}
		buyer, err := s.buyerOfCode(ctx, tx, sa.Stall.FairID, code)
		if err != nil {
			return err
		}
		var list []Order
		q := tx.NewSelect().Model(&list).
			Where("stall_id = ? AND buyer_id = ? AND pickup_code <> '' AND redeemed_at IS NULL AND status IN (?)",
				stallID, buyer, bun.In([]string{StatusPaid, StatusPartiallyRefunded})).OrderExpr("id ASC")
		if !isPassCode(code) {
			// An order's own code redeems that order only: a code seen once
			// at the booth must not redeem the buyer's later orders.
			q = q.Where("pickup_code = ?", code)
		}
		if err := catalog.ForUpdate(q).Scan(ctx); err != nil {
			return err
		}
		for i := range list {
			o := &list[i]
			if err := tx.NewSelect().Model(&o.Items).Where("order_id = ?", o.ID).OrderExpr("id ASC").Scan(ctx); err != nil {
				return err
			}
			msgs, err := s.redeemInTx(ctx, tx, a, o)
			if errors.Is(err, catalog.ErrConflict) {
				continue // an expired voucher, or redeemed meanwhile
			}
			if err != nil {
				return err
			}
			out = append(out, Redeemed{OrderID: o.ID, Items: o.Items})
			follow = append(follow, msgs...)
		}
		if len(out) == 0 {
			return ErrNothingToRedeem
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.nudge(ctx, follow)
	return out, nil
}

// Bounds of a booth sale.
const (
	MaxOfflineAmount = 10_000_000 // ¥100,000 in fen
	MaxOfflineNote   = 200
)

// OfflineSale is a sale made at the booth and paid there (cash, the stall's
// own QR code): the platform did not take the money, the totals count it as
// offline.
type OfflineSale struct {
	bun.BaseModel `bun:"table:offline_sales"`

	ID         string    `bun:",pk" json:"id"`
	StallID    string    `json:"stall_id"`
	FairID     string    `json:"fair_id"`
	Amount     Money     `json:"amount" doc:"in fen"`
	Currency   string    `bun:"-" json:"currency"`
	Note       string    `json:"note,omitempty"`
	BuyerID    *string   `json:"-"`
	RecordedBy string    `json:"recorded_by"`
	CreatedAt  time.Time `json:"created_at"`
}

// OfflineSaleInput is a booth sale as staff type it.
type OfflineSaleInput struct {
	Amount   int64
	Note     string
	PassCode string // optional: the buyer's fair pass, recorded with the sale
}

// RecordOfflineSale records a sale made at the stall's booth; its merchant
// and staff may.
func (s *Service) RecordOfflineSale(ctx context.Context, a catalog.Actor, stallID string, in OfflineSaleInput) (*OfflineSale, error) {
	in.Note = strings.TrimSpace(in.Note)
	var c catalog.Check
	c.That(in.Amount > 0 && in.Amount <= MaxOfflineAmount, "amount", "must be between 1 and 10000000 fen")
	c.That(utf8.ValidString(in.Note) && utf8.RuneCountInString(in.Note) <= MaxOfflineNote, "note", "must be at most 200 characters")
	if err := c.Err(); err != nil {
		return nil, err
	}
	sa, err := s.catalog.BoothStall(ctx, s.db, a, stallID)
	if err != nil {
		return nil, err
	}
	if !sa.CanWorkBooth() {
		return nil, catalog.Fail(catalog.ErrForbidden, "only the stall's merchant and staff record booth sales")
	}
	// A sale is made at a booth that is open: while its fair runs and the
	// stall is not suspended.
	if sa.Fair.StatusAt(s.now()) != catalog.FairOpen {
		return nil, catalog.Fail(catalog.ErrConflict, "the fair is not open: booth sales are recorded while it runs")
	}
	if sa.Stall.Status != catalog.StallActive {
		return nil, catalog.Fail(catalog.ErrConflict, "the stall is suspended")
	}
	sale := &OfflineSale{ID: catalog.NewID(), StallID: stallID, FairID: sa.Stall.FairID, Amount: Money(in.Amount), Currency: catalog.CurrencyCNY,
		Note: in.Note, RecordedBy: a.UserID, CreatedAt: s.now()}
	if code := normalCode(in.PassCode); code != "" {
		var buyers []string
		if err := s.db.NewSelect().Model((*FairPass)(nil)).Column("buyer_id").Where("fair_id = ? AND code = ?", sale.FairID, code).Scan(ctx, &buyers); err != nil {
			return nil, err
		}
		if len(buyers) == 0 {
			return nil, catalog.Invalid("pass_code", "is not a pass of this fair")
		}
		sale.BuyerID = &buyers[0]
	}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(sale).Exec(ctx); err != nil {
			return err
		}
		return catalog.Audit(ctx, tx, sale.CreatedAt, a, sale.FairID, "offline_sale.record", stallID, map[string]any{"sale_id": sale.ID, "amount": sale.Amount, "note": sale.Note})
	})
	if err != nil {
		return nil, err
	}
	return sale, nil
}
