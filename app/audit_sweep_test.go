package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// The bad-input sweep: every published operation with a body or parameters
// is sent, as its owner (so the input gets past authorization), malformed
// JSON, wrong types, huge and negative numbers, long strings, NUL bytes,
// invalid UTF-8 and markup, one property or parameter at a time. No answer
// may be a 5xx, and every 4xx must be problem+json.

// badInput is one bad value and its name in reports.
type badInput struct {
	name  string
	value any
}

// invalidUTF8 stands for a string whose JSON text carries the raw bytes 0xff
// 0xfe (encoding/json would escape them); the sweep swaps it in after
// marshalling.
const invalidUTF8 = "\x01invalid-utf8\x01"

// loneSurrogate stands for the JSON escape \ud800, half a UTF-16 pair.
const loneSurrogate = "\x01lone-surrogate\x01"

var (
	long100K      = strings.Repeat("a", 100*1024)
	longHan       = strings.Repeat("灯", 100*1024/3)
	badStrings    = []badInput{{"100 KB string", long100K}, {"100 KB of 灯", longHan}, {"NUL", "a\u0000b"}, {"only NUL", "\u0000"}, {"invalid UTF-8", invalidUTF8}, {"script", `<script>alert(1)</script>`}, {"attribute", `"><img src=x onerror=alert(1)>`}, {"formula", `=HYPERLINK("http://evil.example","x")`}, {"blank", "   "}, {"empty", ""}, {"bidi override", "\u202egnp.exe"}, {"lone surrogate", loneSurrogate}, {"path", "../../etc/passwd"}}
	badNumbers    = []badInput{{"-1", -1}, {"0", 0}, {"max int64", json.Number("9223372036854775807")}, {"past int64", json.Number("9223372036854775808")}, {"min int64", json.Number("-9223372036854775808")}, {"1e308", 1e308}, {"-1e308", -1e308}, {"1e400", json.Number("1e400")}, {"fraction", 1.5}}
	badTimes      = []badInput{{"not a time", "not a time"}, {"year 9999", "9999-12-31T23:59:59Z"}, {"year 1", "0001-01-01T00:00:00Z"}, {"month 13", "2026-13-45T99:99:99Z"}, {"no zone", "2026-02-01T10:00:00"}}
	badPathValues = []badInput{{"NUL", "%00"}, {"NUL inside", "a%00b"}, {"invalid UTF-8", "%FF%FE"}, {"script", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"}, {"-1", "-1"}, {"huge number", "99999999999999999999999999999"}, {"2 KB", strings.Repeat("a", 2048)}, {"dot-dot", "..%2F..%2Fetc"}, {"Han", "%E7%81%AF"}, {"space", "%20"}, {"quote", "%27%22"}}
	badQueryExtra = []badInput{{"0", "0"}, {"abc", "abc"}, {"1e309", "1e309"}, {"empty", ""}}
	badHeaders    = []badInput{{"2 KB", strings.Repeat("k", 2048)}, {"script", "<script>alert(1)</script>"}, {"Han", "灯笼"}, {"empty", ""}}
)

// badValues are the bad values of a property of schema s.
func badValues(s *auditSchema) []badInput {
	var out []badInput
	wrongType := map[string][]badInput{
		"string":  {{"a number", 12345}, {"a boolean", true}, {"an object", map[string]any{}}, {"an array", []any{"x"}}, {"null", nil}},
		"integer": {{"a string", "12"}, {"a boolean", true}, {"an object", map[string]any{}}, {"null", nil}},
		"number":  {{"a string", "1.5"}, {"a boolean", true}, {"null", nil}},
		"boolean": {{"a string", "yes"}, {"a number", 1}, {"null", nil}},
		"array":   {{"a string", "x"}, {"an object", map[string]any{}}, {"an array of NUL", []any{"\u0000"}}},
		"object":  {{"a string", "x"}, {"an array", []any{}}},
	}
	out = append(out, wrongType[s.kind()]...)
	switch s.kind() {
	case "integer", "number":
		out = append(out, badNumbers...)
	case "string":
		out = append(out, badStrings...)
		if s.Format == "date-time" {
			out = append(out, badTimes...)
		}
		if len(s.Enum) > 0 {
			out = append(out, badInput{"not in the enum", "nope"})
		}
	}
	return out
}

// malformedBodies are bodies that are not the JSON object asked for.
var malformedBodies = []struct {
	name string
	data []byte
}{
	{"truncated JSON", []byte(`{"a":`)},
	{"not JSON", []byte(`not json`)},
	{"an array", []byte(`[]`)},
	{"null", []byte(`null`)},
	{"a string", []byte(`"x"`)},
	{"empty", nil},
	{"trailing garbage", []byte(`{} {}`)},
	{"invalid UTF-8 bytes", []byte("{\"x\":\"\xff\xfe\"}")},
	{"raw bytes", []byte{0xff, 0xfe, 0x00, 0x01}},
	{"deep nesting", []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000))},
	{"huge key count", []byte("{" + strings.Repeat(`"k":1,`, 20000) + `"k":1}`)},
}

// sweepReq is one request of the sweep.
type sweepReq struct {
	what   string // the input, for reports
	url    string
	body   any
	header map[string]string
}

