package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/jobs"
)

// Routes mounts the server-rendered pages. Forms post back to these
// routes and call the same services as the API.
func (s *Site) Routes(r fiber.Router) {
	s.consolePageRoutes(r) // before the catalog's, whose fair routes take any segment
	s.catalogPageRoutes(r)
	s.editionPageRoutes(r)
	s.orderPageRoutes(r)
	s.boothPageRoutes(r)
	s.mapPageRoutes(r)
	s.flashPageRoutes(r)
	s.pwaRoutes(r)
	s.couponPageRoutes(r)
	r.Get("/login", s.loginPage)
	r.Post("/login", s.loginSubmit)
	r.Get("/register", s.registerPage)
	r.Post("/register", s.registerSubmit)
	r.Get("/password/forgot", s.forgotPasswordPage)
	r.Post("/password/forgot", s.forgotPasswordSubmit)
	r.Get("/password/reset", s.resetPasswordPage)
	r.Post("/password/reset", s.resetPasswordSubmit)
	r.Post("/logout", s.logoutSubmit)
	r.Get("/account", s.accountPage)
	r.Post("/account/notifications/read-all", s.readAllSubmit)
	r.Post("/account/notifications/:id/read", s.readNotificationSubmit)
	r.Get("/lang/:code", s.switchLang)
	r.Get("/browse", s.browsePage)
	s.dashboardPageRoutes(r)
	s.statementPageRoutes(r)
	s.afterSalePageRoutes(r)
}

func (s *Site) loginPage(c *fiber.Ctx) error {
	p := s.page(c, "login.title")
	p.Form["next"] = safeNext(c.Query("next"))
	return s.render(c, http.StatusOK, "login", p)
}

func (s *Site) loginSubmit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	_, sess, token, err := s.auth.SignIn(ctx, c.FormValue("email"), c.FormValue("password"))
	if err != nil {
		p := s.newPage(c, "login.title")
		p.Form["email"] = c.FormValue("email")
		p.Form["next"] = safeNext(c.FormValue("next"))
		status := s.formError(p, err)
		return s.render(c, status, "login", p)
	}
	setCookie(c, account.NewSessionCookie(token, sess.ExpiresAt, account.RequestFrom(ctx).Secure))
	return c.Redirect(afterSignIn(c.FormValue("next")), http.StatusSeeOther)
}

func (s *Site) registerPage(c *fiber.Ctx) error {
	p := s.newPage(c, "register.title")
	p.Form["next"] = safeNext(c.Query("next"))
	return s.render(c, http.StatusOK, "register", p)
}

// forgotPasswordPage asks for the account's email, to send it a link that
// sets a new password.
func (s *Site) forgotPasswordPage(c *fiber.Ctx) error {
	return s.render(c, http.StatusOK, "password_forgot", s.newPage(c, "forgot.title"))
}

// forgotPasswordSubmit sends the reset link. The page says the same whether
// or not the email has an account.
func (s *Site) forgotPasswordSubmit(c *fiber.Ctx) error {
	p := s.newPage(c, "forgot.title")
	p.Form["email"] = c.FormValue("email")
	if err := s.auth.RequestPasswordReset(c.UserContext(), c.FormValue("email"), s.public); err != nil {
		return s.render(c, s.formError(p, err), "password_forgot", p)
	}
	p.Form["sent"] = "1"
	return s.render(c, http.StatusOK, "password_forgot", p)
}

// resetPasswordPage asks for the new password of a reset link.
func (s *Site) resetPasswordPage(c *fiber.Ctx) error {
	p := s.newPage(c, "reset.title")
	p.Form["token"] = c.Query("token")
	return s.render(c, http.StatusOK, "password_reset", p)
}

// resetPasswordSubmit sets the new password and leads to the sign-in page.
func (s *Site) resetPasswordSubmit(c *fiber.Ctx) error {
	_, err := s.accounts.ResetPassword(c.UserContext(), c.FormValue("token"), c.FormValue("password"))
	if err == nil {
		flash(c, "flash.password_reset")
		return c.Redirect("/login", http.StatusSeeOther)
	}
	p := s.newPage(c, "reset.title")
	p.Form["token"] = c.FormValue("token")
	if errors.Is(err, account.ErrResetLink) {
		p.Error = p.T("err.reset_link")
		return s.render(c, http.StatusGone, "password_reset", p)
	}
	return s.render(c, s.formError(p, err), "password_reset", p)
}

