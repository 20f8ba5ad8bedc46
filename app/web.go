package app

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed web/templates/*.html web/static web/locales/*.json
var webFS embed.FS

// Languages the pages speak; the first is the default.
var (
	languages = []language.Tag{language.SimplifiedChinese, language.English}
	langNames = map[language.Tag]string{language.SimplifiedChinese: "zh-CN", language.English: "en"}
	matcher   = language.NewMatcher(languages)
)

const langCookie = "fair_lang"

// Web renders the server-side pages: an embedded template per page over one
// layout, and message catalogs for zh-CN and English.
type Web struct {
	bundle *i18n.Bundle
	pages  map[string]*template.Template
}

// NewWeb parses the embedded templates and message catalogs.
func NewWeb() (*Web, error) {
	b := i18n.NewBundle(language.SimplifiedChinese)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	for _, f := range []string{"web/locales/zh-CN.json", "web/locales/en.json"} {
		if _, err := b.LoadMessageFileFS(webFS, f); err != nil {
			return nil, err
		}
	}
	w := &Web{bundle: b, pages: map[string]*template.Template{}}
	files, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"datetime": func(t time.Time, lang string) string {
			t = t.In(shanghai)
			if lang == "en" {
				return t.Format("2 Jan 2006 15:04")
			}
			return t.Format("2006年1月2日 15:04")
		},
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "web/templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		w.pages[name] = t
	}
	return w, nil
}

// shanghai is the fairs' time zone, for times shown on pages.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// Page is what every template gets: the language, a translator, the signed-in
// user and the CSRF token for forms, plus the page's own data.
type Page struct {
	Lang   string
	Path   string
	Title  string
	User   *User
	CSRF   string
	Unread int64
	Error  string
	Form   map[string]string
	Errors map[string]string
	Data   any

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

// lang picks the page language: the visitor's explicit choice (cookie) first,
// then Accept-Language, then Chinese.
func lang(c *fiber.Ctx) string {
	if v := c.Cookies(langCookie); v == "en" || v == "zh-CN" {
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
func (s *Server) newPage(c *fiber.Ctx, titleID string) *Page {
	l := lang(c)
	p := &Page{Lang: l, Path: c.OriginalURL(), loc: i18n.NewLocalizer(s.web.bundle, l), Form: map[string]string{}, Errors: map[string]string{}}
	if a, ok := authFrom(c.UserContext()); ok {
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
func (s *Server) render(c *fiber.Ctx, status int, name string, p *Page) error {
	t, ok := s.web.pages[name]
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

// staticFS is the embedded assets served under /static.
func staticFS() http.FileSystem {
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		panic(err)
	}
	return http.FS(sub)
}
