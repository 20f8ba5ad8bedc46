//go:build browser

package app

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"miaohui/app/web"
	"miaohui/catalog"
)

// Browser tests of the catalog pages: the enrolment of a stall from the
// organizer's fair to the shopper's search, and the booking of a viewing.
// Helpers here are prefixed bc so that they do not collide with the other
// suites of package app. Run them as the tests of browser_test.go:
//
//	TEST_CHROMIUM=/usr/bin/chromium go test -count=1 -tags browser -run Browser ./...
//
// On failure each tab leaves a screenshot, and its path is logged. It goes to
// t.TempDir(), which the test removes when it ends; set TEST_BROWSER_ARTIFACTS
// to a directory to keep the screenshots.

// bcTab opens a tab for one user (who) in a browser context of its own, so
// that users share no cookies. browser is a context from newBrowser. When the
// test fails, the tab's screenshot is saved and its path logged.
func bcTab(t testing.TB, browser context.Context, who string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	// Cleanups run last first: the screenshot is taken before the tab closes,
	// and both before newBrowser's cleanup closes the browser.
	t.Cleanup(cancel)
	t.Cleanup(func() {
		if t.Failed() {
			bcScreenshot(t, ctx, who)
		}
	})
	// Open the tab now, on ctx itself: the tab lives as long as the context
	// of the first Run, which must not be a step's.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab for %s: %v", who, err)
	}
	return ctx
}

// bcScreenshot saves what the tab shows as a PNG and logs its path.
func bcScreenshot(t testing.TB, ctx context.Context, who string) {
	t.Helper()
	if ctx.Err() != nil {
		t.Logf("no screenshot of %s's tab: the browser is gone", who)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	shot, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("no screenshot of %s's tab: %v", who, err)
		return
	}
	dir := os.Getenv("TEST_BROWSER_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()+"-"+who) + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Logf("no screenshot of %s's tab: %v", who, err)
		return
	}
	t.Logf("screenshot of %s's tab: %s", who, path)
}

