package web

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/skip2/go-qrcode"
)

// ShareCard is how a page shows when its link is shared: the description
// and Open Graph card that WeChat and other apps read from the page's head,
// and what the share poster (分享海报) draws. URLs are absolute.
type ShareCard struct {
	Title, Description string
	// Image is the picture of the card (absolute URL), if any.
	Image string
	// URL is the page's own address; QR is its QR code for the poster.
	URL, QR string
	// Price is the line the poster prints in red (a price, or dates).
	Price string
}

// shareDescriptionRunes bounds a card's description: WeChat shows two lines.
const shareDescriptionRunes = 100

// share sets the page's share card: title and description, the image at
// path image (may be empty) and the price line, for the page at c's path.
func (s *Site) share(c *fiber.Ctx, p *Page, title, description, image, price string) {
	base := c.BaseURL()
	description = strings.Join(strings.Fields(description), " ")
	if utf8.RuneCountInString(description) > shareDescriptionRunes {
		description = string([]rune(description)[:shareDescriptionRunes-1]) + "…"
	}
	if description == "" {
		description = p.T("share.default_description")
	}
	if image != "" && strings.HasPrefix(image, "/") {
		image = base + image
	}
	path := c.Path()
	p.Share = &ShareCard{
		Title: title, Description: description, Image: image, Price: price,
		URL: base + path, QR: "/share/qr.png?path=" + url.QueryEscape(path),
	}
}

// shareQR is the QR code of one of the site's own pages (a path), for the
// share poster; anything else is a 404, so the site never draws QR codes of
// other sites' links.
func (s *Site) shareQR(c *fiber.Ctx) error {
	path, ok := LocalPath(c.Query("path"))
	if !ok {
		return fiber.ErrNotFound
	}
	png, err := qrcode.Encode(c.BaseURL()+path, qrcode.Medium, -8)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Status(http.StatusOK).Send(png)
}
