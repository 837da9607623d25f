// Package server assembles Foxhole's http.Handler: every Connect service,
// health, reflection and the plain HTTP routes, behind request ids, access
// logs, CORS and authentication; and the http.Server that serves it over
// HTTP/1.1 and cleartext HTTP/2 on one port.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"
	"connectrpc.com/validate"
	"github.com/rs/cors"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/reflect/protoregistry"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/account"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/avatar"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/profile"
	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/realtime"
	"foxhole.dev/foxhole/internal/realtime/stream"
	"foxhole.dev/foxhole/internal/realtime/ws"
	"foxhole.dev/foxhole/internal/rooms"
	"foxhole.dev/foxhole/internal/tracing"
	webclient "foxhole.dev/foxhole/web-client"
)

// Options is everything the handler serves and how.
type Options struct {
	Log      zerolog.Logger
	Auth     *auth.Service
	Profile  *profile.Service
	Files    *files.Service
	Realtime *realtime.Service
	Rooms    *rooms.Service
	Avatars  *avatar.Service
	Accounts *account.Service
	// WebSocket tunes GET /ws; its ToConnect is filled in here.
	WebSocket ws.Options
	// FileUnaryMaxBytes is UploadFile's limit, which may exceed
	// MaxRequestBytes so that a larger file gets a clear answer.
	FileUnaryMaxBytes int64
	// FileMaxBytes is the largest file on any path.
	FileMaxBytes int64
	// UploadIdleTimeout is the longest wait for the next bytes of a
	// `PUT /files` body; 0: none.
	UploadIdleTimeout time.Duration
	// MessageMaxChars is the longest chat message: SendMessage may send
	// more than MaxRequestBytes to carry it.
	MessageMaxChars int
	// PublicURL is the scheme and host clients reach Foxhole at; empty:
	// taken from each request.
	PublicURL string
	// Checks are what /readyz asks, by name (e.g. "database"): one failing
	// answers 503. Reported are asked too, and named when they fail, but
	// leave /readyz at 200 (Valkey, the object store).
	Checks, Reported map[string]func(context.Context) error
	// CORSOrigins are the browser origins allowed to call cross-origin.
	// Empty: same-origin only.
	CORSOrigins []string
	// MaxRequestBytes bounds every RPC message the server reads but those
	// that carry file content or a chat message.
	MaxRequestBytes int64
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// AuthLimiter bounds Register and CreateToken per client address; nil:
	// no limit.
	AuthLimiter ratelimit.Limiter
	// Register bounds Register past AuthLimiter: per IPv6 /56, per IPv6 /48
	// and across all callers; a nil limiter is no limit.
	Register RegisterLimits
	// ListLimiter bounds calls whose policy declares RATE_LIMIT_USER_LIST,
	// per user and procedure; nil: no limit.
	ListLimiter ratelimit.Limiter
	// RoomCreateLimiter and RoomInviteLimiter bound the calls whose policy
	// declares RATE_LIMIT_ROOM_CREATE or RATE_LIMIT_ROOM_INVITE, per user;
	// nil: no limit.
	RoomCreateLimiter, RoomInviteLimiter ratelimit.Limiter
	// TypingLimiter bounds the calls whose policy declares
	// RATE_LIMIT_TYPING, per user; nil: no limit.
	TypingLimiter ratelimit.Limiter
	// AllowPerUser counts a call whose policy declares RATE_LIMIT_USER
	// against its caller's rate, and refuses it past the rate; nil: no
	// limit.
	AllowPerUser func(ctx context.Context, user string) error
	// MaxProbeStreams bounds the health Watch and reflection streams open
	// at once.
	MaxProbeStreams int
	// OnCall, when set, hears the end of every call (for metrics).
	OnCall OnCall
	// Tracer, when set, traces every RPC and stream (otelconnect), plain
	// route and WebSocket session; nil: no tracing at all.
	Tracer trace.TracerProvider
}

// Handler is the whole of Foxhole's HTTP surface.
type Handler struct {
	http.Handler
	ready    *readiness
	enforcer *enforcer
}

