package app

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"miaohui/catalog"
)

// Text at the edge. Every string a request carries — path segments, query
// parameters, form values, the strings of a JSON body at any depth — must be
// valid UTF-8 without control characters (line breaks and tabs are allowed
// in form and JSON values, never in the URL). Anything else is a 422
// validation_failed naming the field, before the request reaches a handler:
// a NUL byte would fail deep in the database, and invalid UTF-8 would be
// stored as U+FFFD without a word.

const (
	msgNotUTF8  = "must be valid UTF-8 text"
	msgControl  = "must not contain control characters"
	maxBadInput = 20 // fields named in one answer, at most
)

// webhookPath is signed by the payment provider and read as raw bytes: its
// text is the provider's, and refusing it would only make the provider retry.
const webhookPath = "/api/v1/payments/stripe/webhook"

// textProblem says what is wrong with s as text, or "" when nothing is.
// lines allows \n, \r and \t.
func textProblem(s []byte, lines bool) string {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if (b < 0x20 || b == 0x7f) && !(lines && (b == '\n' || b == '\r' || b == '\t')) {
				return msgControl
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return msgNotUTF8
		}
		if unicode.IsControl(r) {
			return msgControl
		}
		i += size
	}
	return ""
}

// inputErrors collects the fields a request got wrong, once each.
type inputErrors struct{ fields []catalog.FieldError }

func (b *inputErrors) add(field, msg string) {
	if len(b.fields) >= maxBadInput || slices.ContainsFunc(b.fields, func(f catalog.FieldError) bool { return f.Field == field }) {
		return
	}
	b.fields = append(b.fields, catalog.FieldError{Field: field, Message: msg})
}

func (b *inputErrors) err() error {
	if len(b.fields) == 0 {
		return nil
	}
	return &catalog.ValidationError{Fields: b.fields}
}

// checkInput refuses a request whose text is not clean (see above), for the
// API and the pages alike.
func (s *Server) checkInput(c *fiber.Ctx) error {
	var bad inputErrors
	s.checkPath(c, &bad)
	checkArgs(c.Request().URI().QueryArgs(), false, "query", &bad)
	ct := c.Request().Header.ContentType()
	switch {
	case bytes.HasPrefix(ct, []byte(fiber.MIMEApplicationForm)):
		checkArgs(c.Request().PostArgs(), true, "form", &bad)
	case bytes.HasPrefix(ct, []byte(fiber.MIMEMultipartForm)):
		// The file parts are binary; the text parts are checked.
		if form, err := c.MultipartForm(); err == nil {
			for _, k := range sortedKeys(form.Value) {
				checkValues(k, form.Value[k], &bad)
			}
		}
	case c.Path() != webhookPath && isJSON(ct):
		checkJSON(c.Body(), &bad)
	}
	if err := bad.err(); err != nil {
		return err
	}
	return c.Next()
}

// checkArgs checks query or form-encoded arguments; a bad name is reported
// as keyField.
func checkArgs(args *fasthttp.Args, lines bool, keyField string, bad *inputErrors) {
	if args.Len() == 0 {
		return
	}
	args.VisitAll(func(k, v []byte) {
		if msg := textProblem(k, false); msg != "" {
			bad.add(keyField, msg)
		} else if msg := textProblem(v, lines); msg != "" {
			bad.add(string(k), msg)
		}
	})
}

// checkValues checks the text parts of a multipart form named k.
func checkValues(k string, vs []string, bad *inputErrors) {
	if msg := textProblem([]byte(k), false); msg != "" {
		bad.add("form", msg)
		return
	}
	for _, v := range vs {
		if msg := textProblem([]byte(v), true); msg != "" {
			bad.add(k, msg)
		}
	}
}

// checkPath checks each segment of the path, decoded, naming a bad one by
// the route's parameter.
func (s *Server) checkPath(c *fiber.Ctx, bad *inputErrors) {
	raw := c.Request().URI().PathOriginal()
	if textProblem(raw, false) == "" && bytes.IndexByte(raw, '%') < 0 {
		return
	}
	segs := strings.Split(strings.TrimPrefix(string(raw), "/"), "/")
	for i, seg := range segs {
		if d, err := url.PathUnescape(seg); err == nil {
			segs[i] = d
		}
	}
	for i, seg := range segs {
		if msg := textProblem([]byte(seg), false); msg != "" {
			bad.add(s.paramAt(c.Method(), segs, i), msg)
		}
	}
}

