package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"miaohui/catalog"
)

// The phone navigation: a one-row header (brand, inbox, language) and a tab
// bar fixed at the bottom of the screen whose tabs depend on the role. A
// shopper (or a visitor) gets 首页 / 逛庙会 / 购物车 / 订单 / 我的; a merchant
// or an organizer their console instead of the cart and orders.

// navTab is one tab of the bottom bar.
type navTab struct {
	Key, Href, Label string
	Current          bool
	Badge            string // the cart's count
}

// Tabs are the bottom bar's tabs for the page's user, the current one marked.
func (p *Page) Tabs() []navTab {
	me := "/account"
	if p.User == nil {
		me = "/login?next=" + url.QueryEscape(safeNext(p.Path))
	}
	tabs := []navTab{{Key: "home", Href: "/", Label: p.T("tab.home")}}
	role := catalog.RoleShopper
	if p.User != nil {
		role = p.User.Role
	}
	switch role {
	case catalog.RoleMerchant:
		tabs = append(tabs, navTab{Key: "browse", Href: "/browse", Label: p.T("tab.browse")},
			navTab{Key: "merchant", Href: "/merchant", Label: p.T("tab.merchant")})
	case catalog.RoleOrganizer:
		tabs = append(tabs, navTab{Key: "browse", Href: "/browse", Label: p.T("tab.browse")},
			navTab{Key: "organizer", Href: "/organizer", Label: p.T("tab.organizer")})
	case catalog.RoleAdmin:
		tabs = append(tabs, navTab{Key: "queues", Href: "/organizer/queues", Label: p.T("tab.queues")})
	default:
		tabs = append(tabs, navTab{Key: "browse", Href: "/browse", Label: p.T("tab.browse")},
			navTab{Key: "cart", Href: "/cart", Label: p.T("nav.cart"), Badge: p.Form["_cart"]},
			navTab{Key: "orders", Href: "/orders", Label: p.T("nav.orders")})
	}
	tabs = append(tabs, navTab{Key: "me", Href: me, Label: p.T("tab.me")})
	cur := p.tabOf()
	for i := range tabs {
		tabs[i].Current = tabs[i].Key == cur
	}
	return tabs
}

// tabOf is the tab the page's path belongs to.
func (p *Page) tabOf() string {
	path := p.Path
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	under := func(prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }
	switch {
	case path == "/":
		return "home"
	case under("/cart"), under("/checkout"):
		return "cart"
	case under("/orders"), under("/pay"):
		return "orders"
	case under("/account"), under("/login"), under("/register"), under("/password"):
		return "me"
	case under("/organizer/queues"):
		return "queues"
	case under("/merchant"):
		return "merchant"
	case under("/organizer"):
		return "organizer"
	case under("/browse"), under("/fairs"), under("/stalls"), under("/products"), under("/flash-sales"):
		return "browse"
	}
	return ""
}

// browsePage sends the 逛庙会 tab to the fair on now: the first open fair,
// else the first coming one, else the list of fairs.
func (s *Site) browsePage(c *fiber.Ctx) error {
	slug, err := s.liveFairSlug(c.UserContext())
	if err != nil {
		return err
	}
	if slug == "" {
		return c.Redirect("/#fairs", http.StatusSeeOther)
	}
	return c.Redirect("/fairs/"+url.PathEscape(slug), http.StatusSeeOther)
}

// liveFairSlug is the slug of the first open fair, else of the first
// upcoming one; "" when there is neither.
func (s *Site) liveFairSlug(ctx context.Context) (string, error) {
	fairs, _, err := s.catalog.Fairs(ctx, catalog.Actor{}, catalog.Page{Limit: 30})
	if err != nil {
		return "", err
	}
	upcoming := ""
	for _, f := range fairs {
		switch {
		case f.Status == catalog.FairOpen:
			return f.Slug, nil
		case f.Status == catalog.FairUpcoming && upcoming == "":
			upcoming = f.Slug
		}
	}
	return upcoming, nil
}
