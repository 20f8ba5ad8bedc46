package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"miaohui/app/account"
	"miaohui/catalog"
	"miaohui/orders"
)

// Problem is an RFC 9457 problem detail, the body of every API error.
type Problem struct {
	Type   string               `json:"type" doc:"URI naming the kind of problem"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail,omitempty"`
	Code   string               `json:"code" doc:"stable machine-readable code, e.g. validation_failed, not_found, sold_out"`
	Errors []catalog.FieldError `json:"errors,omitempty" doc:"per-field messages of a validation_failed problem"`

	retryAfter int
}

func (p *Problem) Error() string  { return p.Code + ": " + p.Detail }
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma answer application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// GetHeaders adds Retry-After to rate-limited answers.
func (p *Problem) GetHeaders() http.Header {
	if p.retryAfter <= 0 {
		return nil
	}
	return http.Header{"Retry-After": {strconv.Itoa(p.retryAfter)}}
}

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Type: "urn:miaohui:problem:" + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// errorTable maps domain errors to HTTP: the one place where that is decided.
// Errors are matched with errors.Is, in order.
var errorTable = []struct {
	err    error
	status int
	code   string
	detail string // when the error carries no public detail of its own
}{
	{account.ErrCSRF, http.StatusForbidden, "forbidden", "missing or wrong CSRF token: send the X-CSRF-Token header (or the _csrf form field) given with your session"},
	{catalog.ErrUnauthorized, http.StatusUnauthorized, "unauthenticated", "sign in first"},
	{catalog.ErrForbidden, http.StatusForbidden, "forbidden", "you may not do this"},
	{catalog.ErrNotFound, http.StatusNotFound, "not_found", "not found"},
	{catalog.ErrConflict, http.StatusConflict, "conflict", "this conflicts with the current state"},
	{catalog.ErrGone, http.StatusGone, "ended", "this has ended"},
	{catalog.ErrBadRequest, http.StatusBadRequest, "bad_request", "the request is not valid"},
	{orders.ErrNotApplicable, http.StatusUnprocessableEntity, "coupon_not_applicable", "a coupon does not apply to this checkout"},
	{orders.ErrProvider, http.StatusBadGateway, "payment_provider_error", "the payment provider could not be reached; try again in a moment"},
}

// problemFor turns any error into the problem sent to the client. Unknown
// errors are logged with the request's logger and become a bare 500.
func problemFor(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		p := newProblem(http.StatusUnprocessableEntity, "validation_failed", "some fields are invalid")
		p.Errors = ve.Fields
		return p
	}
	var rl *account.RateLimitedError
	if errors.As(err, &rl) {
		p := newProblem(http.StatusTooManyRequests, "rate_limited", "too many attempts; retry later")
		p.retryAfter = rl.RetryAfter
		return p
	}
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			detail := publicDetail(err, row.detail)
			if row.status >= 500 {
				// The provider's message, address and network errors are
				// for the log only: the client gets the table's detail.
				account.Log(ctx).Warn("payment provider failed", "err", err)
				detail = row.detail
			}
			p := newProblem(row.status, row.code, detail)
			var coded *catalog.CodedError
			if errors.As(err, &coded) {
				p.Code, p.Type = coded.Code(), "urn:miaohui:problem:"+coded.Code()
			}
			return p
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return statusProblem(fe.Code, fe.Message)
	}
	if unavailable(err) {
		account.Log(ctx).Warn("backend unavailable", "err", err)
		p := newProblem(http.StatusServiceUnavailable, "unavailable", "the service is briefly unavailable; try again in a moment")
		p.retryAfter = 2
		return p
	}
	account.Log(ctx).Error("unhandled error", "err", err)
	return newProblem(http.StatusInternalServerError, "internal_error", "an unexpected error occurred")
}

// publicDetail is the detail a domain error carries for the client, or
// fallback when it carries none.
func publicDetail(err error, fallback string) string {
	var d *catalog.DomainError
	if errors.As(err, &d) {
		return d.Detail
	}
	return fallback
}

// statusProblem is a problem for a bare HTTP status raised by the framework.
func statusProblem(status int, detail string) *Problem {
	code := map[int]string{
		http.StatusBadRequest:            "bad_request",
		http.StatusUnauthorized:          "unauthenticated",
		http.StatusForbidden:             "forbidden",
		http.StatusNotFound:              "not_found",
		http.StatusMethodNotAllowed:      "method_not_allowed",
		http.StatusNotAcceptable:         "not_acceptable",
		http.StatusConflict:              "conflict",
		http.StatusRequestEntityTooLarge: "body_too_large",
		http.StatusUnsupportedMediaType:  "unsupported_media_type",
		http.StatusUnprocessableEntity:   "validation_failed",
		http.StatusTooManyRequests:       "rate_limited",
	}[status]
	if code == "" {
		if status >= 500 {
			return newProblem(http.StatusInternalServerError, "internal_error", "an unexpected error occurred")
		}
		code = "error"
	}
	return newProblem(status, code, detail)
}

var hookHuma sync.Once

// installHumaErrors makes huma build every error through problemFor. huma keeps
// this hook in a package variable, so it is set once per process.
func installHumaErrors() {
	hookHuma.Do(func() {
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			ctx := context.Background()
			if hctx != nil {
				ctx = hctx.Context()
			}
			if status == http.StatusInternalServerError && len(errs) == 1 {
				p := problemFor(ctx, errs[0])
				if p.retryAfter > 0 && hctx != nil {
					// huma sends the headers of the error the handler
					// returned, not those of the problem made from it.
					hctx.SetHeader("Retry-After", strconv.Itoa(p.retryAfter))
				}
				return p
			}
			return humaProblem(status, msg, errs)
		}
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return humaProblem(status, msg, errs)
		}
	})
}

// humaProblem converts huma's own request errors (bad JSON, failed schema
// validation) to the contract's shape.
func humaProblem(status int, msg string, errs []error) *Problem {
	if status >= 500 {
		slog.Error("request error", "status", status, "msg", msg, "errs", errs)
	}
	p := statusProblem(status, msg)
	var fields []catalog.FieldError
	for _, e := range errs {
		var d *huma.ErrorDetail
		if !errors.As(e, &d) {
			continue
		}
		loc := d.Location
		if status == http.StatusBadRequest && loc == "body" {
			p.Code = "malformed_json"
			p.Type = "urn:miaohui:problem:malformed_json"
			p.Detail = "the request body is not valid JSON: " + d.Message
			continue
		}
		for _, prefix := range []string{"body.", "query.", "path.", "header."} {
			loc = strings.TrimPrefix(loc, prefix)
		}
		if loc == "body" {
			// A missing required property is reported on the body as a whole.
			loc = ""
			if rest, ok := strings.CutPrefix(d.Message, "expected required property "); ok {
				loc, _, _ = strings.Cut(rest, " ")
			}
		}
		fields = append(fields, catalog.FieldError{Field: loc, Message: d.Message})
	}
	if status == http.StatusUnprocessableEntity || status == http.StatusBadRequest && p.Code != "malformed_json" {
		p.Errors = fields
	}
	return p
}
