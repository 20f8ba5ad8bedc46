package catalog

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Searcher finds a fair's products by what a shopper types. The database's
// own index (DBSearcher) implements it; a larger deployment could put a
// search engine behind it.
type Searcher interface {
	// Search returns one page of the products matching q, best first, with
	// the cursor of the next page (nil at the end).
	Search(ctx context.Context, fairID string, q SearchQuery, p Page) ([]SearchHit, *string, error)
	// Suggest returns up to limit completions of text: titles and stall names.
	Suggest(ctx context.Context, fairID, text string, limit int) ([]Suggestion, error)
}

// SearchQuery is what a shopper looks for: words (all must match, in the
// title, the stall's name or the description; pure Latin words also as
// pinyin or its initials) and the list's filters.
type SearchQuery struct {
	Text     string
	StallID  string
	Kind     string
	Category string
}

// SearchHit is a product found, with what matched.
type SearchHit struct {
	ProductID string `bun:"id"`
	Title     string `bun:"title"`
	StallName string `bun:"stall_name"`
	Score     int    `bun:"score"`
	Sold      int64  `bun:"sold"`
	// Highlight is the matched parts of the title as [start, end) rune offsets.
	Highlight [][2]int `bun:"-"`
}

// Suggestion is a completion of what a shopper is typing.
type Suggestion struct {
	Text string `json:"text"`
	Kind string `json:"kind" enum:"product,stall"`
}

// Suggestion kinds.
const (
	SuggestProduct = "product"
	SuggestStall   = "stall"
)

// MaxSearchWords bounds the words of one query.
const MaxSearchWords = 8

// searchWord is one whitespace-separated word of a query.
type searchWord struct {
	text   string   // lower-cased
	grams  []string // its bigrams (its unigram when one character), distinct
	pinyin bool     // Latin letters only: pinyin or initials may match too
}

