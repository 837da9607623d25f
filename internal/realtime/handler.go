package realtime

import (
	"context"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
)

var _ foxholev1connect.RealtimeServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.RealtimeService.
type Handler struct{ svc *Service }

// NewHandler returns the RealtimeService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Subscribe implements foxholev1connect.RealtimeServiceHandler.
func (h *Handler) Subscribe(ctx context.Context, req *connect.Request[foxholev1.SubscribeRequest], stream *connect.ServerStream[foxholev1.SubscribeResponse]) error {
	id, ok := auth.IdentityFrom(ctx)
	if !ok {
		return errs.ErrUnauthenticated
	}
	sub := Subscription{
		UserID:       id.UserID,
		TokenVersion: id.TokenVersion,
		Expires:      id.Expires,
		Addr:         clientaddr.Key(clientaddr.From(ctx)),
		SkipPresence: req.Msg.GetSkipPresence(),
		Heartbeat:    true,
	}
	if req.Msg.AfterEventId != nil {
		after := req.Msg.GetAfterEventId()
		sub.After = &after
	}
	// Opened before the headers go out, so that a refusal (over a cap)
	// carries its Retry-After in them.
	sess, err := h.svc.open(ctx, sub)
	if err != nil {
		return err
	}
	defer h.svc.close(ctx, sess)
	// Headers go out at once, so the client knows it is subscribed before
	// the first event.
	if err := stream.Send(nil); err != nil {
		return err
	}
	deadline := writeDeadlineFrom(ctx)
	return h.svc.run(ctx, sess, &sub, sendFunc(func(d *delivery) error {
		// A peer that stops reading must not hold this stream forever; the
		// deadline is lifted after each send so an idle stream lives on.
		deadline(time.Now().Add(sendTimeout))
		defer deadline(time.Time{})
		return stream.Send(d.msg)
	}))
}

// sendTimeout bounds how long one event may take to reach a subscriber's
// connection before the subscriber is dropped.
const sendTimeout = 10 * time.Second

type writeDeadlineKey struct{}

// WithWriteDeadline returns a context carrying set, which sets the write
// deadline of the request's connection (http.ResponseController's).
// Subscribe uses it so a stuck peer cannot block a stream forever.
func WithWriteDeadline(ctx context.Context, set func(time.Time) error) context.Context {
	return context.WithValue(ctx, writeDeadlineKey{}, set)
}

func writeDeadlineFrom(ctx context.Context) func(time.Time) error {
	if set, ok := ctx.Value(writeDeadlineKey{}).(func(time.Time) error); ok {
		return set
	}
	return func(time.Time) error { return nil }
}

// SendMessage implements foxholev1connect.RealtimeServiceHandler.
func (h *Handler) SendMessage(ctx context.Context, req *connect.Request[foxholev1.SendMessageRequest]) (*connect.Response[foxholev1.SendMessageResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	ev, err := h.svc.Send(ctx, user, req.Msg.GetContent(), req.Msg.GetRecipientId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.SendMessageResponse{Event: ev}), nil
}

// ListPresence implements foxholev1connect.RealtimeServiceHandler.
func (h *Handler) ListPresence(ctx context.Context, _ *connect.Request[foxholev1.ListPresenceRequest]) (*connect.Response[foxholev1.ListPresenceResponse], error) {
	users, err := h.svc.Online(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.ListPresenceResponse{Users: users}), nil
}
