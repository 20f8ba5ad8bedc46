package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// assets are the embedded static files under names that carry a hash of
// their content (app.css → app.1a2b3c4d5e6f.css): a page names the hashed
// URL, so a phone may keep a file for a year and still get the new one the
// moment it changes. The plain names stay served, with a short cache life.
type assets struct {
	byHashed map[string]*asset // "app.1a2b3c4d5e6f.css" → the file
	urls     map[string]string // "app.css" → "/static/app.1a2b3c4d5e6f.css"
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

func loadAssets() (*assets, error) {
	a := &assets{byHashed: map[string]*asset{}, urls: map[string]string{}}
	err := fs.WalkDir(webFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.byHashed[hashed] = &asset{body: body, contentType: ct, etag: `"` + hash + `"`}
		a.urls[name] = "/static/" + hashed
		return nil
	})
	return a, err
}

// url is the hashed URL of a static file (its plain URL if there is no such file).
func (a *assets) url(name string) string {
	if u, ok := a.urls[name]; ok {
		return u
	}
	return "/static/" + name
}

// AssetURL is the hashed URL of the static file name (say "app.css").
func (s *Site) AssetURL(name string) string { return s.assets.url(name) }

// Asset serves a static file by its hashed name, cached for a year as
// immutable; other names go on to the plain file server.
func (s *Site) Asset(c *fiber.Ctx) error {
	f, ok := s.assets.byHashed[c.Params("*")]
	if !ok {
		return c.Next()
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderETag, f.etag)
	if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
		return c.SendStatus(http.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	return c.Send(f.body)
}
