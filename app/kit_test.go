package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// The shared test kit of package app: requests, the checks every suite makes,
// concurrent rushes, buyers, and worlds (a fair with its organizer, two
// approved stalls with their merchants, products, flash sales) that each test
// or subtest builds for itself.

// send serves one built request (a multipart upload, say).
func (e *testEnv) send(hr *http.Request) response {
	e.t.Helper()
	res, err := e.srv.App().Test(hr, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", hr.Method, hr.URL, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return response{Response: res, Body: raw}
}

// newRequest builds a JSON request (for a rush, or send).
func newRequest(method, path, token string, body any, header map[string]string) *http.Request {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	hr := httptest.NewRequest(method, path, rd)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	return hr
}

// problemCode is the problem code of an answer.
func problemCode(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Code
}

// wantField checks that a validation problem names field.
func wantField(t testing.TB, res response, field string) {
	t.Helper()
	p := wantProblem(t, res, http.StatusUnprocessableEntity, "validation_failed")
	errs, _ := p["errors"].([]any)
	for _, fe := range errs {
		f, _ := fe.(map[string]any)
		if f["field"] == field && f["message"] != "" {
			return
		}
	}
	t.Fatalf("no error for field %q: %s", field, res.Body)
}

// wantDenied accepts 403 forbidden or 404 not_found, the two answers the
// contract allows when someone acts on another tenant's resource.
func wantDenied(t testing.TB, res response) {
	t.Helper()
	switch res.StatusCode {
	case http.StatusForbidden:
		wantProblem(t, res, http.StatusForbidden, "forbidden")
	case http.StatusNotFound:
		wantProblem(t, res, http.StatusNotFound, "not_found")
	default:
		t.Fatalf("%s %s: status %d, want 403 or 404\n%s", res.Request.Method, res.Request.URL, res.StatusCode, res.Body)
	}
}

// wantPageDenied expects a page to refuse: 403, or a redirect to sign in.
func wantPageDenied(t testing.TB, res response) {
	t.Helper()
	if res.StatusCode == http.StatusForbidden {
		return
	}
	if res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/login") {
		return
	}
	t.Fatalf("%s %s: status %d, want 403 or a redirect to sign in\n%s", res.Request.Method, res.Request.URL, res.StatusCode, res.Body)
}

// wantKeys checks a JSON object has the contract's keys.
func wantKeys(t testing.TB, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

// wantTime checks that a JSON time is RFC 3339 in UTC and equals want.
func wantTime(t testing.TB, m map[string]any, key string, want time.Time) {
	t.Helper()
	s, _ := m[key].(string)
	got, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s %q is not RFC 3339: %v", key, s, err)
	}
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("%s %q is not in UTC", key, s)
	}
	if !got.Equal(want.Truncate(time.Second)) {
		t.Errorf("%s %v, want %v", key, got, want.Truncate(time.Second))
	}
}

// jsonInt reads a JSON number.
func jsonInt(t testing.TB, m map[string]any, key string) int {
	t.Helper()
	f, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q is not a number in %v", key, m)
	}
	return int(f)
}