// bcSignIn signs in through the sign-in page, which leads to the account page.
func bcSignIn(t testing.TB, ctx context.Context, base, email string) {
	t.Helper()
	browserDo(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/login"))
	res := browserNavigate(t, ctx, "sign in as "+email,
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/login"] input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main form[action="/login"] button[type=submit]`)),
	)
	if res.Status != 200 || res.URL != base+"/account" {
		t.Fatalf("signing in as %s ends with %d %s, want 200 %s/account%s", email, res.Status, res.URL, base, browserPage(ctx))
	}
}

// bcPNG writes a small opaque PNG into dir and returns its path.
func bcPNG(t testing.TB, dir string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{R: uint8(200 + x), G: uint8(60 + 8*y), B: 40, A: 255})
		}
	}
	path := filepath.Join(dir, "chougan.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBrowserEnrolmentToSearch(t *testing.T) {
	env := newTestEnv(t)
	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	ctx := context.Background()
	cat := env.srv.Catalog

	const (
		slug          = "taizhou-spring-2026"
		fairName      = "泰州春节庙会"
		organizerMail = "organizer@example.com"
		merchantMail  = "chougan.stall@example.com"
		stallName     = "老街臭干摊"
		title         = "泰州臭干"
	)
	env.createUser(organizerMail, catalog.RoleOrganizer)

	// 1. The organizer creates a published temple fair, open from an hour
	// ago for a month, through the console's form.
	org := bcTab(t, browser, "organizer")
	bcSignIn(t, org, base, organizerMail)
	browserDo(t, org, "open the organizer console", chromedp.Navigate(base+"/organizer"))
	now := env.clock.Now()
	newFair := `main form[action="/organizer/fairs"] `
	browserDo(t, org, "fill the new fair form",
		chromedp.SendKeys(chromedp.CSS(newFair+`input[name=slug]`), slug),
		chromedp.SendKeys(chromedp.CSS(newFair+`input[name=name]`), fairName),
		chromedp.SetValue(chromedp.CSS(newFair+`select[name=kind]`), catalog.KindTempleFair),
		chromedp.SetValue(chromedp.CSS(newFair+`input[name=starts_at]`), web.InputTime(now.Add(-time.Hour))),
		chromedp.SetValue(chromedp.CSS(newFair+`input[name=ends_at]`), web.InputTime(now.Add(30*24*time.Hour))),
	)
	if published := browserRun(t, org, "read the published box", chromedp.JavascriptAttribute[bool](chromedp.CSS(newFair+`input[name=published]`), "checked")); !published {
		browserDo(t, org, "tick the published box", chromedp.Click(chromedp.CSS(newFair+`input[name=published]`)))
	}
	res := browserNavigate(t, org, "create the fair", chromedp.Click(chromedp.CSS("[data-testid=create-fair-button]")))
	browserWantStatus(t, org, "create the fair", res.Status, 200)
	browserWantLocation(t, org, base+"/organizer/fairs/"+slug)
	browserWantText(t, org, "main h1", fairName)
	browserWantText(t, org, "[data-testid=fair-status]", "进行中")

	// 2. A merchant registers and applies to the fair.
	mer := bcTab(t, browser, "merchant")
	browserDo(t, mer, "open the register page", chromedp.Navigate(base+"/register"))
	browserDo(t, mer, "fill the register form",
		chromedp.SendKeys(chromedp.CSS(`main input[name=name]`), "王师傅"),
		chromedp.SendKeys(chromedp.CSS(`main input[name=email]`), merchantMail),
		chromedp.SendKeys(chromedp.CSS(`main input[name=password]`), testPassword),
		chromedp.Click(chromedp.CSS(`main input[name=role][value=merchant]`)),
	)
	res = browserNavigate(t, mer, "register", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
	browserWantStatus(t, mer, "register", res.Status, 200)
	browserWantLocation(t, mer, base+"/account")
	browserNavigate(t, mer, "open the merchant console", chromedp.Click(chromedp.CSS("[data-testid=tab-merchant]")))
	browserWantLocation(t, mer, base+"/merchant")
	browserDo(t, mer, "fill the application",
		chromedp.SetValue(chromedp.CSS("[data-testid=apply-fair]"), slug),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/merchant/applications"] input[name=stall_name]`), stallName),
		chromedp.SendKeys(chromedp.CSS(`main form[action="/merchant/applications"] textarea[name=description]`), "祖传三代的臭干"),
	)
	res = browserNavigate(t, mer, "apply", chromedp.Click(chromedp.CSS("[data-testid=apply-button]")))
	browserWantStatus(t, mer, "apply", res.Status, 200)
	browserWantLocation(t, mer, base+"/merchant")
	browserWantText(t, mer, "[data-testid=flash]", "申请已提交，请等待主办方审核。")
	browserDo(t, mer, "see the pending application", chromedp.WaitVisible(chromedp.CSS(`[data-testid=application-row][data-status=pending]`)))

	// 3. The organizer approves it.
	browserDo(t, org, "open the fair's console page", chromedp.Navigate(base+"/organizer/fairs/"+slug))
	browserWantText(t, org, "[data-testid=pending-count]", "1")
	browserWantText(t, org, `[data-testid=application-row][data-status=pending] strong`, stallName)
	res = browserNavigate(t, org, "approve the application",
		chromedp.Click(chromedp.CSS(`[data-testid=application-row][data-status=pending] [data-testid=approve-button]`)))
	browserWantStatus(t, org, "approve the application", res.Status, 200)
	browserWantText(t, org, "[data-testid=flash]", "已通过，摊位已开通。")
	browserDo(t, org, "see the approved application and the stall",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=application-row][data-status=approved]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=stall-row][data-status=active]`)),
	)

	// 4. The merchant opens the stall's console and lists the product.
	browserDo(t, mer, "reload the merchant console", chromedp.Navigate(base+"/merchant"))
	browserDo(t, mer, "see the approved application", chromedp.WaitVisible(chromedp.CSS(`[data-testid=application-row][data-status=approved]`)))
	browserNavigate(t, mer, "open the stall's console", chromedp.Click(chromedp.CSS(`[data-testid=my-stall] a[href^="/merchant/stalls/"]`)))
	stallURL := browserRun(t, mer, "read the location", chromedp.Location())
	stallID, ok := strings.CutPrefix(stallURL, base+"/merchant/stalls/")
	if !ok || stallID == "" {
		t.Fatalf("the stall's console is at %s%s", stallURL, browserPage(mer))
	}
	browserWantText(t, mer, "main h1", stallName)
	// The new product's form folds away in a <details>; its summary has no
	// test id.
	newProduct := `form[action="/merchant/stalls/` + stallID + `/products"] `
	browserDo(t, mer, "unfold the new product form",
		chromedp.Click(chromedp.CSS(`details#new-product > summary`)),
		chromedp.WaitVisible(chromedp.CSS(newProduct+`input[name=title]`)),
	)
	browserDo(t, mer, "fill the new product form",
		chromedp.SendKeys(chromedp.CSS(newProduct+`input[name=title]`), title),
		chromedp.SendKeys(chromedp.CSS(newProduct+`textarea[name=description]`), "外焦里嫩，蘸辣酱"),
		chromedp.SendKeys(chromedp.CSS(newProduct+`input[name=price]`), "12.80"),
		chromedp.Clear(chromedp.CSS(newProduct+`input[name=stock]`)),
		chromedp.SendKeys(chromedp.CSS(newProduct+`input[name=stock]`), "50"),
		chromedp.SetValue(chromedp.CSS(newProduct+`select[name=category]`), "food"),
	)
	res = browserNavigate(t, mer, "create the product", chromedp.Click(chromedp.CSS("[data-testid=create-product-button]")))
	browserWantStatus(t, mer, "create the product", res.Status, 200)
	browserWantText(t, mer, "[data-testid=flash]", "商品已发布，现在可以上传图片。")

	// The stall's console lists it; its link opens the editor.
	browserDo(t, mer, "reopen the stall's console", chromedp.Navigate(base+"/merchant/stalls/"+stallID))
	browserWantText(t, mer, "[data-testid=my-product] [data-testid=edit-product-link]", title)
	browserWantText(t, mer, "[data-testid=my-product] .price", "¥12.80")
	browserNavigate(t, mer, "open the product editor", chromedp.Click(chromedp.CSS("[data-testid=my-product] [data-testid=edit-product-link]")))
	editorURL := browserRun(t, mer, "read the location", chromedp.Location())
	productID, ok := strings.CutPrefix(editorURL, base+"/merchant/products/")
	if !ok || productID == "" {
		t.Fatalf("the product editor is at %s%s", editorURL, browserPage(mer))
	}
	browserWantText(t, mer, "main h1", title)
	if got := browserRun(t, mer, "read the price", chromedp.Value(chromedp.CSS(`form[action="/merchant/products/`+productID+`"] input[name=price]`))); got != "12.80" {
		t.Fatalf("the editor's price reads %q, want 12.80%s", got, browserPage(mer))
	}

	// 5. The merchant uploads a photo.
	browserDo(t, mer, "choose the photo", chromedp.SetUploadFiles(chromedp.CSS("[data-testid=image-input]"), []string{bcPNG(t, t.TempDir())}))
	res = browserNavigate(t, mer, "upload the photo", chromedp.Click(chromedp.CSS("[data-testid=upload-button]")))
	browserWantStatus(t, mer, "upload the photo", res.Status, 200)
	browserWantText(t, mer, "[data-testid=flash]", "图片已上传。")
	browserDo(t, mer, "see the photo's thumbnail", chromedp.WaitVisible(chromedp.CSS("[data-testid=image-thumb] img")))

	// A second product, found only by its stall's name (老街臭干摊): it comes
	// after the product whose title matches.
	merchant := userByEmail(t, env, merchantMail)
	other := "桂花糖藕"
	price, stock := int64(900), int64(10)
	if _, err := cat.CreateProduct(ctx, merchant.Actor(), stallID, catalog.ProductInput{Title: &other, Price: &price, Stock: &stock}); err != nil {
		t.Fatal(err)
	}

	// 6. A shopper, not signed in, finds the fair, searches and opens the
	// product.
	shop := bcTab(t, browser, "shopper")
	browserDo(t, shop, "open the home page", chromedp.Navigate(base+"/"))
	browserNavigate(t, shop, "open the fair", chromedp.Click(chromedp.CSS(`[data-testid=fair-card] a[href="/fairs/`+slug+`"]`)))
	browserWantLocation(t, shop, base+"/fairs/"+slug)
	browserWantText(t, shop, "[data-testid=fair-name]", fairName)
	res = browserNavigate(t, shop, "search",
		chromedp.SendKeys(chromedp.CSS("[data-testid=search-input]"), "臭干"),
		chromedp.Click(chromedp.CSS("[data-testid=search-button]")),
	)
	browserWantStatus(t, shop, "search", res.Status, 200)
	if loc := browserRun(t, shop, "read the location", chromedp.Location()); !strings.HasPrefix(loc, base+"/fairs/"+slug+"/search?") {
		t.Fatalf("the search is at %s%s", loc, browserPage(shop))
	}
	browserWantText(t, shop, "[data-testid=product-card] [data-testid=product-title]", title)
	browserWantText(t, shop, "[data-testid=product-card] [data-testid=product-price]", "¥12.80")
	if n := browserRun(t, shop, "count the results", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=product-card]").length`)); n != 2 {
		t.Fatalf("the search shows %d products, want 2%s", n, browserPage(shop))
	}
	if got := browserRun(t, shop, "read the marked match", chromedp.Evaluate[string](`document.querySelector("[data-testid=product-card] mark").textContent`)); got != "臭干" {
		t.Fatalf("the first result marks %q, want 臭干%s", got, browserPage(shop))
	}
	res = browserNavigate(t, shop, "open the product", chromedp.Click(chromedp.CSS("[data-testid=product-card] a")))
	browserWantStatus(t, shop, "open the product", res.Status, 200)
	browserWantLocation(t, shop, base+"/products/"+productID)
	browserWantText(t, shop, "main [data-testid=product-title]", title)
	browserWantText(t, shop, "main [data-testid=product-price]", "¥12.80")
	browserDo(t, shop, "see the photo", chromedp.WaitVisible(chromedp.CSS("[data-testid=gallery] img")))
	// The photo's natural width once it has loaded, or 0 if it cannot.
	const photoWidth = `new Promise(done => {
		const img = document.querySelector("[data-testid=gallery] img");
		if (img.complete) return done(img.naturalWidth);
		img.addEventListener("load", () => done(img.naturalWidth));
		img.addEventListener("error", () => done(0));
	})`
	if w := browserRun(t, shop, "load the photo", chromedp.Evaluate[int](photoWidth, chromedp.EvalAwaitPromise)); w != 24 {
		t.Fatalf("the photo's naturalWidth is %d, want 24 (it did not load)%s", w, browserPage(shop))
	}

	// 7. The database holds the product with its price in fen and one photo.
	pr, _, err := cat.Product(ctx, catalog.Actor{}, productID)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Title != title || pr.Price != 1280 || pr.Stock != 50 || pr.Category != "food" || len(pr.Images) != 1 {
		t.Fatalf("product is %q at %d fen, stock %d, category %q, with %d images; want %q at 1280, stock 50, food, 1 image",
			pr.Title, pr.Price, pr.Stock, pr.Category, len(pr.Images), title)
	}
	if img := pr.Images[0]; img.ContentType != "image/png" || img.Width != 24 || img.Height != 16 {
		t.Fatalf("image is %s %dx%d, want image/png 24x16", img.ContentType, img.Width, img.Height)
	}
	n, err := env.srv.DB.NewSelect().Model((*catalog.Image)(nil)).Where("product_id = ?", productID).Count(ctx)
	if err != nil || n != 1 {
		t.Fatalf("%d image rows (%v), want 1", n, err)
	}
}

