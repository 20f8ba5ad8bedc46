package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"miaohui/orders"
)

// Claiming a coupon at its release moment is a flash event like a flash
// purchase: it runs on the same fast path (before the general middleware),
// under the same per-account and per-address limits, and admission is one
// Redis round trip: the coupon's row is written behind the answer.

const claimRoute = "/api/v1/coupon-campaigns/:id/claim"

// cannedClaimProblems are the answers a busy campaign gives often, rendered once.
var cannedClaimProblems = func() map[error]cannedProblem {
	out := map[error]cannedProblem{}
	for _, err := range []error{orders.ErrCouponsGone, orders.ErrCouponLimit, orders.ErrCouponNotReleased, orders.ErrCouponEnded} {
		p := problemFor(context.Background(), err)
		b, _ := json.Marshal(p)
		out[err] = cannedProblem{p.Status, b}
	}
	return out
}()

// couponClaim answers POST /api/v1/coupon-campaigns/{id}/claim with 201 and
// the coupon.
func (s *Server) couponClaim(c *fiber.Ctx) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.Logger.Error("panic", "route", claimRoute, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = s.writeProblem(c, fmt.Errorf("panic: %v", r))
		}
		s.metrics.observePurchase(c.Response().StatusCode(), time.Since(start))
	}()
	h := &c.Response().Header
	u, id, ok, err := s.fastStart(c)
	if !ok {
		return err
	}
	coupon, err := s.Admission.ClaimCoupon(c.UserContext(), u.UserID, id)
	if err != nil {
		if cp, ok := cannedClaimProblems[err]; ok {
			c.Status(cp.status)
			h.SetContentTypeBytes(contentProblem)
			return c.Send(cp.body)
		}
		return s.writeProblem(c, err)
	}
	c.Status(http.StatusCreated)
	h.SetContentTypeBytes(contentJSON)
	b, err := json.Marshal(coupon)
	if err != nil {
		return s.writeProblem(c, err)
	}
	return c.Send(b)
}
