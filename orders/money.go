// Package orders turns what shoppers choose into money: carts, checkout across
// stalls, orders and their fulfilment, payments (the sandbox and Stripe behind
// one interface), refunds, payouts to merchants, and the fair's totals.
package orders

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
// method: every part is whole fen and the parts add up to amount exactly.
func Split(amount Money, weights []Money) []Money {
	parts := make([]Money, len(weights))
	var sum Money
	for _, w := range weights {
		sum += w
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
		// amount*w may exceed int64 only past ¥10^11 × ¥10^5; amounts here are
		// bounded far below that.
		parts[i] = amount * w / sum
		rems[i] = rem{i, amount * w % sum}
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