// listItems decodes a {"items": [...]} body.
func listItems(t testing.TB, res response) []map[string]any {
	t.Helper()
	raw, ok := res.JSON(t)["items"].([]any)
	if !ok {
		t.Fatalf("no items array: %s", res.Body)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// listField returns the values of key in items.
func listField(items []map[string]any, key string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = fmt.Sprint(it[key])
	}
	return out
}

// countRows counts the rows of table matching where.
func countRows(t testing.TB, e *testEnv, table, where string, args ...any) int {
	t.Helper()
	n, err := e.srv.DB.NewSelect().Table(table).Where(where, args...).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// userByEmail reads a user from the database.
func userByEmail(t testing.TB, e *testEnv, email string) account.User {
	t.Helper()
	var u account.User
	if err := e.srv.DB.NewSelect().Model(&u).Where("email = ?", email).Scan(context.Background()); err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return u
}

// readStock reads a product's stock from the database.
func readStock(t testing.TB, e *testEnv, productID string) int64 {
	t.Helper()
	var n int64
	if err := e.srv.DB.NewSelect().Table("products").Column("stock").Where("id = ?", productID).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readOrder reads an order and its items from the database.
func readOrder(t testing.TB, e *testEnv, id string) orders.Order {
	t.Helper()
	var o orders.Order
	ctx := context.Background()
	if err := e.srv.DB.NewSelect().Model(&o).Where("id = ?", id).Scan(ctx); err != nil {
		t.Fatalf("order %s: %v", id, err)
	}
	if err := e.srv.DB.NewSelect().Model(&o.Items).Where("order_id = ?", id).OrderExpr("id ASC").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	return o
}

// readPayment reads a payment from the database.
func readPayment(t testing.TB, e *testEnv, id string) orders.Payment {
	t.Helper()
	var p orders.Payment
	if err := e.srv.DB.NewSelect().Model(&p).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatalf("payment %s: %v", id, err)
	}
	return p
}

// wantStock checks a product's stock.
func wantStock(t testing.TB, e *testEnv, productID string, want int64) {
	t.Helper()
	if got := readStock(t, e, productID); got != want {
		t.Errorf("stock of %s is %d, want %d", productID, got, want)
	}
}

// wantOrderStatus checks orders' statuses in the database.
func wantOrderStatus(t testing.TB, e *testEnv, want string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if o := readOrder(t, e, id); o.Status != want {
			t.Errorf("order %s is %s, want %s", id, o.Status, want)
		}
	}
}

// decodeCheckout decodes a checkout's answer.
func decodeCheckout(t testing.TB, res response) orders.Checkout {
	t.Helper()
	var c orders.Checkout
	if err := json.Unmarshal(res.Body, &c); err != nil {
		t.Fatalf("checkout body: %v\n%s", err, res.Body)
	}
	if c.Payment == nil || len(c.Orders) == 0 {
		t.Fatalf("checkout without payment or orders: %s", res.Body)
	}
	return c
}

// logErrors shows the server's side of any 500.
func (e *testEnv) logErrors(t testing.TB) {
	t.Helper()
	shown := 0
	for _, line := range strings.Split(e.logBuf.String(), "\n") {
		if strings.Contains(line, "unhandled error") && shown < 5 {
			t.Log(line)
			shown++
		}
	}
}

// attempt is one request of a rush and its answer.
type attempt struct {
	who    int // the request's buyer (or index)
	status int
	body   []byte
	code   string // the problem code, if any
	ticket string // a won flash purchase's ticket
	err    error
}

// rush makes the n attempts send makes, at most conc at a time (all at once
// when conc <= 0), released together, and fails the test if they have not
// all been answered within: requests stuck for good (a deadlock) must not
// hang the suite.
func rush(t testing.TB, n, conc int, within time.Duration, send func(k int) attempt) []attempt {
	t.Helper()
	if conc <= 0 {
		conc = n
	}
	out := make([]attempt, n)
	sem := make(chan struct{}, max(conc, 1))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			<-start
			sem <- struct{}{}
			defer func() { <-sem }()
			out[k] = send(k)
		}(k)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	close(start)
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("%d concurrent requests not all answered within %s: requests are stuck (a deadlock?)", n, within)
	}
	return out
}