// parseQuery splits text into words and their index terms.
func parseQuery(text string) []searchWord {
	var words []searchWord
	seen := map[string]bool{}
	for _, f := range strings.Fields(strings.ToLower(text)) {
		if seen[f] {
			continue
		}
		seen[f] = true
		rs := []rune(f)
		w := searchWord{text: f, pinyin: isLetters(f) && len(rs) <= maxSyllables*6}
		grams := map[string]bool{}
		if len(rs) == 1 {
			grams[f] = true
		}
		for i := 0; i+1 < len(rs); i++ {
			grams[string(rs[i:i+2])] = true
		}
		for g := range grams {
			w.grams = append(w.grams, g)
		}
		sort.Strings(w.grams)
		words = append(words, w)
	}
	return words
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// DBSearcher is the Searcher over the database's search_terms index.
type DBSearcher struct {
	db   bun.IDB
	walk int // tiers larger than this are walked (see tiers)
}

// NewDBSearcher returns the searcher over db's index.
func NewDBSearcher(db bun.IDB) *DBSearcher { return &DBSearcher{db: db, walk: tierWalk} }

// Scores of one word by where it matched; a product's score is the sum over
// the query's words.
const (
	scoreTitleExact   = 1000
	scoreTitlePrefix  = 800
	scorePinyinPrefix = 700
	scoreTitle        = 600
	scorePinyinTitle  = 500
	scoreStall        = 300
	scorePinyinStall  = 250
	scoreDescription  = 100
	suggestCandidates = 100 // suggestions are drawn from the best this many hits
)

// Search finds the products of fairID matching q. One query answers it: per
// word the products holding all its terms (or, for Latin words, a pinyin or
// initials term starting with it), joined with the visible products and
// their stalls, each word checked as a substring and scored, ordered by
// score, then units sold, then id.
func (d *DBSearcher) Search(ctx context.Context, fairID string, q SearchQuery, p Page) ([]SearchHit, *string, error) {
	words := parseQuery(q.Text)
	if len(words) == 0 {
		return nil, nil, nil
	}
	if len(words) > MaxSearchWords {
		return nil, nil, Invalid("q", fmt.Sprintf("must have at most %d words", MaxSearchWords))
	}
	var after *searchCursor
	if p.Cursor != "" {
		c, ok := parseSearchCursor(p.Cursor)
		if !ok {
			return nil, nil, Invalid("cursor", "is not a cursor of this search")
		}
		after = &c
	}
	hits, err := d.find(ctx, fairID, q, words, after, p.Size()+1)
	if err != nil {
		return nil, nil, err
	}
	hits, next := NextCursor(p, hits, func(h SearchHit) string { return searchCursor{h.Score, h.Sold, h.ProductID}.String() })
	for i := range hits {
		hits[i].Highlight = highlight(hits[i].Title, words)
	}
	return hits, next, nil
}

// find returns up to limit hits after the cursor, best first: a word of one
// term tier by tier, anything else by the general query.
func (d *DBSearcher) find(ctx context.Context, fairID string, q SearchQuery, words []searchWord, after *searchCursor, limit int64) ([]SearchHit, error) {
	if w := words[0]; len(words) == 1 && len(w.grams) == 1 && !w.pinyin && q.StallID == "" && q.Kind == "" && q.Category == "" {
		return d.tiers(ctx, fairID, w.grams[0], after, limit)
	}
	return d.hits(ctx, fairID, q, words, after, limit)
}

// hits runs the search query.
func (d *DBSearcher) hits(ctx context.Context, fairID string, q SearchQuery, words []searchWord, after *searchCursor, limit int64) ([]SearchHit, error) {
	instr := "instr"
	if d.db.Dialect().Name() == dialect.PG {
		instr = "strpos" // strpos(string, substring), as SQLite's instr
	}
	var scores, joins, checks []string
	var scoreArgs, joinArgs []any
	for i, w := range words {
		alias := fmt.Sprintf("w%d", i)
		title, stall, desc := "lower(p.title)", "lower(st.name)", "lower(p.description)"
		if strings.ToUpper(w.text) == w.text {
			title, stall, desc = "p.title", "st.name", "p.description" // nothing to fold (Chinese)
		}
		scores = append(scores, fmt.Sprintf(`CASE
			WHEN %[15]s = ? THEN %[3]d
			WHEN %[1]s(%[15]s, ?) = 1 THEN %[4]d
			WHEN (%[2]s.pyw & %[11]d) <> 0 THEN %[5]d
			WHEN %[1]s(%[15]s, ?) > 0 THEN %[6]d
			WHEN (%[2]s.pyw & %[12]d) <> 0 THEN %[7]d
			WHEN %[1]s(%[16]s, ?) > 0 THEN %[8]d
			WHEN (%[2]s.pyw & %[13]d) <> 0 THEN %[9]d
			WHEN %[1]s(%[17]s, ?) > 0 THEN %[10]d
			ELSE 0 END AS s%[14]d`,
			instr, alias, scoreTitleExact, scoreTitlePrefix, scorePinyinPrefix, scoreTitle, scorePinyinTitle,
			scoreStall, scorePinyinStall, scoreDescription, fieldTitleStart, fieldTitle, fieldStall, i, title, stall, desc))
		scoreArgs = append(scoreArgs, w.text, w.text, w.text, w.text, w.text)
		sub := `SELECT product_id, 0 AS pyw FROM search_terms WHERE fair_id = ? AND term IN (?) GROUP BY product_id HAVING COUNT(*) = ?`
		subArgs := []any{fairID, bun.In(w.grams), len(w.grams)}
		if w.pinyin {
			// Pinyin terms are lower-case letters: '{' sorts after them.
			sub = `SELECT product_id, MAX(pyw) AS pyw FROM (` + sub + `
				UNION ALL SELECT product_id, MAX(weight) AS pyw FROM search_terms WHERE fair_id = ? AND term >= ? AND term < ? GROUP BY product_id
				UNION ALL SELECT product_id, MAX(weight) AS pyw FROM search_terms WHERE fair_id = ? AND term >= ? AND term < ? GROUP BY product_id
			) AS u GROUP BY product_id`
			subArgs = append(subArgs, fairID, pinyinPrefix+w.text, pinyinPrefix+w.text+"{", fairID, initialsPrefix+w.text, initialsPrefix+w.text+"{")
		}
		if i == 0 {
			joins = append(joins, fmt.Sprintf("(%s) AS %s", sub, alias))
		} else {
			joins = append(joins, fmt.Sprintf("JOIN (%s) AS %s ON %[2]s.product_id = w0.product_id", sub, alias))
		}
		joinArgs = append(joinArgs, subArgs...)
		checks = append(checks, fmt.Sprintf("c.s%d > 0", i))
	}
	sum := make([]string, len(words))
	for i := range words {
		sum[i] = fmt.Sprintf("c.s%d", i)
	}
	var filters strings.Builder
	filterArgs := []any{StallActive}
	if q.StallID != "" {
		filters.WriteString(" AND p.stall_id = ?")
		filterArgs = append(filterArgs, q.StallID)
	}
	if q.Kind != "" {
		filters.WriteString(" AND p.kind = ?")
		filterArgs = append(filterArgs, q.Kind)
	}
	if q.Category != "" {
		filters.WriteString(" AND p.category = ?")
		filterArgs = append(filterArgs, q.Category)
	}
	// The words' product sets drive the join: SQLite joins a CROSS JOIN in
	// the order written, so a rare word never scans the fair's products.
	query := `SELECT c.id, c.title, c.stall_name, c.sold, ` + strings.Join(sum, " + ") + ` AS score FROM (
		SELECT p.id, p.title, st.name AS stall_name, p.sold, ` + strings.Join(scores, ", ") + `
		FROM ` + strings.Join(joins, "\n") + `
		CROSS JOIN products AS p CROSS JOIN stalls AS st
		WHERE p.id = w0.product_id AND st.id = p.stall_id AND p.active AND st.status = ?` + filters.String() + `
	) AS c WHERE ` + strings.Join(checks, " AND ")
	args := append(append(append([]any{}, scoreArgs...), joinArgs...), filterArgs...)
	query = `SELECT h.id, h.title, h.stall_name, h.sold, h.score FROM (` + query + `) AS h`
	if after != nil {
		query += ` WHERE h.score < ? OR (h.score = ? AND (h.sold < ? OR (h.sold = ? AND h.id > ?)))`
		args = append(args, after.score, after.score, after.sold, after.sold, after.id)
	}
	query += ` ORDER BY h.score DESC, h.sold DESC, h.id ASC LIMIT ?`
	args = append(args, limit)

	var hits []SearchHit
	if err := d.db.NewRaw(query, args...).Scan(ctx, &hits); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return hits, nil
}

// scoreOfWeight is the score of a word of one term (one or two characters)
// found with these weight bits: as hits scores it, from the bits alone.
func scoreOfWeight(w int) int {
	switch {
	case w&fieldTitleExact != 0:
		return scoreTitleExact
	case w&fieldTitleStart != 0:
		return scoreTitlePrefix
	case w&fieldTitle != 0:
		return scoreTitle
	case w&fieldStall != 0:
		return scoreStall
	case w&fieldDescription != 0:
		return scoreDescription
	}
	return 0
}

// tierWalk is the size of a tier above which its page is found by walking
// the fair's products from the best sold, probing each for the term,
// rather than by sorting every product holding it.
const tierWalk = 400

// tiers answers a word of one term (the shortest and broadest queries, 糖)
// without sorting all the products that hold it: the term's rows are
// counted by score (up to the walking size, in the index alone), then each
// score's products,
// best first, are read until the page is full — a small tier by sorting its
// products, a large one by walking the fair's products by units sold and
// probing the index for each, which stops after about the page's size
// divided by the share of products in the tier.
func (d *DBSearcher) tiers(ctx context.Context, fairID, term string, after *searchCursor, limit int64) ([]SearchHit, error) {
	// Each tier is the weights of one score; its rows are a range of the
	// index per weight, counted only up to the walking size.
	type tier struct {
		score   int
		weights []int
		n       int
	}
	var ts []tier
	for _, sc := range []int{scoreTitleExact, scoreTitlePrefix, scoreTitle, scoreStall, scoreDescription} {
		if after != nil && sc > after.score {
			continue
		}
		t := tier{score: sc}
		for w := 1; w < 2*fieldTitleExact; w++ {
			if scoreOfWeight(w) == sc {
				t.weights = append(t.weights, w)
			}
		}
		ts = append(ts, t)
	}
	cols := make([]string, len(ts))
	var args []any
	for i, t := range ts {
		cols[i] = "(SELECT COUNT(*) FROM (SELECT 1 FROM search_terms WHERE fair_id = ? AND term = ? AND weight IN (?) LIMIT ?) AS c)"
		args = append(args, fairID, term, bun.In(t.weights), d.walk+1)
	}
	counts := make([]int, len(ts))
	dest := make([]any, len(ts))
	for i := range counts {
		dest[i] = &counts[i]
	}
	if err := d.db.NewRaw("SELECT "+strings.Join(cols, ", "), args...).Scan(ctx, dest...); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	for i := range ts {
		ts[i].n = counts[i]
	}
	var hits []SearchHit
	for _, t := range ts {
		if int64(len(hits)) >= limit {
			break
		}
		if t.n == 0 {
			continue
		}
		q := d.db.NewSelect().ColumnExpr("p.id, p.title, st.name AS stall_name, p.sold, ? AS score", t.score)
		if t.n <= d.walk {
			q = q.TableExpr("search_terms AS t").
				Join("CROSS JOIN products AS p").Join("CROSS JOIN stalls AS st").
				Where("t.fair_id = ? AND t.term = ? AND t.weight IN (?) AND p.id = t.product_id", fairID, term, bun.In(t.weights))
		} else {
			q = q.TableExpr("products AS p").
				Join("CROSS JOIN search_terms AS t").Join("CROSS JOIN stalls AS st").
				Where("p.fair_id = ? AND t.fair_id = p.fair_id AND t.term = ? AND t.product_id = p.id AND t.weight IN (?)", fairID, term, bun.In(t.weights))
		}
		q = q.Where("st.id = p.stall_id AND p.active AND st.status = ?", StallActive).
			OrderExpr("p.sold DESC, p.id ASC").Limit(limit - int64(len(hits)))
		if after != nil && t.score == after.score {
			q = q.Where("(p.sold < ? OR (p.sold = ? AND p.id > ?))", after.sold, after.sold, after.id)
		}
		var page []SearchHit
		if err := q.Scan(ctx, &page); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		hits = append(hits, page...)
	}
	return hits, nil
}

// searchCursor is where a page of search results ends.
type searchCursor struct {
	score int
	sold  int64
	id    string
}

func (c searchCursor) String() string {
	return fmt.Sprintf("s%d.%d.%s", c.score, c.sold, c.id)
}

func parseSearchCursor(s string) (searchCursor, bool) {
	parts := strings.SplitN(strings.TrimPrefix(s, "s"), ".", 3)
	if !strings.HasPrefix(s, "s") || len(parts) != 3 || parts[2] == "" || !utf8.ValidString(parts[2]) {
		return searchCursor{}, false
	}
	score, err1 := strconv.Atoi(parts[0])
	sold, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return searchCursor{}, false
	}
	return searchCursor{score, sold, parts[2]}, true
}

