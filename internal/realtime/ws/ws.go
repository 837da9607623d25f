// Package ws serves GET /ws: a user's realtime events as WebSocket text
// frames, each the JSON of one SubscribeResponse, and chat messages sent as
// frames of SendMessageRequest JSON. A socket is a realtime.Session run
// against a realtime.Sink that writes its frames, through a corked
// connection (cork.go); this package reaches the domain through that seam
// alone.
package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/realtime"
)

// Options tune GET /ws.
type Options struct {
	// OriginPatterns are the cross-origin hosts allowed to connect (the
	// request's own host always is); see websocket.AcceptOptions.
	OriginPatterns []string
	MaxFrameBytes  int64         // largest frame a client may send
	PingInterval   time.Duration // between pings; a peer that misses one is dropped
	// ToConnect maps an error to the code and message a client sees.
	ToConnect func(context.Context, error) *connect.Error
	// Fail answers a request refused before the upgrade (over a cap, a bad
	// query) the way the server answers plain HTTP errors.
	Fail func(http.ResponseWriter, *http.Request, error)
	// Detach returns the context a socket lives on after the upgrade: the
	// request's logger and id, without the request and its response, which
	// hold net/http's buffers for the connection. nil: the logger only.
	Detach func(context.Context) context.Context
	// Ended, when set, hears that a socket's session ended, with the
	// context Detach gave it (to end its trace span). nil: nothing does.
	Ended func(context.Context)
}

// NewHandler returns the handler of GET /ws, serving svc's sessions: the
// caller's events as text frames, each the JSON of one SubscribeResponse,
// and chat messages sent as frames of SendMessageRequest JSON. The request
// is already authenticated. o's ToConnect and Fail must be set.
func NewHandler(svc *realtime.Service, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.IdentityFrom(r.Context())
		if !ok {
			o.Fail(w, r, errs.ErrUnauthenticated)
			return
		}
		sub := realtime.Subscription{
			UserID:       id.UserID,
			TokenVersion: id.TokenVersion,
			Expires:      id.Expires,
			Addr:         clientaddr.Key(call.From(r.Context()).ClientAddr()),
			SkipPresence: r.URL.Query().Get("skipPresence") == "true",
		}
		if a := r.URL.Query().Get("afterEventId"); a != "" {
			after, err := strconv.ParseInt(a, 10, 64)
			if err != nil || after < 0 {
				o.Fail(w, r, errs.Invalidf("afterEventId", "must be an event id"))
				return
			}
			sub.After = &after
		}
		if rooms := r.URL.Query().Get("roomIds"); rooms != "" {
			sub.Rooms = strings.Split(rooms, ",")
			if len(sub.Rooms) > maxRooms || slices.ContainsFunc(sub.Rooms, func(id string) bool { return id == "" || len(id) > 64 }) {
				o.Fail(w, r, errs.Invalidf("roomIds", "must be at most %d room ids, comma-separated", maxRooms))
				return
			}
		}
		// Opened before the upgrade, so that a session over a cap gets an
		// HTTP 429 with Retry-After, which clients know how to honour.
		sess, err := svc.Open(r.Context(), sub)
		if err != nil {
			o.Fail(w, r, err)
			return
		}
		sw := &socketWriter{ResponseWriter: w}
		c, err := websocket.Accept(sw, r, &websocket.AcceptOptions{OriginPatterns: o.OriginPatterns})
		if err != nil {
			sess.Close(r.Context())
			return // Accept has answered
		}
		// The connection is hijacked: it lives on in goroutines of its own,
		// whose stacks start small, instead of under this handler's deep one,
		// and on a context that lets go of the request. At ten thousand
		// sockets that is most of their memory.
		detach := o.Detach
		if detach == nil {
			detach = func(ctx context.Context) context.Context { return zerolog.Ctx(ctx).WithContext(context.Background()) }
		}
		go serveSocket(detach(r.Context()), c, sw.conn, sess, &o)
	})
}

// serveSocket runs one WebSocket session until it ends, then closes it.
//
// The library's reads and writes get a context that is never cancelled:
// with one that is, it registers a callback on it for every frame, and
// holds one for as long as a read waits. They end instead when the
// connection closes, which every way out of here does, and each physical
// write has a deadline (corkConn).
func serveSocket(ctx context.Context, c *websocket.Conn, conn *corkConn, sess *realtime.Session, o *Options) {
	if o.Ended != nil {
		defer o.Ended(ctx)
	}
	defer c.CloseNow()
	c.SetReadLimit(o.MaxFrameBytes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Reading frames and keeping the peer alive run beside the event loop;
	// either ending ends the connection. The session closes only once the
	// reader is done, so that no frame is handled after it closed.
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		defer cancel()
		readFrames(ctx, c, sess, o)
	}()
	defer func() {
		c.CloseNow() // the reader stops at once if the close handshake did not stop it
		<-reading
		sess.Close(ctx)
	}()
	stopPings := keepAlive(ctx, cancel, c, o.PingInterval)
	defer stopPings()

	err := sess.Run(ctx, &socketSink{ctx: context.WithoutCancel(ctx), c: c, conn: conn})
	endSocket(ctx, c, err, o)
}

