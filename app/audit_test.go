package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
	"miaohui/jobs"
)

// The audit: every operation the server publishes in its OpenAPI description
// is checked against its declared audience (the authorization matrix, here)
// and fed bad input (the sweep, audit_sweep_test.go). Operations are read from
// GET /openapi.json, so an endpoint added without a declaration in auditOps
// fails the suite instead of going unchecked.

// auditDoc is the part of the OpenAPI description the audit reads.
type auditDoc struct {
	Paths      map[string]map[string]auditOperation `json:"paths"`
	Components struct {
		Schemas map[string]*auditSchema `json:"schemas"`
	} `json:"components"`
}

// auditOperation is one operation of the description.
type auditOperation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name     string       `json:"name"`
		In       string       `json:"in"`
		Required bool         `json:"required"`
		Schema   *auditSchema `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Required bool `json:"required"`
		Content  map[string]struct {
			Schema *auditSchema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Security []map[string][]string `json:"security"`
}

// auditSchema is the part of a JSON Schema the audit reads.
type auditSchema struct {
	Ref        string                  `json:"$ref"`
	Type       any                     `json:"type"` // a string, or a list in OpenAPI 3.1
	Format     string                  `json:"format"`
	Enum       []any                   `json:"enum"`
	Properties map[string]*auditSchema `json:"properties"`
	Required   []string                `json:"required"`
	Items      *auditSchema            `json:"items"`
	Minimum    *float64                `json:"minimum"`
}

// kind is the schema's JSON type ("string", "integer", ...), the first
// non-null one when the type is a list.
func (s *auditSchema) kind() string {
	switch t := s.Type.(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if x != "null" {
				return fmt.Sprint(x)
			}
		}
	}
	return ""
}

// auditEndpoint is one operation with its verb and path.
type auditEndpoint struct {
	auditOperation
	Method, Path string
}

// jsonSchema is the operation's JSON request schema, resolved, or nil.
func (ep auditEndpoint) jsonSchema(doc *auditDoc) *auditSchema {
	if ep.RequestBody == nil {
		return nil
	}
	c, ok := ep.RequestBody.Content["application/json"]
	if !ok || c.Schema == nil {
		return nil
	}
	return doc.resolve(c.Schema)
}

// hasBody tells whether the operation takes a request body of any kind.
func (ep auditEndpoint) hasBody() bool { return ep.RequestBody != nil }

// params lists the operation's parameters in one place.
func (ep auditEndpoint) params(in string) []string {
	var out []string
	for _, p := range ep.Parameters {
		if p.In == in {
			out = append(out, p.Name)
		}
	}
	return out
}

func (d *auditDoc) resolve(s *auditSchema) *auditSchema {
	for s != nil && s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

// openAPIEndpoints reads the server's published description and lists its
// operations by operationId.
func openAPIEndpoints(t testing.TB, e *testEnv) (*auditDoc, map[string]auditEndpoint) {
	t.Helper()
	res := e.do(req{Method: "GET", Path: "/openapi.json"})
	wantStatus(t, res, http.StatusOK)
	doc := new(auditDoc)
	if err := json.Unmarshal(res.Body, doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	out := map[string]auditEndpoint{}
	for path, item := range doc.Paths {
		for method, op := range item {
			switch method {
			case "get", "post", "put", "patch", "delete":
			default:
				continue // parameters, summary, ...
			}
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId: the audit cannot declare it", strings.ToUpper(method), path)
				continue
			}
			if prev, dup := out[op.OperationID]; dup {
				t.Errorf("operationId %s is used by %s %s and %s %s", op.OperationID, prev.Method, prev.Path, strings.ToUpper(method), path)
			}
			out[op.OperationID] = auditEndpoint{auditOperation: op, Method: strings.ToUpper(method), Path: path}
		}
	}
	if len(out) == 0 {
		t.Fatal("openapi.json lists no operations")
	}
	return doc, out
}

// sortedIDs lists operation ids in order, so runs are repeatable.
func sortedIDs(eps map[string]auditEndpoint) []string {
	ids := make([]string, 0, len(eps))
	for id := range eps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// auditEnv is a test server for the audit: flash-sale rate limits are off,
// since the audit calls the purchase endpoint many times as one account.
func auditEnv(t testing.TB) *testEnv {
	return newTestEnv(t, func(c *Config) {
		c.FlashUserRPS, c.FlashIPRPS = 0, 0
		c.AuthAttemptsPerMinute = 100000
	})
}

// ---------------------------------------------------------------- the world

// auditWorld is the audit's one world: two tenants, each an open temple fair
// (world a, world b) with its organizer and two approved stalls run by two
// merchants, and a property season with a development; a shopper of each;
// a live flash sale in fair a. Tenant a's resources are the ones the
// matrix's operations act on; tenant b's users are the "other tenant".
type auditWorld struct {
	e              *testEnv
	t              testing.TB
	a, b           *world
	shopperA       registered
	shopperB       registered
	homesA, homesB string // property seasons' slugs
	devA, devB     string // development stalls: a.merchA's in homesA, b.merchA's in homesB
	stock          string // stall a's pickup goods with plenty of stock, for fresh orders
	shipped        string // stall a's shipped goods with plenty of stock
	liveSale       string // a running flash sale of a.product (limit 2)
	staffA         string // the token of stall a's booth staff (核销员), once made
	seq            int
}

func newAuditWorld(t testing.TB, e *testEnv) *auditWorld {
	t.Helper()
	w := &auditWorld{e: e, t: t}
	w.a = newShopWorld(t, e, "audit-a")
	w.b = newShopWorld(t, e, "audit-b")
	w.shopperA = w.a.shopper(t)
	w.shopperB = w.b.shopper(t)
	w.stock = e.createProduct(t, w.a.merchA.Token, w.a.stallA, goods("审计灯笼", 1000, 100000))["id"].(string)
	ship := goods("审计礼盒", 2000, 100000)
	ship["fulfillment"] = "ship"
	w.shipped = e.createProduct(t, w.a.merchA.Token, w.a.stallA, ship)["id"].(string)
	w.a.product = e.createProduct(t, w.a.merchA.Token, w.a.stallA, goods("审计秒杀", 2000, 1000))["id"].(string)
	w.homesA, w.devA = w.development(w.a, "audit-homes-a")
	w.homesB, w.devB = w.development(w.b, "audit-homes-b")
	// The running sale: it starts in a minute; the clock moves past its start.
	w.liveSale = w.a.liveSale(t, 900, 500, 2)
	return w
}

// development opens a property season of w's organizer with a development
// of w's merchant A; it returns the season's slug and the stall's id.
func (aw *auditWorld) development(w *world, slug string) (string, string) {
	aw.t.Helper()
	aw.e.createFair(aw.t, w.org, aw.e.fairBody(slug, "property_season"))
	return slug, aw.e.openStall(aw.t, w.org, w.merchA.Token, slug, "审计楼盘")["id"].(string)
}

// next is a fresh number for unique names.
func (aw *auditWorld) next() int { aw.seq++; return aw.seq }

// fresh registers a new user of role.
func (aw *auditWorld) fresh(role catalog.Role) registered {
	aw.t.Helper()
	return aw.e.register(fmt.Sprintf("audit-%s-%d@example.com", role, aw.next()), role)
}

// checkout buys quantity of product as buyer (fulfillment ship when the
// product ships) and returns the order's and the payment's ids.
func (aw *auditWorld) checkout(buyer registered, product string, ship bool) (order, payment string) {
	aw.t.Helper()
	aw.a.cart(aw.t, buyer.Token, product, 1)
	body := map[string]any{"fulfillment": "pickup"}
	if ship {
		body = map[string]any{"fulfillment": "ship", "shipping_address": "江苏省泰州市海陵区坡子街1号"}
	}
	c := aw.a.checkout(aw.t, buyer.Token, body)
	return c.Orders[0].ID, c.Payment.ID
}

// unpaidOrder is a fresh buyer's order at stall a, not paid yet.
func (aw *auditWorld) unpaidOrder() (buyer registered, order, payment string) {
	aw.t.Helper()
	buyer = aw.fresh(catalog.RoleShopper)
	order, payment = aw.checkout(buyer, aw.stock, false)
	return buyer, order, payment
}

// paidOrder is a fresh buyer's paid order at stall a (shipped goods when ship).
func (aw *auditWorld) paidOrder(ship bool) (buyer registered, order string) {
	aw.t.Helper()
	buyer = aw.fresh(catalog.RoleShopper)
	product := aw.stock
	if ship {
		product = aw.shipped
	}
	order, payment := aw.checkout(buyer, product, ship)
	aw.a.pay(aw.t, buyer.Token, payment)
	return buyer, order
}

// staff is a fresh user that stall a's merchant made its booth staff.
func (aw *auditWorld) staff() registered {
	aw.t.Helper()
	u := aw.fresh(catalog.RoleShopper)
	wantStatus(aw.t, aw.send("POST", "/api/v1/stalls/"+aw.a.stallA+"/staff", aw.a.merchA.Token, map[string]any{"email": u.Email}, nil), http.StatusCreated)
	return u
}

// pendingApplication is a fresh merchant's application to fair a.
func (aw *auditWorld) pendingApplication() string {
	aw.t.Helper()
	m := aw.fresh(catalog.RoleMerchant)
	res := aw.e.do(req{Method: "POST", Path: "/api/v1/fairs/" + aw.a.slug + "/applications", Token: m.Token, Body: map[string]any{"stall_name": fmt.Sprintf("审计摊位 %d", aw.next())}})
	wantStatus(aw.t, res, http.StatusCreated)
	return res.JSON(aw.t)["id"].(string)
}

// freshStall is a new approved stall of a fresh merchant in fair a.
func (aw *auditWorld) freshStall() string {
	aw.t.Helper()
	m := aw.fresh(catalog.RoleMerchant)
	return aw.e.openStall(aw.t, aw.a.org, m.Token, aw.a.slug, fmt.Sprintf("审计摊位 %d", aw.next()))["id"].(string)
}

// freshProduct is a new product of stall a.
func (aw *auditWorld) freshProduct() string {
	aw.t.Helper()
	return aw.e.createProduct(aw.t, aw.a.merchA.Token, aw.a.stallA, goods(fmt.Sprintf("审计商品 %d", aw.next()), 500, 50))["id"].(string)
}

// upcomingSale is a new flash sale of a fresh product of stall a, starting
// in an hour.
func (aw *auditWorld) upcomingSale() string {
	aw.t.Helper()
	body := aw.saleBody(aw.freshProduct())
	res := aw.e.do(req{Method: "POST", Path: "/api/v1/flash-sales", Token: aw.a.merchA.Token, Body: body})
	wantStatus(aw.t, res, http.StatusCreated)
	return res.JSON(aw.t)["id"].(string)
}

func (aw *auditWorld) saleBody(product string) map[string]any {
	now := aw.e.clock.Now()
	return map[string]any{"product_id": product, "price": 300, "quantity": 5, "per_user_limit": 1,
		"starts_at": fairTime(now.Add(time.Hour)), "ends_at": fairTime(now.Add(3 * time.Hour))}
}

// couponBody is a coupon campaign released now, valid for a day, with
// plenty for everyone.
func (aw *auditWorld) couponBody() map[string]any {
	now := aw.e.clock.Now()
	return map[string]any{"title": fmt.Sprintf("审计券 %d", aw.next()), "discount": 100, "min_spend": 1000, "quantity": 1000,
		"per_user_limit": 100, "releases_at": fairTime(now.Add(-time.Minute)), "valid_until": fairTime(now.Add(24 * time.Hour))}
}

// couponCampaign is a new organizer's campaign of fair a, claimable now.
func (aw *auditWorld) couponCampaign() string {
	aw.t.Helper()
	res := aw.send("POST", "/api/v1/fairs/"+aw.a.slug+"/coupon-campaigns", aw.a.org, aw.couponBody(), nil)
	wantStatus(aw.t, res, http.StatusCreated)
	return res.JSON(aw.t)["id"].(string)
}

// slotBody is a viewing slot tomorrow.
func (aw *auditWorld) slotBody() map[string]any {
	now := aw.e.clock.Now()
	return map[string]any{"starts_at": fairTime(now.Add(24 * time.Hour)), "ends_at": fairTime(now.Add(25 * time.Hour)), "capacity": 5}
}

// freshSlot is a new viewing slot of development a.
func (aw *auditWorld) freshSlot() string {
	aw.t.Helper()
	res := aw.e.do(req{Method: "POST", Path: "/api/v1/stalls/" + aw.devA + "/slots", Token: aw.a.merchA.Token, Body: aw.slotBody()})
	wantStatus(aw.t, res, http.StatusCreated)
	return res.JSON(aw.t)["id"].(string)
}

// freshBooking is a fresh shopper's booking of a new slot of development a.
func (aw *auditWorld) freshBooking() (registered, string) {
	aw.t.Helper()
	slot := aw.freshSlot()
	u := aw.fresh(catalog.RoleShopper)
	res := aw.e.do(req{Method: "POST", Path: "/api/v1/slots/" + slot + "/bookings", Token: u.Token})
	wantStatus(aw.t, res, http.StatusCreated)
	return u, res.JSON(aw.t)["id"].(string)
}

func (aw *auditWorld) unitTypeBody() map[string]any {
	return map[string]any{"name": fmt.Sprintf("三室两厅 %d", aw.next()), "area_m2": 118.5, "price_per_m2": 2500000, "units_available": 10}
}

// freshUnitType is a new floor plan of development a.
func (aw *auditWorld) freshUnitType() string {
	aw.t.Helper()
	res := aw.e.do(req{Method: "POST", Path: "/api/v1/stalls/" + aw.devA + "/unit-types", Token: aw.a.merchA.Token, Body: aw.unitTypeBody()})
	wantStatus(aw.t, res, http.StatusCreated)
	return res.JSON(aw.t)["id"].(string)
}

// auditPNG is a 1×1 PNG.
var auditPNG = func() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

// imageBody is a multipart upload of a small PNG as the field "image".
func imageBody() rawBody {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="image"; filename="a.png"`)
	h.Set("Content-Type", "image/png")
	part, _ := mw.CreatePart(h)
	_, _ = part.Write(auditPNG)
	_ = mw.Close()
	return rawBody{ContentType: mw.FormDataContentType(), Data: buf.Bytes()}
}

