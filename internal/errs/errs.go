// Package errs holds the few error kinds that Foxhole's services return.
// The server maps each kind to a Connect code in one table at the edge;
// any other error is internal, logged, and hidden from the client.
package errs

import (
	"errors"
	"fmt"
)

// Sentinel kinds. Wrap them with fmt.Errorf("...: %w", errs.NotFound) or
// create them with New to give the client a specific message.
var (
	NotFound          = errors.New("not found")
	Unauthenticated   = errors.New("unauthenticated")
	PermissionDenied  = errors.New("permission denied")
	AlreadyExists     = errors.New("already exists")
	ResourceExhausted = errors.New("resource exhausted")
	OutOfRange        = errors.New("out of range")
	Unavailable       = errors.New("unavailable")
)

// Error is a kind with a message meant for the client.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// New returns an error of the given kind whose message the client sees.
func New(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input: which field, and why. The client sees both.
type Invalid struct {
	Field  string
	Reason string
}

func (e *Invalid) Error() string { return e.Field + ": " + e.Reason }

// Invalidf returns an *Invalid for field with a formatted reason.
func Invalidf(field, format string, args ...any) error {
	return &Invalid{Field: field, Reason: fmt.Sprintf(format, args...)}
}
