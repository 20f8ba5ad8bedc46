package orders_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/orders"
)

// openAS opens a request as the buyer and fails the test on error.
func (k *kit) openAS(b catalog.Actor, orderID, kind string, amount orders.Money) *orders.AfterSale {
	k.t.Helper()
	as, err := k.Orders.OpenAfterSale(k.ctx, b, orderID, orders.AfterSaleInput{Kind: kind, Amount: amount, Reason: "灯笼破了"})
	if err != nil {
		k.t.Fatalf("OpenAfterSale: %v", err)
	}
	return as
}

// audits lists the fair's audit actions on subject, oldest first.
func (k *kit) audits(subject string) []string {
	k.t.Helper()
	var actions []string
	err := k.DB.NewSelect().Table("audit_entries").Column("action").Where("subject = ?", subject).OrderExpr("id ASC").Scan(k.ctx, &actions)
	if err != nil {
		k.t.Fatal(err)
	}
	return actions
}

func TestAfterSale(t *testing.T) {
	t.Run("OpenAccept", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 2, true) // 2000

		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 600)
		if as.Status != orders.AfterSaleOpen || as.Amount != 600 || as.OrderID != o.ID || !as.ReplyBy.Equal(k.Clock.Now().Add(orders.DefaultAfterSalesReply)) {
			t.Fatalf("opened %+v, want open 600 replying by now+48h", as)
		}
		if as.CanEscalate {
			t.Error("a fresh request can be escalated")
		}
		// One request waiting at a time.
		_, err := k.Orders.OpenAfterSale(k.ctx, b, o.ID, orders.AfterSaleInput{Kind: "refund", Amount: 100, Reason: "again"})
		catalogtest.WantErr(t, err, catalog.ErrConflict)

		got, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{Reason: "抱歉"})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != orders.AfterSaleAccepted || got.RefundAmount != 600 || got.RefundID == nil || got.ReplyReason != "抱歉" {
			t.Fatalf("accepted %+v", got)
		}
		r, err := k.Orders.RefundByID(k.ctx, *got.RefundID)
		if err != nil || r.Status != orders.RefundSucceeded || r.Amount != 600 {
			t.Fatalf("refund %+v, %v; want 600 succeeded", r, err)
		}
		ord := k.order(b, o.ID)
		if ord.Status != orders.StatusPartiallyRefunded || ord.Refunded != 600 || ord.Refundable() != 1400 {
			t.Errorf("order %s refunded %d refundable %d; want partially_refunded 600 1400", ord.Status, ord.Refunded, ord.Refundable())
		}
		if tot := k.totals(); tot.Refunded != 600 || tot.GMV != 1400 {
			t.Errorf("totals refunded %d gmv %d; want 600 1400", tot.Refunded, tot.GMV)
		}
		// Accepting again refunds nothing more.
		again, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{})
		if err != nil || again.Status != orders.AfterSaleAccepted || *again.RefundID != *got.RefundID {
			t.Fatalf("accept again: %+v, %v", again, err)
		}
		if ord := k.order(b, o.ID); ord.Refunded != 600 {
			t.Errorf("refunded %d after a second accept, want 600", ord.Refunded)
		}
		if got := k.Events.Refunds(); !slices.Equal(got, []string{r.ID}) {
			t.Errorf("refund notices %v, want [%s]", got, r.ID)
		}
		if got, want := k.Events.Changed(), []string{o.ID + ":after_sale_opened", o.ID + ":after_sale_accepted"}; !slices.Equal(got, want) {
			t.Errorf("notices %v, want %v", got, want)
		}
		if got, want := k.audits(as.ID), []string{"after_sale.accept"}; !slices.Equal(got, want) {
			t.Errorf("audit of the request %v, want %v", got, want)
		}
		if got, want := k.audits(o.ID), []string{"order.refund"}; !slices.Equal(got, want) {
			t.Errorf("audit of the order %v, want %v", got, want)
		}
		// A new request may follow, for what is left only.
		_, err = k.Orders.OpenAfterSale(k.ctx, b, o.ID, orders.AfterSaleInput{Kind: "refund", Amount: 1401, Reason: "rest"})
		catalogtest.WantInvalid(t, err, "amount")
		k.openAS(b, o.ID, orders.AfterSaleRefund, 1400)
	})

	t.Run("RejectEscalateDecide", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1500}), 1, true)
		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 1500)

		// Not before the merchant answered or reply_by passed.
		_, err := k.Orders.EscalateAfterSale(k.ctx, b, as.ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		_, err = k.Orders.RejectAfterSale(k.ctx, s.Merchant, as.ID, strings.Repeat("坏", 501))
		catalogtest.WantInvalid(t, err, "reason")
		got, err := k.Orders.RejectAfterSale(k.ctx, s.Merchant, as.ID, "完好无损")
		if err != nil || got.Status != orders.AfterSaleRejected || !got.CanEscalate {
			t.Fatalf("rejected %+v, %v", got, err)
		}
		_, err = k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		// Deciding is for escalated requests only.
		_, err = k.Orders.DecideAfterSale(k.ctx, k.Organizer, as.ID, orders.AfterSaleAnswer{RefundAmount: 100, Reason: "x"})
		catalogtest.WantErr(t, err, catalog.ErrConflict)

		got, err = k.Orders.EscalateAfterSale(k.ctx, b, as.ID)
		if err != nil || got.Status != orders.AfterSaleEscalated || got.EscalatedAt == nil {
			t.Fatalf("escalated %+v, %v", got, err)
		}
		_, err = k.Orders.DecideAfterSale(k.ctx, k.Organizer, as.ID, orders.AfterSaleAnswer{RefundAmount: 1501, Reason: "too much"})
		catalogtest.WantInvalid(t, err, "refund_amount")
		_, err = k.Orders.DecideAfterSale(k.ctx, k.Organizer, as.ID, orders.AfterSaleAnswer{RefundAmount: 700, Reason: "各退一步", Restock: true})
		catalogtest.WantInvalid(t, err, "restock") // a refund request returns nothing
		got, err = k.Orders.DecideAfterSale(k.ctx, k.Organizer, as.ID, orders.AfterSaleAnswer{RefundAmount: 700, Reason: "各退一步"})
		if err != nil || got.Status != orders.AfterSaleDecided || got.RefundAmount != 700 || got.DecisionReason != "各退一步" {
			t.Fatalf("decided %+v, %v", got, err)
		}
		if ord := k.order(b, o.ID); ord.Refunded != 700 || ord.Status != orders.StatusPartiallyRefunded {
			t.Errorf("order refunded %d %s, want 700 partially_refunded", ord.Refunded, ord.Status)
		}
		if got, want := k.audits(as.ID), []string{"after_sale.reject", "after_sale.decide"}; !slices.Equal(got, want) {
			t.Errorf("audit %v, want %v", got, want)
		}
		want := []string{o.ID + ":after_sale_opened", o.ID + ":after_sale_rejected", o.ID + ":after_sale_escalated", o.ID + ":after_sale_decided"}
		if got := k.Events.Changed(); !slices.Equal(got, want) {
			t.Errorf("notices %v, want %v", got, want)
		}
	})

	t.Run("DecideNoRefund", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 800}), 1, true)
		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 800)
		if _, err := k.Orders.RejectAfterSale(k.ctx, s.Merchant, as.ID, "no"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.EscalateAfterSale(k.ctx, b, as.ID); err != nil {
			t.Fatal(err)
		}
		got, err := k.Orders.DecideAfterSale(k.ctx, k.Organizer, as.ID, orders.AfterSaleAnswer{RefundAmount: 0, Reason: "商家有理"})
		if err != nil || got.Status != orders.AfterSaleDecided || got.RefundID != nil || got.RefundAmount != 0 {
			t.Fatalf("decided %+v, %v", got, err)
		}
		if ord := k.order(b, o.ID); ord.Refunded != 0 || ord.Status != orders.StatusPaid {
			t.Errorf("order refunded %d %s, want 0 paid", ord.Refunded, ord.Status)
		}
	})

	t.Run("EscalateAfterDeadline", func(t *testing.T) {
		k := newKit(t)
		k.Orders.WithAfterSalesReply(2 * time.Hour)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 500}), 1, true)
		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 500)
		k.Clock.Advance(2 * time.Hour) // reply_by itself: still the merchant's
		_, err := k.Orders.EscalateAfterSale(k.ctx, b, as.ID)
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		k.Clock.Advance(time.Second)
		got, err := k.Orders.EscalateAfterSale(k.ctx, b, as.ID)
		if err != nil || got.Status != orders.AfterSaleEscalated {
			t.Fatalf("escalated %+v, %v", got, err)
		}
		// Too late for the merchant now.
		_, err = k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})

	t.Run("ReturnRestocks", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		p := k.goods(s, catalogtest.Product{Price: 1000, Stock: 10})
		b, o := k.buy(p, 3, true)
		if got := k.stock(p.ID); got != 7 {
			t.Fatalf("stock %d after the sale, want 7", got)
		}
		// A refund request cannot restock.
		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 1000)
		_, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{Restock: true})
		catalogtest.WantInvalid(t, err, "restock")
		if _, err := k.Orders.RejectAfterSale(k.ctx, s.Merchant, as.ID, "no"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.EscalateAfterSale(k.ctx, b, as.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Orders.DecideAfterSale(k.ctx, k.Organizer, as.ID, orders.AfterSaleAnswer{Reason: "无"}); err != nil {
			t.Fatal(err)
		}

		ret := k.openAS(b, o.ID, orders.AfterSaleReturn, 3000)
		got, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, ret.ID, orders.AfterSaleAnswer{Restock: true})
		if err != nil || !got.Restocked || got.RefundAmount != 3000 {
			t.Fatalf("accepted %+v, %v", got, err)
		}
		if got := k.stock(p.ID); got != 10 {
			t.Errorf("stock %d after the return, want 10", got)
		}
		if ord := k.order(b, o.ID); ord.Status != orders.StatusRefunded || ord.Refunded != 3000 {
			t.Errorf("order %s refunded %d, want refunded 3000", ord.Status, ord.Refunded)
		}
		// Fully refunded: no more after-sales.
		_, err = k.Orders.OpenAfterSale(k.ctx, b, o.ID, orders.AfterSaleInput{Kind: "return", Amount: 1, Reason: "x"})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
	})

	t.Run("RestockOnce", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		p := k.goods(s, catalogtest.Product{Price: 1000, Stock: 10})
		b, o := k.buy(p, 2, true)
		first := k.openAS(b, o.ID, orders.AfterSaleReturn, 1000)
		if _, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, first.ID, orders.AfterSaleAnswer{Restock: true}); err != nil {
			t.Fatal(err)
		}
		second := k.openAS(b, o.ID, orders.AfterSaleReturn, 1000)
		_, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, second.ID, orders.AfterSaleAnswer{Restock: true})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if got := k.stock(p.ID); got != 10 {
			t.Errorf("stock %d, want 10: the goods came back once", got)
		}
		if ord := k.order(b, o.ID); ord.Refunded != 1000 {
			t.Errorf("refunded %d, want 1000: the refused acceptance refunded nothing", ord.Refunded)
		}
	})

	t.Run("RefundFailsThenRetried", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 900}), 1, true)
		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 900)
		fail := true
		k.Provider.RefundFunc = func(ctx context.Context, p *orders.Payment, r *orders.Refund) (string, error) {
			if fail {
				return "", errors.New("provider down")
			}
			return k.Provider.Sandbox.Refund(ctx, p, r)
		}
		_, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{})
		catalogtest.WantErr(t, err, orders.ErrProvider)
		if ord := k.order(b, o.ID); ord.Refunded != 0 || ord.Refundable() != 900 {
			t.Fatalf("after a failed refund: refunded %d refundable %d, want 0 900", ord.Refunded, ord.Refundable())
		}
		fail = false
		got, err := k.Orders.AcceptAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{})
		if err != nil || got.Status != orders.AfterSaleAccepted {
			t.Fatalf("retry: %+v, %v", got, err)
		}
		if ord := k.order(b, o.ID); ord.Refunded != 900 || ord.Status != orders.StatusRefunded {
			t.Errorf("refunded %d %s, want 900 refunded", ord.Refunded, ord.Status)
		}
	})

	t.Run("Validation", func(t *testing.T) {
		k := newKit(t)
		s := k.shop("甲")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 1, true)
		for _, c := range []struct {
			name  string
			in    orders.AfterSaleInput
			field string
		}{
			{"kind", orders.AfterSaleInput{Kind: "swap", Amount: 1, Reason: "x"}, "kind"},
			{"zero", orders.AfterSaleInput{Kind: "refund", Amount: 0, Reason: "x"}, "amount"},
			{"beyond paid", orders.AfterSaleInput{Kind: "refund", Amount: 1001, Reason: "x"}, "amount"},
			{"no reason", orders.AfterSaleInput{Kind: "refund", Amount: 1, Reason: " "}, "reason"},
			{"photo", orders.AfterSaleInput{Kind: "refund", Amount: 1, Reason: "x", Photos: []string{"javascript:alert(1)"}}, "photos"},
		} {
			_, err := k.Orders.OpenAfterSale(k.ctx, b, o.ID, c.in)
			catalogtest.WantInvalid(t, err, c.field)
		}
		// Unpaid orders have no after-sales.
		b2, unpaid := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 1, false)
		_, err := k.Orders.OpenAfterSale(k.ctx, b2, unpaid.ID, orders.AfterSaleInput{Kind: "refund", Amount: 1, Reason: "x"})
		catalogtest.WantErr(t, err, catalog.ErrConflict)
		if n, _ := k.DB.NewSelect().Table("after_sales").Count(k.ctx); n != 0 {
			t.Errorf("%d requests stored, want 0", n)
		}
	})

	t.Run("Access", func(t *testing.T) {
		k := newKit(t)
		s, other := k.shop("甲"), k.shop("乙")
		b, o := k.buy(k.goods(s, catalogtest.Product{Price: 1000}), 1, true)
		stranger := k.buyer()
		otherOrg := k.User(t, catalog.RoleOrganizer)

		_, err := k.Orders.OpenAfterSale(k.ctx, stranger, o.ID, orders.AfterSaleInput{Kind: "refund", Amount: 1, Reason: "x"})
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		_, err = k.Orders.OpenAfterSale(k.ctx, s.Merchant, o.ID, orders.AfterSaleInput{Kind: "refund", Amount: 1, Reason: "x"})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		as := k.openAS(b, o.ID, orders.AfterSaleRefund, 500)

		for _, a := range []catalog.Actor{stranger, other.Merchant, otherOrg} {
			_, err := k.Orders.AfterSale(k.ctx, a, as.ID)
			catalogtest.WantErr(t, err, catalog.ErrNotFound)
			_, err = k.Orders.AcceptAfterSale(k.ctx, a, as.ID, orders.AfterSaleAnswer{})
			catalogtest.WantErr(t, err, catalog.ErrNotFound)
			_, err = k.Orders.EscalateAfterSale(k.ctx, a, as.ID)
			catalogtest.WantErr(t, err, catalog.ErrNotFound)
		}
		for _, a := range []catalog.Actor{b, s.Merchant, k.Organizer} {
			if _, err := k.Orders.AfterSale(k.ctx, a, as.ID); err != nil {
				t.Errorf("AfterSale as a party: %v", err)
			}
		}
		_, err = k.Orders.AcceptAfterSale(k.ctx, b, as.ID, orders.AfterSaleAnswer{})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.RejectAfterSale(k.ctx, k.Organizer, as.ID, "no")
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.EscalateAfterSale(k.ctx, s.Merchant, as.ID)
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		_, err = k.Orders.DecideAfterSale(k.ctx, s.Merchant, as.ID, orders.AfterSaleAnswer{Reason: "x"})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)

		// Lists: each party sees its own.
		mine, _, err := k.Orders.BuyerAfterSales(k.ctx, b, orders.AfterSaleFilter{}, catalog.Page{})
		if err != nil || len(mine) != 1 {
			t.Errorf("buyer's list %d, %v; want 1", len(mine), err)
		}
		theirs, _, err := k.Orders.BuyerAfterSales(k.ctx, stranger, orders.AfterSaleFilter{}, catalog.Page{})
		if err != nil || len(theirs) != 0 {
			t.Errorf("stranger's list %d, %v; want 0", len(theirs), err)
		}
		if rows, _, err := k.Orders.StallAfterSales(k.ctx, s.Merchant, s.Stall.ID, orders.AfterSaleFilter{Status: "open"}, catalog.Page{}); err != nil || len(rows) != 1 {
			t.Errorf("stall's list %d, %v; want 1", len(rows), err)
		}
		_, _, err = k.Orders.StallAfterSales(k.ctx, other.Merchant, s.Stall.ID, orders.AfterSaleFilter{}, catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		if rows, _, err := k.Orders.FairAfterSales(k.ctx, k.Organizer, k.Fair.Slug, orders.AfterSaleFilter{Status: "escalated"}, catalog.Page{}); err != nil || len(rows) != 0 {
			t.Errorf("fair's escalated list %d, %v; want 0", len(rows), err)
		}
		_, _, err = k.Orders.FairAfterSales(k.ctx, otherOrg, k.Fair.Slug, orders.AfterSaleFilter{}, catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrForbidden)
		if rows, next, err := k.Orders.OrderAfterSales(k.ctx, k.Organizer, o.ID, catalog.Page{}); err != nil || len(rows) != 1 || next != nil {
			t.Errorf("order's list %d, %v, %v; want 1", len(rows), next, err)
		}
		_, _, err = k.Orders.OrderAfterSales(k.ctx, stranger, o.ID, catalog.Page{})
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
		if got, err := k.Orders.BuyerAfterSalesOf(k.ctx, b, []string{o.ID}); err != nil || len(got[o.ID]) != 1 {
			t.Errorf("BuyerAfterSalesOf(buyer) = %v, %v; want one request", got, err)
		}
		if got, err := k.Orders.BuyerAfterSalesOf(k.ctx, stranger, []string{o.ID}); err != nil || len(got) != 0 {
			t.Errorf("BuyerAfterSalesOf(stranger) = %v, %v; want none", got, err)
		}
	})
}