// productWithImage is a new product of stall a with one image; it returns
// the product's and the image's ids.
func (aw *auditWorld) productWithImage() (string, string) {
	aw.t.Helper()
	p := aw.freshProduct()
	res := aw.send(http.MethodPost, "/api/v1/products/"+p+"/images", aw.a.merchA.Token, imageBody(), nil)
	wantStatus(aw.t, res, http.StatusCreated)
	m := res.JSON(aw.t)
	id, _ := m["id"].(string)
	if imgs, ok := m["images"].([]any); ok && len(imgs) > 0 {
		last, _ := imgs[len(imgs)-1].(map[string]any)
		id, _ = last["id"].(string)
	}
	if id == "" {
		aw.t.Fatalf("image upload gave no id: %s", res.Body)
	}
	return p, id
}

// notification delivers a notification to shopper a and returns its id.
func (aw *auditWorld) notification() string {
	aw.t.Helper()
	n, _, err := aw.e.srv.Inbox.Deliver(context.Background(), jobs.NotifyPayload{UserID: aw.shopperA.ID, EventKey: fmt.Sprintf("audit-%d", aw.next()), Kind: "welcome", Params: map[string]string{"Name": "审计"}})
	if err != nil {
		aw.t.Fatal(err)
	}
	return n.ID
}

