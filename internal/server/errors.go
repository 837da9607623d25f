package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/errs"
)

// codes maps each error kind of package errs to its Connect code.
var codes = []struct {
	kind error
	code connect.Code
}{
	{errs.ErrNotFound, connect.CodeNotFound},
	{errs.ErrUnauthenticated, connect.CodeUnauthenticated},
	{errs.ErrPermissionDenied, connect.CodePermissionDenied},
	{errs.ErrAlreadyExists, connect.CodeAlreadyExists},
	{errs.ErrResourceExhausted, connect.CodeResourceExhausted},
	{errs.ErrOutOfRange, connect.CodeOutOfRange},
	{errs.ErrFailedPrecondition, connect.CodeFailedPrecondition},
	{errs.ErrUnavailable, connect.CodeUnavailable},
	{context.Canceled, connect.CodeCanceled},
	{context.DeadlineExceeded, connect.CodeDeadlineExceeded},
}

// toConnect turns a service error into the error the client sees. Errors of
// a known kind keep their message; any other error is logged once, with the
// request id, and reaches the client as a generic internal error.
func toConnect(ctx context.Context, err error) *connect.Error {
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		return ce
	}
	if l, ok := errors.AsType[*errs.Limited](err); ok {
		ce := connect.NewError(connect.CodeResourceExhausted, errors.New(l.Msg))
		ce.Meta().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(l.RetryAfter.Seconds(), 1)))))
		return ce
	}
	if inv, ok := errors.AsType[*errs.Invalid](err); ok {
		return connect.NewError(connect.CodeInvalidArgument, inv)
	}
	for _, c := range codes {
		if errors.Is(err, c.kind) {
			msg := c.kind.Error()
			if e, ok := errors.AsType[*errs.Error](err); ok {
				msg = e.Msg
			}
			return connect.NewError(c.code, errors.New(msg))
		}
	}
	zerolog.Ctx(ctx).Error().Err(err).Msg("internal error")
	msg := "internal error"
	if id := requestIDFrom(ctx); id != "" {
		msg += "; request id " + id
	}
	return connect.NewError(connect.CodeInternal, errors.New(msg))
}

// statuses pairs Connect codes with HTTP statuses, as the Connect protocol
// does. Read one way it gives the status of a plain JSON error (/files, and
// requests refused before any Connect handler): the first row of a code.
// Read the other way it gives the access log the code of a call answered
// with only a status: the first row of a status.
var statuses = []struct {
	code   connect.Code
	status int
}{
	{connect.CodeCanceled, 499}, // client closed request
	{connect.CodeInvalidArgument, http.StatusBadRequest},
	{connect.CodeFailedPrecondition, http.StatusBadRequest},
	{connect.CodeOutOfRange, http.StatusBadRequest},
	{connect.CodeUnauthenticated, http.StatusUnauthorized},
	{connect.CodePermissionDenied, http.StatusForbidden},
	{connect.CodeNotFound, http.StatusNotFound},
	{connect.CodeUnimplemented, http.StatusNotFound},
	{connect.CodeUnimplemented, http.StatusMethodNotAllowed},
	{connect.CodeUnimplemented, http.StatusUnsupportedMediaType},
	{connect.CodeAlreadyExists, http.StatusConflict},
	{connect.CodeResourceExhausted, http.StatusTooManyRequests},
	{connect.CodeResourceExhausted, http.StatusRequestEntityTooLarge},
	{connect.CodeUnavailable, http.StatusServiceUnavailable},
	{connect.CodeDeadlineExceeded, http.StatusGatewayTimeout},
}

// httpStatus is the HTTP status of ce as a plain JSON error. A resource
// that is exhausted for good (a body or file over its limit, a full quota)
// is 413: unlike a rate limit's 429, waiting does not help.
func httpStatus(ce *connect.Error) int {
	if ce.Code() == connect.CodeResourceExhausted && ce.Meta().Get("Retry-After") == "" {
		return http.StatusRequestEntityTooLarge
	}
	for _, s := range statuses {
		if s.code == ce.Code() {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// codeOfStatus is the Connect code of an answer with HTTP status st.
func codeOfStatus(st int) connect.Code {
	for _, s := range statuses {
		if s.status == st {
			return s.code
		}
	}
	return connect.CodeUnknown
}
