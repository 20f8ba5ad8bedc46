package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The installable web app: its manifest, its service worker (which keeps the
// buyer's fair pass and orders for use without signal; static/sw.js), the
// page shown offline, and the QR codes of the share posters.
func (s *Site) pwaRoutes(r fiber.Router) {
	r.Get("/manifest.webmanifest", s.manifest)
	r.Get("/sw.js", s.serviceWorker)
	r.Get("/offline", s.offlinePage)
	r.Get("/favicon.ico", func(c *fiber.Ctx) error { return c.Redirect(s.assets.url("icon-192.png"), http.StatusMovedPermanently) })
	r.Get("/share/qr.png", s.shareQR)
}

func (s *Site) manifest(c *fiber.Ctx) error {
	p := s.page(c, "brand")
	m := map[string]any{
		"name": p.T("brand") + " · " + p.T("share.title_app"), "short_name": p.T("brand"),
		"description": p.T("share.default_description"), "lang": p.Lang,
		"start_url": "/", "scope": "/", "display": "standalone",
		"background_color": "#fbf3e4", "theme_color": "#c81e1e",
		"icons": []map[string]string{
			{"src": s.assets.url("icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
			{"src": s.assets.url("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
		},
	}
	c.Set(fiber.HeaderContentType, "application/manifest+json")
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.JSON(m)
}

// serviceWorker serves static/sw.js with the hashed URLs of the files it
// keeps and a version that changes with them, so a new release replaces
// the old cache. It is revalidated on every load, as browsers expect.
func (s *Site) serviceWorker(c *fiber.Ctx) error {
	body, err := webFS.ReadFile("static/sw.js")
	if err != nil {
		return err
	}
	core := []string{s.assets.url("app.css"), s.assets.url("app.js"), s.assets.url("icon-192.png")}
	list, _ := json.Marshal(core)
	sum := sha256.Sum256(list)
	js := strings.NewReplacer("__VERSION__", hex.EncodeToString(sum[:6]), "__ASSETS__", string(list)).Replace(string(body))
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.SendString(js)
}

// offlinePage is what the service worker shows for a page it cannot reach:
// links to the passes and orders kept on the phone.
func (s *Site) offlinePage(c *fiber.Ctx) error {
	p := s.page(c, "offline.title")
	return s.render(c, http.StatusOK, "offline", p)
}