// ticket is a fresh shopper's ticket in the live sale.
func (aw *auditWorld) ticket() (registered, string) {
	aw.t.Helper()
	u := aw.fresh(catalog.RoleShopper)
	return u, aw.a.win(aw.t, u.Token, aw.liveSale, 1)
}

// rawBody is a request body sent as it is.
type rawBody struct {
	ContentType string
	Data        []byte
}

// send serves one request as token's user: body is nil, a rawBody, or a
// value sent as JSON.
func (aw *auditWorld) send(method, path, token string, body any, header map[string]string) response {
	aw.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = bytes.NewReader(b.Data), b.ContentType
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			aw.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	hr := httptest.NewRequest(method, path, rd)
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	return aw.e.send(hr)
}

// ------------------------------------------------------- the declarations

// outcome is what an actor may be answered.
type outcome struct {
	name string
	ok   func(status int) bool
}

func statusIn(codes ...int) func(int) bool {
	return func(s int) bool { return slices.Contains(codes, s) }
}

var (
	// allowed: the call is served (2xx).
	allowed = outcome{"2xx", func(s int) bool { return s >= 200 && s < 300 }}
	// unauth: no credentials (401).
	unauth = outcome{"401", statusIn(http.StatusUnauthorized)}
	// forbidden: signed in, not allowed (403).
	forbidden = outcome{"403", statusIn(http.StatusForbidden)}
	// hidden: another user's private resource does not exist for them (404).
	hidden = outcome{"404", statusIn(http.StatusNotFound)}
	// denied: another tenant's resource, 403 or 404 (the contract allows both).
	denied = outcome{"403/404", statusIn(http.StatusForbidden, http.StatusNotFound)}
)

// allowedOr is allowed, or one of the business answers listed (409, 422, ...):
// never 401, 403 or 404.
func allowedOr(codes ...int) outcome {
	name := "2xx"
	for _, c := range codes {
		name += fmt.Sprintf("/%d", c)
	}
	return outcome{name, func(s int) bool { return s >= 200 && s < 300 || slices.Contains(codes, s) }}
}