// Suggest completes text: the titles and the stall names it matches (as
// the search does, pinyin too), those that start with it first.
func (d *DBSearcher) Suggest(ctx context.Context, fairID, text string, limit int) ([]Suggestion, error) {
	words := parseQuery(text)
	if len(words) == 0 || len(words) > MaxSearchWords {
		return []Suggestion{}, nil
	}
	hits, err := d.find(ctx, fairID, SearchQuery{}, words, nil, suggestCandidates)
	if err != nil {
		return nil, err
	}
	type cand struct {
		Suggestion
		prefix bool
		order  int
	}
	var cands []cand
	seen := map[Suggestion]bool{}
	add := func(s Suggestion, marks [][2]int) {
		if len(marks) == 0 || seen[s] {
			return
		}
		seen[s] = true
		cands = append(cands, cand{s, marks[0][0] == 0, len(cands)})
	}
	for _, h := range hits {
		add(Suggestion{Text: h.Title, Kind: SuggestProduct}, highlight(h.Title, words))
		add(Suggestion{Text: h.StallName, Kind: SuggestStall}, highlight(h.StallName, words))
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].prefix && !cands[j].prefix })
	out := []Suggestion{}
	for _, c := range cands {
		if len(out) == limit {
			break
		}
		out = append(out, c.Suggestion)
	}
	return out, nil
}

