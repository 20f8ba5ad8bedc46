package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"miaohui/app/ops"
	"miaohui/orders"
)

// The statements and payables of API.md ("Payments in the browser and
// merchant statements"), driven through the API.

// statementWorld is a shop world where stall A sold two lanterns to one
// buyer and one to another (paid a minute apart) and stall B a paper cut,
// ¥10.00 of it refunded; stall A's first order was picked up and paid out.
type statementWorld struct {
	*world
	lantern2, lantern1, cut orders.Order
	start                   time.Time
}

func newStatementWorld(t *testing.T, e *testEnv, slug string) *statementWorld {
	w := &statementWorld{world: newShopWorld(t, e, slug), start: e.clock.Now()}
	b1, b2 := w.shopper(t), w.shopper(t)
	w.lantern2 = w.buyPaid(t, b1.Token, w.lantern, 2)
	e.clock.Advance(time.Minute)
	w.lantern1 = w.buyPaid(t, b2.Token, w.lantern, 1)
	e.clock.Advance(time.Minute)
	w.cut = w.buyPaid(t, b1.Token, w.paperCut, 1)
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + w.cut.ID + "/refunds", Token: w.merchB.Token,
		Body: map[string]any{"amount": 1000, "reason": "torn"}}), http.StatusCreated)
	// Picked up at the booth, the first order's share is released and paid out.
	wantStatus(t, e.do(req{Method: "POST", Path: "/api/v1/orders/" + w.lantern2.ID + "/redeem", Token: w.merchA.Token,
		Body: map[string]any{"code": w.lantern2.PickupCode}}), http.StatusOK)
	if err := e.srv.Orders.Payout(context.Background(), w.lantern2.ID); err != nil {
		t.Fatal(err)
	}
	w.lantern2 = readOrder(t, e, w.lantern2.ID)
	return w
}