// answered is exactly the statuses listed (a public endpoint that answers
// everyone the same, like a webhook without its signature).
func answered(codes ...int) outcome {
	name := ""
	for i, c := range codes {
		if i > 0 {
			name += "/"
		}
		name += fmt.Sprint(c)
	}
	return outcome{name, statusIn(codes...)}
}

// tok picks a user's token from the world.
type tok func(aw *auditWorld) string

var (
	orgA     tok = func(aw *auditWorld) string { return aw.a.org }
	orgB     tok = func(aw *auditWorld) string { return aw.b.org }
	merchA   tok = func(aw *auditWorld) string { return aw.a.merchA.Token }
	merchB   tok = func(aw *auditWorld) string { return aw.b.merchA.Token }
	shopperA tok = func(aw *auditWorld) string { return aw.shopperA.Token }
	shopperB tok = func(aw *auditWorld) string { return aw.shopperB.Token }
	// staffA works stall a's booth: a shopper the stall's merchant added.
	staffA tok = func(aw *auditWorld) string {
		if aw.staffA == "" {
			aw.staffA = aw.staff().Token
		}
		return aw.staffA
	}
	freshUser = func(role catalog.Role) tok {
		return func(aw *auditWorld) string { return aw.fresh(role).Token }
	}
)

// target is the state an operation acts on, made for it: its path and
// query parameters, the owner when the state made one (a fresh buyer, say),
// and a body that depends on the state.
type target struct {
	path  map[string]string
	query string
	owner string
	wrong string // the wrong-role user when the state made one (an order's buyer, say)
	body  any
}

// auditDecl declares once who may call an operation and what each of the
// four actors is answered. The actors: anonymous (no credentials), wrong
// role (signed in with a role the operation is not for), other tenant (the
// owner's role, of the other fair/stall/purchase), owner (whom it is for).
type auditDecl struct {
	who                string // the contract's audience, for messages
	wrongAs, otherAs   tok    // the wrong-role and other-tenant users
	ownerAs            tok    // the owner, unless the target made one
	anon, wrong, other outcome
	owner              outcome
	make               func(aw *auditWorld) target // the state acted on (nil: none)
	body               func(aw *auditWorld) any    // a fresh valid body per request (nil: target's, else generated)
	header             map[string]string
	// stripe marks operations of the Stripe provider: with the sandbox
	// provider (the tests' default) every actor is answered providerOff.
	stripe      bool
	providerOff outcome
}

// Audiences: the usual declarations, adjusted per operation below.
var (
	// public: anyone, signed in or not.
	public = auditDecl{who: "anyone", wrongAs: merchA, otherAs: shopperB, ownerAs: shopperA,
		anon: allowed, wrong: allowed, other: allowed, owner: allowed}
	// signedIn: any signed-in user acting on their own things.
	signedIn = auditDecl{who: "signed in", wrongAs: merchA, otherAs: shopperB, ownerAs: shopperA,
		anon: unauth, wrong: allowed, other: allowed, owner: allowed}
	// fairOrganizer: the organizer of fair a.
	fairOrganizer = auditDecl{who: "the fair's organizer", wrongAs: merchA, otherAs: orgB, ownerAs: orgA,
		anon: unauth, wrong: denied, other: denied, owner: allowed}
	// stallMerchant: the merchant of stall a.
	stallMerchant = auditDecl{who: "the stall's merchant", wrongAs: shopperA, otherAs: merchB, ownerAs: merchA,
		anon: unauth, wrong: denied, other: denied, owner: allowed}
	// stallBooth: the booth work of stall a (redeeming, booth sales), which
	// its staff may do: the owner here is its staff, not its merchant.
	stallBooth = auditDecl{who: "the stall's merchant or staff", wrongAs: shopperA, otherAs: merchB, ownerAs: staffA,
		anon: unauth, wrong: denied, other: denied, owner: allowed}
	// ownedByBuyer: a private resource of the user who made it (an order, a
	// payment, a ticket, a booking): everyone else is told it does not exist.
	ownedByBuyer = auditDecl{who: "its owner", wrongAs: merchB, otherAs: shopperB,
		anon: unauth, wrong: hidden, other: hidden, owner: allowed}
)

// with returns d changed by f (declarations read as one line each).
func (d auditDecl) with(f func(*auditDecl)) auditDecl { f(&d); return d }

func slug(aw *auditWorld) target { return target{path: map[string]string{"slug": aw.a.slug}} }
func stallID(aw *auditWorld) target {
	return target{path: map[string]string{"id": aw.a.stallA}}
}
func devID(aw *auditWorld) target { return target{path: map[string]string{"id": aw.devA}} }
func id(v string) target          { return target{path: map[string]string{"id": v}} }

