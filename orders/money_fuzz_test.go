package orders_test

import (
	"encoding/binary"
	"math/big"
	"testing"

	"miaohui/catalog"
	"miaohui/orders"
)

// Money's properties over the amounts the platform handles: a split by largest remainder adds up
// to the amount, has no negative part and gives each part its exact share
// rounded down or up (never a fen further); a commission and the
// merchant's share add up to the total.

// The domain the platform splits: a refunded amount of an order (at most its
// total) over its lines' totals or its merchant's and platform's shares,
// each weight up to a product's highest price, up to 32 weights.
const fuzzMaxParts = 32

// fuzzWeights reads up to fuzzMaxParts weights from raw, eight bytes each,
// from 0 to catalog.MaxPrice.
func fuzzWeights(raw []byte) []orders.Money {
	var ws []orders.Money
	for len(raw) >= 8 && len(ws) < fuzzMaxParts {
		ws = append(ws, orders.Money(binary.LittleEndian.Uint64(raw)%(catalog.MaxPrice+1)))
		raw = raw[8:]
	}
	return ws
}

func le(ws ...uint64) []byte {
	out := make([]byte, 0, 8*len(ws))
	for _, w := range ws {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

func FuzzSplit(f *testing.F) {
	f.Add(uint64(100), le(1, 1, 1))
	f.Add(uint64(1), le(1, 1, 1))
	f.Add(uint64(0), le(5, 7))
	f.Add(uint64(9999), le(3333, 3333, 3334))
	f.Add(uint64(9500), le(9500, 500))
	f.Add(uint64(1_000_000), le(950_000, 50_000))
	f.Add(uint64(3_000_000_000), le(2_000_000_000, 1_000_000_000)) // ¥30 million
	f.Add(uint64(2_000_000_000), le(1_900_000_000, 100_000_000))
	f.Add(uint64(7), le(0, 0, 1))
	f.Add(uint64(5), le(0, 0))
	f.Add(uint64(12345), []byte{})
	f.Add(uint64(101), le(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2))
	f.Fuzz(func(t *testing.T, rawAmount uint64, raw []byte) {
		ws := fuzzWeights(raw)
		var sum orders.Money
		for _, w := range ws {
			sum += w
		}
		amount := orders.Money(rawAmount % uint64(sum+1)) // a refund is at most the total
		parts := orders.Split(amount, ws)
		if len(parts) != len(ws) {
			t.Fatalf("Split(%d, %v) has %d parts, want %d", amount, ws, len(parts), len(ws))
		}
		var total orders.Money
		for _, p := range parts {
			total += p
		}
		if sum == 0 {
			for i, p := range parts {
				if p != 0 {
					t.Fatalf("Split(%d, %v): part %d is %d with no weight at all", amount, ws, i, p)
				}
			}
			return
		}
		if total != amount {
			t.Fatalf("Split(%d, %v) = %v adds up to %d", amount, ws, parts, total)
		}
		for i, p := range parts {
			if p < 0 {
				t.Fatalf("Split(%d, %v): part %d is negative (%d)", amount, ws, i, p)
			}
			// |p - amount·w/sum| < 1: the exact share rounded down or up.
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(amount), big.NewInt(ws[i])), big.NewInt(sum))
			diff := new(big.Rat).Sub(new(big.Rat).SetInt64(p), exact)
			if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
				t.Fatalf("Split(%d, %v): part %d is %d, exact share %s", amount, ws, i, p, exact.FloatString(3))
			}
			if ws[i] == 0 && p != 0 {
				t.Fatalf("Split(%d, %v): part %d of weight 0 is %d", amount, ws, i, p)
			}
		}
	})
}

func FuzzCommission(f *testing.F) {
	f.Add(int64(10000), 500)
	f.Add(int64(1), 5000)
	f.Add(int64(0), 10000)
	f.Add(int64(99), 1)
	f.Add(int64(catalog.MaxPrice), 9999)
	f.Fuzz(func(t *testing.T, total int64, bps int) {
		if total < 0 {
			total = -(total + 1)
		}
		total %= catalog.MaxPrice * 1000 // an order of a thousand units at the highest price
		if bps < 0 {
			bps = -(bps + 1)
		}
		bps %= 10001
		fee, merchant := orders.Commission(total, bps)
		if fee+merchant != total {
			t.Fatalf("Commission(%d, %d) = %d + %d", total, bps, fee, merchant)
		}
		if fee < 0 || merchant < 0 {
			t.Fatalf("Commission(%d, %d) = %d, %d: negative", total, bps, fee, merchant)
		}
		// The fee is the exact rate rounded half up: within half a fen.
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(total), big.NewInt(int64(bps))), big.NewInt(10000))
		diff := new(big.Rat).Sub(new(big.Rat).SetInt64(fee), exact)
		if diff.Abs(diff).Cmp(big.NewRat(1, 2)) > 0 {
			t.Fatalf("Commission(%d, %d): fee %d, exact %s", total, bps, fee, exact.FloatString(3))
		}
	})
}
