// Package orders turns what shoppers choose into money: carts, checkout across
// stalls, orders and their fulfilment, payments (the sandbox and Stripe behind
// one interface), refunds, payouts to merchants, and the fair's totals.
package orders

import (
	"math/bits"
	"slices"
)

// Money is an amount in fen (1/100 yuan). Amounts are never floats.
type Money = int64

// Commission splits an order total into the platform's fee and the merchant's
// share at bps basis points. The fee is rounded half up to the fen and the
// merchant gets the rest, so the two always add up to the total.
func Commission(total Money, bps int) (fee, merchant Money) {
	fee = (total*int64(bps) + 5000) / 10000
	return fee, total - fee
}

// Split divides amount in proportion to weights by the largest-remainder
// method: every part is whole fen and the parts add up to amount exactly. A
// negative weight counts as none; a negative amount is split as its opposite.
func Split(amount Money, weights []Money) []Money {
	if amount < 0 {
		parts := Split(-amount, weights)
		for i := range parts {
			parts[i] = -parts[i]
		}
		return parts
	}
	weights = slices.Clone(weights)
	parts := make([]Money, len(weights))
	var sum Money
	for i, w := range weights {
		weights[i] = max(w, 0)
		sum += weights[i]
	}
	if sum <= 0 || len(weights) == 0 {
		return parts
	}
	type rem struct {
		i int
		r Money
	}
	rems := make([]rem, len(weights))
	var given Money
	for i, w := range weights {
		parts[i], rems[i].r = mulDiv(amount, w, sum)
		rems[i].i = i
		given += parts[i]
	}
	// Hand the leftover fen to the largest remainders, earliest first on ties.
	for left := amount - given; left > 0; left-- {
		best := -1
		for j, r := range rems {
			if r.r >= 0 && (best < 0 || r.r > rems[best].r) {
				best = j
			}
		}
		parts[rems[best].i]++
		rems[best].r = -1
	}
	return parts
}

// mulDiv is a*b/c and its remainder for 0 <= a, 0 <= b <= c, computed in
// 128 bits: a*b overflows int64 for a refund of ¥30M against a stall's share
// of ¥40M, though the quotient always fits.
func mulDiv(a, b, c Money) (q, r Money) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	uq, ur := bits.Div64(hi, lo, uint64(c))
	return Money(uq), Money(ur)
}

// Yuan formats an amount as ¥1,234.50.
func Yuan(m Money) string {
	neg := m < 0
	if neg {
		m = -m
	}
	whole, fen := m/100, m%100
	s := itoa(whole)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	out := "¥" + s + "." + string(rune('0'+fen/10)) + string(rune('0'+fen%10))
	if neg {
		return "-" + out
	}
	return out
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