// auditOps declares every operation of the API, keyed by operationId.
var auditOps = map[string]auditDecl{
	// Accounts.
	"register": public.with(func(d *auditDecl) {
		d.owner, d.anon, d.wrong, d.other = allowed, allowed, allowed, allowed
		d.body = func(aw *auditWorld) any {
			return map[string]any{"email": fmt.Sprintf("audit-reg-%d@example.com", aw.next()), "password": testPassword, "name": "审计"}
		}
	}),
	"login": public.with(func(d *auditDecl) {
		d.body = func(aw *auditWorld) any { return map[string]any{"email": aw.shopperA.Email, "password": testPassword} }
	}),
	"logout": signedIn.with(func(d *auditDecl) {
		// Signing out ends the session: everyone is a fresh user.
		d.wrongAs, d.otherAs, d.ownerAs = freshUser(catalog.RoleMerchant), freshUser(catalog.RoleShopper), freshUser(catalog.RoleShopper)
	}),
	"me":               signedIn,
	"my-notifications": signedIn,
	"read-notification": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			return target{path: map[string]string{"id": aw.notification()}, owner: aw.shopperA.Token}
		}
	}),

	// Fairs, applications, stalls.
	"create-fair": fairOrganizer.with(func(d *auditDecl) {
		d.wrong, d.other = forbidden, allowed // any organizer creates fairs
		d.body = func(aw *auditWorld) any { return aw.e.fairBody(fmt.Sprintf("audit-fair-%d", aw.next()), "temple_fair") }
	}),
	"list-fairs":      public,
	"get-fair":        public.with(func(d *auditDecl) { d.make = slug }),
	"list-categories": public.with(func(d *auditDecl) { d.make = slug }),
	"update-fair": fairOrganizer.with(func(d *auditDecl) {
		d.make = slug
		d.body = func(*auditWorld) any { return map[string]any{"description": "审计 audit"} }
	}),
	"apply": signedIn.with(func(d *auditDecl) {
		d.who = "a merchant"
		d.wrongAs, d.wrong = shopperA, forbidden
		d.otherAs, d.ownerAs = freshUser(catalog.RoleMerchant), freshUser(catalog.RoleMerchant)
		d.make = slug
		d.body = func(aw *auditWorld) any {
			return map[string]any{"stall_name": fmt.Sprintf("审计摊位 %d", aw.next())}
		}
	}),
	// Editions: each call acts on a fresh fair of organizer a (a fair has
	// one next edition).
	"create-edition": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			s := fmt.Sprintf("audit-series-%d", aw.next())
			aw.e.createFair(aw.t, aw.a.org, aw.e.fairBody(s, "temple_fair"))
			return target{path: map[string]string{"slug": s}}
		}
		d.body = func(aw *auditWorld) any {
			now := aw.e.clock.Now()
			return map[string]any{"slug": fmt.Sprintf("audit-edition-%d", aw.next()),
				"starts_at": fairTime(now.Add(365 * 24 * time.Hour)), "ends_at": fairTime(now.Add(395 * 24 * time.Hour))}
		}
	}),
	"list-applications": fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"my-applications":   signedIn.with(func(d *auditDecl) { d.ownerAs = merchA; d.wrongAs = shopperA; d.otherAs = merchB }),
	"approve-application": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.pendingApplication()) }
	}),
	"reject-application": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.pendingApplication()) }
	}),
	// Licence documents: private to the merchant who applied (and the fair's organizer).
	"add-application-document": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			tok, app := aw.ownApplication()
			return target{path: map[string]string{"id": app}, owner: tok}
		}
		d.body = func(*auditWorld) any { return documentBody("document", "licence.png", auditPNG) }
	}),
	"list-application-documents": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			tok, app := aw.ownApplication()
			return target{path: map[string]string{"id": app}, owner: tok}
		}
	}),
	"get-application-document": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			tok, app, doc := aw.applicationDocument()
			return target{path: map[string]string{"id": app, "doc_id": doc}, owner: tok}
		}
	}),
	"list-stalls": public.with(func(d *auditDecl) { d.make = slug }),
	// The organizer's console: bulk decisions, booth numbers, the audit log.
	"bulk-decide-applications": fairOrganizer.with(func(d *auditDecl) {
		d.make = slug
		d.body = func(aw *auditWorld) any {
			return map[string]any{"ids": []string{aw.pendingApplication()}, "action": "approve"}
		}
	}),
	"set-stall-booth": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.freshStall()) }
		d.body = func(aw *auditWorld) any { return map[string]any{"booth": fmt.Sprintf("Z-%d", aw.next())} }
	}),
	"fair-audit":     fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"fair-audit-csv": fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"get-stall":      public.with(func(d *auditDecl) { d.make = stallID }),
	"my-stalls":      signedIn.with(func(d *auditDecl) { d.ownerAs = merchA; d.wrongAs = shopperA; d.otherAs = merchB }),
	"update-stall": stallMerchant.with(func(d *auditDecl) {
		d.make = stallID
		d.body = func(*auditWorld) any { return map[string]any{"description": "审计 audit"} }
	}),
	"suspend-stall": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.freshStall()) }
	}),
	"reinstate-stall": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			st := aw.freshStall()
			wantStatus(aw.t, aw.send("POST", "/api/v1/stalls/"+st+"/suspend", aw.a.org, map[string]any{"reason": "审计"}, nil), http.StatusOK)
			return id(st)
		}
	}),

	// Products.
	"create-product": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	"stall-products": public.with(func(d *auditDecl) { d.make = stallID }),
	"get-product":    public.with(func(d *auditDecl) { d.make = func(aw *auditWorld) target { return id(aw.a.lantern) } }),
	"update-product": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.freshProduct()) }
		d.body = func(*auditWorld) any { return map[string]any{"description": "审计 audit"} }
	}),
	"add-product-image": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.freshProduct()) }
		d.body = func(*auditWorld) any { return imageBody() }
	}),
	"remove-product-image": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			p, img := aw.productWithImage()
			return target{path: map[string]string{"id": p, "image_id": img}}
		}
	}),
	"search-products": public.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return target{path: map[string]string{"slug": aw.a.slug}, query: "q=灯"} }
	}),
	"suggest-products": public.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return target{path: map[string]string{"slug": aw.a.slug}, query: "q=灯"} }
	}),

	// Property seasons.
	"add-unit-type": stallMerchant.with(func(d *auditDecl) {
		d.make = devID
		d.otherAs = merchB // b's merchant runs development b, not a
		d.body = func(aw *auditWorld) any { return aw.unitTypeBody() }
	}),
	"list-unit-types": public.with(func(d *auditDecl) { d.make = devID }),
	"remove-unit-type": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			return target{path: map[string]string{"id": aw.devA, "unit_id": aw.freshUnitType()}}
		}
	}),
	"add-slot": stallMerchant.with(func(d *auditDecl) {
		d.make = devID
		d.body = func(aw *auditWorld) any { return aw.slotBody() }
	}),
	"list-slots":           public.with(func(d *auditDecl) { d.make = devID }),
	"development-bookings": stallMerchant.with(func(d *auditDecl) { d.make = devID }),
	"book-slot": signedIn.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.freshSlot()) }
	}),
	"cancel-booking": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, b := aw.freshBooking()
			return target{path: map[string]string{"id": b}, owner: u.Token}
		}
	}),
	"my-bookings": signedIn,

	// Cart, checkout, orders, payments.
	"set-cart-item": signedIn.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return target{path: map[string]string{"product_id": aw.stock}} }
		d.body = func(*auditWorld) any { return map[string]any{"quantity": 1} }
	}),
	"get-cart":   signedIn,
	"clear-cart": signedIn,
	"checkout": signedIn.with(func(d *auditDecl) {
		// Only the owner has something in the cart: an empty cart is a 422.
		d.wrong, d.other = allowedOr(http.StatusUnprocessableEntity), allowedOr(http.StatusUnprocessableEntity)
		d.make = func(aw *auditWorld) target {
			u := aw.fresh(catalog.RoleShopper)
			aw.a.cart(aw.t, u.Token, aw.stock, 1)
			return target{owner: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"fulfillment": "pickup"} }
	}),
	"get-order": ownedByBuyer.with(func(d *auditDecl) {
		d.who = "its buyer, its stall's merchant, its fair's organizer"
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(false)
			return target{path: map[string]string{"id": o}, owner: u.Token}
		}
	}),
	"cancel-order": ownedByBuyer.with(func(d *auditDecl) {
		d.who = "its buyer, while unpaid"
		d.wrongAs, d.wrong = merchA, denied // the stall's merchant may read it, not cancel it
		d.make = func(aw *auditWorld) target {
			u, o, _ := aw.unpaidOrder()
			return target{path: map[string]string{"id": o}, owner: u.Token}
		}
	}),
	"my-orders":    signedIn,
	"stall-orders": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	"ship-order": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(true)
			return target{path: map[string]string{"id": o}, wrong: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"tracking": "SF1234567890"} }
	}),
	"redeem-order": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(false)
			return target{path: map[string]string{"id": o}, wrong: u.Token, body: map[string]any{"code": readOrder(aw.t, aw.e, o).PickupCode}}
		}
	}),
	"refund-order": stallMerchant.with(func(d *auditDecl) {
		d.who = "the stall's merchant or the fair's organizer"
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(false)
			return target{path: map[string]string{"id": o}, wrong: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"amount": 100, "reason": "审计"} }
	}),
	"get-payment": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, _, p := aw.unpaidOrder()
			return target{path: map[string]string{"id": p}, owner: u.Token}
		}
	}),
	"complete-sandbox-payment": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, _, p := aw.unpaidOrder()
			return target{path: map[string]string{"payment_id": p}, owner: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"outcome": "succeeded"} }
	}),
	"payout-account-link": stallMerchant.with(func(d *auditDecl) {
		// Payout accounts are Stripe's: with the sandbox provider the
		// endpoint is off, 409 to everyone (TestAuditMatrixStripe checks
		// who may call it with the Stripe provider).
		d.stripe, d.providerOff = true, answered(http.StatusConflict)
		d.owner = allowedOr(http.StatusBadGateway)
		d.make = stallID
		d.body = func(*auditWorld) any { return map[string]any{"return_url": "https://fair.example/merchant"} }
	}),
	"stripe-webhook": public.with(func(d *auditDecl) {
		// Only Stripe can sign an event: with a bad signature everyone gets
		// 400; with the sandbox provider the endpoint is off, 404 to everyone.
		d.who = "Stripe"
		d.stripe, d.providerOff = true, answered(http.StatusNotFound)
		d.anon, d.wrong, d.other, d.owner = answered(400), answered(400), answered(400), answered(400)
		d.body = func(*auditWorld) any {
			return rawBody{ContentType: "application/json", Data: []byte(`{"id":"evt_audit","type":"payment_intent.succeeded"}`)}
		}
		d.header = map[string]string{"Stripe-Signature": "t=1,v1=00"}
	}),

	// After-sales and the organizer's order desk.
	"open-after-sale": ownedByBuyer.with(func(d *auditDecl) {
		d.who = "its buyer, after payment"
		d.wrongAs, d.wrong = merchA, denied // the stall's merchant reads the order, asks for nothing
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(false)
			return target{path: map[string]string{"id": o}, owner: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"kind": "refund", "amount": 100, "reason": "审计"} }
	}),
	"order-after-sales": ownedByBuyer.with(func(d *auditDecl) {
		d.who = "its buyer, its stall's merchant, its fair's organizer"
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(false)
			return target{path: map[string]string{"id": o}, owner: u.Token}
		}
	}),
	"get-after-sale": ownedByBuyer.with(func(d *auditDecl) {
		d.who = "its buyer, its stall's merchant, its fair's organizer"
		d.make = func(aw *auditWorld) target {
			u, as := aw.afterSale("open")
			return target{path: map[string]string{"id": as}, owner: u.Token}
		}
	}),
	"accept-after-sale": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, as := aw.afterSale("open")
			return target{path: map[string]string{"id": as}, wrong: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"reason": "审计"} }
	}),
	"reject-after-sale": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, as := aw.afterSale("open")
			return target{path: map[string]string{"id": as}, wrong: u.Token}
		}
		d.body = func(*auditWorld) any { return map[string]any{"reason": "审计"} }
	}),
	"escalate-after-sale": ownedByBuyer.with(func(d *auditDecl) {
		d.who = "its buyer, after a rejection or past reply_by"
		d.wrongAs, d.wrong = merchA, denied
		d.make = func(aw *auditWorld) target {
			u, as := aw.afterSale("rejected")
			return target{path: map[string]string{"id": as}, owner: u.Token}
		}
	}),
	"decide-after-sale": fairOrganizer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			_, as := aw.afterSale("escalated")
			return id(as)
		}
		d.body = func(*auditWorld) any { return map[string]any{"refund_amount": 100, "reason": "审计"} }
	}),
	"my-after-sales":    signedIn,
	"stall-after-sales": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	"fair-after-sales":  fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"fair-orders":       fairOrganizer.with(func(d *auditDecl) { d.make = slug }),

	// Totals.
	"fair-totals":      fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"fair-totals-csv":  fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"stall-totals":     stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	"stall-totals-csv": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	// Statements and payables: the merchant's and the organizer's only.
	"stall-statement":     stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	"stall-statement-csv": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),
	"fair-payables":       fairOrganizer.with(func(d *auditDecl) { d.make = slug }),
	"fair-payables-csv":   fairOrganizer.with(func(d *auditDecl) { d.make = slug }),

	// Flash sales.
	"create-flash-sale": stallMerchant.with(func(d *auditDecl) {
		d.who = "the product's merchant"
		d.make = func(aw *auditWorld) target { return target{body: aw.saleBody(aw.freshProduct())} }
	}),
	"update-flash-sale": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.upcomingSale()) }
		d.body = func(*auditWorld) any { return map[string]any{"price": 299} }
	}),
	"withdraw-flash-sale": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.upcomingSale()) }
	}),
	"list-flash-sales": public.with(func(d *auditDecl) { d.make = slug }),
	"get-flash-sale":   public.with(func(d *auditDecl) { d.make = func(aw *auditWorld) target { return id(aw.liveSale) } }),
	"remind-flash-sale": signedIn.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.upcomingSale()) }
	}),
	"flash-purchase": signedIn.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.liveSale) }
		d.body = func(*auditWorld) any { return map[string]any{"quantity": 1} }
	}),
	"flash-ticket": ownedByBuyer.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, tk := aw.ticket()
			return target{path: map[string]string{"id": aw.liveSale, "ticket": tk}, owner: u.Token}
		}
	}),
	"stall-flash-sales": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),

	// Booth operations.
	"get-fair-map": public.with(func(d *auditDecl) { d.make = slug }),
	"set-fair-map": fairOrganizer.with(func(d *auditDecl) {
		d.make = slug
		d.body = func(aw *auditWorld) any {
			return map[string]any{"booths": []map[string]any{{"booth": "A-001", "stall_id": aw.a.stallA, "x": 10, "y": 20, "w": 40, "h": 30}}}
		}
	}),
	"fair-pass": signedIn.with(func(d *auditDecl) { d.make = slug }),
	"redeem-code": stallBooth.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			u, o := aw.paidOrder(false)
			return target{path: map[string]string{"id": aw.a.stallA}, wrong: u.Token, body: map[string]any{"code": readOrder(aw.t, aw.e, o).PickupCode}}
		}
	}),
	"record-offline-sale": stallBooth.with(func(d *auditDecl) {
		d.make = stallID
		d.body = func(*auditWorld) any { return map[string]any{"amount": 1500, "note": "审计 现金"} }
	}),
	"add-stall-staff": stallMerchant.with(func(d *auditDecl) {
		d.make = stallID
		d.body = func(aw *auditWorld) any { return map[string]any{"email": aw.fresh(catalog.RoleShopper).Email} }
	}),
	"list-stall-staff": stallMerchant.with(func(d *auditDecl) { d.make = stallID }),

	// Coupons.
	"create-fair-coupon-campaign": fairOrganizer.with(func(d *auditDecl) {
		d.make = slug
		d.body = func(aw *auditWorld) any { return aw.couponBody() }
	}),
	"create-stall-coupon-campaign": stallMerchant.with(func(d *auditDecl) {
		d.make = stallID
		d.body = func(aw *auditWorld) any { return aw.couponBody() }
	}),
	"list-coupon-campaigns": public.with(func(d *auditDecl) { d.make = slug }),
	"get-coupon-campaign": public.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.couponCampaign()) }
	}),
	"claim-coupon": signedIn.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target { return id(aw.couponCampaign()) }
	}),
	"my-coupons": signedIn,
	"remove-stall-staff": stallMerchant.with(func(d *auditDecl) {
		d.make = func(aw *auditWorld) target {
			return target{path: map[string]string{"id": aw.a.stallA, "user_id": aw.staff().ID}}
		}
	}),
}

