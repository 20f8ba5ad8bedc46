package app

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// FuzzAPIBody sends any bytes as the JSON body of any operation of the API
// that takes one, as the operation's owner (so the body gets past
// authorization): never a 5xx, and every 4xx is problem+json. The
// operations, and the state each acts on, come from the OpenAPI
// description and the audit's declarations (audit_test.go).
func FuzzAPIBody(f *testing.F) {
	e := auditEnv(f)
	doc, eps := openAPIEndpoints(f, e)
	aw := newAuditWorld(f, e)
	type call struct {
		opID, method, url, owner string
	}
	var calls []call
	var seeds [][]byte
	for _, opID := range sortedIDs(eps) {
		ep, d := eps[opID], auditOps[opID]
		if ep.jsonSchema(doc) == nil || d.ownerAs == nil && d.make == nil {
			continue
		}
		var tg target
		if d.make != nil {
			tg = d.make(aw)
		}
		owner := tg.owner
		if owner == "" && d.ownerAs != nil {
			owner = d.ownerAs(aw)
		}
		valid, _ := json.Marshal(aw.bodyFor(doc, ep, d, tg))
		calls = append(calls, call{opID, ep.Method, urlFor(f, ep, tg), owner})
		seeds = append(seeds, valid)
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	for _, s := range []string{`{`, `[]`, `null`, ``, `{"a":1e400}`, "{\"x\":\"\xff\xfe\"}", `{"quantity":-9223372036854775809}`} {
		f.Add(uint8(len(s)), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		c := calls[int(which)%len(calls)]
		hr := httptest.NewRequest(c.method, c.url, bytes.NewReader(body))
		hr.Header.Set("Content-Type", "application/json")
		if c.owner != "" {
			hr.Header.Set("Authorization", "Bearer "+c.owner)
		}
		status, ct, raw := fuzzServe(t, e, hr)
		wantNoServerError(t, e, c.opID, body, status, ct, raw)
	})
}
