package orders

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"
)

func TestCSVCells(t *testing.T) {
	at := time.Date(2026, 2, 17, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		name string
		cell any
		want string
	}{
		{"plain text", "灯笼铺", "灯笼铺"},
		{"empty text", "", ""},
		{"formula", `=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		{"plus", "+1+2", "'+1+2"},
		{"minus text", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"equals inside", "a=b", "a=b"},
		{"negative amount", int64(-1250), "-1250"},
		{"amount", int64(880), "880"},
		{"count", 3, "3"},
		{"flag", true, "true"},
		{"time", at, "2026-02-17T09:00:00+08:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := csv.NewReader(bytes.NewReader(csvOf([]string{"cell", "end"}, [][]any{{tt.cell, "."}}))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || len(got[1]) != 2 || got[1][0] != tt.want {
				t.Fatalf("csvOf(%q) = %q, want the cell %q", tt.cell, got, tt.want)
			}
		})
	}
}

func TestCSVHeaderAndRows(t *testing.T) {
	b := csvOf([]string{"name", "gmv_fen"}, [][]any{{"=cmd|' /C calc'!A0", int64(-5)}, {"茶摊", int64(100)}})
	want := "name,gmv_fen\n'=cmd|' /C calc'!A0,-5\n茶摊,100\n"
	if string(b) != want {
		t.Fatalf("csvOf = %q, want %q", b, want)
	}
}