// ------------------------------------------------------------ the requests

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// fill puts the target's parameters into the path template; a parameter the
// target does not name fails the test (the declaration is incomplete).
func fill(t testing.TB, opID, tmpl string, params map[string]string) string {
	t.Helper()
	return pathParam.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		v, ok := params[name]
		if !ok {
			t.Errorf("%s: no value for path parameter {%s}: declare it in auditOps", opID, name)
			return "missing"
		}
		return v
	})
}

// exampleBody is a minimal valid body for a JSON schema: its required
// properties with plain values.
func exampleBody(doc *auditDoc, s *auditSchema, now time.Time) map[string]any {
	out := map[string]any{}
	if s == nil {
		return out
	}
	for _, name := range s.Required {
		if p := doc.resolve(s.Properties[name]); p != nil {
			out[name] = exampleValue(doc, p, now)
		}
	}
	return out
}

func exampleValue(doc *auditDoc, s *auditSchema, now time.Time) any {
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch s.kind() {
	case "integer":
		if s.Minimum != nil && *s.Minimum > 1 {
			return int64(*s.Minimum)
		}
		return 1
	case "number":
		return 1.5
	case "boolean":
		return false
	case "array":
		return []any{}
	case "object":
		return exampleBody(doc, s, now)
	}
	switch s.Format {
	case "date-time":
		return fairTime(now.Add(2 * time.Hour))
	case "uri":
		return "https://fair.example/audit"
	case "email":
		return "audit@example.com"
	}
	return "审计 audit"
}

