package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/uptrace/bun"

	"miaohui/app/account"
	"miaohui/catalog"
)

// idempotencyRecord is a stored answer to an unsafe request sent with an
// Idempotency-Key: the same key and body replay it; another body is a 409.
type idempotencyRecord struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	UserID      string `bun:",pk"`
	Key         string `bun:",pk"`
	RequestHash string
	Status      int // 0 while the first request is running
	Response    string
	CreatedAt   time.Time
}

// idempotentPath reports whether a POST to path moves money and so honours
// Idempotency-Key: checkout, refunds (after-sales acceptances and decisions
// too) and booth sales (a retried or double-tapped sale must not count twice).
func idempotentPath(path string) bool {
	path = strings.TrimSuffix(path, "/")
	return path == "/api/v1/checkout" || strings.HasPrefix(path, "/api/v1/orders/") && strings.HasSuffix(path, "/refunds") ||
		strings.HasPrefix(path, "/api/v1/stalls/") && strings.HasSuffix(path, "/offline-sales") ||
		strings.HasPrefix(path, "/api/v1/after-sales/") && (strings.HasSuffix(path, "/accept") || strings.HasSuffix(path, "/decide"))
}

var errKeyReused = catalog.Fail(catalog.ErrConflict, "this Idempotency-Key was used with another request")
var errKeyBusy = catalog.Fail(catalog.ErrConflict, "a request with this Idempotency-Key is still running")

// idempotency claims the key before the handler runs (so two requests racing
// with one key run once), stores the answer after, and replays it later.
// Answers of 5xx are not kept: the client may retry them.
func (s *Server) idempotency(c *fiber.Ctx) error {
	key := c.Get("Idempotency-Key")
	if c.Method() != http.MethodPost || key == "" || !idempotentPath(c.Path()) {
		return c.Next()
	}
	a, ok := account.From(c.UserContext())
	if !ok {
		return c.Next() // the handler answers 401
	}
	if len(key) > 255 {
		return catalog.Invalid("Idempotency-Key", "must be at most 255 characters")
	}
	ctx := c.UserContext()
	sum := sha256.Sum256(append([]byte(c.Method()+" "+strings.TrimSuffix(c.Path(), "/")+"\n"), c.Body()...))
	hash := hex.EncodeToString(sum[:])
	rec := &idempotencyRecord{UserID: a.User.ID, Key: key, RequestHash: hash, CreatedAt: s.Now()}
	res, err := s.DB.NewInsert().Model(rec).On("CONFLICT (user_id, key) DO NOTHING").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		prev := new(idempotencyRecord)
		if err := s.DB.NewSelect().Model(prev).Where("user_id = ? AND key = ?", a.User.ID, key).Scan(ctx); err != nil {
			return err
		}
		switch {
		case prev.RequestHash != hash:
			return errKeyReused
		case prev.Status == 0:
			return errKeyBusy
		}
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		if prev.Status >= 400 {
			c.Set(fiber.HeaderContentType, "application/problem+json")
		}
		return c.Status(prev.Status).SendString(prev.Response)
	}

	err = c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	bg := context.WithoutCancel(ctx)
	if status >= 500 {
		_, derr := s.DB.NewDelete().Model(rec).WherePK().Exec(bg)
		return derr
	}
	rec.Status, rec.Response = status, string(c.Response().Body())
	_, uerr := s.DB.NewUpdate().Model(rec).Column("status", "response").WherePK().Exec(bg)
	return uerr
}
