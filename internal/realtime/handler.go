package realtime

import (
	"context"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/errs"
)

var _ foxholev1connect.RealtimeServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.RealtimeService.
type Handler struct{ svc *Service }

// NewHandler returns the RealtimeService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

func caller(ctx context.Context) (string, error) {
	id, ok := auth.UserFrom(ctx)
	if !ok {
		return "", errs.ErrUnauthenticated
	}
	return id, nil
}

// Subscribe implements foxholev1connect.RealtimeServiceHandler.
func (h *Handler) Subscribe(ctx context.Context, req *connect.Request[foxholev1.SubscribeRequest], stream *connect.ServerStream[foxholev1.SubscribeResponse]) error {
	user, err := caller(ctx)
	if err != nil {
		return err
	}
	sub := Subscription{UserID: user, SkipPresence: req.Msg.GetSkipPresence(), Heartbeat: true}
	if req.Msg.AfterEventId != nil {
		after := req.Msg.GetAfterEventId()
		sub.After = &after
	}
	// Headers go out at once, so the client knows it is subscribed before
	// the first event.
	if err := stream.Send(nil); err != nil {
		return err
	}
	return h.svc.Subscribe(ctx, sub, func(d *delivery) error { return stream.Send(d.msg) })
}

// SendMessage implements foxholev1connect.RealtimeServiceHandler.
func (h *Handler) SendMessage(ctx context.Context, req *connect.Request[foxholev1.SendMessageRequest]) (*connect.Response[foxholev1.SendMessageResponse], error) {
	user, err := caller(ctx)
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
