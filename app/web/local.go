package web

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LocalPath returns s if it is a path on this site that is safe to send a
// browser to, and false otherwise. Every redirect built from user input
// goes through it.
//
// A local path starts with one "/" and names no scheme or host. Browsers
// drop tabs and newlines from a URL and read "\" as "/", so "/\t/evil.example"
// and "/\evil.example" lead off the site; and a CR or LF in a Location header
// would start a header of its own. Rather than strip such characters, the
// path is refused: it holds no control character or white space at all and
// is valid UTF-8.
func LocalPath(s string) (string, bool) {
	if !strings.HasPrefix(s, "/") || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", false
		}
	}
	if strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return s, true
}

// safeNext is next if it is a local path, or the home page.
func safeNext(next string) string {
	if p, ok := LocalPath(next); ok {
		return p
	}
	return "/"
}
