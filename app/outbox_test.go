package app

import (
	"net/http"
	"testing"
)

// redeemOrder has the stall's merchant redeem a picked-up order with its
// code, which releases its payout.
func (e *testEnv) redeemOrder(t testing.TB, merchantToken, orderID string) {
	t.Helper()
	o := readOrder(t, e, orderID)
	res := e.do(req{Method: "POST", Path: "/api/v1/orders/" + orderID + "/redeem", Token: merchantToken, Body: map[string]any{"code": o.PickupCode}})
	wantStatus(t, res, http.StatusOK)
}