// rush serves every request at once, in process (see rush).
func (e *testEnv) rush(t testing.TB, within time.Duration, reqs []*http.Request) []attempt {
	t.Helper()
	defer func() {
		if t.Failed() {
			e.logErrors(t)
		}
	}()
	return rush(t, len(reqs), 0, within, func(k int) attempt {
		res, err := e.srv.App().Test(reqs[k], -1)
		if err != nil {
			return attempt{who: k, err: err}
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return attempt{who: k, status: res.StatusCode, body: raw, code: problemCode(raw)}
	})
}

// tally counts a rush's answers by status; anything but the statuses
// allowed (with the conflict code for 409) fails the test.
func (e *testEnv) tally(t testing.TB, results []attempt, allowed ...int) map[int]int {
	t.Helper()
	n := map[int]int{}
	defer func() {
		if t.Failed() {
			e.logErrors(t)
		}
	}()
	for i, r := range results {
		ok := false
		for _, a := range allowed {
			ok = ok || r.status == a
		}
		switch {
		case r.err != nil:
			t.Errorf("request %d: %v", i, r.err)
		case !ok:
			t.Errorf("request %d: status %d %s", i, r.status, r.body)
		case r.status == http.StatusConflict && r.code != "conflict":
			t.Errorf("request %d: 409 without the conflict code: %s", i, r.body)
		default:
			n[r.status]++
		}
	}
	return n
}

// purchaseAttempt reads a flash purchase's answer: a 202 must carry a ticket.
func purchaseAttempt(buyer, status int, body []byte, err error) attempt {
	a := attempt{who: buyer, status: status, body: body, code: problemCode(body), err: err}
	if err == nil && status == http.StatusAccepted {
		var m struct {
			Ticket string `json:"ticket"`
		}
		if err := json.Unmarshal(body, &m); err != nil || m.Ticket == "" {
			a.err = fmt.Errorf("202 without a ticket: %s", body)
		}
		a.ticket = m.Ticket
	}
	return a
}

// flashRush sends the purchases of one unit by the buyers listed (an index
// may repeat), at most conc at a time, within a minute.
func (e *testEnv) flashRush(t testing.TB, saleID string, buyers []buyer, order []int, conc int) []attempt {
	t.Helper()
	defer func() {
		if t.Failed() {
			e.logErrors(t)
		}
	}()
	return rush(t, len(order), conc, time.Minute, func(k int) attempt {
		b := order[k]
		hr := newRequest("POST", "/api/v1/flash-sales/"+saleID+"/purchase", buyers[b].Token, map[string]any{"quantity": 1}, nil)
		res, err := e.srv.App().Test(hr, -1)
		if err != nil {
			return attempt{who: b, err: err}
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return purchaseAttempt(b, res.StatusCode, raw, nil)
	})
}

// wins checks a flash rush's answers: only 202, 409 sold_out and 409
// limit_reached are allowed. It returns the tickets won, by buyer.
func wins(t testing.TB, attempts []attempt) map[int][]string {
	t.Helper()
	won := map[int][]string{}
	bad := 0
	for i, a := range attempts {
		ok := a.err == nil && (a.status == http.StatusAccepted ||
			a.status == http.StatusConflict && (a.code == "sold_out" || a.code == "limit_reached"))
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("attempt %d (buyer %d): status %d code %q err %v", i, a.who, a.status, a.code, a.err)
			}
			continue
		}
		if a.status == http.StatusAccepted {
			won[a.who] = append(won[a.who], a.ticket)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d attempts answered otherwise than 202 / 409 sold_out / 409 limit_reached", bad, len(attempts))
	}
	return won
}

// wantWonOnce checks that no buyer won twice (a limit of one per person)
// and that the tickets won add up to want.
func wantWonOnce(t testing.TB, won map[int][]string, want int) {
	t.Helper()
	tickets := 0
	for b, ts := range won {
		tickets += len(ts)
		if len(ts) > 1 {
			t.Errorf("buyer %d won %d times with a limit of 1", b, len(ts))
		}
	}
	if tickets != want {
		t.Errorf("%d tickets won, want %d", tickets, want)
	}
}

// buyer is a shopper for the big rushes.
type buyer struct{ ID, Token string }

// makeBuyers makes n buyers, a few at a time.
func makeBuyers(t testing.TB, n int, newBuyer func(i int) (buyer, error)) []buyer {
	t.Helper()
	out := make([]buyer, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = newBuyer(i)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("buyer %d: %v", i, err)
		}
	}
	return out
}

// buyers creates n shoppers through the service (the test's cheap hash).
func (e *testEnv) buyers(t testing.TB, prefix string, n int) []buyer {
	t.Helper()
	ctx := context.Background()
	return makeBuyers(t, n, func(i int) (buyer, error) {
		u, err := e.srv.Accounts.CreateUser(ctx, account.NewUser{Email: fmt.Sprintf("%s%03d@example.com", prefix, i), Password: testPassword, Name: "抢购", Role: catalog.RoleShopper})
		if err != nil {
			return buyer{}, err
		}
		_, tok, err := e.srv.Accounts.StartSession(ctx, u.ID)
		return buyer{ID: u.ID, Token: tok}, err
	})
}

// login signs a user in through the API and returns the bearer token.
func (e *testEnv) login(t testing.TB, email string) string {
	t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": email, "password": testPassword}})
	wantStatus(t, res, http.StatusOK)
	tok, _ := res.JSON(t)["token"].(string)
	if tok == "" {
		t.Fatalf("login of %s gave no token: %s", email, res.Body)
	}
	return tok
}

// organizer creates an organizer (as the operator CLI does) and signs in.
func (e *testEnv) organizer(t testing.TB, email string) (id, token string) {
	t.Helper()
	u := e.createUser(email, catalog.RoleOrganizer)
	return u.ID, e.login(t, email)
}

