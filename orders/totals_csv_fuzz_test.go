package orders_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"

	"miaohui/orders"
)

// FuzzTotalsCSV: whatever names and numbers the totals hold, the CSV they
// are written as parses back with encoding/csv into the same cells, one
// record per row, the header first.
//
// Two allowances, both about what a cell may become, never its count or
// place: encoding/csv's reader turns "\r\n" inside a quoted field into "\n"
// (as documented), and a cell that a spreadsheet would run as a formula
// (starting with =, +, -, @, a tab or a carriage return) may come back
// with a neutralising prefix (an apostrophe, a tab or a space) in front of
// the original text.
func FuzzTotalsCSV(f *testing.F) {
	f.Add("stall-1", "老街灯笼铺", "crafts", "Crafts", int64(12345), int64(3))
	f.Add("", "", "", "", int64(0), int64(0))
	f.Add("a,b", `say "hi"`, "line\nbreak", "tab\there", int64(-1), int64(-9223372036854775808))
	f.Add(" lead", "trail ", "\"", ",", int64(9223372036854775807), int64(1))
	f.Add("=1+1", "+SUM(A1)", "-2", "@cmd", int64(5), int64(5))
	f.Add("\xff\xfe", "lone\rreturn", "#", "'quoted", int64(1), int64(2))
	f.Fuzz(func(t *testing.T, id, name, category, nameEN string, gmv, n int64) {
		tt := &orders.Totals{ByStall: []orders.StallTotal{
			{StallID: id, Name: name, GMV: gmv, Orders: n},
			{StallID: name, Name: id, GMV: n, Orders: gmv},
		}}
		tt.ByCategory = []orders.CategoryTotal{{Category: category, Name: name, NameEN: nameEN, GMV: gmv, Units: n}}
		wantCSV(t, tt.CSV("stall"), []string{"stall_id", "name", "gmv_fen", "orders"}, [][]string{
			{id, name, strconv.FormatInt(gmv, 10), strconv.FormatInt(n, 10)},
			{name, id, strconv.FormatInt(n, 10), strconv.FormatInt(gmv, 10)},
		})
		wantCSV(t, tt.CSV("category"), []string{"category", "name", "name_en", "gmv_fen", "units"}, [][]string{
			{category, name, nameEN, strconv.FormatInt(gmv, 10), strconv.FormatInt(n, 10)},
		})
	})
}

// wantCSV parses out and compares it with the header and rows written.
func wantCSV(t *testing.T, out []byte, header []string, rows [][]string) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = len(header)
	got, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%q", err, out)
	}
	want := append([][]string{header}, rows...)
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d\n%q", len(got), len(want), out)
	}
	for i := range want {
		for j := range want[i] {
			if !sameCell(got[i][j], want[i][j]) {
				t.Fatalf("record %d field %d is %q, want %q\n%q", i, j, got[i][j], want[i][j], out)
			}
		}
	}
}

// sameCell tells whether a parsed cell is the cell written (see
// FuzzTotalsCSV for the two allowances).
func sameCell(got, want string) bool {
	// Whether the cell was neutralised depends on what was written; the
	// reader's "\r\n" → "\n" applies to what is read back.
	formula := want != "" && strings.ContainsRune("=+-@\t\r", rune(want[0]))
	want = strings.ReplaceAll(want, "\r\n", "\n")
	if got == want {
		return true
	}
	if !formula {
		return false
	}
	for _, prefix := range []string{"'", "\t", " ", "'\t"} {
		if got == prefix+want {
			return true
		}
	}
	return false
}
