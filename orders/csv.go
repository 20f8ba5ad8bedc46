package orders

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"
)

// CSV is how the server writes every spreadsheet it hands out. A cell is
// text (a string: a stall's name, a title, an id) or a value the writer
// formats itself (int64, int, bool, time.Time). Text a spreadsheet would
// read as a formula — starting with =, +, -, @, a tab or a carriage return —
// gets a leading ' so that it shows as typed; numbers stay numbers, a
// negative amount included.

// csvOf writes a header and rows.
func csvOf(header []string, rows [][]any) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	line := make([]string, len(header))
	for i, h := range header {
		line[i] = csvText(h)
	}
	w.Write(line) //nolint:errcheck // a bytes.Buffer does not fail
	for _, row := range rows {
		line = line[:0]
		for _, cell := range row {
			line = append(line, csvCell(cell))
		}
		w.Write(line) //nolint:errcheck
	}
	w.Flush()
	return buf.Bytes()
}

// csvCell formats one cell; a type it does not know is text.
func csvCell(v any) string {
	switch v := v.(type) {
	case string:
		return csvText(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return csvText(fmt.Sprint(v))
}

// csvText neutralises a text cell a spreadsheet would run as a formula.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