// fairTime formats a time as RFC 3339 in China Standard Time: any offset is
// accepted on input.
func fairTime(at time.Time) string {
	return at.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339)
}

// fairBody is a valid fair of kind opened an hour ago for thirty days.
func (e *testEnv) fairBody(slug, kind string) map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"slug": slug, "name": "泰州网络庙会 " + slug, "kind": kind,
		"starts_at": fairTime(now.Add(-time.Hour)), "ends_at": fairTime(now.Add(30 * 24 * time.Hour)),
		"commission_bps": 500, "description": "网上逛庙会",
	}
}

// createFair creates a fair from body and returns it.
func (e *testEnv) createFair(t testing.TB, token string, body map[string]any) map[string]any {
	t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/fairs", Token: token, Body: body})
	wantStatus(t, res, http.StatusCreated)
	return res.JSON(t)
}

// openStall has merchantToken apply to the fair and the organizer approve
// it; it returns the new stall.
func (e *testEnv) openStall(t testing.TB, orgToken, merchantToken, slug, name string) map[string]any {
	t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/fairs/" + slug + "/applications", Token: merchantToken, Body: map[string]any{"stall_name": name}})
	wantStatus(t, res, http.StatusCreated)
	appID := res.JSON(t)["id"].(string)
	res = e.do(req{Method: "POST", Path: "/api/v1/applications/" + appID + "/approve", Token: orgToken})
	wantStatus(t, res, http.StatusOK)
	return res.JSON(t)["stall"].(map[string]any)
}

// goods is a valid goods product body.
func goods(title string, price, stock int64) map[string]any {
	return map[string]any{"title": title, "price": price, "currency": "CNY", "stock": stock, "kind": "goods", "fulfillment": "pickup"}
}

// createProduct adds a product to a stall and returns it.
func (e *testEnv) createProduct(t testing.TB, token, stallID string, body map[string]any) map[string]any {
	t.Helper()
	res := e.do(req{Method: "POST", Path: "/api/v1/stalls/" + stallID + "/products", Token: token, Body: body})
	wantStatus(t, res, http.StatusCreated)
	return res.JSON(t)
}

// world is an open temple fair with its organizer and two stalls run by
// two merchants; the builders below add products.
type world struct {
	e              *testEnv
	slug           string
	orgID, org     string // the organizer's id and token
	merchA, merchB registered
	stallA, stallB string
	lantern        string // newShopWorld: stall A, picked up, ¥12.50, 20 in stock
	dumplings      string // newShopWorld: stall A, shipped, ¥88.00, 10 in stock
	paperCut       string // newShopWorld: stall B, picked up, ¥39.99, 20 in stock
	product        string // newFlashWorld: stall A, ¥20.00, 100 in stock
	shoppers       int
}

const (
	lanternPrice      = 1250
	dumplingPrice     = 8800
	paperCutPrice     = 3999
	commissionBPS     = 500 // fairBody's
	flashProductPrice = 2000
	flashProductStock = 100
)

// newWorld opens a temple fair and two stalls in it.
func newWorld(t testing.TB, e *testEnv, slug string) *world {
	t.Helper()
	w := &world{e: e, slug: slug}
	w.orgID, w.org = e.organizer(t, "organizer-"+slug+"@example.com")
	e.createFair(t, w.org, e.fairBody(slug, "temple_fair"))
	w.merchA = e.register("lanterns-"+slug+"@example.com", catalog.RoleMerchant)
	w.merchB = e.register("papercuts-"+slug+"@example.com", catalog.RoleMerchant)
	w.stallA = e.openStall(t, w.org, w.merchA.Token, slug, "老街灯笼铺")["id"].(string)
	w.stallB = e.openStall(t, w.org, w.merchB.Token, slug, "泰州剪纸坊")["id"].(string)
	return w
}

// newShopWorld is newWorld with three products for carts and checkouts.
func newShopWorld(t testing.TB, e *testEnv, slug string) *world {
	t.Helper()
	w := newWorld(t, e, slug)
	lantern := goods("兔子灯", lanternPrice, 20)
	lantern["category"] = "crafts"
	w.lantern = e.createProduct(t, w.merchA.Token, w.stallA, lantern)["id"].(string)
	ship := goods("蟹黄汤包礼盒", dumplingPrice, 10)
	ship["fulfillment"], ship["category"] = "ship", "food"
	w.dumplings = e.createProduct(t, w.merchA.Token, w.stallA, ship)["id"].(string)
	paperCut := goods("生肖剪纸", paperCutPrice, 20)
	paperCut["category"] = "crafts"
	w.paperCut = e.createProduct(t, w.merchB.Token, w.stallB, paperCut)["id"].(string)
	return w
}

