package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fuzzServe sends one request to the server in process; it returns the
// status, the content type and the body.
func fuzzServe(t *testing.T, e *testEnv, hr *http.Request) (int, string, []byte) {
	t.Helper()
	res, err := e.srv.App().Test(hr, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", hr.Method, hr.URL, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), raw
}

// wantNoServerError checks an answer to any input: never a 5xx, and every
// 4xx is problem+json.
func wantNoServerError(t *testing.T, e *testEnv, what string, input []byte, status int, ct string, body []byte) {
	t.Helper()
	if status >= 500 {
		e.logErrors(t)
		t.Fatalf("%s with %q: status %d\n%.300s", what, input, status, body)
	}
	if status >= 400 && !bytes.HasPrefix([]byte(ct), []byte("application/problem+json")) {
		t.Fatalf("%s with %q: status %d with content type %q, want application/problem+json", what, input, status, ct)
	}
}

// FuzzFlashPurchaseBody sends any bytes as the body of a flash purchase, the
// hot path that parses its body itself: never a 5xx, every refusal is
// problem+json, and an admission is a 202 with a queued ticket.
func FuzzFlashPurchaseBody(f *testing.F) {
	e := auditEnv(f)
	w := newFlashWorld(f, e, "fuzz-flash")
	sale := w.liveSale(f, 900, flashProductStock, 10)
	buyers := e.buyers(f, "fuzz-flash", 8)
	for _, s := range []string{
		`{"quantity":1}`, `{"quantity":2}`, `{"quantity":0}`, `{"quantity":-1}`, `{"quantity":11}`,
		`{"quantity":9223372036854775807}`, `{"quantity":9223372036854775808}`, `{"quantity":1e3}`,
		`{"quantity":"1"}`, `{"quantity":null}`, `{}`, `[]`, `null`, ``, `{"quantity":1`, `{"quantity":1,"quantity":2}`,
		"{\"quantity\":1,\"x\":\"\xff\xfe\"}", `{"Quantity":1}`, ` {"quantity":1} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		hr := httptest.NewRequest(http.MethodPost, "/api/v1/flash-sales/"+sale+"/purchase", bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Authorization", "Bearer "+buyers[len(body)%len(buyers)].Token)
		status, ct, raw := fuzzServe(t, e, hr)
		wantNoServerError(t, e, "purchase", body, status, ct, raw)
		if status == http.StatusAccepted {
			var m struct{ Ticket, Status string }
			if err := json.Unmarshal(raw, &m); err != nil || m.Ticket == "" || m.Status != "queued" {
				t.Fatalf("purchase with %q: 202 %s, want a queued ticket", body, raw)
			}
		}
	})
}
