package server

import (
	"context"
	"errors"

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
