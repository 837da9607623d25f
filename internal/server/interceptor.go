package server

import (
	"context"
	"errors"
	"io"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/internal/call"
)

// errorInterceptor maps every error a handler returns through toConnect and
// records the call's code for the access log.
type errorInterceptor struct{}

func (errorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			err = toConnect(ctx, err)
		}
		setCode(ctx, err)
		return res, err
	}
}

func (errorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (errorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		if err != nil {
			err = toConnect(ctx, err)
		}
		setCode(ctx, err)
		return err
	}
}

// requestDeadline lifts a stream's request deadline (the policy's
// request_timeout, set before the body is read) once the request has
// arrived: a server stream's one message and the end of its body, a client
// stream's first message. Left set, it would end a long response (on
// HTTP/1.1, net/http's background read fails and cancels the request).
type requestDeadline struct{}

func (requestDeadline) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (requestDeadline) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (requestDeadline) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		rec, ok := call.Lookup(ctx)
		if !ok || rec.Policy.GetRequestTimeout() == nil {
			return next(ctx, conn)
		}
		return next(ctx, &arrivalConn{StreamingHandlerConn: conn, rec: rec, whole: conn.Spec().StreamType == connect.StreamTypeServer})
	}
}

// arrivalConn tells the record when the request has arrived.
type arrivalConn struct {
	connect.StreamingHandlerConn
	rec   *call.Record
	whole bool // wait for the end of the body, not only the first message
}

func (c *arrivalConn) Receive(m any) error {
	err := c.StreamingHandlerConn.Receive(m)
	if (err == nil && !c.whole) || errors.Is(err, io.EOF) {
		c.rec.RequestArrived()
	}
	return err
}
