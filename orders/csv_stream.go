package orders

import (
	"encoding/csv"
	"io"
)

// csvStream writes a CSV a row at a time to w, cells formatted and
// neutralised as csvOf does, for downloads too long to build in memory.
type csvStream struct {
	w    *csv.Writer
	line []string
}

// newCSVStream starts a CSV on w with its header.
func newCSVStream(w io.Writer, header []string) *csvStream {
	s := &csvStream{w: csv.NewWriter(w)}
	for _, h := range header {
		s.line = append(s.line, csvText(h))
	}
	s.w.Write(s.line) //nolint:errcheck // reported by flush or the next row
	return s
}

// row writes one row.
func (s *csvStream) row(cells ...any) error {
	s.line = s.line[:0]
	for _, c := range cells {
		s.line = append(s.line, csvCell(c))
	}
	return s.w.Write(s.line)
}

// flush ends the CSV and reports any write error.
func (s *csvStream) flush() error {
	s.w.Flush()
	return s.w.Error()
}
