package web

import (
	"context"

	"miaohui/catalog"
	"miaohui/orders"
)

// flashBanner is a live or coming flash sale as a banner on its product's
// page and its stall's: the flash price beside the usual one, what is left,
// a countdown and the link to the sale's page, so that nobody pays ¥12.80 at
// the cart while the same item is ¥6.40 抢购中.
type flashBanner struct {
	flashCard
	NowMS int64
	Texts flashTexts
}

// flashBanners lists the stall's live and coming sales, live ones first,
// each by its start; only productID's when it is set.
func (s *Site) flashBanners(ctx context.Context, p *Page, sa catalog.StallAccess, productID string, normal map[string]int64) ([]flashBanner, error) {
	rows, err := catalog.FlashSalesOf(ctx, s.db, sa.Fair.ID, sa.Stall.ID)
	if err != nil {
		return nil, err
	}
	window := sa.Fair.Window()
	window.Closed = window.Closed || sa.Stall.Status != catalog.StallActive
	now := s.now()
	var live, coming []flashBanner
	for i := range rows {
		f := &rows[i]
		if productID != "" && f.ProductID != productID {
			continue
		}
		f.Bounds = &window
		f.Status = f.StatusAt(now)
		f.Remaining = f.Quantity - f.Sold
		if f.Status != catalog.FlashLive && f.Status != catalog.FlashUpcoming {
			continue
		}
		b := flashBanner{flashCard: flashCardOf(p, f, s.flash.Remaining(ctx, f)), NowMS: now.UnixMilli(), Texts: flashTextsOf(p)}
		if price, ok := normal[f.ProductID]; ok && price > f.Price {
			b.NormalPrice = orders.Yuan(price)
		}
		if f.Status == catalog.FlashLive {
			live = append(live, b)
		} else {
			coming = append(coming, b)
		}
	}
	return append(live, coming...), nil
}
