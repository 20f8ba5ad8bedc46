package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// ProcessTickets turns admitted tickets into pending_payment orders at the
// flash price, many per transaction. A ticket makes at most one order (a
// unique ticket_id), so a batch may run twice; the sale's `sold` count can
// never pass its quantity (a CHECK), so a ticket Redis admitted wrongly
// (after losing its state) is rejected instead of oversold. A ticket of a
// fair that is no longer open (closed, over, moved to later, or its stall
// suspended since) is rejected too and its units go back on sale in Redis:
// it must not become an order nobody may pay.
func (s *Service) ProcessTickets(ctx context.Context, tickets []Ticket) error {
	if len(tickets) == 0 {
		return nil
	}
	var payments []*Payment
	var restock []OutboxMessage
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		payments, restock = nil, nil
		ids := make([]string, len(tickets))
		for i, t := range tickets {
			ids[i] = t.ID
		}
		var known []string
		if err := tx.NewSelect().Model((*TicketRow)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).Scan(ctx, &known); err != nil {
			return err
		}
		done := map[string]bool{}
		for _, id := range known {
			done[id] = true
		}
		sales := map[string]*catalog.FlashSale{}
		products := map[string]*catalog.Product{}
		fairs := map[string]*catalog.Fair{}
		bounds := map[string]catalog.FairWindow{}
		soldBefore := map[string]int{}
		var orders []*Order
		var items []*Item
		var rows []*TicketRow
		now := s.now()
		for _, t := range tickets {
			if done[t.ID] {
				continue
			}
			done[t.ID] = true
			f := sales[t.SaleID]
			if f == nil {
				var err error
				if f, err = s.catalog.LockFlashSale(ctx, tx, t.SaleID); err != nil {
					return fmt.Errorf("flash sale %s: %w", t.SaleID, err)
				}
				sales[t.SaleID] = f
				soldBefore[t.SaleID] = f.Sold
				p, err := s.catalog.ProductByID(ctx, tx, f.ProductID)
				if err != nil {
					return err
				}
				products[f.ID] = p
				if bounds[f.ID], err = s.catalog.FlashBounds(ctx, tx, f.StallID); err != nil {
					return err
				}
				if fairs[f.FairID] == nil {
					fair, err := s.catalog.FairByID(ctx, tx, f.FairID)
					if err != nil {
						return err
					}
					fairs[f.FairID] = fair
				}
			}
			row := &TicketRow{ID: t.ID, SaleID: t.SaleID, UserID: t.UserID, Quantity: t.Quantity, AdmittedAt: t.AdmittedAt, CreatedAt: now}
			rows = append(rows, row)
			switch {
			case f.Withdrawn:
				row.Status, row.Reason = TicketRejected, "withdrawn"
				continue
			case t.AdmittedAt.Before(f.StartsAt.Truncate(time.Millisecond)) || !t.AdmittedAt.Before(f.EndsAt):
				// Admitted on a stale copy of the offer: outside its window.
				row.Status, row.Reason = TicketRejected, "outside_window"
				continue
			case !bounds[f.ID].Open(now):
				row.Status, row.Reason = TicketRejected, "fair_closed"
				// The ticket's id stands for the order it never became: its
				// units go back on sale once.
				restock = append(restock, OutboxMessage{Kind: OutboxRestock, SaleID: t.SaleID, OrderID: t.ID, BuyerID: t.UserID, Units: t.Quantity})
				continue
			case f.Sold+t.Quantity > f.Quantity:
				row.Status, row.Reason = TicketRejected, "sold_out"
				continue
			}
			fair, p := fairs[f.FairID], products[f.ID]
			total := f.Price * int64(t.Quantity)
			pay := &Payment{ID: catalog.NewID(), BuyerID: t.UserID, FairID: f.FairID, Provider: s.provider.Name(), Status: PaymentPending,
				Amount: total, Currency: catalog.CurrencyCNY, ExpiresAt: now.Add(fair.PaymentWindow(s.window)), CreatedAt: now, UpdatedAt: now}
			saleID, ticketID := f.ID, t.ID
			o := &Order{ID: catalog.NewID(), PaymentID: pay.ID, FairID: f.FairID, StallID: f.StallID, BuyerID: t.UserID,
				Status: StatusPendingPayment, Fulfillment: catalog.ShipPickup, Subtotal: total, Total: total, Currency: catalog.CurrencyCNY,
				PickupCode: newPickupCode(), CreatedAt: now, ExpiresAt: pay.ExpiresAt, FlashSaleID: &saleID, TicketID: &ticketID}
			o.PlatformFee, o.MerchantShare = Commission(total, fair.CommissionBPS)
			items = append(items, &Item{ID: catalog.NewID(), OrderID: o.ID, ProductID: p.ID, Title: p.Title, Kind: p.Kind, UnitPrice: f.Price,
				Quantity: t.Quantity, LineTotal: total, Category: p.Category})
			f.Sold += t.Quantity
			row.Status, row.OrderID = TicketOrdered, &o.ID
			payments = append(payments, pay)
			orders = append(orders, o)
		}
		// One statement per table for the whole batch.
		if len(payments) > 0 {
			if _, err := tx.NewInsert().Model(&payments).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&orders).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&items).Exec(ctx); err != nil {
				return err
			}
		}
		if len(rows) > 0 {
			if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return err
			}
		}
		// The sales are locked: adding what this batch sold is the count it saw
		// plus its orders.
		for _, f := range sales {
			if n := f.Sold - soldBefore[f.ID]; n != 0 {
				if err := s.catalog.AddFlashSold(ctx, tx, f.ID, n); err != nil {
					return err
				}
			}
		}
		var err error
		restock, err = writeOutbox(ctx, tx, now, restock...)
		return err
	})
	if err != nil {
		return err
	}
	s.nudge(ctx, restock)
	// The payments are opened at the provider when their payers come to pay
	// (Payment): not ten thousand provider calls for a sale's winners at
	// once, many of whom never pay. The windows' ends are scheduled, one
	// pair of tasks for the payments closing together.
	closing := map[time.Time][]string{}
	for _, p := range payments {
		closing[p.ExpiresAt] = append(closing[p.ExpiresAt], p.ID)
	}
	for at, ids := range closing {
		_ = s.events.PaymentsOpened(ctx, ids, at) // the sweep closes them on time all the same
	}
	return nil
}