// newFlashWorld is newWorld with one goods product to offer in flash sales.
func newFlashWorld(t testing.TB, e *testEnv, slug string) *world {
	t.Helper()
	w := newWorld(t, e, slug)
	w.product = e.createProduct(t, w.merchA.Token, w.stallA, goods("兔子灯", flashProductPrice, flashProductStock))["id"].(string)
	return w
}

// shopper registers a new shopper through the API.
func (w *world) shopper(t testing.TB) registered {
	t.Helper()
	w.shoppers++
	return w.e.register(fmt.Sprintf("shopper%d-%s@example.com", w.shoppers, w.slug), catalog.RoleShopper)
}

// cart sets a cart line and expects 200.
func (w *world) cart(t testing.TB, token, productID string, quantity int) map[string]any {
	t.Helper()
	res := w.e.do(req{Method: "PUT", Path: "/api/v1/cart/items/" + productID, Token: token, Body: map[string]any{"quantity": quantity}})
	wantStatus(t, res, http.StatusOK)
	return res.JSON(t)
}

// checkout checks the cart out and expects 201.
func (w *world) checkout(t testing.TB, token string, body map[string]any) orders.Checkout {
	t.Helper()
	if body == nil {
		body = map[string]any{"fulfillment": "pickup"}
	}
	res := w.e.do(req{Method: "POST", Path: "/api/v1/checkout", Token: token, Body: body})
	wantStatus(t, res, http.StatusCreated)
	return decodeCheckout(t, res)
}

// buy puts quantity of product in the cart and checks it out (picked up).
func (w *world) buy(t testing.TB, token, productID string, quantity int) orders.Checkout {
	t.Helper()
	w.cart(t, token, productID, quantity)
	return w.checkout(t, token, nil)
}

// pay completes a sandbox payment as succeeded.
func (w *world) pay(t testing.TB, token, paymentID string) {
	t.Helper()
	res := w.e.do(req{Method: "POST", Path: "/api/v1/payments/sandbox/" + paymentID + "/complete", Token: token, Body: map[string]any{"outcome": "succeeded"}})
	wantStatus(t, res, http.StatusOK)
}

// payOrder pays an order's sandbox payment as succeeded.
func (w *world) payOrder(t testing.TB, token, orderID string) {
	t.Helper()
	res := w.e.do(req{Method: "GET", Path: "/api/v1/orders/" + orderID, Token: token})
	wantStatus(t, res, http.StatusOK)
	payment, _ := res.JSON(t)["payment_id"].(string)
	w.pay(t, token, payment)
}

// buyPaid buys and pays; it returns the one order.
func (w *world) buyPaid(t testing.TB, token, productID string, quantity int) orders.Order {
	t.Helper()
	c := w.buy(t, token, productID, quantity)
	w.pay(t, token, c.Payment.ID)
	return readOrder(t, w.e, c.Orders[0].ID)
}

// saleBody is an offer of w's product starting in a minute for two hours.
func (w *world) saleBody(price, quantity, limit int) map[string]any {
	now := w.e.clock.Now()
	return map[string]any{
		"product_id": w.product, "price": price, "quantity": quantity, "per_user_limit": limit,
		"starts_at": fairTime(now.Add(time.Minute)), "ends_at": fairTime(now.Add(2 * time.Hour)),
	}
}

// createSale posts an offer as the merchant and expects 201.
func (w *world) createSale(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	res := w.e.do(req{Method: "POST", Path: "/api/v1/flash-sales", Token: w.merchA.Token, Body: body})
	wantStatus(t, res, http.StatusCreated)
	return res.JSON(t)
}

// liveSale creates an offer starting in a minute and moves the clock past
// its start; it returns the sale's id.
func (w *world) liveSale(t testing.TB, price, quantity, limit int) string {
	t.Helper()
	id := w.createSale(t, w.saleBody(price, quantity, limit))["id"].(string)
	w.e.clock.Advance(time.Minute + time.Second)
	return id
}

// purchase tries to win quantity units.
func (w *world) purchase(token, saleID string, quantity int) response {
	return w.e.do(req{Method: "POST", Path: "/api/v1/flash-sales/" + saleID + "/purchase", Token: token, Body: map[string]any{"quantity": quantity}})
}