// jsonBody marshals body, putting raw invalid UTF-8 where invalidUTF8 is.
func jsonBody(body map[string]any) rawBody {
	raw, _ := json.Marshal(body)
	placeholder, _ := json.Marshal(invalidUTF8)
	raw = bytes.ReplaceAll(raw, placeholder, []byte("\"\xff\xfe\""))
	placeholder, _ = json.Marshal(loneSurrogate)
	raw = bytes.ReplaceAll(raw, placeholder, []byte(`"\ud800"`))
	return rawBody{ContentType: "application/json", Data: raw}
}

// sweepRequests are the bad inputs of one operation.
func sweepRequests(t testing.TB, doc *auditDoc, ep auditEndpoint, tg target, valid any, header map[string]string) []sweepReq {
	var out []sweepReq
	base := urlFor(t, ep, tg)
	if ep.hasBody() {
		ct := "application/json"
		if ep.jsonSchema(doc) == nil {
			ct = "" // multipart, octet-stream: sent as the content type they claim
		}
		for _, m := range malformedBodies {
			out = append(out, sweepReq{what: "body " + m.name, url: base, body: rawBody{ContentType: orDefault(ct, "application/octet-stream"), Data: m.data}, header: header})
		}
		if ct == "" {
			out = append(out, sweepReq{what: "body as JSON", url: base, body: map[string]any{"image": "aGVsbG8="}, header: header})
		}
		if s := ep.jsonSchema(doc); s != nil {
			validMap, _ := valid.(map[string]any)
			names := make([]string, 0, len(s.Properties))
			for name := range s.Properties {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				p := doc.resolve(s.Properties[name])
				if p == nil {
					continue
				}
				for _, bad := range badValues(p) {
					body := map[string]any{}
					for k, v := range validMap {
						body[k] = v
					}
					body[name] = bad.value
					out = append(out, sweepReq{what: fmt.Sprintf("%s = %s", name, bad.name), url: base, body: jsonBody(body), header: header})
				}
			}
			// An unknown property with a bad value, and every property NUL at once.
			body := map[string]any{"\u0000": "\u0000", "unknown": long100K}
			for k, v := range validMap {
				body[k] = v
			}
			out = append(out, sweepReq{what: "extra properties", url: base, body: jsonBody(body), header: header})
		}
	}
	for _, name := range ep.params("path") {
		for _, bad := range badPathValues {
			params := map[string]string{}
			for k, v := range tg.path {
				params[k] = v
			}
			params[name] = bad.value.(string)
			u := fill(t, ep.OperationID, ep.Path, params)
			if tg.query != "" {
				u += "?" + tg.query
			}
			out = append(out, sweepReq{what: fmt.Sprintf("path {%s} = %s", name, bad.name), url: u, body: valid, header: header})
		}
	}
	for _, name := range ep.params("query") {
		for _, bad := range append(badPathValues, badQueryExtra...) {
			sep := "?"
			if strings.Contains(base, "?") {
				sep = "&"
			}
			out = append(out, sweepReq{what: fmt.Sprintf("query %s = %s", name, bad.name), url: base + sep + url.QueryEscape(name) + "=" + bad.value.(string), body: valid, header: header})
		}
	}
	for _, name := range ep.params("header") {
		for _, bad := range badHeaders {
			h := map[string]string{}
			for k, v := range header {
				h[k] = v
			}
			h[name] = bad.value.(string)
			out = append(out, sweepReq{what: fmt.Sprintf("header %s = %s", name, bad.name), url: base, body: valid, header: h})
		}
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// TestAuditSweep sends every operation with a body or parameters its bad
// inputs as its owner.
func TestAuditSweep(t *testing.T) {
	e := auditEnv(t)
	doc, eps := openAPIEndpoints(t, e)
	aw := newAuditWorld(t, e)
	defer func() {
		if t.Failed() {
			e.logErrors(t)
		}
	}()
	requests, ops, fivexx, notProblem := 0, 0, 0, 0
	for _, opID := range sortedIDs(eps) {
		d, ok := auditOps[opID]
		ep := eps[opID]
		if !ok || !ep.hasBody() && len(ep.Parameters) == 0 {
			continue
		}
		ops++
		var tg target
		if d.make != nil {
			tg = d.make(aw)
		}
		owner := tg.owner
		if owner == "" {
			owner = d.ownerAs(aw)
		}
		valid := aw.bodyFor(doc, ep, d, tg)
		for _, r := range sweepRequests(t, doc, ep, tg, valid, d.header) {
			res := aw.send(ep.Method, r.url, owner, r.body, r.header)
			requests++
			switch {
			case res.StatusCode >= 500:
				fivexx++
				t.Errorf("%s (%s %s) %s: status %d\n%.200s", opID, ep.Method, ep.Path, r.what, res.StatusCode, res.Body)
			case res.StatusCode >= 400 && !isProblem(res):
				notProblem++
				t.Errorf("%s (%s %s) %s: status %d with content type %q, want application/problem+json\n%.200s", opID, ep.Method, ep.Path, r.what, res.StatusCode, res.Header.Get("Content-Type"), res.Body)
			}
		}
	}
	t.Logf("%d requests over %d operations, %d 5xx, %d 4xx not problem+json", requests, ops, fivexx, notProblem)
	fmt.Printf("audit sweep: %d requests over %d operations, %d 5xx, %d 4xx not problem+json\n", requests, ops, fivexx, notProblem)
}
