package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/orders"
)

// Task types of flash sales.
const (
	// TypeFlashTicket is one admitted ticket; tickets of one sale are grouped
	// and reach the handler as one TypeFlashTickets batch.
	TypeFlashTicket  = "flash:ticket"
	TypeFlashTickets = "flash:tickets"
	// TypeFlashRestock puts a cancelled order's units back on sale in Redis.
	TypeFlashRestock = "flash:restock"
	// TypeFlashRecover queues tickets Redis admitted but no task carried
	// (a process that died between admission and enqueue), and writes the
	// coupons Redis admitted that no process wrote.
	TypeFlashRecover = "flash:recover"
	// TypeFlashSettle returns the unsold units of ended sales to stock.
	TypeFlashSettle = "flash:settle"
	// TypeFlashRemind tells the subscribed that a sale starts.
	TypeFlashRemind = "flash:remind"
	// TypeFlashRebound bounds a changed fair's flash sales again (when it
	// could not be done at once).
	TypeFlashRebound = "flash:rebound"
	// TypeRemindersRebuild queues again, from the database, the reminders of
	// the sales not yet over: a worker starts with it, so a Redis that lost
	// its queue (the in-process one at every restart) loses no reminder.
	TypeRemindersRebuild = "flash:reminders-rebuild"
)

// Batching of tickets: a sale's tickets are spread over a few groups (so
// several batches form at once), wait at most a second, and at most 2,000
// go into one transaction.
const (
	ticketGrace    = time.Second
	ticketMaxDelay = time.Second
	ticketMaxBatch = 2000
	ticketShards   = 8
)

// ticketGroup is the Asynq group of a ticket: its sale and a shard.
func ticketGroup(t orders.Ticket) string {
	h := fnv.New32a()
	h.Write([]byte(t.ID))
	return fmt.Sprintf("%s:%d", t.SaleID, h.Sum32()%ticketShards)
}

// aggregateTickets joins a group's ticket tasks into one batch task.
func aggregateTickets(group string, tasks []*asynq.Task) *asynq.Task {
	batch := make([]orders.Ticket, 0, len(tasks))
	for _, t := range tasks {
		var tk orders.Ticket
		if json.Unmarshal(t.Payload(), &tk) == nil {
			batch = append(batch, tk)
		}
	}
	b, _ := json.Marshal(batch)
	return asynq.NewTask(TypeFlashTickets, b)
}

// TicketAdmitted queues the ticket on the critical queue, grouped by sale.
func (e *OrderEvents) TicketAdmitted(ctx context.Context, t orders.Ticket) error {
	b, _ := json.Marshal(t)
	return e.enq.Enqueue(ctx, asynq.NewTask(TypeFlashTicket, b),
		asynq.TaskID("ticket:"+t.ID), asynq.Queue(QueueCritical), asynq.Group(ticketGroup(t)), asynq.MaxRetry(25))
}

type restockPayload struct {
	SaleID   string `json:"sale_id"`
	OrderID  string `json:"order_id"`
	UserID   string `json:"user_id"`
	Quantity int    `json:"quantity"`
	// Outbox names the outbox message the restock came from.
	Outbox string `json:"outbox,omitempty"`
}

// FlashSaleScheduled queues the reminder of a sale's start.
func (e *OrderEvents) FlashSaleScheduled(ctx context.Context, saleID string, startsAt time.Time) error {
	return enqueueRemind(ctx, e.enq, saleID, startsAt)
}

// enqueueRemind queues the reminder of a sale starting at startsAt, once per
// start time: a sale moved to a new time gets a new task.
func enqueueRemind(ctx context.Context, enq *Enqueuer, saleID string, startsAt time.Time) error {
	return enq.Enqueue(ctx, idTask(TypeFlashRemind, saleID),
		asynq.TaskID(fmt.Sprintf("remind:%s:%d", saleID, startsAt.Unix())), asynq.ProcessAt(startsAt), asynq.Queue(QueueLow))
}

// handleRemindersRebuild queues the reminder of every sale someone is
// waiting for. One already queued is left as it is; one whose start passed
// while no worker ran reminds at once, since the sale is still on (each
// buyer hears once: the inbox keeps one message per sale).
func (w *Worker) handleRemindersRebuild(ctx context.Context, _ *asynq.Task) error {
	sales, err := w.deps.Catalog.RemindedSales(ctx, w.deps.Now())
	if err != nil {
		return err
	}
	for _, s := range sales {
		if err := enqueueRemind(ctx, w.enq, s.ID, s.StartsAt); err != nil {
			return err
		}
	}
	return nil
}