func decodeStatement(t *testing.T, res response) orders.Statement {
	t.Helper()
	wantStatus(t, res, http.StatusOK)
	var st orders.Statement
	if err := json.Unmarshal(res.Body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStatementAPI(t *testing.T) {
	e := newTestEnv(t)
	w := newStatementWorld(t, e, "statement-fair")
	path := "/api/v1/stalls/" + w.stallA + "/statement"

	t.Run("Merchant", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: path, Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		m := res.JSON(t)
		wantKeys(t, "statement", m, "currency", "lines", "totals", "next_cursor")
		lines, _ := m["lines"].([]any)
		if len(lines) != 2 {
			t.Fatalf("lines %s", res.Body)
		}
		wantKeys(t, "line", lines[0].(map[string]any), "order_id", "paid_at", "gross", "commission", "subsidy", "refunded", "net", "payout_status")
		wantKeys(t, "totals", m["totals"].(map[string]any), "gross", "commission", "subsidy", "refunded", "net", "paid_out", "owed")
		st := decodeStatement(t, res)
		// 5 %: ¥25.00 → fee 125, share 2375 (paid out); ¥12.50 → fee 63, share 1187 (held).
		want := []orders.StatementLine{
			{OrderID: w.lantern2.ID, Gross: 2500, Commission: 125, Net: 2375, PaidOut: 2375, PayoutStatus: orders.PayoutPaid},
			{OrderID: w.lantern1.ID, Gross: 1250, Commission: 63, Net: 1187, PayoutStatus: orders.PayoutHeld},
		}
		for i := range want {
			got := st.Lines[i]
			if !got.PaidAt.Equal(w.start.Add(time.Duration(i)*time.Minute).Truncate(time.Microsecond)) || !strings.HasSuffix(lines[i].(map[string]any)["paid_at"].(string), "Z") {
				t.Errorf("line %d paid_at %v (%v), want %v in UTC", i, got.PaidAt, lines[i].(map[string]any)["paid_at"], w.start.Add(time.Duration(i)*time.Minute))
			}
			got.PaidAt = time.Time{}
			if got != want[i] {
				t.Errorf("line %d %+v\nwant %+v", i, got, want[i])
			}
		}
		wantTot := orders.StatementTotals{Orders: 2, Gross: 3750, Commission: 188, Net: 3562, PaidOut: 2375, Owed: 1187, Held: 1187}
		if st.Totals != wantTot || st.Currency != "CNY" || st.NextCursor != nil {
			t.Errorf("totals %+v, currency %s, next %v\nwant %+v", st.Totals, st.Currency, st.NextCursor, wantTot)
		}

		// Stall B's statement: the merchant bears 95 % of the refund.
		st = decodeStatement(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + w.stallB + "/statement", Token: w.merchB.Token}))
		if len(st.Lines) != 1 || st.Lines[0].Refunded != 1000 || st.Lines[0].Commission != 200-50 || st.Lines[0].Net != 3799-950 {
			t.Errorf("stall B %+v", st.Lines)
		}
	})

	t.Run("PagingAndPeriod", func(t *testing.T) {
		st := decodeStatement(t, e.do(req{Method: "GET", Path: path + "?limit=1", Token: w.merchA.Token}))
		if len(st.Lines) != 1 || st.Lines[0].OrderID != w.lantern2.ID || st.NextCursor == nil || st.Totals.Orders != 2 {
			t.Fatalf("first page %+v", st)
		}
		st = decodeStatement(t, e.do(req{Method: "GET", Path: path + "?limit=1&cursor=" + url.QueryEscape(*st.NextCursor), Token: w.merchA.Token}))
		if len(st.Lines) != 1 || st.Lines[0].OrderID != w.lantern1.ID || st.NextCursor != nil || st.Totals.Net != 3562 {
			t.Fatalf("second page %+v", st)
		}
		// From the second payment, in Beijing time: only the second order.
		from := url.QueryEscape(fairTime(w.start.Add(time.Minute)))
		st = decodeStatement(t, e.do(req{Method: "GET", Path: path + "?from=" + from, Token: w.merchA.Token}))
		if len(st.Lines) != 1 || st.Lines[0].OrderID != w.lantern1.ID || st.Totals.Gross != 1250 || st.From == nil {
			t.Errorf("from the second payment %+v", st)
		}
		st = decodeStatement(t, e.do(req{Method: "GET", Path: path + "?to=" + from, Token: w.merchA.Token}))
		if len(st.Lines) != 1 || st.Lines[0].OrderID != w.lantern2.ID {
			t.Errorf("to the second payment %+v", st)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		wantField(t, e.do(req{Method: "GET", Path: path + "?from=yesterday", Token: w.merchA.Token}), "from")
		wantField(t, e.do(req{Method: "GET", Path: path + "?from=2026-02-10T00:00:00Z&to=2026-02-09T00:00:00Z", Token: w.merchA.Token}), "to")
		wantField(t, e.do(req{Method: "GET", Path: path + "?cursor=zzz", Token: w.merchA.Token}), "cursor")
		wantField(t, e.do(req{Method: "GET", Path: path + ".csv?to=soon", Token: w.merchA.Token}), "to")
	})

	t.Run("Access", func(t *testing.T) {
		for _, p := range []string{path, path + ".csv"} {
			wantProblem(t, e.do(req{Method: "GET", Path: p, Token: w.merchB.Token}), http.StatusNotFound, "not_found")
			wantProblem(t, e.do(req{Method: "GET", Path: p, Token: w.shopper(t).Token}), http.StatusNotFound, "not_found")
			wantProblem(t, e.do(req{Method: "GET", Path: p, Token: w.org}), http.StatusForbidden, "forbidden")
			wantProblem(t, e.do(req{Method: "GET", Path: p}), http.StatusUnauthorized, "unauthenticated")
			wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/nope/statement", Token: w.merchA.Token}), http.StatusNotFound, "not_found")
		}
	})

	t.Run("CSV", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: path + ".csv", Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		if ct, cd := res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") || !strings.HasPrefix(cd, "attachment;") {
			t.Errorf("content type %q, disposition %q", ct, cd)
		}
		rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if err != nil || len(rows) != 3 {
			t.Fatalf("statement.csv %v\n%s", err, res.Body)
		}
		if got := strings.Join(rows[0], ","); got != "order_id,paid_at,gross_fen,commission_fen,subsidy_fen,refunded_fen,net_fen,paid_out_fen,payout_status" {
			t.Errorf("header %s", got)
		}
		if got := strings.Join(rows[2], ","); got != w.lantern1.ID+","+rows[2][1]+",1250,63,0,0,1187,0,held" || !strings.HasSuffix(rows[2][1], "Z") {
			t.Errorf("row %s", got)
		}
	})
}