// endSocket closes a socket whose session ended with err, telling the
// client why.
func endSocket(ctx context.Context, c *websocket.Conn, err error, o *Options) {
	switch {
	case errors.Is(err, realtime.ErrShuttingDown):
		c.Close(websocket.StatusGoingAway, "server shutting down; resume from your last event id")
	case errors.Is(err, realtime.ErrTooSlow):
		c.Close(websocket.StatusPolicyViolation, "too slow; resume from your last event id")
	case ctx.Err() != nil:
		// The peer left, or stopped answering pings.
	case err != nil:
		// The reason starts with the code, e.g. "unauthenticated: access
		// token revoked…", for clients that see only the close frame.
		ce := o.ToConnect(ctx, err)
		writeError(ctx, c, ce)
		c.Close(websocket.StatusPolicyViolation, truncate(ce.Code().String()+": "+ce.Message(), 120))
	}
}

// readFrames handles what the client sends until the connection ends.
func readFrames(ctx context.Context, c *websocket.Conn, sess *realtime.Session, o *Options) {
	rctx := context.WithoutCancel(ctx) // see serveSocket
	for {
		typ, data, err := c.Read(rctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			writeError(ctx, c, connect.NewError(connect.CodeInvalidArgument, errors.New("send text frames of JSON")))
			continue
		}
		content, recipient, room, err := decodeFrame(data)
		if err == nil {
			_, err = sess.Send(ctx, content, recipient, room)
		}
		if err != nil {
			writeError(ctx, c, o.ToConnect(ctx, err))
		}
	}
}

// keepAlive pings the peer every interval and calls drop when a ping goes
// unanswered. It holds no goroutine between pings, which matters at ten
// thousand idle sockets. The returned func stops it.
func keepAlive(ctx context.Context, drop func(), c *websocket.Conn, every time.Duration) (stop func() bool) {
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		pctx, cancel := context.WithTimeout(ctx, every)
		defer cancel()
		if err := c.Ping(pctx); err != nil {
			drop()
			return
		}
		t.Reset(every)
	})
	return t.Stop
}

// frame is what a client sends: SendMessageRequest as JSON, with the
// field names of either JSON or proto, and an ignored "type".
type frame struct {
	Content     *string `json:"content"`
	RecipientID string  `json:"recipientId"`
	Recipient   string  `json:"recipient_id"`
	RoomID      string  `json:"roomId"`
	Type        any     `json:"type"`
}

// maxRooms bounds the rooms a WebSocket narrows its events to, as
// SubscribeRequest.room_ids is bounded.
const maxRooms = 1000

// recipient is the frame's recipient, under either name.
func (f *frame) recipient() string {
	if f.RecipientID != "" {
		return f.RecipientID
	}
	return f.Recipient
}

// decodeFrame reads a client frame. Every malformed frame is an
// *errs.Invalid.
func decodeFrame(data []byte) (content, recipient, room string, err error) {
	f := new(frame)
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(f); err != nil {
		return "", "", "", errs.Invalidf("frame", "must be a JSON object like {\"content\": \"hi\", \"recipientId\": \"…\"}")
	}
	if dec.More() {
		return "", "", "", errs.Invalidf("frame", "must hold exactly one JSON object")
	}
	if f.Content == nil {
		return "", "", "", errs.Invalidf("content", "is required")
	}
	if f.RecipientID != "" && f.Recipient != "" && f.RecipientID != f.Recipient {
		return "", "", "", errs.Invalidf("recipientId", "and recipient_id disagree")
	}
	if len(f.recipient()) > 64 {
		return "", "", "", errs.Invalidf("recipientId", "must be at most 64 characters")
	}
	if len(f.RoomID) > 64 {
		return "", "", "", errs.Invalidf("roomId", "must be at most 64 characters")
	}
	return *f.Content, f.recipient(), f.RoomID, nil
}

// writeError sends an error frame: {"error": {"code": …, "message": …}}.
func writeError(ctx context.Context, c *websocket.Conn, ce *connect.Error) {
	b := errs.JSON(ce.Code().String(), ce.Message())
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Write(wctx, websocket.MessageText, b); err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Msg("write error frame")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
