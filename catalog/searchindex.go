package catalog

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/mozillazg/go-pinyin"
	"github.com/uptrace/bun"
)

// The search index: the table search_terms holds, per product, the terms a
// shopper's words are looked up by — as the CJK analyzers of search engines
// do, every character and every pair of adjacent characters of the title,
// the description and the stall's name (lower-cased, within runs that
// whitespace separates), and the pinyin of the title and the stall's name:
// from each syllable on, the syllables joined ("p:tangbao") and their first
// letters ("i:tb"), up to maxSyllables of them, so that a word is found by a
// prefix range of the index. The rows are written in the transaction that
// writes the product or renames the stall.

// Where a term was found: the weight column is a set of these bits.
const (
	fieldDescription = 1
	fieldStall       = 2
	fieldTitle       = 4
	fieldTitleStart  = 8  // a term starting at the title's first character
	fieldTitleExact  = 16 // a term that is the whole title
)

// maxSyllables bounds the pinyin terms: a pinyin word longer than this many
// syllables is not found.
const maxSyllables = 6

// Pinyin term prefixes: the syllables joined, and their initials.
const (
	pinyinPrefix   = "p:"
	initialsPrefix = "i:"
)

var pinyinArgs = pinyin.NewArgs() // toneless, the most common reading of each character

// searchTerm is a row of search_terms.
type searchTerm struct {
	bun.BaseModel `bun:"table:search_terms"`

	FairID    string
	Term      string
	ProductID string
	Weight    int
}

// termSet maps each term to the fields it was found in.
type termSet map[string]int

// addGrams adds the unigrams and bigrams of text's words; a title's also
// say which one starts it and which one is the whole of it.
func (ts termSet) addGrams(text string, field int) {
	for wi, w := range strings.Fields(strings.ToLower(text)) {
		rs := []rune(w)
		for i := range rs {
			ts[string(rs[i])] |= field
			if i+1 < len(rs) {
				ts[string(rs[i:i+2])] |= field
			}
		}
		if field == fieldTitle && wi == 0 {
			ts[string(rs[0])] |= fieldTitleStart
			if len(rs) > 1 {
				ts[string(rs[:2])] |= fieldTitleStart
			}
			if lower := strings.ToLower(text); len(rs) <= 2 && string(rs) == lower {
				ts[lower] |= fieldTitleExact
			}
		}
	}
}

// syllable is the pinyin of the Han character at rune index At.
type syllable struct {
	At     int
	Pinyin string
}

// syllableRuns splits text's Han characters into runs of adjacent ones with
// their pinyin.
func syllableRuns(text string) [][]syllable {
	var runs [][]syllable
	var run []syllable
	i := 0
	for _, r := range text {
		var py []string
		if unicode.Is(unicode.Han, r) {
			py = pinyin.SinglePinyin(r, pinyinArgs)
		}
		if len(py) > 0 && py[0] != "" {
			run = append(run, syllable{At: i, Pinyin: strings.ReplaceAll(py[0], "ü", "v")})
		} else if len(run) > 0 {
			runs, run = append(runs, run), nil
		}
		i++
	}
	if len(run) > 0 {
		runs = append(runs, run)
	}
	return runs
}

// addPinyin adds the pinyin terms of text.
func (ts termSet) addPinyin(text string, field int) {
	for _, run := range syllableRuns(text) {
		for i := range run {
			var full, initials strings.Builder
			for j := i; j < len(run) && j < i+maxSyllables; j++ {
				full.WriteString(run[j].Pinyin)
				initials.WriteString(run[j].Pinyin[:1])
			}
			w := field
			if field == fieldTitle && run[i].At == 0 {
				w |= fieldTitleStart
			}
			ts[pinyinPrefix+full.String()] |= w
			ts[initialsPrefix+initials.String()] |= w
		}
	}
}

// productTerms are the index terms of a product of the stall named stallName.
func productTerms(title, description, stallName string) termSet {
	ts := termSet{}
	ts.addGrams(title, fieldTitle)
	ts.addGrams(stallName, fieldStall)
	ts.addGrams(description, fieldDescription)
	ts.addPinyin(title, fieldTitle)
	ts.addPinyin(stallName, fieldStall)
	return ts
}

// indexDoc is what the index is made of for one product.
type indexDoc struct {
	ID, FairID, Title, Description, StallName string
}

// writeTerms replaces the index rows of docs.
func writeTerms(ctx context.Context, db bun.IDB, docs []indexDoc) error {
	if len(docs) == 0 {
		return nil
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	if _, err := db.NewDelete().Model((*searchTerm)(nil)).Where("product_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	const batch = 2000 // rows per INSERT, within both databases' parameter limits
	rows := make([]searchTerm, 0, batch)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		_, err := db.NewInsert().Model(&rows).Exec(ctx)
		rows = rows[:0]
		if err != nil {
			return fmt.Errorf("search index: %w", err)
		}
		return nil
	}
	for _, d := range docs {
		for term, w := range productTerms(d.Title, d.Description, d.StallName) {
			rows = append(rows, searchTerm{FairID: d.FairID, Term: term, ProductID: d.ID, Weight: w})
			if len(rows) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// indexProducts rewrites the index rows of the products that where selects
// (a condition on products AS p and stalls AS st, with its args).
func indexProducts(ctx context.Context, db bun.IDB, where string, args ...any) error {
	var docs []indexDoc
	err := db.NewSelect().TableExpr("products AS p").Join("JOIN stalls AS st ON st.id = p.stall_id").
		ColumnExpr("p.id, p.fair_id, p.title, p.description, st.name AS stall_name").
		Where(where, args...).OrderExpr("p.id").Scan(ctx, &docs)
	if err != nil {
		return fmt.Errorf("search index: %w", err)
	}
	for len(docs) > 0 {
		n := min(len(docs), 500)
		if err := writeTerms(ctx, db, docs[:n]); err != nil {
			return err
		}
		docs = docs[n:]
	}
	return nil
}

// indexProduct rewrites a product's index rows (in the transaction that
// wrote it).
func indexProduct(ctx context.Context, db bun.IDB, p *Product, stallName string) error {
	return writeTerms(ctx, db, []indexDoc{{ID: p.ID, FairID: p.FairID, Title: p.Title, Description: p.Description, StallName: stallName}})
}

// RebuildSearchIndex rewrites the search index of a fair's products (of
// every fair's when fairID is empty) through db: for the migration that
// creates the index and for tools that insert products directly.
func RebuildSearchIndex(ctx context.Context, db bun.IDB, fairID string) error {
	if fairID == "" {
		return indexProducts(ctx, db, "TRUE")
	}
	return indexProducts(ctx, db, "p.fair_id = ?", fairID)
}

// RecountSold sets the units sold of a fair's products (every fair's when
// fairID is empty) from their orders: units checked out in orders not
// cancelled or refunded in whole (a flash sale's units are the sale's). For
// the migration that adds the count and for tools that insert orders
// directly; afterwards ReserveStock and ReturnStock keep it.
func RecountSold(ctx context.Context, db bun.IDB, fairID string) error {
	q := `UPDATE products SET sold = COALESCE(t.units, 0) FROM (
			SELECT i.product_id, SUM(i.quantity) AS units
			FROM order_items AS i JOIN orders AS o ON o.id = i.order_id
			WHERE o.status NOT IN ('cancelled', 'refunded') AND o.flash_sale_id IS NULL
			GROUP BY i.product_id
		) AS t WHERE t.product_id = products.id`
	var args []any
	if fairID != "" {
		q += ` AND products.fair_id = ?`
		args = append(args, fairID)
	}
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("units sold: %w", err)
	}
	return nil
}