func TestOrderDesk(t *testing.T) {
	k := newKit(t)
	s1, s2 := k.shop("甲"), k.shop("乙")
	p1, p2 := k.goods(s1, catalogtest.Product{Price: 100}), k.goods(s2, catalogtest.Product{Price: 200})
	b1, o1 := k.buy(p1, 1, true)
	_, o2 := k.buy(p2, 1, true)
	_, o3 := k.buy(p1, 1, false)
	var email string
	if err := k.DB.NewSelect().Table("users").Column("email").Where("id = ?", b1.UserID).Scan(k.ctx, &email); err != nil {
		t.Fatal(err)
	}
	ids := func(rows []orders.Order) []string {
		out := []string{}
		for _, o := range rows {
			out = append(out, o.ID)
		}
		return out
	}
	cases := []struct {
		name string
		q    orders.DeskQuery
		want []string
	}{
		{"all", orders.DeskQuery{}, []string{o3.ID, o2.ID, o1.ID}},
		{"full id", orders.DeskQuery{Q: o2.ID}, []string{o2.ID}},
		{"reference", orders.DeskQuery{Q: o1.ID[len(o1.ID)-8:]}, []string{o1.ID}},
		{"reference lower case", orders.DeskQuery{Q: " " + strings.ToLower(o1.ID[len(o1.ID)-8:]) + " "}, []string{o1.ID}},
		{"email", orders.DeskQuery{Q: email}, []string{o1.ID}},
		{"unknown email", orders.DeskQuery{Q: "nobody@example.com"}, []string{}},
		{"stall", orders.DeskQuery{StallID: s1.Stall.ID}, []string{o3.ID, o1.ID}},
		{"status", orders.DeskQuery{Status: orders.StatusPendingPayment}, []string{o3.ID}},
		{"stall and status", orders.DeskQuery{StallID: s1.Stall.ID, Status: orders.StatusPaid}, []string{o1.ID}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, _, err := k.Orders.FairOrders(k.ctx, k.Organizer, k.Fair.Slug, c.q, catalog.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(rows); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
			for _, o := range rows {
				if o.PickupCode != "" {
					t.Errorf("order %s shows its code to the organizer", o.ID)
				}
			}
		})
	}
	t.Run("Paging", func(t *testing.T) {
		first, next, err := k.Orders.FairOrders(k.ctx, k.Organizer, k.Fair.Slug, orders.DeskQuery{}, catalog.Page{Limit: 2})
		if err != nil || len(first) != 2 || next == nil {
			t.Fatalf("first page %d, next %v, %v", len(first), next, err)
		}
		rest, next, err := k.Orders.FairOrders(k.ctx, k.Organizer, k.Fair.Slug, orders.DeskQuery{}, catalog.Page{Limit: 2, Cursor: *next})
		if err != nil || len(rest) != 1 || next != nil || rest[0].ID != o1.ID {
			t.Fatalf("second page %v, next %v, %v", ids(rest), next, err)
		}
	})
	t.Run("BadQuery", func(t *testing.T) {
		_, _, err := k.Orders.FairOrders(k.ctx, k.Organizer, k.Fair.Slug, orders.DeskQuery{Q: "%_'"}, catalog.Page{})
		catalogtest.WantInvalid(t, err, "q")
	})
	t.Run("Access", func(t *testing.T) {
		for _, a := range []catalog.Actor{s1.Merchant, b1, k.User(t, catalog.RoleOrganizer)} {
			_, _, err := k.Orders.FairOrders(k.ctx, a, k.Fair.Slug, orders.DeskQuery{}, catalog.Page{})
			catalogtest.WantErr(t, err, catalog.ErrForbidden)
		}
	})
}
