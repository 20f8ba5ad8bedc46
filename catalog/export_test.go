package catalog

import (
	"context"

	"github.com/uptrace/bun"
)

// SearchEveryWay answers a one-term word three ways — walking every tier,
// sorting every tier, and by the general query — for tests to compare.
func SearchEveryWay(ctx context.Context, db bun.IDB, fairID, word string, limit int64) (walked, sorted, general []SearchHit, err error) {
	words := parseQuery(word)
	if walked, err = (&DBSearcher{db: db, walk: 0}).tiers(ctx, fairID, words[0].grams[0], nil, limit); err != nil {
		return
	}
	if sorted, err = (&DBSearcher{db: db, walk: 1 << 30}).tiers(ctx, fairID, words[0].grams[0], nil, limit); err != nil {
		return
	}
	general, err = NewDBSearcher(db).hits(ctx, fairID, SearchQuery{}, words, nil, limit)
	return
}