// afterSignIn is where signing in or registering leads: back to next, a
// safe local path, or else the account page.
func afterSignIn(next string) string {
	next = safeNext(next)
	path, _, _ := strings.Cut(next, "?")
	if next == "/" || path == "/login" || path == "/register" {
		return "/account"
	}
	return next
}

func (s *Site) registerSubmit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	in := account.NewUser{Email: c.FormValue("email"), Password: c.FormValue("password"), Name: c.FormValue("name"), Role: catalog.Role(c.FormValue("role"))}
	_, sess, token, err := s.auth.SignUp(ctx, in)
	if err != nil {
		p := s.newPage(c, "register.title")
		p.Form["email"], p.Form["name"], p.Form["role"] = in.Email, in.Name, string(in.Role)
		p.Form["next"] = safeNext(c.FormValue("next"))
		status := s.formError(p, err)
		return s.render(c, status, "register", p)
	}
	setCookie(c, account.NewSessionCookie(token, sess.ExpiresAt, account.RequestFrom(ctx).Secure))
	return c.Redirect(afterSignIn(c.FormValue("next")), http.StatusSeeOther)
}

// formError puts a localised message for err on the page and returns the
// status to answer with; unknown errors go to the error handler's log.
func (s *Site) formError(p *Page, err error) int {
	var ve *catalog.ValidationError
	var rl *account.RateLimitedError
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			p.Errors[f.Field] = p.T("err." + f.Field)
		}
		p.Error = p.Errors[ve.Fields[0].Field]
		return http.StatusUnprocessableEntity
	case errors.As(err, &rl):
		p.Error = p.T("err.rate_limited", "Seconds", rl.RetryAfter)
		return http.StatusTooManyRequests
	case errors.Is(err, account.ErrEmailTaken):
		p.Error = p.T("err.email_taken")
		return http.StatusConflict
	case errors.Is(err, account.ErrBadCredentials):
		p.Error = p.T("err.bad_credentials")
		return http.StatusUnauthorized
	}
	s.log.Error("form failed", "err", err)
	p.Error = p.T("error.internal")
	return http.StatusInternalServerError
}

func (s *Site) logoutSubmit(c *fiber.Ctx) error {
	if a, ok := account.From(c.UserContext()); ok {
		if err := s.accounts.Logout(c.UserContext(), a.Session.ID); err != nil {
			return err
		}
	}
	setCookie(c, account.ClearedSessionCookie(account.RequestFrom(c.UserContext()).Secure))
	return c.Redirect("/", http.StatusSeeOther)
}

// accountView is the account page: the inbox, and the stalls whose booth
// the user works as staff (their redeem pages).
type accountView struct {
	// NextStep: a merchant with no stall and no application yet is shown
	// the way to apply to a fair.
	NextStep    bool
	Inbox       []inboxRow
	Unread      int64
	StaffStalls []catalog.Stall
}

// inboxRow is a notification as the inbox shows it: long ids in its text
// shortened as the order pages show them, and a link to what it is about.
type inboxRow struct {
	jobs.Notification
	Link, LinkLabel string
}

// longID is an id as catalog.NewID writes it (a ULID), which people do not
// read: the inbox shows its last eight characters.
var longID = regexp.MustCompile(`\b[0-9A-HJKMNP-TV-Z]{26}\b`)