// paramAt names the parameter that segment i of a path fills in the route
// the path matches, or "path" when no route has one there.
func (s *Server) paramAt(method string, segs []string, i int) string {
	for _, r := range s.app.GetRoutes(true) {
		if r.Method != method {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
		if len(parts) != len(segs) {
			continue
		}
		name, match := "", true
		for j, p := range parts {
			switch {
			case strings.HasPrefix(p, ":"):
				if j == i {
					name = strings.TrimSuffix(p[1:], "?")
				}
			case p == "*" || p == "+":
			case p != segs[j]:
				match = false
			}
		}
		if match && name != "" {
			return name
		}
	}
	return "path"
}

// isJSON tells a JSON body by its content type; huma reads a body without
// one as JSON too.
func isJSON(ct []byte) bool {
	if len(ct) == 0 {
		return true
	}
	mt, _, _ := bytes.Cut(ct, []byte(";"))
	mt = bytes.TrimSpace(mt)
	return bytes.Equal(mt, []byte(fiber.MIMEApplicationJSON)) || bytes.HasSuffix(mt, []byte("+json"))
}

// checkJSON checks every string of a JSON body, naming a bad one by its
// path (title, items[0].note). A body that is not JSON is left to the
// handler, which says so.
func checkJSON(body []byte, bad *inputErrors) {
	if len(body) == 0 || !json.Valid(body) {
		return
	}
	w := jsonWalker{data: body, bad: bad}
	w.value("")
}

// jsonWalker reads a valid JSON document, checking its strings.
type jsonWalker struct {
	data []byte
	i    int
	buf  []byte
	bad  *inputErrors
}

func (w *jsonWalker) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func (w *jsonWalker) value(path string) {
	w.space()
	switch w.data[w.i] {
	case '{':
		w.i++
		for {
			w.space()
			switch w.data[w.i] {
			case '}':
				w.i++
				return
			case ',':
				w.i++
				w.space()
			}
			key, msg := w.str()
			if msg != "" {
				w.bad.add(orBody(path), msg)
				key = strings.Map(func(r rune) rune {
					if unicode.IsControl(r) {
						return utf8.RuneError
					}
					return r
				}, strings.ToValidUTF8(key, string(utf8.RuneError)))
			}
			w.space()
			w.i++ // the colon
			if path != "" {
				key = path + "." + key
			}
			w.value(key)
		}
	case '[':
		w.i++
		for n := 0; ; n++ {
			w.space()
			switch w.data[w.i] {
			case ']':
				w.i++
				return
			case ',':
				w.i++
			}
			w.value(path + "[" + strconv.Itoa(n) + "]")
		}
	case '"':
		if _, msg := w.str(); msg != "" {
			w.bad.add(orBody(path), msg)
		}
	default: // a number, true, false or null
		for w.i < len(w.data) && strings.IndexByte(",]} \t\n\r", w.data[w.i]) < 0 {
			w.i++
		}
	}
}

// str reads a string at w.i, decoding its escapes, and says what is wrong
// with it as text. A lone surrogate (\ud800) is not UTF-8.
func (w *jsonWalker) str() (string, string) {
	w.i++ // the opening quote
	w.buf = w.buf[:0]
	for {
		c := w.data[w.i]
		switch c {
		case '"':
			w.i++
			return string(w.buf), textProblem(w.buf, true)
		case '\\':
			e := w.data[w.i+1]
			w.i += 2
			switch e {
			case 'b':
				w.buf = append(w.buf, '\b')
			case 'f':
				w.buf = append(w.buf, '\f')
			case 'n':
				w.buf = append(w.buf, '\n')
			case 'r':
				w.buf = append(w.buf, '\r')
			case 't':
				w.buf = append(w.buf, '\t')
			case 'u':
				r := w.hex4()
				if utf16IsSurrogate(r) {
					lo := rune(-1)
					if w.i+1 < len(w.data) && w.data[w.i] == '\\' && w.data[w.i+1] == 'u' {
						save := w.i
						w.i += 2
						lo = w.hex4()
						if r >= 0xdc00 || lo < 0xdc00 || lo > 0xdfff {
							w.i, lo = save, -1
						}
					}
					if lo < 0 {
						w.buf = append(w.buf, 0xff) // not UTF-8, as the surrogate alone is not
						continue
					}
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
				}
				w.buf = utf8.AppendRune(w.buf, r)
			default: // " \ /
				w.buf = append(w.buf, e)
			}
		default:
			w.buf = append(w.buf, c)
			w.i++
		}
	}
}

func (w *jsonWalker) hex4() rune {
	n, _ := strconv.ParseUint(string(w.data[w.i:w.i+4]), 16, 32)
	w.i += 4
	return rune(n)
}

func utf16IsSurrogate(r rune) bool { return r >= 0xd800 && r <= 0xdfff }

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
