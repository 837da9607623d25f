package realtime

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
)

var _ foxholev1connect.RealtimeServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.RealtimeService.
type Handler struct{ svc *Service }

// NewHandler returns the RealtimeService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Subscribe implements foxholev1connect.RealtimeServiceHandler, for a mux
// that mounts the generated handler. Foxhole's server mounts
// SubscribeHandler instead, whose streams send each event's shared
// encoding and write several queued events at once.
func (h *Handler) Subscribe(ctx context.Context, req *connect.Request[foxholev1.SubscribeRequest], stream *connect.ServerStream[foxholev1.SubscribeResponse]) error {
	return h.subscribe(ctx, req.Msg, func(d *delivery) error {
		if d == nil {
			return stream.Send(nil)
		}
		return stream.Send(d.msg)
	})
}

// SubscribeHandler returns the path and handler of Subscribe, to mount in
// place of the generated one: the same protocols, codecs and messages on
// the wire, but
//   - each event is encoded once per process for every stream that sends
//     it (its binary and JSON forms are kept with it; see codecs.go), where
//     connect-go would encode it again for every stream;
//   - Connect's flush after every message is held back (heldWriter), and
//     the session flushes once its queue is drained, so that several
//     queued events leave in one write.
func (h *Handler) SubscribeHandler(opts ...connect.HandlerOption) (string, http.Handler) {
	method := foxholev1.File_foxhole_v1_realtime_proto.Services().ByName("RealtimeService").Methods().ByName("Subscribe")
	stream := connect.NewServerStreamHandler(
		foxholev1connect.RealtimeServiceSubscribeProcedure,
		func(ctx context.Context, req *connect.Request[foxholev1.SubscribeRequest], stream *connect.ServerStream[delivery]) error {
			return h.subscribe(ctx, req.Msg, stream.Send)
		},
		connect.WithSchema(method),
		connect.WithHandlerOptions(opts...),
		connect.WithCodec(protoCodec{}),
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	)
	return foxholev1connect.RealtimeServiceSubscribeProcedure, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &heldWriter{ResponseWriter: w, lasting: r.ProtoMajor == 1}
		stream.ServeHTTP(hw, r.WithContext(context.WithValue(r.Context(), heldWriterKey{}, hw)))
		if hw.lasting {
			// The end of the stream goes out within a deadline, and the
			// connection is left with none for its next request.
			set := call.From(r.Context()).Deadlines().Write
			set(time.Now().Add(sendTimeout))
			_ = hw.flush()
			set(time.Time{})
		}
	})
}

// subscribe runs a Subscribe stream; send(nil) sends the headers. Its
// goroutine waits in here while the stream lasts: see Service.run.
func (h *Handler) subscribe(ctx context.Context, req *foxholev1.SubscribeRequest, send func(*delivery) error) error {
	sess, sub, out, err := h.start(ctx, req, send)
	if err != nil {
		return err
	}
	defer h.svc.close(ctx, sess)
	return h.svc.run(ctx, sess, sub, out)
}

// start opens the session and sends the headers, at once, so that the
// client knows it is subscribed before the first event. A session that
// cannot go on is closed.
func (h *Handler) start(ctx context.Context, req *foxholev1.SubscribeRequest, send func(*delivery) error) (*session, *Subscription, sink, error) {
	sess, sub, err := h.open(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	held := heldWriterFrom(ctx)
	out := &streamSink{sendMsg: send, held: held, deadline: call.From(ctx).Deadlines().Write, lasting: held != nil && held.lasting}
	if err := out.headers(); err != nil {
		h.svc.close(ctx, sess)
		return nil, nil, nil, err
	}
	return sess, sub, out, nil
}

// open opens the caller's session. It does so before the headers go out,
// so that a refusal (over a cap) carries its Retry-After in them.
func (h *Handler) open(ctx context.Context, req *foxholev1.SubscribeRequest) (*session, *Subscription, error) {
	id, ok := auth.IdentityFrom(ctx)
	if !ok {
		return nil, nil, errs.ErrUnauthenticated
	}
	sub := &Subscription{
		UserID:       id.UserID,
		TokenVersion: id.TokenVersion,
		Expires:      id.Expires,
		Addr:         clientaddr.Key(call.From(ctx).ClientAddr()),
		SkipPresence: req.GetSkipPresence(),
		Heartbeat:    true,
	}
	if req.AfterEventId != nil {
		after := req.GetAfterEventId()
		sub.After = &after
	}
	sess, err := h.svc.open(ctx, *sub)
	if err != nil {
		return nil, nil, err
	}
	return sess, sub, nil
}

// sendTimeout bounds how long one event may take to reach a subscriber's
// connection before the subscriber is dropped.
const sendTimeout = 10 * time.Second

// streamSink sends a stream's events through Connect. Every write to the
// connection, whether Connect's (a buffer filled) or flush's, has a write
// deadline, so that a peer that stops reading cannot hold the stream.
//
// On HTTP/2 the deadline is the stream's, and one that passes ends the
// stream even while it writes nothing: it is lifted once the held events
// are out, so that an idle stream lives on. On HTTP/1 it is the
// connection's, which writes nothing but this stream's events: it bounds
// writes alone, so it stays, and is set anew only once it is older than
// rearm (SubscribeHandler lifts it when the stream ends).
type streamSink struct {
	sendMsg  func(*delivery) error
	held     *heldWriter // nil: Connect flushes every message itself
	deadline func(time.Time) error
	lasting  bool      // the deadline stays set between flushes (HTTP/1)
	armed    time.Time // when the deadline was last set; zero: none is
	dirty    bool      // sent since the last flush
}

// rearm is how long a write deadline set stays good enough: later sends
// push it back, without setting it anew for every event.
const rearm = time.Second

func (o *streamSink) arm() {
	now := time.Now()
	if now.Sub(o.armed) > rearm {
		o.deadline(now.Add(sendTimeout))
		o.armed = now
	}
}

func (o *streamSink) send(d *delivery) error {
	o.arm()
	o.dirty = true
	return o.sendMsg(d)
}

// headers sends the response headers, at once.
func (o *streamSink) headers() error {
	if err := o.send(nil); err != nil {
		return err
	}
	return o.flush()
}

func (o *streamSink) flush() error {
	if !o.dirty {
		return nil
	}
	o.dirty = false
	var err error
	if o.held != nil {
		o.arm()
		err = o.held.flush()
	}
	if !o.lasting {
		o.deadline(time.Time{})
		o.armed = time.Time{}
	}
	return err
}

// heldWriter is the ResponseWriter of a Subscribe stream. Connect flushes
// after every message; heldWriter ignores those flushes, so that the
// messages of a session with several events queued gather in the server's
// buffers, and the session's run loop flushes once its queue is drained.
// Whatever is held when the handler returns, net/http sends with the end
// of the stream.
type heldWriter struct {
	http.ResponseWriter
	lasting bool // HTTP/1: write deadlines are the connection's (see streamSink)
}

func (w *heldWriter) Flush() {}

func (w *heldWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// flush sends what the stream holds.
func (w *heldWriter) flush() error {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

type heldWriterKey struct{}

func heldWriterFrom(ctx context.Context) *heldWriter {
	hw, _ := ctx.Value(heldWriterKey{}).(*heldWriter)
	return hw
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