// UseAdmission lets FairChanged bound the fair's flash sales in Redis at
// once, in the request that changed the fair, instead of through the queue.
func (e *OrderEvents) UseAdmission(adm *orders.Admission) *OrderEvents {
	e.adm = adm
	return e
}

// FairChanged bounds the fair's flash sales again: at once when the
// admission is at hand, otherwise (or if that fails) through the critical
// queue. Either reads the fair as it stands, so running it twice is harmless.
func (e *OrderEvents) FairChanged(ctx context.Context, fairID string) error {
	if e.adm != nil && e.adm.Rebound(ctx, fairID) == nil {
		return nil
	}
	return e.enq.Enqueue(ctx, idTask(TypeFlashRebound, fairID), asynq.Queue(QueueCritical), asynq.MaxRetry(25))
}

func (w *Worker) handleFlashRebound(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	return w.deps.Admission.Rebound(ctx, id)
}

func (w *Worker) handleFlashTickets(ctx context.Context, t *asynq.Task) error {
	var batch []orders.Ticket
	if err := json.Unmarshal(t.Payload(), &batch); err != nil {
		return fmt.Errorf("bad batch: %w", asynq.SkipRetry)
	}
	start := time.Now()
	err := w.deps.Orders.ProcessTickets(ctx, batch)
	w.deps.Logger.Info("flash tickets", "count", len(batch), "ms", time.Since(start).Milliseconds(), "err", err)
	return err
}

func (w *Worker) handleFlashTicket(ctx context.Context, t *asynq.Task) error {
	var tk orders.Ticket
	if err := json.Unmarshal(t.Payload(), &tk); err != nil || tk.ID == "" {
		return fmt.Errorf("bad ticket: %w", asynq.SkipRetry)
	}
	return w.deps.Orders.ProcessTickets(ctx, []orders.Ticket{tk})
}

func (w *Worker) handleFlashRestock(ctx context.Context, t *asynq.Task) error {
	var p restockPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.SaleID == "" {
		return fmt.Errorf("bad restock: %w", asynq.SkipRetry)
	}
	return w.deps.Admission.Restock(ctx, p.SaleID, p.OrderID, p.UserID, p.Quantity)
}

func (w *Worker) handleFlashRecover(ctx context.Context, _ *asynq.Task) error {
	ids, err := w.deps.Orders.LiveFlashSales(ctx)
	if err != nil {
		return err
	}
	events := NewOrderEvents(w.enq, w.deps.DB)
	// The fairs' windows are written again, so a fair's change whose notice
	// was lost (Redis down when it was told) still reaches admission within
	// one sweep.
	fairs := map[string]bool{}
	for _, id := range ids {
		f, err := w.deps.Catalog.FlashSaleByID(ctx, w.deps.DB, catalogActor(), id, true)
		if err != nil {
			return err
		}
		if !fairs[f.FairID] {
			fairs[f.FairID] = true
			if err := w.deps.Admission.Rebound(ctx, f.FairID); err != nil {
				return err
			}
		}
	}
	// Coupons answered by a process that stopped before writing them.
	if err := w.deps.Admission.RecoverClaims(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		tickets, err := w.deps.Admission.PendingTickets(ctx, id)
		if err != nil {
			return err
		}
		for _, tk := range tickets {
			// A ticket whose task is still queued keeps it (same TaskID).
			if err := events.TicketAdmitted(ctx, tk); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Worker) handleFlashSettle(ctx context.Context, _ *asynq.Task) error {
	ids, err := w.deps.Orders.UnsettledFlashSales(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.deps.Orders.SettleFlashSale(ctx, w.deps.Admission, id); err != nil {
			w.deps.Logger.Info("flash sale not settled yet", "sale_id", id, "err", err)
		}
	}
	return nil
}

func (w *Worker) handleFlashRemind(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	sale, err := w.deps.Catalog.FlashSaleByID(ctx, w.deps.DB, catalogActor(), id, true)
	if err != nil {
		return nil // gone
	}
	if sale.Withdrawn || w.deps.Now().Add(5*time.Second).Before(sale.StartsAt) {
		return nil // withdrawn or moved: the task of the new start time reminds
	}
	users, err := w.deps.Catalog.Reminded(ctx, id)
	if err != nil {
		return err
	}
	for _, u := range users {
		task, opts := NewNotifyTask(NotifyPayload{UserID: u, EventKey: "flash_start:" + id, Kind: "flash_start",
			Params: map[string]string{"Title": sale.Title, "SaleID": id}})
		if err := w.enq.Enqueue(ctx, task, opts...); err != nil {
			return err
		}
	}
	return nil
}