func TestBrowserBookViewing(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	cat := env.srv.Catalog

	// A property season open for a month, with one approved development
	// receiving one visitor tomorrow.
	const slug = "taizhou-homes-2026"
	organizer := env.createUser("homes.organizer@example.com", catalog.RoleOrganizer)
	merchant := env.createUser("developer@example.com", catalog.RoleMerchant)
	first := env.createUser("first.shopper@example.com", catalog.RoleShopper)
	second := env.createUser("second.shopper@example.com", catalog.RoleShopper)
	now := env.clock.Now()
	stall := env.serviceStall(t, organizer, merchant, slug, "泰州房交会", catalog.KindPropertySeason, 100, "凤城河畔", "河景洋房")
	slot, err := cat.AddSlot(ctx, merchant.Actor(), stall.ID, catalog.SlotInput{
		StartsAt: now.Add(24 * time.Hour), EndsAt: now.Add(25 * time.Hour), Capacity: 1,
	})
	if err != nil {
		t.Fatal(err)
	}

	base := serveForBrowser(t, env)
	browser := newBrowser(t)
	stallURL := base + "/stalls/" + stall.ID
	var (
		book       = chromedp.CSS("[data-testid=slot-row] [data-testid=book-button]")
		bookButton = `[data-testid=slot-row] form[action="/slots/` + slot.ID + `/book"] button[type=submit]`
	)

	// 1. The second shopper opens the development first, while the slot
	// still has a place.
	late := bcTab(t, browser, "second shopper")
	bcSignIn(t, late, base, second.Email)
	browserDo(t, late, "open the development", chromedp.Navigate(stallURL))
	browserWantText(t, late, "[data-testid=stall-name]", "凤城河畔")
	browserWantText(t, late, "[data-testid=slot-row] .left", "剩余 1/1 个名额")
	browserDo(t, late, "see the book button", chromedp.WaitVisible(book))

	// 2. The first shopper books it.
	early := bcTab(t, browser, "first shopper")
	bcSignIn(t, early, base, first.Email)
	browserDo(t, early, "open the development", chromedp.Navigate(stallURL))
	browserWantText(t, early, "[data-testid=book-button]", "预约看房")
	res := browserNavigate(t, early, "book the viewing", chromedp.Click(chromedp.CSS(bookButton)))
	browserWantStatus(t, early, "book the viewing", res.Status, 200)
	browserWantLocation(t, early, stallURL+"#viewings")
	browserWantText(t, early, "[data-testid=flash]", "预约成功，请按时到访。")
	browserDo(t, early, "see the booking",
		chromedp.WaitVisible(chromedp.CSS("[data-testid=my-booking]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=my-booking] [data-testid=cancel-booking-button]")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=slot-row] [data-testid=slot-mine]")),
	)
	if present := browserRun(t, early, "look for a book button", chromedp.Evaluate[bool](`document.querySelector("[data-testid=book-button]") !== null`)); present {
		t.Fatalf("the booked shopper still sees a book button%s", browserPage(early))
	}

	// 3. The second shopper presses the book button of the stale page and
	// is told the slot is full; the page then shows it full, without a book
	// button.
	res = browserNavigate(t, late, "book the full viewing", chromedp.Click(chromedp.CSS(bookButton)))
	browserWantStatus(t, late, "book the full viewing", res.Status, 200)
	browserWantLocation(t, late, stallURL+"#viewings")
	browserWantText(t, late, "[data-testid=flash]", "这个时段已约满，请选择其他时段。")
	browserWantText(t, late, "[data-testid=slot-row] [data-testid=slot-full]", "已约满")
	if present := browserRun(t, late, "look for a book button", chromedp.Evaluate[bool](`document.querySelector("[data-testid=book-button], [data-testid=my-booking]") !== null`)); present {
		t.Fatalf("the second shopper sees a book button or a booking of a full slot%s", browserPage(late))
	}
	// Opened afresh, the page still shows the slot full.
	browserDo(t, late, "reopen the development", chromedp.Navigate(stallURL))
	browserWantText(t, late, "[data-testid=slot-row] [data-testid=slot-full]", "已约满")

	// 4. The database holds one booking, the first shopper's, and the slot
	// one place taken.
	var bookings []catalog.Booking
	if err := env.srv.DB.NewSelect().Model(&bookings).Where("slot_id = ?", slot.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(bookings) != 1 || bookings[0].UserID != first.ID || bookings[0].Status != catalog.BookingBooked {
		t.Fatalf("bookings %+v, want one booked by %s", bookings, first.ID)
	}
	var stored catalog.ViewingSlot
	if err := env.srv.DB.NewSelect().Model(&stored).Where("id = ?", slot.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if stored.Booked != 1 || stored.Capacity != 1 {
		t.Fatalf("slot booked %d of %d, want 1 of 1", stored.Booked, stored.Capacity)
	}
}
