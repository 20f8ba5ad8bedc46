package catalog

import (
	"context"

	"github.com/danielgtaylor/huma/v2"
)

// The JSON API's shared vocabulary: the shapes of lists and answers, how an
// operation is described, and the adapters that turn a handler method
// ("who is asking, what did they send → result") into a huma handler. The
// orders package builds its routes from the same pieces.

// List is one page of a list and the cursor of the next page (null at the end).
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor" nullable:"true"`
}

// NewList wraps a page of items; an empty page is [] rather than null.
func NewList[T any](items []T, next *string) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, NextCursor: next}
}

// PageQuery is the ?limit=&cursor= of list endpoints.
type PageQuery struct {
	Limit  int    `query:"limit" minimum:"0" doc:"items per page (default 20, at most 100)"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
}

// Page converts the query to a Page.
func (q PageQuery) Page() Page { return Page{Limit: q.Limit, Cursor: q.Cursor} }

// Signed is the security requirement of operations that need a user.
var Signed = []map[string][]string{{"bearer": {}}, {"cookie": {}}}

// Tag describes the operations of one tag of the API; its methods make the
// huma.Operation of one line of a route table.
type Tag string

// Public is an operation anyone may call: id, method, path under /api/v1,
// summary, the success status (0 for 200) and the error statuses it documents.
func (t Tag) Public(id, method, path, summary string, status int, errs ...int) huma.Operation {
	return huma.Operation{OperationID: id, Method: method, Path: "/api/v1" + path, Summary: summary,
		Tags: []string{string(t)}, DefaultStatus: status, Errors: errs}
}

// Signed is an operation for signed-in users: Public with the Signed
// security requirement and a documented 401.
func (t Tag) Signed(id, method, path, summary string, status int, errs ...int) huma.Operation {
	o := t.Public(id, method, path, summary, status, append([]int{401}, errs...)...)
	o.Security = Signed
	return o
}

// Body is an answer whose JSON body is T.
type Body[T any] struct{ Body T }

// SignedIn adapts fn to a huma handler: it answers ErrUnauthorized unless
// someone is signed in, calls fn with who it is, and sends fn's result as the
// JSON body. actor tells who sent a request (the zero Actor for nobody). The
// operation's input type I and its output type, Body[O], are what huma
// documents.
func SignedIn[I, O any](actor func(context.Context) Actor, fn func(ctx context.Context, a Actor, in *I) (O, error)) func(context.Context, *I) (*Body[O], error) {
	return SignedInRaw(actor, func(ctx context.Context, a Actor, in *I) (*Body[O], error) {
		v, err := fn(ctx, a, in)
		if err != nil {
			return nil, err
		}
		return &Body[O]{Body: v}, nil
	})
}

// SignedInRaw is SignedIn for an operation whose output is a whole huma
// response rather than a JSON body: headers, a download, or nothing (a nil
// *struct{} for 204).
func SignedInRaw[I, O any](actor func(context.Context) Actor, fn func(ctx context.Context, a Actor, in *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		a := actor(ctx)
		if a.UserID == "" {
			return nil, Fail(ErrUnauthorized, "sign in first")
		}
		return fn(ctx, a, in)
	}
}

// Public adapts fn to a huma handler anyone may call: fn gets who is asking
// (the zero Actor for nobody) and its result is sent as the JSON body.
func Public[I, O any](actor func(context.Context) Actor, fn func(ctx context.Context, a Actor, in *I) (O, error)) func(context.Context, *I) (*Body[O], error) {
	return func(ctx context.Context, in *I) (*Body[O], error) {
		v, err := fn(ctx, actor(ctx), in)
		if err != nil {
			return nil, err
		}
		return &Body[O]{Body: v}, nil
	}
}
