package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/jobs"
)

// Routes mounts the server-rendered pages. Forms post back to these
// routes and call the same services as the API.
func (s *Site) Routes(r fiber.Router) {
	s.catalogPageRoutes(r)
	s.orderPageRoutes(r)
	s.boothPageRoutes(r)
	s.mapPageRoutes(r)
	s.flashPageRoutes(r)
	r.Get("/login", s.loginPage)
	r.Post("/login", s.loginSubmit)
	r.Get("/register", s.registerPage)
	r.Post("/register", s.registerSubmit)
	r.Post("/logout", s.logoutSubmit)
	r.Get("/account", s.accountPage)
	r.Post("/account/notifications/:id/read", s.readNotificationSubmit)
	r.Get("/lang/:code", s.switchLang)
	r.Get("/browse", s.browsePage)
	s.dashboardPageRoutes(r)
	s.statementPageRoutes(r)
}

func (s *Site) loginPage(c *fiber.Ctx) error {
	p := s.newPage(c, "login.title")
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
	next := safeNext(c.FormValue("next"))
	if next == "/" {
		next = "/account"
	}
	return c.Redirect(next, http.StatusSeeOther)
}

func (s *Site) registerPage(c *fiber.Ctx) error {
	return s.render(c, http.StatusOK, "register", s.newPage(c, "register.title"))
}

func (s *Site) registerSubmit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	in := account.NewUser{Email: c.FormValue("email"), Password: c.FormValue("password"), Name: c.FormValue("name"), Role: catalog.Role(c.FormValue("role"))}
	_, sess, token, err := s.auth.SignUp(ctx, in)
	if err != nil {
		p := s.newPage(c, "register.title")
		p.Form["email"], p.Form["name"], p.Form["role"] = in.Email, in.Name, string(in.Role)
		status := s.formError(p, err)
		return s.render(c, status, "register", p)
	}
	setCookie(c, account.NewSessionCookie(token, sess.ExpiresAt, account.RequestFrom(ctx).Secure))
	return c.Redirect("/account", http.StatusSeeOther)
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
	Inbox       []jobs.Notification
	StaffStalls []catalog.Stall
}

func (s *Site) accountPage(c *fiber.Ctx) error {
	a, ok := account.From(c.UserContext())
	if !ok {
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), http.StatusSeeOther)
	}
	p := s.newPage(c, "account.title")
	items, _, err := s.inbox.List(c.UserContext(), a.User.ID, catalog.Page{Limit: 50})
	if err != nil {
		return err
	}
	staff, err := s.catalog.StaffStalls(c.UserContext(), a.User.Actor())
	if err != nil {
		return err
	}
	p.Data = accountView{Inbox: items, StaffStalls: staff}
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
