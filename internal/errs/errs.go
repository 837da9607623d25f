// Package errs holds the few error kinds that Foxhole's services return.
// The server maps each kind to a Connect code in one table at the edge;
// any other error is internal, logged, and hidden from the client.
package errs

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel kinds. Wrap them with fmt.Errorf("...: %w", errs.ErrNotFound) or
// create them with New to give the client a specific message.
var (
	ErrNotFound           = errors.New("not found")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrAlreadyExists      = errors.New("already exists")
	ErrResourceExhausted  = errors.New("resource exhausted")
	ErrOutOfRange         = errors.New("out of range")
	ErrUnavailable        = errors.New("unavailable")
	ErrFailedPrecondition = errors.New("failed precondition")
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

// Limited reports a call refused by a rate limit. It is an
// ErrResourceExhausted whose client is told when to retry.
type Limited struct {
	Msg        string
	RetryAfter time.Duration
}

func (e *Limited) Error() string { return e.Msg }
func (e *Limited) Unwrap() error { return ErrResourceExhausted }

// JSON is the body of an error answered outside the Connect protocol, on
// Foxhole's plain HTTP routes and in WebSocket error frames:
// {"error": {"code": "not_found", "message": "…"}}, code being a Connect
// code's name.
func JSON(code, message string) []byte {
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{body{code, message}})
	return b
}