// highlight returns the parts of text that words match — as substrings
// (case aside), as pinyin from a syllable on, or as initials — as merged
// [start, end) rune offsets.
func highlight(text string, words []searchWord) [][2]int {
	lower := []rune(strings.ToLower(text))
	if len(lower) != utf8.RuneCountInString(text) {
		lower = []rune(text) // lower-casing changed the length: match as is
	}
	var marks [][2]int
	for _, w := range words {
		wr := []rune(w.text)
		for i := 0; i+len(wr) <= len(lower); i++ {
			if string(lower[i:i+len(wr)]) == w.text {
				marks = append(marks, [2]int{i, i + len(wr)})
			}
		}
		if !w.pinyin {
			continue
		}
		for _, run := range syllableRuns(text) {
			for i := range run {
				if end := pinyinMatch(run[i:], w.text); end > 0 {
					marks = append(marks, [2]int{run[i].At, run[i+end-1].At + 1})
				}
			}
		}
	}
	return mergeRanges(marks)
}

// pinyinMatch reports how many syllables from the start of run the word
// covers as their pinyin joined (the last one may be cut short) or as their
// initials; 0 when it is neither.
func pinyinMatch(run []syllable, word string) int {
	rest := word
	for n := 0; n < len(run) && n < maxSyllables; n++ {
		py := run[n].Pinyin
		if strings.HasPrefix(py, rest) {
			return n + 1
		}
		if !strings.HasPrefix(rest, py) {
			break
		}
		rest = rest[len(py):]
	}
	if len(word) > min(len(run), maxSyllables) {
		return 0
	}
	for i := 0; i < len(word); i++ {
		if run[i].Pinyin[0] != word[i] {
			return 0
		}
	}
	return len(word)
}

func mergeRanges(rs [][2]int) [][2]int {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	out := [][2]int{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r[0] <= last[1] {
			last[1] = max(last[1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}