// win purchases and expects 202 with a queued ticket; it returns the ticket.
func (w *world) win(t testing.TB, token, saleID string, quantity int) string {
	t.Helper()
	res := w.purchase(token, saleID, quantity)
	wantStatus(t, res, http.StatusAccepted)
	m := res.JSON(t)
	ticket, _ := m["ticket"].(string)
	if ticket == "" || m["status"] != "queued" {
		t.Fatalf("purchase answer %s, want {ticket, status: queued}", res.Body)
	}
	return ticket
}

// ticket reads a ticket as token's user.
func (w *world) ticket(token, saleID, ticket string) response {
	return w.e.do(req{Method: "GET", Path: "/api/v1/flash-sales/" + saleID + "/tickets/" + ticket, Token: token})
}

// waitOrdered polls a ticket until it has a fate and expects an order; it
// returns the order's id.
func (w *world) waitOrdered(t testing.TB, token, saleID, ticket string) string {
	t.Helper()
	var last map[string]any
	eventually(t, 15*time.Second, func() error {
		res := w.ticket(token, saleID, ticket)
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("ticket status %d: %s", res.StatusCode, res.Body)
		}
		last = res.JSON(t)
		if last["status"] == orders.TicketQueued {
			return fmt.Errorf("ticket %s still queued", ticket)
		}
		return nil
	})
	if last["status"] != orders.TicketOrdered || last["ticket"] != ticket {
		t.Fatalf("ticket %s: %v, want ordered", ticket, last)
	}
	id, _ := last["order_id"].(string)
	if id == "" {
		t.Fatalf("ordered ticket without order_id: %v", last)
	}
	return id
}

// sale reads an offer through the API.
func (w *world) sale(t testing.TB, id string) map[string]any {
	t.Helper()
	res := w.e.do(req{Method: "GET", Path: "/api/v1/flash-sales/" + id})
	wantStatus(t, res, http.StatusOK)
	return res.JSON(t)
}

// remaining is what GET /flash-sales/{id} says is left.
func (w *world) remaining(t testing.TB, id string) int {
	t.Helper()
	return jsonInt(t, w.sale(t, id), "remaining")
}

// requests builds n requests for a rush.
func requests(n int, build func(i int) *http.Request) []*http.Request {
	out := make([]*http.Request, n)
	for i := range out {
		out[i] = build(i)
	}
	return out
}

// wins is wins with the server's side of any 500 shown.
func (e *testEnv) wins(t testing.TB, attempts []attempt) map[int][]string {
	t.Helper()
	defer func() {
		if t.Failed() {
			e.logErrors(t)
		}
	}()
	return wins(t, attempts)
}

// The process tests (package app_test, driving the fair binary) use the same
// rush, tally and buyer builder through these names.
type (
	Buyer   = buyer
	Attempt = attempt
)

var (
	Rush        = rush
	Wins        = wins
	WantWonOnce = wantWonOnce
	MakeBuyers  = makeBuyers
)

// NewAttempt is an attempt of a rush answered over the network.
func NewAttempt(who, status int, code, ticket string, err error) Attempt {
	return attempt{who: who, status: status, code: code, ticket: ticket, err: err}
}

// serviceStall creates a fair through the catalog service (open from an hour
// ago for thirty days), has merchant apply and organizer approve; it returns
// the approved stall. The browser tests build their worlds this way.
func (e *testEnv) serviceStall(t testing.TB, organizer, merchant account.User, slug, fairName, kind string, commission int, stallName, description string) *catalog.Stall {
	t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	starts, ends := now.Add(-time.Hour), now.Add(30*24*time.Hour)
	if _, err := e.srv.Catalog.CreateFair(ctx, organizer.Actor(), catalog.FairInput{
		Slug: &slug, Name: &fairName, Kind: &kind, StartsAt: &starts, EndsAt: &ends, CommissionBPS: &commission,
	}); err != nil {
		t.Fatal(err)
	}
	app, err := e.srv.Catalog.Apply(ctx, merchant.Actor(), slug, stallName, description)
	if err != nil {
		t.Fatal(err)
	}
	_, stall, err := e.srv.Catalog.Approve(ctx, organizer.Actor(), app.ID)
	if err != nil {
		t.Fatal(err)
	}
	return stall
}