func TestPayablesAPI(t *testing.T) {
	e := newTestEnv(t)
	w := newStatementWorld(t, e, "payables-fair")
	path := "/api/v1/fairs/" + w.slug + "/payables"

	t.Run("Organizer", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: path, Token: w.org})
		wantStatus(t, res, http.StatusOK)
		m := res.JSON(t)
		wantKeys(t, "payables", m, "currency", "items", "totals")
		items, _ := m["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("items %s", res.Body)
		}
		wantKeys(t, "payable", items[0].(map[string]any), "stall_id", "name", "net", "paid_out", "owed")
		var p orders.Payables
		if err := json.Unmarshal(res.Body, &p); err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			tok := map[string]string{w.stallA: w.merchA.Token, w.stallB: w.merchB.Token}[it.StallID]
			st := decodeStatement(t, e.do(req{Method: "GET", Path: "/api/v1/stalls/" + it.StallID + "/statement", Token: tok}))
			if it.StatementTotals != st.Totals || it.Owed != it.Net-it.PaidOut {
				t.Errorf("payable %+v, its statement's totals %+v", it, st.Totals)
			}
		}
		if p.Totals.Net != 3562+2849 || p.Totals.PaidOut != 2375 || p.Totals.Owed != 1187+2849 {
			t.Errorf("totals %+v", p.Totals)
		}

		res = e.do(req{Method: "GET", Path: path + ".csv", Token: w.org})
		wantStatus(t, res, http.StatusOK)
		rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][0] != "stall_id" || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("payables.csv %v\n%s", err, res.Body)
		}
	})

	t.Run("Access", func(t *testing.T) {
		_, otherOrg := e.organizer(t, "other-organizer-payables@example.com")
		for _, p := range []string{path, path + ".csv"} {
			for _, tok := range []string{otherOrg, w.merchA.Token, w.shopper(t).Token} {
				wantProblem(t, e.do(req{Method: "GET", Path: p, Token: tok}), http.StatusNotFound, "not_found")
			}
			wantProblem(t, e.do(req{Method: "GET", Path: p}), http.StatusUnauthorized, "unauthenticated")
		}
	})

	t.Run("Check", func(t *testing.T) {
		// With a subsidy on one order, statements, totals and payables still agree.
		if _, err := e.srv.DB.NewUpdate().Table("orders").Set("subsidy = 500").Where("id = ?", w.lantern1.ID).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := ops.CheckTotals(context.Background(), e.srv.DB, e.cfg.DataDir, w.slug, &out); err != nil {
			t.Fatalf("check totals: %v\n%s", err, out.String())
		}
		if s := out.String(); !strings.Contains(s, "statements in") || !strings.Contains(s, "subsidy ¥5.00") || !strings.Contains(s, "totals OK") {
			t.Errorf("check totals:\n%s", s)
		}
	})
}

// The merchant's statement page and the organizer's payables page.
func TestStatementPages(t *testing.T) {
	e := newTestEnv(t)
	w := newStatementWorld(t, e, "statement-pages")
	path := "/merchant/stalls/" + w.stallA + "/statement"

	t.Run("Merchant", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: path, Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		body := string(res.Body)
		for _, want := range []string{
			`data-testid="statement-owed">¥11.87<`, `data-testid="statement-net">¥35.62<`, `data-testid="statement-paid-out">¥23.75<`,
			`data-order="` + w.lantern2.ID + `" data-status="paid"`, `data-order="` + w.lantern1.ID + `" data-status="held"`,
			`href="/api/v1/stalls/` + w.stallA + `/statement.csv"`,
			`data-testid="payouts-simulated"`, // the sandbox: no account to connect
			`结算单`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("statement page lacks %q", want)
			}
		}
		if strings.Contains(body, " style=") || strings.Contains(body, "<script>") {
			t.Error("the page has an inline style or script")
		}
		// A period of days in Beijing time narrows the lines and the CSV link.
		day := w.start.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
		res = e.do(req{Method: "GET", Path: path + "?from=" + day + "&to=" + day, Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), "statement.csv?from=") {
			t.Errorf("the CSV link ignores the period")
		}
		res = e.do(req{Method: "GET", Path: path + "?from=someday", Token: w.merchA.Token})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		if !strings.Contains(string(res.Body), `data-testid="form-error"`) {
			t.Error("a bad day is not reported")
		}
		// The stall console links to it.
		res = e.do(req{Method: "GET", Path: "/merchant/stalls/" + w.stallA, Token: w.merchA.Token})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), `href="/merchant/stalls/`+w.stallA+`/statement"`) {
			t.Error("the stall console does not link to the statement")
		}
		// With the sandbox there is no payout account to connect.
		res = e.do(req{Method: "POST", Path: "/merchant/stalls/" + w.stallA + "/payout-account", Token: w.merchA.Token})
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != path {
			t.Errorf("connect sent to %q, want back to %q", loc, path)
		}
	})

	t.Run("Others", func(t *testing.T) {
		wantStatus(t, e.do(req{Method: "GET", Path: path, Token: w.merchB.Token}), http.StatusNotFound)
		wantPageDenied(t, e.do(req{Method: "GET", Path: path, Token: w.shopper(t).Token}))
		wantPageDenied(t, e.do(req{Method: "GET", Path: path, Token: w.org}))
	})

	t.Run("Payables", func(t *testing.T) {
		p := "/organizer/fairs/" + w.slug + "/payables"
		res := e.do(req{Method: "GET", Path: p, Token: w.org})
		wantStatus(t, res, http.StatusOK)
		body := string(res.Body)
		for _, want := range []string{
			`data-testid="payables-owed">¥40.36<`, `data-stall="` + w.stallA + `"`, `data-stall="` + w.stallB + `"`,
			`href="/api/v1/fairs/` + w.slug + `/payables.csv"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("payables page lacks %q", want)
			}
		}
		res = e.do(req{Method: "GET", Path: "/organizer/fairs/" + w.slug, Token: w.org})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), `href="/organizer/fairs/`+w.slug+`/payables"`) {
			t.Error("the fair console does not link to the payables")
		}
		_, other := e.organizer(t, "other-organizer-pages@example.com")
		wantStatus(t, e.do(req{Method: "GET", Path: p, Token: other}), http.StatusNotFound)
		wantPageDenied(t, e.do(req{Method: "GET", Path: p, Token: w.merchA.Token}))
	})
}
