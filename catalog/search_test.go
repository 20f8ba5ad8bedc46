package catalog_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"miaohui/catalog"
	"miaohui/catalog/catalogtest"
)

// searchWorld is a fair with two stalls: 老街臭干坊 and 靖江小吃.
type searchWorld struct {
	world
	k      *kit
	other  world // the second stall's
	titles map[string]string
}

func (k *kit) searchWorld() *searchWorld {
	k.t.Helper()
	w := k.world()
	st, m := k.stall(w.org, w.fair)
	sw := &searchWorld{world: w, k: k, other: world{org: w.org, fair: w.fair, stall: st, merchant: m}, titles: map[string]string{}}
	k.renameStall(w, "老街臭干坊")
	k.renameStall(sw.other, "靖江小吃")
	return sw
}

func (k *kit) renameStall(w world, name string) {
	k.t.Helper()
	if _, err := k.svc.UpdateStall(k.ctx, w.merchant, w.stall.ID, catalog.StallInput{Name: &name}); err != nil {
		k.t.Fatalf("rename stall: %v", err)
	}
}

// add puts a product on w's stall, with a description when one is given.
func (sw *searchWorld) add(w world, title string, description ...string) *catalog.Product {
	sw.k.t.Helper()
	in := goods(title, 1000, 10)
	if len(description) > 0 {
		in.Description = &description[0]
	}
	p := sw.k.product(w, in)
	sw.titles[p.ID] = title
	return p
}

// search returns the titles found for q, best first.
func (sw *searchWorld) search(t *testing.T, q string) []string {
	t.Helper()
	list, _, err := sw.k.svc.Products(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, catalog.ProductQuery{Q: q, Page: catalog.Page{Limit: 100}})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.Title
	}
	return out
}

func (sw *searchWorld) want(t *testing.T, q string, titles ...string) {
	t.Helper()
	if got := sw.search(t, q); strings.Join(got, "|") != strings.Join(titles, "|") {
		t.Errorf("search %q: %q, want %q", q, got, titles)
	}
}

// wantSet is want in any order.
func (sw *searchWorld) wantSet(t *testing.T, q string, titles ...string) {
	t.Helper()
	got := sw.search(t, q)
	slices.Sort(got)
	titles = slices.Clone(titles)
	slices.Sort(titles)
	if strings.Join(got, "|") != strings.Join(titles, "|") {
		t.Errorf("search %q: %q, want %q (any order)", q, got, titles)
	}
}