// New builds the handler.
func New(o Options) *Handler {
	// The read limit here is a second line behind the body limits (see
	// limits.go), which apply before anything is decoded; for uploads, the
	// only calls that may arrive compressed, it also caps how far one
	// message may inflate.
	interceptors := []connect.Interceptor{errorInterceptor{}, requestDeadline{}, validate.NewInterceptor()}
	if o.Tracer != nil {
		// First, so that its span covers the others, and errors as the
		// client sees them. The caller's trace context is the parent.
		otelIC, err := otelconnect.NewInterceptor(otelconnect.WithTracerProvider(o.Tracer),
			otelconnect.WithPropagator(otel.GetTextMapPropagator()), otelconnect.WithoutMetrics(), otelconnect.WithTrustRemote())
		if err != nil {
			panic("server: otelconnect: " + err.Error())
		}
		interceptors = append([]connect.Interceptor{otelIC}, interceptors...)
	}
	common := []connect.HandlerOption{
		connect.WithInterceptors(interceptors...),
		connect.WithReadMaxBytes(int(o.MaxRequestBytes + 12*int64(o.MessageMaxChars))),
		// Compressing small messages costs more CPU than the bytes it saves.
		connect.WithCompressMinBytes(4 << 10),
		connect.WithRecover(func(ctx context.Context, _ connect.Spec, _ http.Header, p any) error {
			zerolog.Ctx(ctx).Error().Interface("panic", p).Msg("handler panicked")
			return connect.NewError(connect.CodeInternal, errors.New("internal error"))
		}),
	}
	connectOpts := connect.WithHandlerOptions(common...)

	mux := http.NewServeMux()
	rt := &routes{mux: mux}
	if o.Tracer != nil {
		rt.wrap = func(pattern string, h http.Handler) http.Handler { return tracing.Route(o.Tracer, pattern, h) }
	}
	rt.service(foxholev1connect.NewAuthServiceHandler(auth.NewHandler(o.Auth), connectOpts))
	rt.service(foxholev1connect.NewProfileServiceHandler(profile.NewHandler(o.Profile), connectOpts))
	fileHandler := files.NewHandler(o.Files)
	// File content is mostly compressed already: downloads and listings are
	// not gzipped. The procedures that accept a compressed body (uploads)
	// have a handler of their own, each message inflating to at most the
	// largest upload message.
	rt.service(foxholev1connect.NewFileServiceHandler(fileHandler, connect.WithHandlerOptions(connectOpts,
		connect.WithCompression("gzip", nil, nil))))
	uploadMax := uploadReadMax(o.FileUnaryMaxBytes)
	_, uploads := foxholev1connect.NewFileServiceHandler(fileHandler, connect.WithHandlerOptions(connectOpts,
		connect.WithReadMaxBytes(int(uploadMax)), inflationCap(uploadMax)))
	rt.handle("PUT /files/{name...}", uploadRoute(o.Files, o.FileMaxBytes, o.UploadIdleTimeout, writeHTTPError))
	rt.handle("GET /files/download/{id}", downloadRoute(o.Files, writeHTTPError))
	rt.handle("GET "+files.SharePath+"{id}", shareRoute(o.Files, writeHTTPError))
	tusRoutes := &tus{svc: o.Files, maxBytes: o.FileMaxBytes, idleTimeout: o.UploadIdleTimeout, fail: writeHTTPError}
	rt.handle("OPTIONS "+TusPath+"{$}", http.HandlerFunc(tusRoutes.options))
	rt.handle("POST "+TusPath+"{$}", http.HandlerFunc(tusRoutes.create))
	rt.handle("HEAD "+TusPath+"{id}", http.HandlerFunc(tusRoutes.head))
	rt.handle("PATCH "+TusPath+"{id}", http.HandlerFunc(tusRoutes.patch))
	rt.handle("DELETE "+TusPath+"{id}", http.HandlerFunc(tusRoutes.terminate))
	rt.service(foxholev1connect.NewRoomServiceHandler(rooms.NewHandler(o.Rooms), connectOpts))
	rt.handle("PUT /avatar", avatar.PutRoute(o.Avatars, writeHTTPError))
	rt.handle("DELETE /avatar", avatar.DeleteRoute(o.Avatars, writeHTTPError))
	rt.handle("GET /avatars/{userId}", avatar.GetRoute(o.Avatars, writeHTTPError))
	rt.handle("GET /account/export", account.ExportRoute(o.Accounts, writeHTTPError))
	realtimeHandler := stream.NewHandler(o.Realtime)
	rt.service(foxholev1connect.NewRealtimeServiceHandler(realtimeHandler, connectOpts))
	// Subscribe's own handler: events encoded once for every stream, and
	// written together when several are queued. Streams are not gzipped,
	// as WebSockets are not: connect-go would compress every large event
	// (a presence snapshot of a crowded room) again for each stream, and a
	// crowd reconnecting at once would cost seconds of CPU for it.
	mux.Handle(realtimeHandler.SubscribeHandler(connectOpts, connect.WithCompression("gzip", nil, nil)))
	wsOpts := o.WebSocket
	wsOpts.ToConnect, wsOpts.Fail, wsOpts.Detach = toConnect, writeHTTPError, detach
	if tp := o.Tracer; tp != nil {
		// The session's span outlives the upgrade's, its parent.
		wsOpts.Detach = func(ctx context.Context) context.Context {
			return tracing.Session(tp, detach(ctx), trace.SpanContextFromContext(ctx))
		}
		wsOpts.Ended = func(ctx context.Context) { trace.SpanFromContext(ctx).End() }
	}
	rt.handle("GET /ws", ws.NewHandler(o.Realtime, wsOpts))

	probeOpts := connect.WithHandlerOptions(connect.WithReadMaxBytes(int(o.MaxRequestBytes)))
	foxholeServices := slices.Clone(rt.services)
	ready := &readiness{required: o.Checks, reported: o.Reported}
	rt.service(grpchealth.NewHandler(healthChecker{rd: ready, known: grpchealth.NewStaticChecker(foxholeServices...)}, probeOpts))
	reflector := grpcreflect.NewStaticReflector(append(foxholeServices, grpchealth.HealthV1ServiceName)...)
	rt.service(grpcreflect.NewHandlerV1(reflector, probeOpts))
	rt.service(grpcreflect.NewHandlerV1Alpha(reflector, probeOpts))

	rt.handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	rt.handle("GET /readyz", ready)
	// The web app: its page and the reference exactly (any other path stays
	// unknown), and its hashed assets.
	rt.handle("GET /{$}", webclient.Index())
	rt.handle("GET /docs", webclient.Docs())
	rt.handle("GET /assets/{name}", webclient.Assets())

	// Every route's policy, checked against what is mounted: a procedure or
	// route without one, or one declared for nothing, stops the server here.
	procedures, err := procedurePolicies(protoregistry.GlobalFiles, rt.services)
	if err == nil {
		err = checkRoutes(rt.plain)
	}
	if err != nil {
		panic("server: routes and their policies disagree:\n" + err.Error())
	}
	// The uploads' own handler serves the procedures that accept a
	// compressed body, which only file uploads do.
	for path, p := range procedures {
		if !p.GetCompressed() {
			continue
		}
		if !strings.HasPrefix(path, "/"+foxholev1connect.FileServiceName+"/") {
			panic("server: " + path + " accepts a compressed body, which only FileService's uploads are mounted to inflate")
		}
		mux.Handle(path, uploads)
	}
	enforce := newEnforcer(rt, procedures, o)

	var h http.Handler = mux
	h = enforce.afterAuth(h)
	h = o.Auth.Middleware(isPublic, writeError)(h)
	h = enforce.beforeAuth(h)
	if len(o.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: o.CORSOrigins,
			// PUT /files; POST, HEAD, PATCH and DELETE /files/tus/.
			AllowedMethods: append(connectcors.AllowedMethods(), http.MethodPut, http.MethodHead, http.MethodPatch, http.MethodDelete),
			AllowedHeaders: append(append(connectcors.AllowedHeaders(), "Authorization", "X-Request-Id"), tusRequestHeaders...),
			ExposedHeaders: append(append(connectcors.ExposedHeaders(), "X-Request-Id", "Retry-After"), tusResponseHeaders...),
			MaxAge:         7200,
		}).Handler(h)
	}
	h = accessLog(o.Log, o.OnCall, h)
	return &Handler{Handler: h, ready: ready, enforcer: enforce}
}

