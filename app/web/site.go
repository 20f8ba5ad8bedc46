package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/jobs"
	"miaohui/orders"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"github.com/gofiber/fiber/v2"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed templates/*.html static locales/*.json
var webFS embed.FS

// Languages the pages speak; the first is the default.
var (
	languages = []language.Tag{language.SimplifiedChinese, language.English}
	langNames = map[language.Tag]string{language.SimplifiedChinese: "zh-CN", language.English: "en"}
	matcher   = language.NewMatcher(languages)
)

// LangCookie remembers the language a visitor chose.
const LangCookie = "fair_lang"

// Deps are the services the pages call: the same ones the API calls.
type Deps struct {
	Logger    *slog.Logger
	DB        *bun.DB
	Redis     redis.UniversalClient
	Now       catalog.Clock
	Accounts  *account.Accounts
	Auth      *account.Handler
	Catalog   *catalog.Service
	Orders    *orders.Service
	Admission *orders.Admission
	Inbox     *jobs.Inbox
	// PublicURL is the site's address in links sent by email (password
	// resets), never read from the request's Host.
	PublicURL string
}

// Site renders the server-side pages: an embedded template per page over one
// layout, and message catalogs for zh-CN and English. Forms post back to the
// pages' own routes and call the same services as the API.
type Site struct {
	log      *slog.Logger
	db       *bun.DB
	rdb      redis.UniversalClient
	now      catalog.Clock
	accounts *account.Accounts
	auth     *account.Handler
	catalog  *catalog.Service
	orders   *orders.Service
	flash    *orders.Admission
	inbox    *jobs.Inbox
	public   string

	bundle *i18n.Bundle
	pages  map[string]*template.Template
	assets *assets
}

// New parses the embedded templates and message catalogs.
func New(d Deps) (*Site, error) {
	b := i18n.NewBundle(language.SimplifiedChinese)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, f := range []string{"locales/zh-CN.json", "locales/en.json"} {
		if _, err := b.LoadMessageFileFS(webFS, f); err != nil {
			return nil, err
		}
	}
	w := &Site{
		log: d.Logger, db: d.DB, rdb: d.Redis, now: d.Now, accounts: d.Accounts, auth: d.Auth,
		catalog: d.Catalog, orders: d.Orders, flash: d.Admission, inbox: d.Inbox, public: d.PublicURL,
		bundle: b, pages: map[string]*template.Template{},
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	w.assets = assets
	files, err := fs.Glob(webFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"asset": w.assets.url,
		"datetime": func(t time.Time, lang string) string {
			t = t.In(catalog.FairZone)
			if lang == "en" {
				return t.Format("2 Jan 2006 15:04")
			}
			return t.Format("2006年1月2日 15:04")
		},
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		w.pages[name] = t
	}
	return w, nil
}

// Page is what every template gets: the language, a translator, the signed-in
// user and the CSRF token for forms, plus the page's own data.
type Page struct {
	Lang   string
	Path   string
	Title  string
	User   *account.User
	CSRF   string
	Unread int64
	Error  string
	Form   map[string]string
	Errors map[string]string
	Data   any
	// Share is the page's share card (its head's description and Open
	// Graph tags, and the share poster), on pages worth sharing.
	Share *ShareCard

	loc *i18n.Localizer
}

// T translates a message id; args are alternating names and values.
func (p *Page) T(id string, args ...any) string {
	var data map[string]any
	if len(args) > 1 {
		data = map[string]any{}
		for i := 0; i+1 < len(args); i += 2 {
			data[fmt.Sprint(args[i])] = args[i+1]
		}
	}
	s, err := p.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if err != nil {
		return id
	}
	return s
}

// OtherLang is the language the switch in the header offers.
func (p *Page) OtherLang() string {
	if p.Lang == "en" {
		return "zh-CN"
	}
	return "en"
}

// Lang picks the page language: the visitor's explicit choice (cookie) first,
// then Accept-Language, then Chinese.
func Lang(c *fiber.Ctx) string {
	if v := c.Cookies(LangCookie); v == "en" || v == "zh-CN" {
		return v
	}
	tags, _, _ := language.ParseAcceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
	_, idx, conf := matcher.Match(tags...)
	if conf == language.No {
		return "zh-CN"
	}
	return langNames[languages[idx]]
}

// newPage starts the data of a page for the current request.
func (s *Site) newPage(c *fiber.Ctx, titleID string) *Page {
	l := Lang(c)
	p := &Page{Lang: l, Path: c.OriginalURL(), loc: i18n.NewLocalizer(s.bundle, l), Form: map[string]string{}, Errors: map[string]string{}}
	if a, ok := account.From(c.UserContext()); ok {
		u := a.User
		p.User = &u
		p.CSRF = a.Session.CSRFToken
		p.Unread, _ = s.inbox.Unread(c.UserContext(), u.ID)
		s.cartBadge(c.UserContext(), p, u.Actor())
	}
	p.Title = p.T(titleID)
	return p
}

// render writes a page with the given status.
func (s *Site) render(c *fiber.Ctx, status int, name string, p *Page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).Send(buf.Bytes())
}

// StaticFS is the embedded assets served under /static.
func StaticFS() http.FileSystem {
	sub, err := fs.Sub(webFS, "static")
	if err != nil {
		panic(err)
	}
	return http.FS(sub)
}

// Error renders the error page for a failed page request: status and the
// public detail of the problem it was answered with.
func (s *Site) Error(c *fiber.Ctx, status int, err error, detail string) error {
	page := s.newPage(c, "error.title")
	switch {
	case status == http.StatusNotFound:
		page.Error = page.T("error.not_found")
	case status == http.StatusForbidden && errors.Is(err, account.ErrCSRF):
		page.Error = page.T("err.csrf")
	case status == http.StatusForbidden:
		page.Error = page.T("error.forbidden")
	case status >= 500:
		page.Error = page.T("error.internal")
	default:
		page.Error = detail
	}
	return s.render(c, status, "error", page)
}