func TestSearch(t *testing.T) {
	t.Run("Lengths", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "靖江蟹黄汤包")
		sw.add(sw.other, "冰糖葫芦")
		sw.add(sw.world, "糖画")
		sw.add(sw.world, "葫芦糖 糖葫") // every pair of 糖葫芦 is here, the word is not
		sw.wantSet(t, "糖", "冰糖葫芦", "糖画", "葫芦糖 糖葫")
		sw.want(t, "汤包", "靖江蟹黄汤包")
		sw.want(t, "糖葫芦", "冰糖葫芦")
		sw.want(t, "蟹黄汤包", "靖江蟹黄汤包")
		sw.want(t, "蟹汤")
		sw.want(t, "北京烤鸭")
	})

	t.Run("Words", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "靖江蟹黄汤包")
		sw.add(sw.other, "蟹黄狮子头")
		sw.add(sw.other, "小笼汤包")
		sw.want(t, "蟹黄 汤包", "靖江蟹黄汤包")
		sw.want(t, "  汤包   蟹黄 ", "靖江蟹黄汤包")
		sw.want(t, "蟹黄 烤鸭")
	})

	t.Run("StallName", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.world, "泰州豆腐干")
		sw.add(sw.world, "油炸豆腐")
		sw.add(sw.other, "靖江蟹黄汤包")
		sw.wantSet(t, "老街臭干坊", "泰州豆腐干", "油炸豆腐")
		sw.wantSet(t, "臭干", "泰州豆腐干", "油炸豆腐")
		sw.want(t, "靖江 汤包", "靖江蟹黄汤包")
		sw.want(t, "豆腐 老街", "泰州豆腐干", "油炸豆腐")
	})

	t.Run("Pinyin", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "靖江蟹黄汤包")
		sw.add(sw.other, "冰糖葫芦")
		sw.add(sw.world, "唐宝瓷器")
		for _, q := range []string{"tangbao", "tang bao", "tangb", "TangBao"} {
			sw.wantSet(t, q, "靖江蟹黄汤包", "唐宝瓷器")
		}
		sw.want(t, "tanghulu", "冰糖葫芦")
		sw.want(t, "tanghu", "冰糖葫芦")
		sw.want(t, "bingtang", "冰糖葫芦")
		sw.want(t, "xiehuang tang", "靖江蟹黄汤包")
		sw.want(t, "tangbaoo")
		sw.want(t, "angbao")
	})

	t.Run("Initials", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "靖江蟹黄汤包")
		sw.add(sw.other, "冰糖葫芦")
		sw.wantSet(t, "tb", "靖江蟹黄汤包")
		sw.want(t, "bthl", "冰糖葫芦")
		sw.want(t, "jjxhtb", "靖江蟹黄汤包")
		sw.want(t, "xhb")
		// Stall names by initials and pinyin too: 老街臭干坊 is ljcgf.
		sw.add(sw.world, "豆腐干")
		sw.want(t, "ljcg", "豆腐干")
		sw.want(t, "choug", "豆腐干")
	})

	t.Run("Ranking", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		desc := sw.add(sw.other, "梨膏", "加了冰糖熬制") // description
		contains := sw.add(sw.other, "山楂冰糖葫芦")   // in the title
		prefix := sw.add(sw.other, "冰糖雪梨")       // the title starts with it
		exact := sw.add(sw.other, "冰糖")          // the title is the word
		sw.k.renameStall(sw.world, "冰糖铺")        // the stall's name
		stall := sw.add(sw.world, "黄冰")          // only the stall's name has 冰糖
		sw.want(t, "冰糖", exact.Title, prefix.Title, contains.Title, stall.Title, desc.Title)
		// Pinyin: the title starting with it first.
		sw.want(t, "bingtang", prefix.Title, exact.Title, contains.Title, stall.Title)
	})

	t.Run("RankingBySold", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		a := sw.add(sw.other, "兔儿爷甲")
		b := sw.add(sw.other, "兔儿爷乙")
		c := sw.add(sw.other, "兔儿爷丙")
		sw.want(t, "兔儿爷", a.Title, b.Title, c.Title) // no sales: by id
		reserve := func(p *catalog.Product, n int64) {
			if err := sw.k.svc.ReserveStock(sw.k.ctx, sw.k.db, p.ID, n); err != nil {
				t.Fatal(err)
			}
		}
		reserve(c, 3)
		reserve(b, 1)
		sw.want(t, "兔儿爷", c.Title, b.Title, a.Title)
		// Units given back no longer count.
		if err := sw.k.svc.ReturnStock(sw.k.ctx, sw.k.db, c.ID, 3); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "兔儿爷", b.Title, a.Title, c.Title)
	})

	t.Run("Updates", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		p := sw.add(sw.other, "蟹粉狮子头")
		q := sw.add(sw.world, "泰州臭干")
		sw.want(t, "狮子头", p.Title)
		if _, err := sw.k.svc.UpdateProduct(sw.k.ctx, sw.other.merchant, p.ID, catalog.ProductInput{Title: ptr("清炖鸡汤"), Description: ptr("老母鸡")}); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "狮子头")
		sw.want(t, "shizitou")
		sw.want(t, "鸡汤", "清炖鸡汤")
		sw.want(t, "qingdun", "清炖鸡汤")
		sw.want(t, "母鸡", "清炖鸡汤")

		// A renamed stall: found by the new name, not the old.
		sw.want(t, "靖江", "清炖鸡汤")
		sw.k.renameStall(sw.other, "扬州小馆")
		sw.want(t, "靖江")
		sw.want(t, "扬州", "清炖鸡汤")

		// Hidden products and suspended stalls are not found; back again when shown.
		if _, err := sw.k.svc.UpdateProduct(sw.k.ctx, sw.other.merchant, p.ID, catalog.ProductInput{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "鸡汤")
		if _, err := sw.k.svc.UpdateProduct(sw.k.ctx, sw.other.merchant, p.ID, catalog.ProductInput{Active: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "鸡汤", "清炖鸡汤")
		if _, err := sw.k.svc.SetStallStatus(sw.k.ctx, sw.org, sw.other.stall.ID, catalog.StallSuspended, "违规经营"); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "鸡汤")
		sw.want(t, "扬州")
		if _, err := sw.k.svc.SetStallStatus(sw.k.ctx, sw.org, sw.other.stall.ID, catalog.StallActive, ""); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "鸡汤", "清炖鸡汤")

		// A deleted product takes its terms with it.
		if _, err := sw.k.db.NewDelete().Table("products").Where("id = ?", q.ID).Exec(sw.k.ctx); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "臭干") // the stall 老街臭干坊 has no products left
		n, err := sw.k.db.NewSelect().Table("search_terms").Where("product_id = ?", q.ID).Count(sw.k.ctx)
		if err != nil || n != 0 {
			t.Errorf("%d terms left of a deleted product (%v)", n, err)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "灯笼甲")
		sw.add(sw.world, "灯笼乙")
		list, _, err := sw.k.svc.Products(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, catalog.ProductQuery{Q: "灯笼", StallID: sw.world.stall.ID})
		if err != nil || len(list) != 1 || list[0].Title != "灯笼乙" {
			t.Errorf("stall filter: %v %v", list, err)
		}
		list, _, err = sw.k.svc.Products(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, catalog.ProductQuery{Q: "灯笼", Kind: catalog.KindVoucher})
		if err != nil || len(list) != 0 {
			t.Errorf("kind filter: %v %v", list, err)
		}
		// Another fair's products are not found.
		k := sw.k
		other := k.world()
		k.product(other, goods("灯笼丙", 100, 1))
		sw.wantSet(t, "灯笼", "灯笼甲", "灯笼乙")
	})

	t.Run("Pages", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		for i := range 7 {
			p := sw.add(sw.other, fmt.Sprintf("灯笼%d号", i))
			if i%3 == 0 {
				if err := sw.k.svc.ReserveStock(sw.k.ctx, sw.k.db, p.ID, int64(i+1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		sw.add(sw.other, "灯笼")
		whole := sw.search(t, "灯笼")
		var walked []string
		cursor := ""
		for range 10 {
			list, next, err := sw.k.svc.Products(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, catalog.ProductQuery{Q: "灯笼", Page: catalog.Page{Limit: 3, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range list {
				walked = append(walked, p.Title)
			}
			if next == nil {
				break
			}
			cursor = *next
		}
		if len(whole) != 8 || strings.Join(walked, "|") != strings.Join(whole, "|") {
			t.Errorf("pages %q, whole list %q", walked, whole)
		}
		if whole[0] != "灯笼" || whole[1] != "灯笼6号" || whole[2] != "灯笼3号" || whole[3] != "灯笼0号" {
			t.Errorf("order %q: the exact title, then by units sold", whole)
		}
		_, _, err := sw.k.svc.Products(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, catalog.ProductQuery{Q: "灯笼", Page: catalog.Page{Cursor: "nonsense"}})
		catalogtest.WantInvalid(t, err, "cursor")
	})

	t.Run("Highlight", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "靖江蟹黄汤包")
		sw.add(sw.other, "Kids 灯笼 kids")
		cases := []struct {
			q, want string
		}{
			{"蟹黄", "[[2 4]]"},
			{"蟹黄 汤包", "[[2 6]]"},
			{"tangbao", "[[4 6]]"},
			{"tangb", "[[4 6]]"},
			{"tb", "[[4 6]]"},
			{"jjxh", "[[0 4]]"},
			{"靖江小吃", "[]"}, // found by the stall's name: nothing to mark in the title
			{"KIDS", "[[0 4] [8 12]]"},
			{"灯", "[[5 6]]"},
		}
		for _, c := range cases {
			list, _, err := sw.k.svc.Products(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, catalog.ProductQuery{Q: c.q})
			if err != nil || len(list) == 0 {
				t.Errorf("%s: %v %v", c.q, list, err)
				continue
			}
			if got := fmt.Sprint(list[0].Highlight); got != c.want {
				t.Errorf("%s: highlight %s of %q, want %s", c.q, got, list[0].Title, c.want)
			}
		}
	})

	t.Run("Suggest", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "糖葫芦")
		sw.add(sw.other, "冰糖葫芦")
		sw.add(sw.world, "臭豆腐")
		for i := range 12 {
			sw.add(sw.other, fmt.Sprintf("糖画%02d", i))
		}
		suggest := func(q string) []string {
			t.Helper()
			got, err := sw.k.svc.Suggest(sw.k.ctx, catalog.Actor{}, sw.fair.Slug, q, 0)
			if err != nil {
				t.Fatalf("suggest %q: %v", q, err)
			}
			out := make([]string, len(got))
			for i, s := range got {
				out[i] = s.Kind + ":" + s.Text
			}
			return out
		}
		got := suggest("糖")
		if len(got) != catalog.MaxSuggestions || got[0] != "product:糖葫芦" || got[1] != "product:糖画00" || slices.Contains(got, "product:冰糖葫芦") {
			t.Errorf("suggest 糖: %q (8, those starting with it first)", got)
		}
		if got := suggest("tanghul"); strings.Join(got, "|") != "product:糖葫芦|product:冰糖葫芦" {
			t.Errorf("suggest tanghul: %q", got)
		}
		if got := suggest("老街"); strings.Join(got, "|") != "stall:老街臭干坊" {
			t.Errorf("suggest 老街: %q", got)
		}
		if got := suggest("laoj"); strings.Join(got, "|") != "stall:老街臭干坊" {
			t.Errorf("suggest laoj: %q", got)
		}
		if got := suggest("烤鸭"); len(got) != 0 {
			t.Errorf("suggest 烤鸭: %q", got)
		}
		if got := suggest(" "); len(got) != 0 {
			t.Errorf("suggest blank: %q", got)
		}
		_, err := sw.k.svc.Suggest(sw.k.ctx, catalog.Actor{}, "no-such-fair", "糖", 0)
		catalogtest.WantErr(t, err, catalog.ErrNotFound)
	})

	t.Run("Tiers", func(t *testing.T) {
		// A word of one term is answered tier by tier; walked or sorted,
		// the order is the general query's.
		sw := newKit(t).searchWorld()
		sw.k.renameStall(sw.world, "糖果铺")
		sw.add(sw.world, "糖")
		for i := range 9 {
			var p *catalog.Product
			switch i % 3 {
			case 0:
				p = sw.add(sw.other, fmt.Sprintf("糖画%d", i))
			case 1:
				p = sw.add(sw.other, fmt.Sprintf("冰糖%d", i))
			default:
				p = sw.add(sw.world, fmt.Sprintf("豆腐%d", i), "糖")
			}
			if i%2 == 0 {
				if err := sw.k.svc.ReserveStock(sw.k.ctx, sw.k.db, p.ID, int64(i+1)); err != nil {
					t.Fatal(err)
				}
			}
		}
		sw.add(sw.other, "梨膏", "冰糖熬制")
		titles := func(hs []catalog.SearchHit) string {
			var out []string
			for _, h := range hs {
				out = append(out, fmt.Sprintf("%s/%d/%d", h.Title, h.Score, h.Sold))
			}
			return strings.Join(out, "|")
		}
		for _, limit := range []int64{3, 100} {
			walked, sorted, general, err := catalog.SearchEveryWay(sw.k.ctx, sw.k.db, sw.fair.ID, "糖", limit)
			if err != nil {
				t.Fatal(err)
			}
			if titles(walked) != titles(general) || titles(sorted) != titles(general) || len(general) != int(min(limit, 11)) {
				t.Errorf("limit %d:\nwalked  %s\nsorted  %s\ngeneral %s", limit, titles(walked), titles(sorted), titles(general))
			}
		}
		sw.want(t, "糖", "糖", "糖画6", "糖画0", "糖画3", "冰糖4", "冰糖1", "冰糖7", "豆腐8", "豆腐2", "豆腐5", "梨膏")
	})

	t.Run("Rebuild", func(t *testing.T) {
		sw := newKit(t).searchWorld()
		sw.add(sw.other, "靖江蟹黄汤包")
		if _, err := sw.k.db.NewDelete().Table("search_terms").Where("fair_id = ?", sw.fair.ID).Exec(sw.k.ctx); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "汤包")
		if err := catalog.RebuildSearchIndex(sw.k.ctx, sw.k.db, sw.fair.ID); err != nil {
			t.Fatal(err)
		}
		sw.want(t, "汤包", "靖江蟹黄汤包")
		sw.want(t, "tb", "靖江蟹黄汤包")
	})
}
