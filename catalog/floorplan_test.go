package catalog_test

import (
	"slices"
	"testing"

	"miaohui/catalog"
)

func TestSortByBooth(t *testing.T) {
	stalls := []catalog.Stall{{Booth: "A-1000"}, {Booth: "B-001"}, {Booth: "A-010"}, {Booth: "A-999"}, {Booth: "A-002"}, {Booth: "A"}}
	catalog.SortByBooth(stalls)
	var got []string
	for _, st := range stalls {
		got = append(got, st.Booth)
	}
	if want := []string{"A", "A-002", "A-010", "A-999", "A-1000", "B-001"}; !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
}

func TestGridBooths(t *testing.T) {
	stalls := []catalog.Stall{{ID: "s3", Booth: "A-003"}, {ID: "s1", Booth: "A-001"}, {ID: "s5", Booth: "A-005"}}
	got := catalog.GridBooths(stalls, 2, 3, "A")
	want := []catalog.Booth{
		{Booth: "A-001", StallID: "s1", X: 10, Y: 10, W: 100, H: 60},
		{Booth: "A-003", StallID: "s3", X: 120, Y: 10, W: 100, H: 60},
		{Booth: "A-005", StallID: "s5", X: 230, Y: 10, W: 100, H: 60},
		{Booth: "A-004", X: 10, Y: 80, W: 100, H: 60}, // the free numbers after the stalls'
		{Booth: "A-006", X: 120, Y: 80, W: 100, H: 60},
		{Booth: "A-007", X: 230, Y: 80, W: 100, H: 60},
	}
	if !slices.Equal(got, want) {
		t.Errorf("GridBooths =\n%v\nwant\n%v", got, want)
	}
}
