package app

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
)

// The editions' pages: the organizer's next-edition form, the merchant's
// one-step re-enrolment, the licence document of the apply form and the
// dashboard's comparison with the previous edition. Pages take bearer
// tokens as the API does (no CSRF token then).

// edPost posts a form to a page as token's user.
func edPost(e *testEnv, path, token string, values url.Values) response {
	return e.do(req{Method: "POST", Path: path, Token: token, Body: values.Encode(),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
}

func edPage(t testing.TB, e *testEnv, path, token string) string {
	t.Helper()
	res := e.do(req{Method: "GET", Path: path, Token: token})
	wantStatus(t, res, http.StatusOK)
	return string(res.Body)
}

func wantContains(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestEditionPages(t *testing.T) {
	e := newTestEnv(t)
	w := newShopWorld(t, e, "page-2026")
	b := w.shopper(t)
	w.buyPaid(t, b.Token, w.lantern, 2)

	// The organizer's console offers the next edition, a year on.
	body := edPage(t, e, "/organizer/fairs/"+w.slug, w.org)
	wantContains(t, body, `data-testid="edition-form"`, `value="page-2027"`, "开启下一届")

	t.Run("invalid", func(t *testing.T) {
		res := edPost(e, "/organizer/fairs/"+w.slug+"/editions", w.org, url.Values{"slug": {"Bad!"}, "starts_at": {"2027-02-01T10:00"}, "ends_at": {"2027-02-10T10:00"}})
		wantStatus(t, res, http.StatusUnprocessableEntity)
		wantContains(t, string(res.Body), "请填写 3 到 64 个小写字母")
	})

	now := e.clock.Now()
	res := edPost(e, "/organizer/fairs/"+w.slug+"/editions", w.org, url.Values{
		"slug": {"page-2027"}, "starts_at": {now.Add(time.Hour).In(catalog.FairZone).Format("2006-01-02T15:04")},
		"ends_at": {now.Add(40 * 24 * time.Hour).In(catalog.FairZone).Format("2006-01-02T15:04")},
	})
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/organizer/fairs/page-2027" {
		t.Fatalf("redirect to %q", loc)
	}
	wantContains(t, edPage(t, e, "/organizer/fairs/page-2027", w.org), `data-testid="previous-edition"`, `href="/organizer/fairs/page-2026"`)
	wantContains(t, edPage(t, e, "/organizer/fairs/"+w.slug, w.org), `data-testid="next-edition"`, `href="/organizer/fairs/page-2027"`)

	// The merchant re-enrols in one step.
	body = edPage(t, e, "/merchant", w.merchA.Token)
	wantContains(t, body, `data-testid="reenrol-button"`, `name="stall" value="`+w.stallA+`"`, `name="fair" value="page-2027"`, "一键报名本届")
	res = edPost(e, "/merchant/reenrol", w.merchA.Token, url.Values{"stall": {w.stallA}, "fair": {"page-2027"}})
	wantStatus(t, res, http.StatusSeeOther)
	var app catalog.Application
	if err := e.srv.Catalog.DB().NewSelect().Model(&app).Where("merchant_id = ? AND fair_id = (SELECT id FROM fairs WHERE slug = 'page-2027')", w.merchA.ID).Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if app.FromStallID == nil || *app.FromStallID != w.stallA || app.StallName != "老街灯笼铺" {
		t.Fatalf("re-enrolment %+v", app)
	}
	if strings.Contains(edPage(t, e, "/merchant", w.merchA.Token), `data-testid="reenrol-button"`) {
		t.Fatal("the button stays after re-enrolling")
	}
	// The re-enrolment gets its licence document from the console.
	res = e.send(newMultipartRequest(t, "/merchant/applications/"+app.ID+"/documents", w.merchA.Token, "document", "许可证.pdf", []byte("%PDF-1.4\n%%EOF\n")))
	wantStatus(t, res, http.StatusSeeOther)
	res = e.send(newMultipartRequest(t, "/merchant/applications/"+app.ID+"/documents", w.merchA.Token, "document", "x.pdf", []byte("MZ not a pdf")))
	wantStatus(t, res, http.StatusUnprocessableEntity)
	wantContains(t, string(res.Body), "请选择 5 MB 以内的 JPEG、PNG 图片或 PDF 文件")
	// Another merchant cannot attach to it.
	res = e.send(newMultipartRequest(t, "/merchant/applications/"+app.ID+"/documents", w.merchB.Token, "document", "x.pdf", []byte("%PDF-1.4\n")))
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("another merchant's upload: status %d, want 404", res.StatusCode)
	}
	if n := countRows(t, e, "application_documents", "application_id = ?", app.ID); n != 1 {
		t.Fatalf("%d documents, want 1", n)
	}
	wantContains(t, edPage(t, e, "/merchant", w.merchA.Token), "许可证.pdf")
	// Someone else's stall is refused and nothing is filed.
	res = edPost(e, "/merchant/reenrol", w.merchA.Token, url.Values{"stall": {w.stallB}, "fair": {"page-2027"}})
	wantStatus(t, res, http.StatusSeeOther)
	if n := countRows(t, e, "applications", "from_stall_id = ?", w.stallB); n != 0 {
		t.Fatal("another merchant's stall was re-enrolled")
	}

	// A new merchant applies with a licence document; the organizer sees it.
	m := e.register("page-m@example.com", catalog.RoleMerchant)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("fair", "page-2027")
	_ = mw.WriteField("stall_name", "新来的摊")
	part, _ := mw.CreateFormFile("document", "执照.png")
	_, _ = part.Write(auditPNG)
	_ = mw.Close()
	hr := httptest.NewRequest(http.MethodPost, "/merchant/applications", &buf)
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	hr.Header.Set("Authorization", "Bearer "+m.Token)
	wantStatus(t, e.send(hr), http.StatusSeeOther)
	body = edPage(t, e, "/organizer/fairs/page-2027", w.org)
	wantContains(t, body, `data-testid="application-document"`, "执照.png", "往届续报")

	// A document that is not one is refused with the form, and nothing is filed.
	m2 := e.register("page-m2@example.com", catalog.RoleMerchant)
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	_ = mw.WriteField("fair", "page-2027")
	_ = mw.WriteField("stall_name", "坏文件")
	part, _ = mw.CreateFormFile("document", "x.pdf")
	_, _ = part.Write([]byte("<html>not a pdf</html>"))
	_ = mw.Close()
	hr = httptest.NewRequest(http.MethodPost, "/merchant/applications", &buf)
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	hr.Header.Set("Authorization", "Bearer "+m2.Token)
	res = e.send(hr)
	wantStatus(t, res, http.StatusUnprocessableEntity)
	if n := countRows(t, e, "applications", "merchant_id = ?", m2.ID); n != 0 {
		t.Fatal("an application was filed with a refused document")
	}

	// The new edition's dashboard sets it beside the previous one.
	body = edPage(t, e, "/organizer/fairs/page-2027/dashboard", w.org)
	wantContains(t, body, `data-testid="dash-compare"`, "与上届对比", `data-testid="compare-gmv-change">-100.0%<`, `data-testid="compare-paid_orders-change">-100.0%<`)
	if strings.Contains(edPage(t, e, "/organizer/fairs/"+w.slug+"/dashboard", w.org), `data-testid="dash-compare"`) {
		t.Fatal("a first edition's dashboard compares")
	}
}