// SettleFlashSale closes an ended sale once every admitted ticket has a fate:
// the unsold units go back to the product's stock and the offer's quantity
// shrinks to what was sold. Tickets still waiting make it ErrNotSettled, to
// be retried.
func (s *Service) SettleFlashSale(ctx context.Context, adm *Admission, saleID string) error {
	f, err := s.catalog.FlashSaleByID(ctx, s.db, catalog.Actor{}, saleID, true)
	if err != nil {
		return err
	}
	if f.Settled || s.now().Before(f.EndsAt) {
		return nil
	}
	waiting, err := adm.PendingTickets(ctx, saleID)
	if err != nil {
		return err
	}
	if len(waiting) > 0 {
		return fmt.Errorf("%d tickets of flash sale %s still wait for their orders", len(waiting), saleID)
	}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return s.catalog.SettleFlashSaleIn(ctx, tx, saleID, s.now())
	})
	if err != nil {
		return err
	}
	return adm.Forget(ctx, saleID)
}

// UnsettledFlashSales lists ended sales not yet settled.
func (s *Service) UnsettledFlashSales(ctx context.Context) ([]string, error) {
	return s.catalog.UnsettledFlashSaleIDs(ctx, s.db, s.now(), 100)
}

// LiveFlashSales lists sales running now or ended but not settled, for the
// recovery sweep.
func (s *Service) LiveFlashSales(ctx context.Context) ([]string, error) {
	return s.catalog.StartedFlashSaleIDs(ctx, s.db, s.now(), 500)
}

// FlashOrders lists the actor's live orders won in a sale, newest first.
func (s *Service) FlashOrders(ctx context.Context, a catalog.Actor, saleID string, limit int) ([]Order, error) {
	var list []Order
	err := s.db.NewSelect().Model(&list).Relation("Items").
		Where("?TableAlias.flash_sale_id = ? AND ?TableAlias.buyer_id = ? AND ?TableAlias.status <> ?", saleID, a.UserID, StatusCancelled).
		OrderExpr("?TableAlias.created_at DESC").Limit(int64(limit)).Scan(ctx)
	return list, err
}
