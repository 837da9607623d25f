package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/errs"
)

// WebSocketOptions tune GET /ws.
type WebSocketOptions struct {
	// OriginPatterns are the cross-origin hosts allowed to connect (the
	// request's own host always is); see websocket.AcceptOptions.
	OriginPatterns []string
	MaxFrameBytes  int64         // largest frame a client may send
	PingInterval   time.Duration // between pings; a peer that misses one is dropped
	// ToConnect maps an error to the code and message a client sees.
	ToConnect func(context.Context, error) *connect.Error
}

// WebSocket serves GET /ws: the caller's events as text frames, each the
// JSON of one SubscribeResponse, and chat messages sent as frames of
// SendMessageRequest JSON. The request is already authenticated.
func (s *Service) WebSocket(o WebSocketOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Caller(r.Context())
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		sub := Subscription{UserID: user, SkipPresence: r.URL.Query().Get("skipPresence") == "true"}
		if a := r.URL.Query().Get("afterEventId"); a != "" {
			after, err := strconv.ParseInt(a, 10, 64)
			if err != nil || after < 0 {
				http.Error(w, "afterEventId must be an event id", http.StatusBadRequest)
				return
			}
			sub.After = &after
		}
		s.active.Add(1)
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: o.OriginPatterns})
		if err != nil {
			s.active.Done()
			return // Accept has answered
		}
		// The connection is hijacked: it lives on in goroutines of its own,
		// whose stacks start small, instead of under this handler's deep one.
		// At ten thousand sockets that is most of their memory.
		go func() {
			defer s.active.Done()
			s.serveSocket(context.WithoutCancel(r.Context()), c, sub, o)
		}()
	})
}

// serveSocket runs one WebSocket session until it ends.
func (s *Service) serveSocket(ctx context.Context, c *websocket.Conn, sub Subscription, o WebSocketOptions) {
	defer c.CloseNow()
	c.SetReadLimit(o.MaxFrameBytes)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Reading frames and keeping the peer alive run beside the event loop;
	// either ending ends the connection.
	go func() {
		defer cancel()
		s.readFrames(ctx, c, sub.UserID, o)
	}()
	stopPings := keepAlive(ctx, cancel, c, o.PingInterval)
	defer stopPings()

	err := s.Subscribe(ctx, sub, func(d *delivery) error {
		wctx, wcancel := context.WithTimeout(ctx, sendTimeout)
		defer wcancel()
		return c.Write(wctx, websocket.MessageText, d.JSON())
	})
	switch {
	case errors.Is(err, ErrShuttingDown):
		c.Close(websocket.StatusGoingAway, "server shutting down; resume from your last event id")
	case errors.Is(err, ErrTooSlow):
		c.Close(websocket.StatusPolicyViolation, "too slow; resume from your last event id")
	case ctx.Err() != nil:
		// The peer left, or stopped answering pings.
	case err != nil:
		ce := o.ToConnect(ctx, err)
		writeError(ctx, c, ce)
		c.Close(websocket.StatusPolicyViolation, truncate(ce.Message(), 120))
	}
}

// readFrames handles what the client sends until the connection ends.
func (s *Service) readFrames(ctx context.Context, c *websocket.Conn, user string, o WebSocketOptions) {
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			writeError(ctx, c, connect.NewError(connect.CodeInvalidArgument, errors.New("send text frames of JSON")))
			continue
		}
		content, recipient, err := decodeFrame(data)
		if err == nil {
			_, err = s.Send(ctx, user, content, recipient)
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
	Type        any     `json:"type"`
}

// decodeFrame reads a client frame. Every malformed frame is an
// *errs.Invalid.
func decodeFrame(data []byte) (content, recipient string, err error) {
	var f frame
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return "", "", errs.Invalidf("frame", "must be a JSON object like {\"content\": \"hi\", \"recipientId\": \"…\"}")
	}
	if dec.More() {
		return "", "", errs.Invalidf("frame", "must hold exactly one JSON object")
	}
	if f.Content == nil {
		return "", "", errs.Invalidf("content", "is required")
	}
	if f.RecipientID != "" && f.Recipient != "" && f.RecipientID != f.Recipient {
		return "", "", errs.Invalidf("recipientId", "and recipient_id disagree")
	}
	recipient = f.RecipientID
	if recipient == "" {
		recipient = f.Recipient
	}
	if len(recipient) > 64 {
		return "", "", errs.Invalidf("recipientId", "must be at most 64 characters")
	}
	return *f.Content, recipient, nil
}

// writeError sends an error frame: {"error": {"code": …, "message": …}}.
func writeError(ctx context.Context, c *websocket.Conn, ce *connect.Error) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": ce.Code().String(), "message": ce.Message()}})
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