// bodyFor is the valid body an operation is sent.
func (aw *auditWorld) bodyFor(doc *auditDoc, ep auditEndpoint, d auditDecl, tg target) any {
	switch {
	case d.body != nil:
		return d.body(aw)
	case tg.body != nil:
		return tg.body
	case ep.hasBody():
		if s := ep.jsonSchema(doc); s != nil {
			return exampleBody(doc, s, aw.e.clock.Now())
		}
		return map[string]any{}
	}
	return nil
}

// urlFor is the operation's path with the target's parameters and query.
func urlFor(t testing.TB, ep auditEndpoint, tg target) string {
	u := fill(t, ep.OperationID, ep.Path, tg.path)
	if tg.query != "" {
		u += "?" + tg.query
	}
	return u
}

// isProblem tells whether an answer is problem+json.
func isProblem(res response) bool {
	return strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json")
}

// TestAuditDeclarations checks that every operation the server publishes is
// declared in auditOps and that every declaration names a published
// operation.
func TestAuditDeclarations(t *testing.T) {
	e := auditEnv(t)
	_, eps := openAPIEndpoints(t, e)
	for _, opID := range sortedIDs(eps) {
		if _, ok := auditOps[opID]; !ok {
			ep := eps[opID]
			t.Errorf("operation %s (%s %s) is not declared in auditOps: say who may call it", opID, ep.Method, ep.Path)
		}
	}
	for opID := range auditOps {
		if _, ok := eps[opID]; !ok {
			t.Errorf("auditOps declares %s, which the API no longer publishes: remove it", opID)
		}
	}
}

