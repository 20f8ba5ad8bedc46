package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"miaohui/catalog"
	"miaohui/orders"
)

// Task types of the order notices.
const (
	// TypeOrderNotify tells the people concerned what happened to an order.
	TypeOrderNotify = "order:notify"
	// TypePaymentRemind tells a buyer their payment window is about to close.
	TypePaymentRemind = "payment:remind"
)

// paymentReminderLead is how long before the window closes the buyer hears.
const paymentReminderLead = 5 * time.Minute

type orderNotice struct {
	OrderID string `json:"order_id"`
	Event   string `json:"event"` // paid, shipped, redeemed, refunded
	// RefundID names the refund of a "refunded" notice.
	RefundID string `json:"refund_id,omitempty"`
	// AfterSaleID names the request of an after-sales notice
	// ("after_sale_opened", ..._accepted, _rejected, _escalated, _decided).
	AfterSaleID string `json:"after_sale_id,omitempty"`
	// Outbox names the outbox message the notice came from.
	Outbox string `json:"outbox,omitempty"`
}

// key names the notice in its TaskID: one per order and event, one per refund.
func (n orderNotice) key() string {
	if n.AfterSaleID != "" {
		return n.Event + ":" + n.AfterSaleID
	}
	if n.RefundID != "" {
		return n.Event + ":" + n.RefundID
	}
	return n.Event + ":" + n.OrderID
}

// ApplicationDecided tells the merchant the organizer's answer.
func (e *OrderEvents) ApplicationDecided(ctx context.Context, app *catalog.Application) error {
	kind := "application_approved"
	if app.Status == catalog.ApplicationRejected {
		kind = "application_rejected"
	}
	task, opts := NewNotifyTask(NotifyPayload{UserID: app.MerchantID, EventKey: "application:" + app.ID, Kind: kind,
		Params: map[string]string{"Stall": app.StallName, "Reason": app.Reason}})
	return e.enq.Enqueue(ctx, task, opts...)
}

// StallStatusChanged tells the merchant their stall was suspended or
// reinstated, and why; each change is its own notice.
func (e *OrderEvents) StallStatusChanged(ctx context.Context, st *catalog.Stall, reason string) error {
	kind := "stall_suspended"
	if st.Status == catalog.StallActive {
		kind = "stall_reinstated"
	}
	task, opts := NewNotifyTask(NotifyPayload{UserID: st.MerchantID, EventKey: kind + ":" + st.ID + ":" + strconv.FormatInt(st.UpdatedAt.UnixNano(), 10), Kind: kind,
		Params: map[string]string{"Stall": st.Name, "Reason": reason}})
	return e.enq.Enqueue(ctx, task, opts...)
}

// ApplicationSubmitted tells the fair's organizer that a merchant applied.
// The event key names the fair and the application ("<slug>/<id>"), so the
// inbox links to the fair's applications.
func (e *OrderEvents) ApplicationSubmitted(ctx context.Context, app *catalog.Application, fair *catalog.Fair) error {
	task, opts := NewNotifyTask(NotifyPayload{UserID: fair.OrganizerID, EventKey: "application_new:" + fair.Slug + "/" + app.ID, Kind: "application_new",
		Params: map[string]string{"Stall": app.StallName, "Fair": fair.Name}})
	return e.enq.Enqueue(ctx, task, opts...)
}

func (w *Worker) handleOrderNotify(ctx context.Context, t *asynq.Task) error {
	var n orderNotice
	if err := json.Unmarshal(t.Payload(), &n); err != nil || n.OrderID == "" {
		return fmt.Errorf("bad notice: %w", asynq.SkipRetry)
	}
	o, err := w.deps.Orders.OrderByID(ctx, n.OrderID)
	if err != nil {
		return fmt.Errorf("order %s: %v: %w", n.OrderID, err, asynq.SkipRetry)
	}
	st, err := w.deps.Catalog.StallByID(ctx, w.deps.DB, o.StallID)
	if err != nil {
		return fmt.Errorf("order %s: %v: %w", n.OrderID, err, asynq.SkipRetry)
	}
	params := map[string]string{"Stall": st.Name, "Order": ShortRef(n.OrderID), "Total": orders.Yuan(o.Total), "Tracking": o.Tracking}
	switch n.Event {
	case "paid":
		if err := w.notify(ctx, NotifyPayload{UserID: o.BuyerID, EventKey: "order_paid:" + n.OrderID, Kind: "order_paid", Params: params}); err != nil {
			return err
		}
		return w.notify(ctx, NotifyPayload{UserID: st.MerchantID, EventKey: "new_order:" + n.OrderID, Kind: "new_order", Params: params})
	case "shipped", "redeemed":
		return w.notify(ctx, NotifyPayload{UserID: o.BuyerID, EventKey: "order_" + n.Event + ":" + n.OrderID, Kind: "order_" + n.Event, Params: params})
	case "refunded":
		r, err := w.deps.Orders.RefundByID(ctx, n.RefundID)
		if err != nil {
			return fmt.Errorf("refund %s: %v: %w", n.RefundID, err, asynq.SkipRetry)
		}
		params["Amount"] = orders.Yuan(r.Amount)
		return w.notify(ctx, NotifyPayload{UserID: o.BuyerID, EventKey: "order_refunded:" + r.ID, Kind: "order_refunded", Params: params})
	case "after_sale_opened", "after_sale_accepted", "after_sale_rejected", "after_sale_escalated", "after_sale_decided":
		return w.notifyAfterSale(ctx, n, o, st, params)
	}
	return fmt.Errorf("unknown order event %q: %w", n.Event, asynq.SkipRetry)
}

