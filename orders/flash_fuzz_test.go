package orders_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
	"miaohui/migrations/testdb"
	"miaohui/orders"
)

// FuzzAdmission drives flash-sale admission (the Go-side checks, then the
// Lua script on Redis) from any state a sale can be in: units remaining, a
// per-person limit, what a buyer already has, and the quantities asked for.
// Whatever the inputs, admission never hands out more units than remain,
// never lets a buyer past the limit, keeps Redis's count equal to what is
// left, and answers a bad quantity with the contract's errors.
func FuzzAdmission(f *testing.F) {
	db := testdb.Open(f)
	w := catalogtest.NewWorld(f, db)
	svc := orders.NewService(db, w.Catalog, &provider{}, &events{}, w.Clock.Now, window)
	r := testdb.NewRedis(f)
	merchant, stall := w.Stall(f, w.Fair, "秒杀")
	// One sale per per-person limit, from the smallest to the largest allowed.
	limits := []int{1, 2, 5, 100}
	sales := make([]*catalog.FlashSale, len(limits))
	for i, l := range limits {
		p := w.Goods(f, merchant, stall.ID, catalogtest.Product{Price: 1000, Stock: 2_000_000})
		sales[i] = w.NewFlashSale(f, merchant, p.ID, catalogtest.FlashSale{Quantity: 1_000_000, PerUserLimit: l, Lasts: catalogtest.FairDuration / 2})
	}
	start := sales[len(sales)-1].StartsAt.Add(time.Second)
	w.Clock.Set(start)
	adm := orders.NewAdmission(r.Client, svc, w.Clock.Now)
	ctx := context.Background()

	f.Add(uint8(0), int64(1), uint8(0), int64(1), int64(1), int64(1))
	f.Add(uint8(0), int64(0), uint8(0), int64(1), int64(1), int64(1))
	f.Add(uint8(1), int64(3), uint8(1), int64(1), int64(2), int64(1))
	f.Add(uint8(2), int64(4), uint8(0), int64(5), int64(5), int64(0))
	f.Add(uint8(3), int64(1_000_000), uint8(99), int64(100), int64(-1), int64(2))
	f.Add(uint8(3), int64(150), uint8(0), int64(100), int64(100), int64(1))
	f.Add(uint8(1), int64(2), uint8(2), int64(1), int64(0), int64(-9223372036854775808))
	f.Add(uint8(2), int64(1), uint8(0), int64(9223372036854775807), int64(2), int64(1))
	f.Fuzz(func(t *testing.T, which uint8, remaining int64, had uint8, q1, q2, q3 int64) {
		i := int(which) % len(sales)
		sale, limit := sales[i], limits[i]
		if remaining < 0 {
			remaining = -(remaining + 1)
		}
		remaining %= int64(sale.Quantity) + 1
		hadA := int(had) % (limit + 1)
		// Admission's cached "sold out" lasts a second: each run is two
		// seconds later (back to the start near the sale's end).
		if w.Clock.Now().Add(4 * time.Second).After(sale.EndsAt) {
			w.Clock.Set(start)
		}
		w.Clock.Advance(2 * time.Second)

		userA, userB := catalog.NewID(), catalog.NewID()
		stock, users := "fs:{"+sale.ID+"}:stock", "fs:{"+sale.ID+"}:users"
		if err := r.Client.Del(ctx, stock, users, "fs:{"+sale.ID+"}:tickets").Err(); err != nil {
			t.Fatal(err)
		}
		r.Client.Set(ctx, stock, remaining, 0)
		if hadA > 0 {
			r.Client.HSet(ctx, users, userA, hadA)
		}

		admitted := map[string]int{}
		total := 0
		for _, call := range []struct {
			user string
			q    int64
		}{{userA, q1}, {userB, q2}, {userA, q3}} {
			q := int(call.q)
			tk, err := adm.Purchase(ctx, call.user, sale.ID, q)
			switch {
			case err == nil:
				if tk.Quantity != q || tk.UserID != call.user || tk.SaleID != sale.ID {
					t.Fatalf("ticket %+v for %d units of %s", tk, q, sale.ID)
				}
				admitted[call.user] += q
				total += q
			case q < 1:
				var ve *catalog.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("quantity %d: %v, want a validation error", q, err)
				}
			case q > limit:
				if !errors.Is(err, orders.ErrLimitReached) {
					t.Fatalf("quantity %d over the limit %d: %v, want limit_reached", q, limit, err)
				}
			case errors.Is(err, orders.ErrSoldOut), errors.Is(err, orders.ErrLimitReached), errors.Is(err, orders.ErrFlashShort):
			default:
				t.Fatalf("quantity %d: unexpected error %v", q, err)
			}
			if err == nil && q < 1 {
				t.Fatalf("quantity %d admitted", q)
			}
		}
		if int64(total) > remaining {
			t.Fatalf("%d units admitted with %d remaining", total, remaining)
		}
		if got := hadA + admitted[userA]; got > limit {
			t.Fatalf("buyer A holds %d units (had %d) with a limit of %d", got, hadA, limit)
		}
		if got := admitted[userB]; got > limit {
			t.Fatalf("buyer B holds %d units with a limit of %d", got, limit)
		}
		left, err := r.Client.Get(ctx, stock).Int64()
		if err != nil {
			t.Fatal(err)
		}
		if left != remaining-int64(total) || left < 0 {
			t.Fatalf("Redis has %d left, want %d - %d", left, remaining, total)
		}
		if n, _ := r.Client.HGet(ctx, users, userA).Int(); n != hadA+admitted[userA] {
			t.Fatalf("Redis counts %d units for buyer A, want %d", n, hadA+admitted[userA])
		}
	})
}
