package account

import (
	"strings"
	"testing"
	"time"

	"miaohui/catalog"
)

func TestTokenSigner(t *testing.T) {
	s := &signer{key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_800_000_000, 0)
	claims := tokenClaims{SessionID: catalog.NewID(), UserID: catalog.NewID(), Role: catalog.RoleShopper, ExpiresAt: now.Add(time.Hour)}
	tok := s.issue(claims)

	got, ok := s.verify(tok, now)
	if !ok || got != claims {
		t.Fatalf("verify(issued) = %+v, %v; want %+v", got, ok, claims)
	}
	if _, ok := s.verify(tok, claims.ExpiresAt); ok {
		t.Error("a token is accepted at its expiry")
	}
	// Any change to the claims or the MAC is refused.
	other := catalog.NewID()
	dot := strings.LastIndexByte(tok, '.')
	flip := []byte(tok)
	flip[len(flip)-1] ^= 1
	for name, bad := range map[string]string{
		"another user":     strings.Replace(tok, claims.UserID, other, 1),
		"organizer":        strings.Replace(tok, string(catalog.RoleShopper), string(catalog.RoleOrganizer), 1),
		"later expiry":     strings.Replace(tok, ".1800003600.", ".1900003600.", 1),
		"a MAC bit":        string(flip),
		"no MAC":           tok[:dot],
		"a short MAC":      tok[:len(tok)-1],
		"a long MAC":       tok + "A",
		"an extra claim":   "m1.x." + tok[len("m1."):],
		"another prefix":   "m2" + tok[2:],
		"empty":            "",
		"a dot":            ".",
		"the MAC of other": s.issue(tokenClaims{SessionID: claims.SessionID, UserID: other, Role: catalog.RoleShopper, ExpiresAt: claims.ExpiresAt})[:dot] + tok[dot:],
	} {
		if got, ok := s.verify(bad, now); ok {
			t.Errorf("%s: %q accepted as %+v", name, bad, got)
		}
	}
	// Another deployment's key.
	if _, ok := (&signer{key: []byte("another key of thirty-two bytes!")}).verify(tok, now); ok {
		t.Error("a token is accepted under another key")
	}
}

func TestVerifiedTokens(t *testing.T) {
	s := &signer{key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_800_000_000, 0)
	a := tokenClaims{SessionID: "s-a", UserID: "u-a", Role: catalog.RoleShopper, ExpiresAt: now.Add(time.Hour)}
	ta := s.issue(a)
	v := newVerifiedTokens()
	if _, ok := v.get([]byte(ta), now); ok {
		t.Fatal("a token never put is found")
	}
	v.put(ta, a.ExpiresAt)
	f, ok := v.get([]byte(ta), now)
	if !ok || string(f.session) != a.SessionID || string(f.user) != a.UserID || roleOf(f.role) != a.Role {
		t.Fatalf("get = %q %q %q, %v", f.session, f.user, f.role, ok)
	}
	// A token with the same tail is another token: not taken for the first.
	same := "m1.s-b.u-b.organizer.1800003600." + ta[len(ta)-43:]
	if _, ok := v.get([]byte(same), now); ok {
		t.Error("a token sharing the signature of a verified one is taken for it")
	}
	if _, ok := v.get([]byte("short"), now); ok {
		t.Error("a short token is found")
	}
	if _, ok := v.get([]byte(ta), a.ExpiresAt); ok {
		t.Error("an expired token is found")
	}
	v.sweep(a.ExpiresAt)
	if _, ok := v.get([]byte(ta), now); ok {
		t.Error("an expired token is kept by the sweep")
	}
}

func TestSplitToken(t *testing.T) {
	f, ok := splitToken("m1.s.u.shopper.123.mac")
	if !ok || f.session != "s" || f.user != "u" || f.role != "shopper" || f.exp != "123" {
		t.Errorf("split: %+v, %v", f, ok)
	}
	for _, bad := range []string{"", "m1", "m1.s.u.shopper.123", "m1.s.u.shopper.123.mac.more", "m2.s.u.shopper.123.mac", "..........."} {
		if f, ok := splitToken([]byte(bad)); ok {
			t.Errorf("%q split into %+v", bad, f)
		}
	}
}

func TestRevocations(t *testing.T) {
	var r revocations
	now := time.Unix(1_800_000_000, 0)
	if r.has([]byte("s-1")) {
		t.Error("an empty list has a session")
	}
	r.add("s-1", now.Add(time.Minute))
	r.add("s-1", now.Add(time.Minute))
	r.add("s-2", now.Add(time.Hour))
	if !r.has([]byte("s-1")) || !r.has([]byte("s-2")) || r.has([]byte("s-3")) {
		t.Error("the list does not have what was added")
	}
	r.sweep(now.Add(2 * time.Minute))
	if r.has([]byte("s-1")) || !r.has([]byte("s-2")) || r.n.Load() != 1 {
		t.Errorf("after the sweep: s-1 %v, s-2 %v, %d kept", r.has([]byte("s-1")), r.has([]byte("s-2")), r.n.Load())
	}
}