// notifyAfterSale tells the other side of an after-sales step: the merchant
// of a new request; the buyer of the merchant's answer; the organizer (and
// the merchant) of an escalation; the buyer and the merchant of the
// organizer's decision.
func (w *Worker) notifyAfterSale(ctx context.Context, n orderNotice, o *orders.Order, st *catalog.Stall, params map[string]string) error {
	as, err := w.deps.Orders.AfterSaleByID(ctx, n.AfterSaleID)
	if err != nil {
		return fmt.Errorf("after-sales %s: %v: %w", n.AfterSaleID, err, asynq.SkipRetry)
	}
	params["Amount"], params["Refund"], params["Reason"] = orders.Yuan(as.Amount), orders.Yuan(as.RefundAmount), as.Reason
	send := func(userID, kind string) error {
		return w.notify(ctx, NotifyPayload{UserID: userID, EventKey: kind + ":" + as.ID, Kind: kind, Params: params})
	}
	switch n.Event {
	case "after_sale_opened":
		return send(st.MerchantID, "after_sale_opened")
	case "after_sale_accepted":
		params["Reason"] = as.ReplyReason
		return send(o.BuyerID, "after_sale_accepted")
	case "after_sale_rejected":
		params["Reason"] = as.ReplyReason
		return send(o.BuyerID, "after_sale_rejected")
	case "after_sale_escalated":
		fair, err := w.deps.Catalog.FairByID(ctx, w.deps.DB, o.FairID)
		if err != nil {
			return fmt.Errorf("order %s: %v: %w", o.ID, err, asynq.SkipRetry)
		}
		if err := send(fair.OrganizerID, "after_sale_escalated"); err != nil {
			return err
		}
		return send(st.MerchantID, "after_sale_escalated_merchant")
	default: // decided
		params["Reason"] = as.DecisionReason
		if err := send(o.BuyerID, "after_sale_decided"); err != nil {
			return err
		}
		return send(st.MerchantID, "after_sale_decided_merchant")
	}
}

func (w *Worker) handlePaymentRemind(ctx context.Context, t *asynq.Task) error {
	id, err := decodeID(t)
	if err != nil {
		return err
	}
	return w.remindPayment(ctx, id)
}

func (w *Worker) handlePaymentsRemind(ctx context.Context, t *asynq.Task) error {
	ids, err := decodeIDs(t)
	if err != nil {
		return err
	}
	for _, id := range ids { // the notice's EventKey keeps a retry from telling twice
		if err := w.remindPayment(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// remindPayment tells a buyer their payment window is about to close, if
// the payment is still open.
func (w *Worker) remindPayment(ctx context.Context, id string) error {
	p, err := w.deps.Orders.PaymentByID(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil // gone
	}
	if err != nil {
		return err
	}
	if p.Status != orders.PaymentPending && p.Status != orders.PaymentFailed || !w.deps.Now().Before(p.ExpiresAt) {
		return nil // paid, cancelled or already closed
	}
	return w.notify(ctx, NotifyPayload{UserID: p.BuyerID, EventKey: "payment_closing:" + p.ID, Kind: "payment_closing",
		Params: map[string]string{"Amount": orders.Yuan(p.Amount), "Minutes": fmt.Sprint(int(p.ExpiresAt.Sub(w.deps.Now()).Minutes()) + 1), "Payment": p.ID}})
}

// taskArchived tells the admins that a task gave up after its last retry:
// the queues are the platform's, not a fair's, so a fair's organizer never
// reads another fair's failures. Only while no admin exists yet do the
// organizers get the report, so that no failure goes unseen.
func (w *Worker) taskArchived(ctx context.Context, task *asynq.Task, taskID string, cause error) {
	if w.deps.Users == nil {
		w.deps.Logger.Error("archived task: admins unknown", "err", errNoUsers)
		return
	}
	to, err := w.deps.Users.WithRole(ctx, catalog.RoleAdmin)
	if err == nil && len(to) == 0 {
		to, err = w.deps.Users.WithRole(ctx, catalog.RoleOrganizer)
	}
	if err != nil {
		w.deps.Logger.Error("archived task: admins unknown", "err", err)
		return
	}
	for _, id := range to {
		p := NotifyPayload{UserID: id, EventKey: "task_archived:" + taskID, Kind: "task_archived",
			Params: map[string]string{"Type": task.Type(), "Task": taskID, "Error": cause.Error()}}
		if _, _, err := w.inbox.Deliver(ctx, p); err != nil {
			w.deps.Logger.Error("archived task: notice not stored", "err", err)
		}
	}
}
