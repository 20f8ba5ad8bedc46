package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"miaohui/catalog"
)

// Session tokens carry their session, user, role and expiry under an HMAC
// with a key the deployment's processes share (kept in the settings table).
// The database still stores only the token's SHA-256 and is asked on every
// ordinary request; the flash-sale purchase checks the signature and an
// in-memory list of revoked sessions instead, so it never waits on the
// database. A token is 256 bits of MAC over its claims: unguessable.

const tokenPrefix = "m1"

// tokenClaims is what a verified token says.
type tokenClaims struct {
	SessionID string
	UserID    string
	Role      catalog.Role
	ExpiresAt time.Time
}

// signer issues and verifies tokens and CSRF tokens.
type signer struct {
	key  []byte
	macs sync.Pool // hash.Hash keyed with key: a flash sale checks thousands of new tokens a second
}

// loadSigner reads the deployment's signing key, creating it the first time.
func loadSigner(ctx context.Context, db bun.IDB) (*signer, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	row := map[string]any{"key": "session_key", "value": hex.EncodeToString(raw)}
	if _, err := db.NewInsert().Model(&row).TableExpr("settings").On("CONFLICT (key) DO NOTHING").Exec(ctx); err != nil {
		return nil, err
	}
	var value string
	if err := db.NewSelect().TableExpr("settings").Column("value").Where("key = ?", "session_key").Scan(ctx, &value); err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(value)
	if err != nil {
		return nil, err
	}
	return &signer{key: key}, nil
}

func (s *signer) mac(parts ...string) string {
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.key)
	}
	m.Reset()
	for i, p := range parts {
		if i > 0 {
			m.Write([]byte{'.'})
		}
		io.WriteString(m, p)
	}
	var sum [sha256.Size]byte
	out := base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0]))
	s.macs.Put(m)
	return out
}

// issue returns the token of a session.
func (s *signer) issue(c tokenClaims) string {
	exp := strconv.FormatInt(c.ExpiresAt.Unix(), 10)
	body := []string{tokenPrefix, c.SessionID, c.UserID, string(c.Role), exp}
	return strings.Join(body, ".") + "." + s.mac(body...)
}

// verify checks a token's MAC and expiry. The MAC covers everything before
// the last dot, so it is computed over that part of the token as it is, and
// the claims are slices of the token: a new buyer's first purchase costs one
// HMAC and no allocation.
func (s *signer) verify(token string, now time.Time) (tokenClaims, bool) {
	dot := strings.LastIndexByte(token, '.')
	var sum [sha256.Size]byte
	var want [43]byte // base64 of a SHA-256 without padding
	if dot < 0 || len(token)-dot-1 != len(want) {
		return tokenClaims{}, false
	}
	m, _ := s.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.key)
	}
	m.Reset()
	io.WriteString(m, token[:dot])
	base64.RawURLEncoding.Encode(want[:], m.Sum(sum[:0]))
	s.macs.Put(m)
	// Compared in constant time, without copying the token.
	var diff byte
	for i, c := range want {
		diff |= c ^ token[dot+1+i]
	}
	if diff != 0 {
		return tokenClaims{}, false
	}
	f, ok := splitToken(token)
	if !ok {
		return tokenClaims{}, false
	}
	exp, err := strconv.ParseInt(f.exp, 10, 64)
	if err != nil || now.Unix() >= exp {
		return tokenClaims{}, false
	}
	return tokenClaims{SessionID: f.session, UserID: f.user, Role: catalog.Role(f.role), ExpiresAt: time.Unix(exp, 0)}, true
}

// tokenFields are the claims of a token, as slices of it.
type tokenFields[T string | []byte] struct {
	session, user, role, exp T
}

// splitToken cuts a token at its dots into its claims, checking its prefix
// and that a MAC follows them.
func splitToken[T string | []byte](token T) (f tokenFields[T], ok bool) {
	var parts [6]T
	n, start := 0, 0
	for i := 0; i <= len(token); i++ {
		if i < len(token) && token[i] != '.' {
			continue
		}
		if n == len(parts) {
			return f, false
		}
		parts[n], n, start = token[start:i], n+1, i+1
	}
	if n != len(parts) || string(parts[0]) != tokenPrefix {
		return f, false
	}
	return tokenFields[T]{session: parts[1], user: parts[2], role: parts[3], exp: parts[4]}, true
}

// csrf is a session's CSRF token, derived from its id so any process can check it.
func (s *signer) csrf(sessionID string) string { return s.mac("csrf", sessionID) }
