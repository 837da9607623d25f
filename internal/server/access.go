package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/auth"
)

// call is what the access log records about one request. Inner layers fill
// it in through the pointer kept in the request context.
type call struct {
	requestID string
	userID    string
	code      string // Connect code, once known
	w         statusWriter
}

type callKey struct{}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

func requestIDFrom(ctx context.Context) string {
	if c := callFrom(ctx); c != nil {
		return c.requestID
	}
	return ""
}

// setCode records the Connect code of the call's outcome, keeping the first.
func setCode(ctx context.Context, err error) {
	c := callFrom(ctx)
	if c == nil || c.code != "" {
		return
	}
	if err == nil {
		c.code = "ok"
	} else {
		c.code = connect.CodeOf(err).String()
	}
}

// accessLog gives every request an id (the caller's X-Request-Id when it is
// sensible, else a new one), echoes it in the response, puts a logger that
// carries it in the context, and writes one line per request when it ends.
// The line never holds a header value, a query string or a body.
func accessLog(base zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &call{requestID: cleanRequestID(r.Header.Get("X-Request-Id"))}
		if c.requestID == "" {
			c.requestID = newRequestID()
		}
		w.Header().Set("X-Request-Id", c.requestID)
		log := base.With().Str("request_id", c.requestID).Logger()
		ctx := context.WithValue(log.WithContext(r.Context()), callKey{}, c)
		sw := &c.w
		sw.ResponseWriter = w
		next.ServeHTTP(sw, r.WithContext(ctx))

		code := c.code
		if code == "" {
			code = codeFromResponse(sw)
		}
		ev := log.Info()
		if code == connect.CodeInternal.String() || code == connect.CodeUnknown.String() {
			ev = log.Warn()
		}
		ev.Str("method", r.Method).
			Str("path", r.URL.Path).
			Str("protocol", protocol(r)).
			Str("code", code).
			Int("status", sw.status()).
			Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
			Str("user_id", c.userID).
			Msg("call")
	})
}

// noteUser records the authenticated user, if any, for the access log.
func noteUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.UserFrom(r.Context()); ok {
			if c := callFrom(r.Context()); c != nil {
				c.userID = id
			}
		}
		next.ServeHTTP(w, r)
	})
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

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
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
func codeFromResponse(w *statusWriter) string {
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
	if w.status() < 400 {
		return "ok"
	}
	return codeOfStatus(w.status()).String()
}

// statusWriter remembers the response status. It passes Flush and the other
// optional interfaces through Unwrap, which http.ResponseController and
// Connect's streaming rely on.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
