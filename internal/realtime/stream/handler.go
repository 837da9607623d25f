// Package stream serves foxhole.v1.RealtimeService over Connect, gRPC and
// gRPC-Web: Subscribe's server streams, SendMessage and ListPresence. A
// stream is a realtime.Session run against a realtime.Sink that writes
// to the stream; this package reaches the domain through that seam alone.
package stream

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/realtime"
)

var _ foxholev1connect.RealtimeServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.RealtimeService from a realtime.Service. It
// holds nothing of its own: every stream is a session of the service.
type Handler struct{ svc *realtime.Service }

// NewHandler returns the RealtimeService handler for svc.
func NewHandler(svc *realtime.Service) *Handler { return &Handler{svc: svc} }

// Subscribe implements foxholev1connect.RealtimeServiceHandler, for a mux
// that mounts the generated handler. Foxhole's server mounts
// SubscribeHandler instead, whose streams send each event's shared
// encoding and write several queued events at once.
func (h *Handler) Subscribe(ctx context.Context, req *connect.Request[foxholev1.SubscribeRequest], stream *connect.ServerStream[foxholev1.SubscribeResponse]) error {
	return h.subscribe(ctx, req.Msg, func(d *realtime.Delivery) error {
		if d == nil {
			return stream.Send(nil)
		}
		return stream.Send(d.Response())
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
		func(ctx context.Context, req *connect.Request[foxholev1.SubscribeRequest], stream *connect.ServerStream[realtime.Delivery]) error {
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
			set(time.Now().Add(realtime.SendTimeout))
			_ = hw.flush()
			set(time.Time{})
		}
	})
}

// subscribe runs a Subscribe stream; send(nil) sends the headers. Its
// goroutine waits in here while the stream lasts: see realtime.Session.Run.
func (h *Handler) subscribe(ctx context.Context, req *foxholev1.SubscribeRequest, send func(*realtime.Delivery) error) error {
	sess, out, err := h.start(ctx, req, send)
	if err != nil {
		return err
	}
	defer sess.Close(ctx)
	return sess.Run(ctx, out)
}

// start opens the session and sends the headers, at once, so that the
// client knows it is subscribed before the first event. A session that
// cannot go on is closed.
func (h *Handler) start(ctx context.Context, req *foxholev1.SubscribeRequest, send func(*realtime.Delivery) error) (*realtime.Session, realtime.Sink, error) {
	sess, err := h.open(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	held := heldWriterFrom(ctx)
	out := &streamSink{sendMsg: send, held: held, deadline: call.From(ctx).Deadlines().Write, lasting: held != nil && held.lasting}
	if err := out.headers(); err != nil {
		sess.Close(ctx)
		return nil, nil, err
	}
	return sess, out, nil
}

// open opens the caller's session. It does so before the headers go out,
// so that a refusal (over a cap) carries its Retry-After in them.
func (h *Handler) open(ctx context.Context, req *foxholev1.SubscribeRequest) (*realtime.Session, error) {
	id, ok := auth.IdentityFrom(ctx)
	if !ok {
		return nil, errs.ErrUnauthenticated
	}
	sub := realtime.Subscription{
		UserID:       id.UserID,
		TokenVersion: id.TokenVersion,
		Expires:      id.Expires,
		Addr:         clientaddr.Key(call.From(ctx).ClientAddr()),
		SkipPresence: req.GetSkipPresence(),
		Heartbeat:    true,
		Rooms:        req.GetRoomIds(),
	}
	if req.AfterEventId != nil {
		after := req.GetAfterEventId()
		sub.After = &after
	}
	return h.svc.Open(ctx, sub)
}

// streamSink sends a stream's events through Connect. Every write to the
// connection, whether Connect's (a buffer filled) or flush's, has a write
// deadline, so that a peer that stops reading cannot hold the stream.
//
// On HTTP/2 the deadline is the stream's, and one that passes ends the
// stream even while it writes nothing: it is lifted once the held events
// are out, so that an idle stream lives on. On HTTP/1 it is the
// connection's, which writes nothing but this stream's events: it bounds
// writes alone, so it stays, and is set anew only once it is older than
// realtime.Rearm (SubscribeHandler lifts it when the stream ends).
type streamSink struct {
	sendMsg  func(*realtime.Delivery) error
	held     *heldWriter // nil: Connect flushes every message itself
	deadline func(time.Time) error
	lasting  bool      // the deadline stays set between flushes (HTTP/1)
	armed    time.Time // when the deadline was last set; zero: none is
	dirty    bool      // sent since the last flush
}

// arm sets the write deadline unless the one set is recent enough (see
// realtime.Rearm): later sends push it back, without setting it anew for
// every event.
func (o *streamSink) arm() {
	now := time.Now()
	if now.Sub(o.armed) > realtime.Rearm {
		o.deadline(now.Add(realtime.SendTimeout))
		o.armed = now
	}
}

// Send implements realtime.Sink: Connect writes d into the server's
// buffers, which heldWriter holds until Flush.
func (o *streamSink) Send(d *realtime.Delivery) error {
	o.arm()
	o.dirty = true
	return o.sendMsg(d)
}

// headers sends the response headers, at once.
func (o *streamSink) headers() error {
	if err := o.Send(nil); err != nil {
		return err
	}
	return o.Flush()
}

// Flush implements realtime.Sink: what the stream holds goes out.
func (o *streamSink) Flush() error {
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
	ev, err := h.svc.Send(ctx, user, req.Msg.GetContent(), req.Msg.GetRecipientId(), req.Msg.GetRoomId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.SendMessageResponse{Event: ev}), nil
}

// maxPresencePage is ListPresence's largest page, and its page when the
// request names none.
const maxPresencePage = 1000

// ListPresence implements foxholev1connect.RealtimeServiceHandler. Its page
// token is the last id of the page before, opaque to clients.
func (h *Handler) ListPresence(ctx context.Context, req *connect.Request[foxholev1.ListPresenceRequest]) (*connect.Response[foxholev1.ListPresenceResponse], error) {
	n := int(req.Msg.GetPageSize())
	if n <= 0 || n > maxPresencePage {
		n = maxPresencePage
	}
	var after string
	if t := req.Msg.GetPageToken(); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || len(b) == 0 {
			return nil, errs.Invalidf("page_token", "is not a token ListPresence returned")
		}
		after = string(b)
	}
	var users []*foxholev1.UserRef
	var more bool
	if room := req.Msg.GetRoomId(); room != "" {
		user, err := auth.Caller(ctx)
		if err != nil {
			return nil, err
		}
		if users, more, err = h.svc.RoomOnline(ctx, user, room, n, after); err != nil {
			return nil, err
		}
	} else {
		users, more = h.svc.ListOnline(n, after)
	}
	res := &foxholev1.ListPresenceResponse{Users: users}
	if more {
		res.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(users[len(users)-1].GetId()))
	}
	return connect.NewResponse(res), nil
}

// ListMessages implements foxholev1connect.RealtimeServiceHandler.
func (h *Handler) ListMessages(ctx context.Context, req *connect.Request[foxholev1.ListMessagesRequest]) (*connect.Response[foxholev1.ListMessagesResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	evs, more, err := h.svc.History(ctx, user, realtime.HistoryQuery{
		Room:   req.Msg.GetRoomId(),
		Peer:   req.Msg.GetPeerId(),
		Before: req.Msg.BeforeEventId,
		After:  req.Msg.AfterEventId,
		Size:   int(req.Msg.GetPageSize()),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.ListMessagesResponse{Events: evs, HasMore: more}), nil
}
