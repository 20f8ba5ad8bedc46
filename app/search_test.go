package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"miaohui/catalog"
)

// TestSearchAPI checks the search's contract: words, stall names and pinyin
// found, best first, the title's matched parts in highlight, pages by
// cursor over the ranked order, suggestions, and the search page marking
// the matches (escaped).
func TestSearchAPI(t *testing.T) {
	e := newTestEnv(t)
	_, org := e.organizer(t, "organizer@example.com")
	e.createFair(t, org, e.fairBody("rank-fair", "temple_fair"))
	m1 := e.register("m1@example.com", catalog.RoleMerchant)
	m2 := e.register("m2@example.com", catalog.RoleMerchant)
	stallA := e.openStall(t, org, m1.Token, "rank-fair", "老街臭干坊")["id"].(string)
	stallB := e.openStall(t, org, m2.Token, "rank-fair", "靖江小吃")["id"].(string)
	e.createProduct(t, m1.Token, stallA, goods("油炸豆腐", 800, 5))
	e.createProduct(t, m2.Token, stallB, goods("靖江蟹黄汤包", 4800, 30))
	e.createProduct(t, m2.Token, stallB, goods("汤包<礼盒>", 9800, 3))
	body := goods("素汤", 500, 3)
	body["description"] = "配汤包吃"
	e.createProduct(t, m2.Token, stallB, body)

	search := func(t *testing.T, query string) response {
		t.Helper()
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/rank-fair/products?" + query})
		wantStatus(t, res, http.StatusOK)
		return res
	}
	titles := func(t *testing.T, q string) string {
		t.Helper()
		return strings.Join(listField(listItems(t, search(t, "q="+url.QueryEscape(q))), "title"), "|")
	}
	cases := []struct{ q, want string }{
		{"汤包", "汤包<礼盒>|靖江蟹黄汤包|素汤"}, // title start, title, description
		{"蟹黄 汤包", "靖江蟹黄汤包"},
		{"tangbao", "汤包<礼盒>|靖江蟹黄汤包"},
		{"tb", "汤包<礼盒>|靖江蟹黄汤包"},
		{"老街臭干坊", "油炸豆腐"},
		{"臭干", "油炸豆腐"},
		{"烤鸭", ""},
	}
	for _, c := range cases {
		if got := titles(t, c.q); got != c.want {
			t.Errorf("q=%s: %s, want %s", c.q, got, c.want)
		}
	}

	t.Run("Highlight", func(t *testing.T) {
		res := search(t, "q="+url.QueryEscape("蟹黄"))
		var list struct {
			Items []struct {
				Title     string   `json:"title"`
				Highlight [][2]int `json:"highlight"`
			} `json:"items"`
		}
		if err := json.Unmarshal(res.Body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || len(list.Items[0].Highlight) != 1 || list.Items[0].Highlight[0] != [2]int{2, 4} {
			t.Errorf("highlight: %s", res.Body)
		}
		// Lists without a query have no highlight field.
		if strings.Contains(string(search(t, "limit=100").Body), "highlight") {
			t.Error("a list without a query has highlights")
		}
	})

	t.Run("Pages", func(t *testing.T) {
		var got []string
		path := "limit=1&q=" + url.QueryEscape("汤包")
		for range 5 {
			res := search(t, path)
			got = append(got, listField(listItems(t, res), "title")...)
			next, _ := res.JSON(t)["next_cursor"].(string)
			if next == "" {
				break
			}
			path = "limit=1&q=" + url.QueryEscape("汤包") + "&cursor=" + url.QueryEscape(next)
		}
		if strings.Join(got, "|") != "汤包<礼盒>|靖江蟹黄汤包|素汤" {
			t.Errorf("pages: %q", got)
		}
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/rank-fair/products?q=" + url.QueryEscape("汤包") + "&cursor=x"}), "cursor")
		wantField(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/rank-fair/products?q=" + url.QueryEscape("a b c d e f g h i")}), "q")
	})

	t.Run("Suggest", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/api/v1/fairs/rank-fair/suggest?q=" + url.QueryEscape("tang")})
		wantStatus(t, res, http.StatusOK)
		var got struct {
			Items []catalog.Suggestion `json:"items"`
		}
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Items) == 0 || got.Items[0] != (catalog.Suggestion{Text: "汤包<礼盒>", Kind: "product"}) {
			t.Errorf("suggest tang: %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/rank-fair/suggest?q=" + url.QueryEscape("老街")})
		if !strings.Contains(string(res.Body), `{"text":"老街臭干坊","kind":"stall"}`) {
			t.Errorf("suggest 老街: %s", res.Body)
		}
		res = e.do(req{Method: "GET", Path: "/api/v1/fairs/rank-fair/suggest?q="})
		wantStatus(t, res, http.StatusOK)
		if !strings.Contains(string(res.Body), `"items":[]`) {
			t.Errorf("suggest nothing: %s", res.Body)
		}
		wantProblem(t, e.do(req{Method: "GET", Path: "/api/v1/fairs/no-such-fair/suggest?q=a"}), http.StatusNotFound, "not_found")
	})

	t.Run("Page", func(t *testing.T) {
		res := e.do(req{Method: "GET", Path: "/fairs/rank-fair/search?q=" + url.QueryEscape("汤包"), Header: map[string]string{"Accept": "text/html"}})
		wantStatus(t, res, http.StatusOK)
		html := string(res.Body)
		for _, want := range []string{"<mark>汤包</mark>&lt;礼盒&gt;", "靖江蟹黄<mark>汤包</mark>", `data-suggest="/api/v1/fairs/rank-fair/suggest"`} {
			if !strings.Contains(html, want) {
				t.Errorf("search page lacks %s", want)
			}
		}
		if strings.Contains(html, "<礼盒>") {
			t.Error("the title is not escaped")
		}
	})
}
