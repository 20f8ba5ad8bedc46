package orders

import (
	"math/rand/v2"
	"testing"
)

func TestCommission(t *testing.T) {
	cases := []struct {
		total       Money
		bps         int
		fee, merchs Money
	}{
		{10000, 500, 500, 9500},
		{1280, 500, 64, 1216},
		{1, 500, 0, 1},
		{10, 500, 1, 9}, // 0.5 fen rounds half up
		{999, 0, 0, 999},
		{999, 10000, 999, 0},
	}
	for _, c := range cases {
		fee, m := Commission(c.total, c.bps)
		if fee != c.fee || m != c.merchs {
			t.Errorf("Commission(%d, %d) = %d, %d; want %d, %d", c.total, c.bps, fee, m, c.fee, c.merchs)
		}
	}
}

func FuzzCommissionConserves(f *testing.F) {
	f.Add(int64(1280), 500)
	f.Add(int64(1), 9999)
	f.Fuzz(func(t *testing.T, total int64, bps int) {
		if total <= 0 || total > 100_000_000_00 || bps < 0 || bps > 10000 {
			t.Skip()
		}
		fee, m := Commission(total, bps)
		if fee+m != total || fee < 0 || m < 0 {
			t.Fatalf("Commission(%d, %d) = %d + %d", total, bps, fee, m)
		}
	})
}

func TestSplitConserves(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		n := 1 + r.IntN(6)
		weights := make([]Money, n)
		for i := range weights {
			weights[i] = r.Int64N(1_000_000)
		}
		amount := r.Int64N(10_000_000)
		parts := Split(amount, weights)
		var sum, wsum Money
		for i, p := range parts {
			sum += p
			wsum += weights[i]
			if p < 0 {
				t.Fatalf("negative part %v", parts)
			}
		}
		if wsum > 0 && sum != amount {
			t.Fatalf("Split(%d, %v) = %v sums to %d", amount, weights, parts, sum)
		}
		// No part strays more than a fen from its exact share.
		for i, p := range parts {
			if wsum == 0 {
				continue
			}
			exact := float64(amount) * float64(weights[i]) / float64(wsum)
			if float64(p) < exact-1 || float64(p) > exact+1 {
				t.Fatalf("part %d = %d, exact share %.2f", i, p, exact)
			}
		}
	}
}

func FuzzSplitConserves(f *testing.F) {
	f.Add(int64(1001), int64(3), int64(7), int64(0))
	f.Fuzz(func(t *testing.T, amount, a, b, c int64) {
		if amount < 0 || amount > 1e12 || a < 0 || b < 0 || c < 0 || a > 1e8 || b > 1e8 || c > 1e8 || a+b+c == 0 {
			t.Skip()
		}
		parts := Split(amount, []Money{a, b, c})
		if parts[0]+parts[1]+parts[2] != amount {
			t.Fatalf("Split(%d, %d %d %d) = %v", amount, a, b, c, parts)
		}
	})
}

func TestYuan(t *testing.T) {
	for m, want := range map[Money]string{0: "¥0.00", 5: "¥0.05", 1280: "¥12.80", 123456789: "¥1,234,567.89", -350: "-¥3.50"} {
		if got := Yuan(m); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", m, got, want)
		}
	}
}
