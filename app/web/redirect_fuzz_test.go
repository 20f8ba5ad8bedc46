package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever ?next= a visitor is sent with, the page redirects
// on this site. The target starts with a single "/" and, resolved against
// the site's address with net/url, keeps the site's host, also after the
// clean-up browsers make of a Location (tabs and line breaks dropped,
// backslashes read as slashes).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{
		"", "/", "/account", "/fairs/taizhou-2026?tab=stalls#map", "account",
		"//evil.example", "//evil.example/path", "/\\evil.example", "\\\\evil.example",
		"https://evil.example", "http:evil.example", "javascript:alert(1)",
		"/%2F%2Fevil.example", "/fairs/%E7%81%AF", "/a/../b", "./x", "?next=//evil",
		"/\tfairs", "/fairs\n", "/a\\b", " /account",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://fair.example/")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeNext(%q) = %q: not a path on this site", next, got)
		}
		for _, target := range []string{got, browserClean(got)} {
			if strings.HasPrefix(target, "//") {
				t.Fatalf("safeNext(%q) = %q: a browser reads it as %q, another host", next, got, target)
			}
			ref, err := url.Parse(target)
			if err != nil {
				continue // not a URL net/url can resolve; the browser's reading is checked above
			}
			if u := base.ResolveReference(ref); u.Host != base.Host || u.Scheme != base.Scheme {
				t.Fatalf("safeNext(%q) = %q resolves to %s, off the site", next, got, u)
			}
		}
	})
}

// browserClean is what a browser makes of a Location before resolving it
// (the WHATWG URL parser): ASCII tabs and line breaks removed, leading C0
// controls and spaces trimmed, backslashes taken as slashes.
func browserClean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, s)
	return strings.TrimLeft(s, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
}