// TestAuditMatrix sends every published operation as the four actors of its
// declaration and checks each answer against it.
func TestAuditMatrix(t *testing.T) {
	e := auditEnv(t)
	doc, eps := openAPIEndpoints(t, e)
	aw := newAuditWorld(t, e)
	ops, requests, unexpected, fivexx := runMatrix(t, aw, doc, eps, false)
	t.Logf("%d operations × 4 actors = %d requests, %d unexpected, %d 5xx", ops, requests, unexpected, fivexx)
	fmt.Printf("audit matrix: %d operations × 4 actors = %d requests, %d unexpected, %d 5xx\n", ops, requests, unexpected, fivexx)
}

// TestAuditMatrixStripe checks the Stripe provider's operations (off with the
// sandbox) with the Stripe provider on stripe-mock.
func TestAuditMatrixStripe(t *testing.T) {
	e := newStripeEnv(t)
	doc, eps := openAPIEndpoints(t, e)
	// These operations need stalls only, no payments.
	aw := &auditWorld{e: e, t: t, a: newWorld(t, e, "audit-a"), b: newWorld(t, e, "audit-b")}
	aw.shopperA, aw.shopperB = aw.a.shopper(t), aw.b.shopper(t)
	ops, requests, unexpected, fivexx := runMatrix(t, aw, doc, eps, true)
	t.Logf("Stripe provider: %d operations × 4 actors = %d requests, %d unexpected, %d 5xx", ops, requests, unexpected, fivexx)
	fmt.Printf("audit matrix (stripe): %d operations × 4 actors = %d requests, %d unexpected, %d 5xx\n", ops, requests, unexpected, fivexx)
}

// runMatrix sends the declared operations as their four actors: with the
// sandbox provider all of them, with Stripe the Stripe operations only.
func runMatrix(t *testing.T, aw *auditWorld, doc *auditDoc, eps map[string]auditEndpoint, stripe bool) (ops, requests, unexpected, fivexx int) {
	t.Helper()
	defer func() {
		if t.Failed() {
			aw.e.logErrors(t)
		}
	}()
	type actor struct {
		name string
		as   func(d auditDecl, tg target) string
		want func(d auditDecl) outcome
	}
	actors := []actor{
		{"anonymous", func(auditDecl, target) string { return "" }, func(d auditDecl) outcome { return d.anon }},
		{"wrong role", func(d auditDecl, tg target) string {
			if tg.wrong != "" {
				return tg.wrong
			}
			return d.wrongAs(aw)
		}, func(d auditDecl) outcome { return d.wrong }},
		{"other tenant", func(d auditDecl, _ target) string { return d.otherAs(aw) }, func(d auditDecl) outcome { return d.other }},
		{"owner", func(d auditDecl, tg target) string {
			if tg.owner != "" {
				return tg.owner
			}
			return d.ownerAs(aw)
		}, func(d auditDecl) outcome { return d.owner }},
	}
	for _, opID := range sortedIDs(eps) {
		d, ok := auditOps[opID]
		if !ok || stripe && !d.stripe {
			continue // TestAuditDeclarations reports the undeclared
		}
		ep := eps[opID]
		ops++
		var tg target
		if d.make != nil {
			tg = d.make(aw)
		}
		u := urlFor(t, ep, tg)
		got := make([]string, 0, len(actors))
		for _, a := range actors {
			want := a.want(d)
			if d.stripe && !stripe && want.name != unauth.name {
				want = d.providerOff // signing in still comes first
			}
			res := aw.send(ep.Method, u, a.as(d, tg), aw.bodyFor(doc, ep, d, tg), d.header)
			requests++
			got = append(got, fmt.Sprintf("%s %d", a.name, res.StatusCode))
			bad := ""
			switch {
			case res.StatusCode >= 500:
				fivexx++
				bad = "a server error"
			case !want.ok(res.StatusCode):
				bad = "want " + want.name
			case res.StatusCode >= 400 && !isProblem(res):
				bad = "a 4xx that is not application/problem+json"
			case res.StatusCode == http.StatusUnauthorized && problemCode(res.Body) != "unauthenticated":
				bad = "a 401 without the unauthenticated code"
			}
			if bad != "" {
				unexpected++
				t.Errorf("%s (%s %s, for %s) as %s: status %d, %s\n%.300s", opID, ep.Method, u, d.who, a.name, res.StatusCode, bad, res.Body)
			}
		}
		t.Logf("%-26s %s", opID, strings.Join(got, ", "))
	}
	return ops, requests, unexpected, fivexx
}
