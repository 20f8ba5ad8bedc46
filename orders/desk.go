package orders

import (
	"context"
	"strings"

	"miaohui/catalog"
)

// The organizer's order desk: a fair's orders, searched by order id (the
// full id, or the last eight characters the pages show as its reference),
// by the buyer's email, by stall and by status.

// DeskQuery narrows the order desk.
type DeskQuery struct {
	// Q is an order id, an order's short reference or a buyer's email.
	Q       string
	Status  string
	StallID string
}

// refLen is the length of the short reference the pages show: an order
// id's last characters.
const refLen = 8

// isIDText reports whether q may be (part of) an order id: ULIDs are
// Crockford base32, letters and digits only, so it never holds a LIKE
// wildcard.
func isIDText(q string) bool {
	for _, r := range q {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return q != ""
}

// FairOrders lists a fair's orders for its organizer, newest first,
// without their codes.
func (s *Service) FairOrders(ctx context.Context, a catalog.Actor, slug string, dq DeskQuery, p catalog.Page) ([]Order, *string, error) {
	f, err := s.organizedFair(ctx, a, slug)
	if err != nil {
		return nil, nil, err
	}
	q := s.db.NewSelect().Where("o.fair_id = ?", f.ID)
	if dq.Status != "" {
		q = q.Where("o.status = ?", dq.Status)
	}
	if dq.StallID != "" {
		q = q.Where("o.stall_id = ?", dq.StallID)
	}
	switch text := strings.TrimSpace(dq.Q); {
	case text == "":
	case strings.Contains(text, "@"):
		buyer, err := s.catalog.UserIDByEmail(ctx, text)
		if err != nil {
			return nil, nil, err
		}
		if buyer == "" {
			return []Order{}, nil, nil
		}
		q = q.Where("o.buyer_id = ?", buyer)
	default:
		text = strings.ToUpper(text)
		if !isIDText(text) || len(text) > 26 {
			return nil, nil, catalog.Invalid("q", "must be an order id, its reference or a buyer's email")
		}
		if len(text) < refLen {
			q = q.Where("o.id = ?", text) // too short to be a reference: no guessing
		} else {
			q = q.Where("(o.id = ? OR o.id LIKE ?)", text, "%"+text)
		}
	}
	return s.listOrders(ctx, q, p, false)
}