// Policies returns the policy of every procedure, by path, and of every
// plain route, by pattern: what the server enforces.
func (h *Handler) Policies() map[string]*foxholev1.Policy {
	out := map[string]*foxholev1.Policy{}
	for path, ru := range h.enforcer.procedures {
		out[path] = ru.policy
	}
	for pattern, ru := range h.enforcer.routes {
		out[pattern] = ru.policy
	}
	return out
}

// SetDraining makes /readyz answer 503 from now on, so that load balancers
// stop sending new calls while in-flight ones finish.
func (h *Handler) SetDraining() { h.ready.draining.Store(true) }

// writeError answers an error raised before any Connect handler runs, in the
// protocol the client speaks: Connect, gRPC and gRPC-Web clients get their
// own error format, anything else a JSON body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	ce := toConnect(r.Context(), err)
	setCode(r.Context(), ce)
	ew := connect.NewErrorWriter()
	if ew.IsSupported(r) {
		_ = ew.Write(w, r, ce)
		return
	}
	writeJSONError(w, ce)
}

// writeHTTPError answers an error on a plain HTTP route (/files) with a
// JSON body `{"error": {"code", "message"}}` and the matching HTTP status.
func writeHTTPError(w http.ResponseWriter, r *http.Request, err error) {
	ce := toConnect(r.Context(), err)
	setCode(r.Context(), ce)
	writeJSONError(w, ce)
}

func writeJSONError(w http.ResponseWriter, ce *connect.Error) {
	for k, v := range ce.Meta() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus(ce))
	_, _ = w.Write(errs.JSON(ce.Code().String(), ce.Message()))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