// inboxRowOf shortens a notification's ids and finds what it links to.
func (s *Site) inboxRowOf(ctx context.Context, p *Page, a catalog.Actor, n jobs.Notification) inboxRow {
	short := func(t string) string { return longID.ReplaceAllStringFunc(t, jobs.ShortRef) }
	n.Title, n.Body = short(n.Title), short(n.Body)
	r := inboxRow{Notification: n}
	kind, id := n.Subject()
	switch kind {
	case "order":
		r.Link, r.LinkLabel = "/orders#order-"+url.PathEscape(id), p.T("inbox.see_order")
	case "refund":
		r.Link, r.LinkLabel = "/orders", p.T("inbox.see_order")
	case "new_order":
		r.Link, r.LinkLabel = "/merchant", p.T("inbox.see_order")
		if o, err := s.orders.Order(ctx, a, id); err == nil {
			r.Link = "/merchant/stalls/" + url.PathEscape(o.StallID) + "/orders#order-" + url.PathEscape(o.ID)
		}
	case "payment":
		r.Link, r.LinkLabel = "/pay/"+url.PathEscape(id), p.T("inbox.pay")
	case "flash_sale":
		r.Link, r.LinkLabel = "/flash-sales/"+url.PathEscape(id), p.T("inbox.see_flash")
	case "application":
		r.Link, r.LinkLabel = "/merchant", p.T("inbox.see_application")
	case "application_new":
		r.Link, r.LinkLabel = "/organizer", p.T("inbox.review_application")
		if slug, _, ok := strings.Cut(id, "/"); ok {
			r.Link = "/organizer/fairs/" + url.PathEscape(slug) + "#applications"
		}
	}
	return r
}

func (s *Site) accountPage(c *fiber.Ctx) error {
	a, ok := account.From(c.UserContext())
	if !ok {
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), http.StatusSeeOther)
	}
	p := s.page(c, "account.title")
	items, _, err := s.inbox.List(c.UserContext(), a.User.ID, catalog.Page{Limit: 50})
	if err != nil {
		return err
	}
	staff, err := s.catalog.StaffStalls(c.UserContext(), a.User.Actor())
	if err != nil {
		return err
	}
	v := accountView{StaffStalls: staff, Unread: p.Unread}
	if a.User.Role == catalog.RoleMerchant {
		apps, err := s.catalog.MyApplications(c.UserContext(), a.User.Actor())
		if err != nil {
			return err
		}
		v.NextStep = len(apps) == 0
	}
	for _, n := range items {
		v.Inbox = append(v.Inbox, s.inboxRowOf(c.UserContext(), p, a.User.Actor(), n))
	}
	p.Data = v
	return s.render(c, http.StatusOK, "account", p)
}

func (s *Site) readNotificationSubmit(c *fiber.Ctx) error {
	a, ok := account.From(c.UserContext())
	if !ok {
		return c.Redirect("/login", http.StatusSeeOther)
	}
	if _, err := s.inbox.MarkRead(c.UserContext(), a.User.ID, c.Params("id")); err != nil {
		return err
	}
	return c.Redirect("/account#inbox", http.StatusSeeOther)
}

// readAllSubmit marks every notification of the user read (全部已读).
func (s *Site) readAllSubmit(c *fiber.Ctx) error {
	a, ok := account.From(c.UserContext())
	if !ok {
		return c.Redirect("/login?next=/account", http.StatusSeeOther)
	}
	if _, err := s.inbox.MarkAllRead(c.UserContext(), a.User.ID); err != nil {
		return err
	}
	flash(c, "flash.inbox_read")
	return c.Redirect("/account#inbox", http.StatusSeeOther)
}

// switchLang remembers the chosen language in a cookie (and on the account,
// for emails) and goes back to the page it came from.
func (s *Site) switchLang(c *fiber.Ctx) error {
	code := c.Params("code")
	if code != "en" && code != "zh-CN" {
		return fiber.NewError(http.StatusNotFound, "unknown language")
	}
	setCookie(c, http.Cookie{Name: LangCookie, Value: code, Path: "/", Expires: time.Now().AddDate(1, 0, 0), SameSite: http.SameSiteLaxMode, Secure: account.RequestFrom(c.UserContext()).Secure})
	if a, ok := account.From(c.UserContext()); ok {
		if err := s.accounts.SetLang(c.UserContext(), a.User.ID, code); err != nil {
			return err
		}
	}
	return c.Redirect(safeNext(c.Query("next")), http.StatusSeeOther)
}

func setCookie(c *fiber.Ctx, ck http.Cookie) {
	c.Append(fiber.HeaderSetCookie, ck.String())
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
