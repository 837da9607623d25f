package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/call"
)

// entry is what the access log keeps of one request: its call record, which
// inner layers fill in through the context, and its response's status.
type entry struct {
	rec call.Record
	w   call.StatusWriter
}

func requestIDFrom(ctx context.Context) string {
	if rec, ok := call.Lookup(ctx); ok {
		return rec.RequestID
	}
	return ""
}

// setCode records the Connect code of the call's outcome, keeping the first.
func setCode(ctx context.Context, err error) {
	rec, ok := call.Lookup(ctx)
	if !ok || rec.Code != "" {
		return
	}
	if err == nil {
		rec.Code = "ok"
	} else {
		rec.Code = connect.CodeOf(err).String()
	}
}

// accessLog gives every request an id (the caller's X-Request-Id when it is
// sensible, else a new one), echoes it in the response, puts a logger that
// carries it in the context, and writes one line per request when it ends.
// The line never holds a header value, a query string or a body.
func accessLog(base zerolog.Logger, onCall OnCall, next http.Handler) http.Handler {
	// The work before and after the call is done in functions of their own,
	// so that a stream's goroutine, which stays in here for as long as the
	// stream lasts, does not hold their frames on its stack meanwhile.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			growStack()
		}
		e, r := startCall(&base, w, r)
		next.ServeHTTP(&e.w, r)
		e.logLine(r, onCall)
	})
}

// startCall gives the request its id, logger and call record.
func startCall(base *zerolog.Logger, w http.ResponseWriter, r *http.Request) (*entry, *http.Request) {
	e := &entry{rec: call.Record{RequestID: cleanRequestID(r.Header.Get("X-Request-Id")), Start: time.Now()}}
	if e.rec.RequestID == "" {
		e.rec.RequestID = newRequestID()
	}
	w.Header()["X-Request-Id"] = []string{e.rec.RequestID}
	// A hook, not a field: With would copy the logger's fields into a new
	// buffer for every request, and most requests log nothing but their
	// access line.
	log := base.Hook(requestIDHook(e.rec.RequestID))
	ctx := call.With(log.WithContext(r.Context()), &e.rec)
	e.w.ResponseWriter = w
	e.rec.Response = &e.w
	return e, r.WithContext(ctx)
}

// logLine writes the access log's line of the call, once it has ended.
func (e *entry) logLine(r *http.Request, onCall OnCall) {
	log := zerolog.Ctx(r.Context())
	code := e.rec.Code
	if code == "" {
		code = codeFromResponse(&e.w)
	}
	took := time.Since(e.rec.Start)
	if onCall != nil {
		limited := code == connect.CodeResourceExhausted.String() && e.w.Header().Get("Retry-After") != ""
		onCall(e.rec.Route, protocol(r), code, took, limited)
	}
	ev := log.Info()
	if code == connect.CodeInternal.String() || code == connect.CodeUnknown.String() {
		ev = log.Warn()
	}
	ev.Str("method", r.Method).
		Str("path", r.URL.Path).
		Str("protocol", protocol(r)).
		Str("code", code).
		Int("status", e.w.Status()).
		Float64("duration_ms", float64(took.Microseconds())/1000).
		Str("user_id", e.rec.UserID).
		Msg("call")
}

// OnCall hears the end of every call: its route (procedure path or plain
// route pattern; empty when none matched), protocol, Connect code and
// duration, and whether a limit refused it.
type OnCall func(route, protocol, code string, took time.Duration, limited bool)

// detach returns a context for work that outlives its request (a WebSocket
// after the upgrade) with the request's logger and id, but not the request,
// its response or its connection's buffers, which the call in the request's
// context reaches through its ResponseWriter.
func detach(ctx context.Context) context.Context {
	out := zerolog.Ctx(ctx).WithContext(context.Background())
	if rec, ok := call.Lookup(ctx); ok {
		out = call.With(out, rec.Detached())
	}
	return out
}

func cleanRequestID(s string) string {
	if len(s) == 0 || len(s) > 128 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return ""
		}
	}
	return s
}

// requestIDHook adds the request's id to every line logged for it.
type requestIDHook string

func (h requestIDHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str("request_id", string(h))
}

// Request ids are a random prefix drawn once per process and a counter:
// unique without reading randomness for every request.
var (
	requestIDPrefix = func() [4]byte {
		var b [4]byte
		rand.Read(b[:])
		return b
	}()
	requestIDCount atomic.Uint64
)

// newRequestID returns 24 hex digits: the process's 4 random bytes, then
// the count of its requests so far in 8.
func newRequestID() string {
	var b [12]byte
	copy(b[:4], requestIDPrefix[:])
	binary.BigEndian.PutUint64(b[4:], requestIDCount.Add(1))
	return hex.EncodeToString(b[:])
}

func protocol(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/grpc-web"):
		return "grpc-web"
	case strings.HasPrefix(ct, "application/grpc"):
		return "grpc"
	case strings.HasPrefix(ct, "application/connect+"), strings.HasPrefix(ct, "application/json"),
		strings.HasPrefix(ct, "application/proto"), r.URL.Query().Get("connect") == "v1":
		return "connect"
	}
	return "http"
}

// codeFromResponse finds the code of a call that ended before any
// interceptor ran (a body that did not decode, say): from the gRPC status
// header or trailer, else from the HTTP status.
func codeFromResponse(w *call.StatusWriter) string {
	h := w.Header()
	s := h.Get("Grpc-Status")
	if s == "" {
		s = h.Get(http.TrailerPrefix + "Grpc-Status")
	}
	if s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			if n == 0 {
				return "ok"
			}
			return connect.Code(n).String()
		}
	}
	if w.Status() < 400 {
		return "ok"
	}
	return codeOfStatus(w.Status()).String()
}
