// Package catalog owns the fair's public face: fairs, merchant applications,
// stalls, products, property listings and flash-sale offers. It also holds the
// few types every other domain shares — who is acting, IDs, errors — since it
// is the package all others import and it imports none of them.
package catalog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Role is what a user may do on the platform.
type Role string

// The roles. Organizers and admins are only created by the operator CLI.
// An admin runs the platform itself (the background queues and their failed
// tasks) and is not the organizer of any fair: the services give admins no
// organizer powers.
const (
	RoleShopper   Role = "shopper"
	RoleMerchant  Role = "merchant"
	RoleOrganizer Role = "organizer"
	RoleAdmin     Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleShopper || r == RoleMerchant || r == RoleOrganizer || r == RoleAdmin
}

// Actor is the signed-in user on whose behalf a service method runs.
// Authorisation lives in the services, so pages and the API share it.
type Actor struct {
	UserID string
	Role   Role
}

// NewID returns a new opaque identifier. IDs sort by creation time, which
// cursor pagination relies on.
func NewID() string { return ulid.Make().String() }

// Clock tells the time; services take one so tests can move it.
type Clock func() time.Time

// FairZone is the fairs' time zone, Asia/Shanghai: UTC+8 all year, so its
// days are whole hours (the totals' SQL relies on it).
var FairZone = time.FixedZone("Asia/Shanghai", 8*3600)

// SystemClock is the wall clock in UTC, to the microsecond both databases keep.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Domain errors shared by every package; the HTTP layer maps them to statuses
// in one table.
var (
	ErrNotFound     = errors.New("not found")
	ErrForbidden    = errors.New("forbidden")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthenticated")
	ErrBadRequest   = errors.New("bad request")
)

// DomainError is a domain failure with its public detail: what the client is
// told (the problem's detail). It is its sentinel for errors.Is, so the HTTP
// status still comes from the one table. A detail says nothing internal.
type DomainError struct {
	// Detail is the public explanation.
	Detail string
	err    error // the sentinel, or a DomainError it specialises
	base   error // the sentinel at the bottom, for Error()
}

// Fail returns err (a sentinel such as ErrNotFound, or a more specific
// domain error) with detail as its public explanation. Wrapping a domain
// error keeps its detail after the new one: "fair x: the fair has ended".
func Fail(err error, detail string) error {
	d := &DomainError{Detail: detail, err: err, base: err}
	var inner *DomainError
	if errors.As(err, &inner) {
		d.Detail, d.base = detail+": "+inner.Detail, inner.base
	}
	return d
}

// Failf is Fail with a formatted detail.
func Failf(err error, format string, args ...any) error {
	return Fail(err, fmt.Sprintf(format, args...))
}

func (e *DomainError) Error() string { return e.Detail + ": " + e.base.Error() }
func (e *DomainError) Unwrap() error { return e.err }

// Conflicts callers may want to tell apart; each is an ErrConflict (409).
var (
	ErrSlugTaken      = Fail(ErrConflict, "this slug is taken")
	ErrKindLocked     = Fail(ErrConflict, "the kind of a fair with stalls cannot change")
	ErrFairEnded      = Fail(ErrConflict, "the fair has ended")
	ErrAlreadyApplied = Fail(ErrConflict, "you have already applied to this fair")
	ErrAlreadyBooked  = Fail(ErrConflict, "you already have a viewing booked at this development; cancel it first")
	ErrSlotStarted    = Fail(ErrConflict, "this viewing has already started")
)

// FieldError says what is wrong with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of one request.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Invalid returns a ValidationError for one field.
func Invalid(field, message string) error {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: message}}}
}

// Check collects field errors: add conditions, then Err returns nil or the
// ValidationError.
type Check struct{ fields []FieldError }

// That records message for field unless ok.
func (c *Check) That(ok bool, field, message string) {
	if !ok {
		c.fields = append(c.fields, FieldError{Field: field, Message: message})
	}
}

// Err returns the collected ValidationError, or nil.
func (c *Check) Err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: c.fields}
}

// Page asks for one page of a list: at most Limit items after Cursor.
type Page struct {
	Limit  int
	Cursor string
}

// DefaultLimit and MaxLimit bound list sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Size returns the limit to use, within bounds.
func (p Page) Size() int64 {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return int64(p.Limit)
}

// NextCursor returns the cursor after a page fetched with one row more than
// p.Size(): nil when there is no more, else the id of the last kept row. It
// also trims the extra row.
func NextCursor[T any](p Page, rows []T, id func(T) string) ([]T, *string) {
	if int64(len(rows)) <= p.Size() {
		return rows, nil
	}
	rows = rows[:p.Size()]
	c := id(rows[len(rows)-1])
	return rows, &c
}

// CodedError gives a domain error its stable machine code (sold_out,
// insufficient_stock, …); the HTTP status still comes from the sentinel it wraps.
type CodedError struct {
	code string
	err  error
}

// Coded attaches a machine code to err.
func Coded(code string, err error) error { return &CodedError{code: code, err: err} }

func (e *CodedError) Error() string { return e.err.Error() }
func (e *CodedError) Unwrap() error { return e.err }

// Code is the machine code.
func (e *CodedError) Code() string { return e.code }

// ErrGone is something that has ended (a flash sale past its end).
var ErrGone = errors.New("gone")
