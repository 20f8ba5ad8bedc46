package web

import "testing"

func TestPercentChange(t *testing.T) {
	for _, c := range []struct {
		cur, was int64
		want     string
	}{
		{150, 100, "+50.0%"}, {50, 100, "-50.0%"}, {100, 100, "+0.0%"}, {0, 100, "-100.0%"},
		{1, 3, "-66.7%"}, {2, 3, "-33.3%"}, {4, 3, "+33.3%"}, {5, 3, "+66.7%"}, {1001, 1000, "+0.1%"}, {10005, 10000, "+0.1%"},
		{1_000_000_000_000, 1, "+99999999999900.0%"},
	} {
		if got := percentChange(c.cur, c.was); got != c.want {
			t.Errorf("percentChange(%d, %d) = %s, want %s", c.cur, c.was, got, c.want)
		}
	}
}

func TestNextSlug(t *testing.T) {
	for in, want := range map[string]string{"taizhou-2026": "taizhou-2027", "2026": "2027", "taizhou": "taizhou-2", "fair-12345": "fair-12345-2"} {
		if got := nextSlug(in); got != want {
			t.Errorf("nextSlug(%s) = %s, want %s", in, got, want)
		}
	}
}
