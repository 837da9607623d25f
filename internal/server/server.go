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
	"strings"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/validate"
	"github.com/rs/cors"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/blob/local"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/profile"
	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/realtime"
	"foxhole.dev/foxhole/internal/realtime/stream"
	"foxhole.dev/foxhole/internal/realtime/ws"
	webclient "foxhole.dev/foxhole/web-client"
)

// Options is everything the handler serves and how.
type Options struct {
	Log      zerolog.Logger
	Auth     *auth.Service
	Profile  *profile.Service
	Files    *files.Service
	Realtime *realtime.Service
	// WebSocket tunes GET /ws; its ToConnect is filled in here.
	WebSocket ws.Options
	// FileUnaryMaxBytes is UploadFile's limit, which may exceed
	// MaxRequestBytes so that a larger file gets a clear answer.
	FileUnaryMaxBytes int64
	// FileMaxBytes is the largest file on any path.
	FileMaxBytes int64
	// MessageMaxChars is the longest chat message: SendMessage may send
	// more than MaxRequestBytes to carry it.
	MessageMaxChars int
	// PublicURL is the scheme and host clients reach Foxhole at; empty:
	// taken from each request.
	PublicURL string
	// Checks are what /readyz asks, by name (e.g. "database").
	Checks map[string]func(context.Context) error
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
	// MaxProbeStreams bounds the health Watch and reflection streams open
	// at once.
	MaxProbeStreams int
}

// unaryReadTimeout bounds how long a unary call may take to send its body,
// so a client trickling bytes cannot hold a connection forever. Streams are
// exempt: they may stay open for hours.
const unaryReadTimeout = 30 * time.Second

// publicProcedures need no access token.
var publicProcedures = map[string]bool{
	foxholev1connect.AuthServiceRegisterProcedure:    true,
	foxholev1connect.AuthServiceCreateTokenProcedure: true,
}

// Handler is the whole of Foxhole's HTTP surface.
type Handler struct {
	http.Handler
	ready *readiness
}

// New builds the handler.
func New(o Options) *Handler {
	// The read limit here is a second line behind the body limits (see
	// limits.go), which apply before anything is decoded; for uploads, the
	// only calls that may arrive compressed, it also caps how far one
	// message may inflate.
	common := []connect.HandlerOption{
		connect.WithInterceptors(errorInterceptor{}, validate.NewInterceptor()),
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
	mux.Handle(foxholev1connect.NewAuthServiceHandler(auth.NewHandler(o.Auth), connectOpts))
	mux.Handle(foxholev1connect.NewProfileServiceHandler(profile.NewHandler(o.Profile), connectOpts))
	fileHandler := files.NewHandler(o.Files)
	// File content is mostly compressed already: downloads and listings are
	// not gzipped. Uploads accept a gzipped body, each message inflating to
	// at most the largest upload message.
	mux.Handle(foxholev1connect.NewFileServiceHandler(fileHandler, connect.WithHandlerOptions(connectOpts,
		connect.WithCompression("gzip", nil, nil))))
	uploadMax := uploadReadMax(o.FileUnaryMaxBytes)
	_, uploads := foxholev1connect.NewFileServiceHandler(fileHandler, connect.WithHandlerOptions(connectOpts,
		connect.WithReadMaxBytes(int(uploadMax)), inflationCap(uploadMax)))
	uploads = o.Files.HoldUploadSlot(uploads, writeError)
	mux.Handle(foxholev1connect.FileServiceUploadFileProcedure, uploads)
	mux.Handle(foxholev1connect.FileServiceUploadFileStreamProcedure, uploads)
	o.Files.Routes(mux, writeHTTPError)
	realtimeHandler := stream.NewHandler(o.Realtime)
	mux.Handle(foxholev1connect.NewRealtimeServiceHandler(realtimeHandler, connectOpts))
	// Subscribe's own handler: events encoded once for every stream, and
	// written together when several are queued. Streams are not gzipped,
	// as WebSockets are not: connect-go would compress every large event
	// (a presence snapshot of a crowded room) again for each stream, and a
	// crowd reconnecting at once would cost seconds of CPU for it.
	mux.Handle(realtimeHandler.SubscribeHandler(connectOpts, connect.WithCompression("gzip", nil, nil)))
	wsOpts := o.WebSocket
	wsOpts.ToConnect, wsOpts.Fail, wsOpts.Detach = toConnect, writeHTTPError, detach
	mux.Handle("GET /ws", ws.NewHandler(o.Realtime, wsOpts))

	services := []string{
		foxholev1connect.AuthServiceName,
		foxholev1connect.ProfileServiceName,
		foxholev1connect.FileServiceName,
		foxholev1connect.RealtimeServiceName,
	}
	probeOpts := connect.WithHandlerOptions(connect.WithReadMaxBytes(int(o.MaxRequestBytes)))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(services...), probeOpts))
	reflector := grpcreflect.NewStaticReflector(append(services, grpchealth.HealthV1ServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, probeOpts))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, probeOpts))

	ready := &readiness{checks: o.Checks}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", ready)
	// The web app: its page and the reference exactly (any other path stays
	// unknown), and its hashed assets.
	mux.Handle("GET /{$}", webclient.Index())
	mux.Handle("GET /docs", webclient.Docs())
	mux.Handle("GET /assets/{name}", webclient.Assets())

	authn := o.Auth.Middleware(isPublic, writeError)
	var h http.Handler = mux
	h = noteUser(h)
	h = streamDeadlines(h)
	h = withBaseURL(o.PublicURL, h)
	h = authn(h)
	h = rateLimitAuth(o.AuthLimiter, h)
	h = newLimits(mux, services, o).handler(h)
	h = withClientAddr(clientaddr.NewResolver(o.TrustedProxies), h)
	if len(o.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: o.CORSOrigins,
			AllowedMethods: append(connectcors.AllowedMethods(), http.MethodPut), // PUT /files
			AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization", "X-Request-Id"),
			ExposedHeaders: append(connectcors.ExposedHeaders(), "X-Request-Id", "Retry-After"),
			MaxAge:         7200,
		}).Handler(h)
	}
	h = accessLog(o.Log, h)
	return &Handler{Handler: h, ready: ready}
}

// SetDraining makes /readyz answer 503 from now on, so that load balancers
// stop sending new calls while in-flight ones finish.
func (h *Handler) SetDraining() { h.ready.draining.Store(true) }

// isPublic reports whether r may proceed without an access token: the
// calls that obtain one, health, reflection, the probes and the web app.
func isPublic(r *http.Request) bool {
	p := r.URL.Path
	return publicProcedures[p] ||
		((r.Method == http.MethodGet || r.Method == http.MethodHead) && (p == "/" || p == "/docs" || strings.HasPrefix(p, "/assets/"))) ||
		p == "/healthz" || p == "/readyz" ||
		((r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(p, local.DownloadPath)) ||
		strings.HasPrefix(p, "/"+grpchealth.HealthV1ServiceName+"/") ||
		strings.HasPrefix(p, "/grpc.reflection.")
}

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

// withClientAddr puts the client's address in the request context of the
// routes with limits per client (Register and CreateToken, and the realtime
// sessions' caps); other calls do without the copy of the request it costs.
func withClientAddr(res *clientaddr.Resolver, next http.Handler) http.Handler {
	limited := map[string]bool{
		foxholev1connect.AuthServiceRegisterProcedure:      true,
		foxholev1connect.AuthServiceCreateTokenProcedure:   true,
		foxholev1connect.RealtimeServiceSubscribeProcedure: true,
		"/ws": true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limited[r.URL.Path] {
			r = r.WithContext(clientaddr.With(r.Context(), res.Addr(r)))
		}
		next.ServeHTTP(w, r)
	})
}

// withBaseURL tells the file service the origin clients reach Foxhole at:
// the configured public URL, else the request's own scheme and host.
func withBaseURL(public string, next http.Handler) http.Handler {
	prefix := "/" + foxholev1connect.FileServiceName + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			r = baseURLRequest(public, r)
		}
		next.ServeHTTP(w, r)
	})
}

func baseURLRequest(public string, r *http.Request) *http.Request {
	base := public
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return r.WithContext(files.WithBaseURL(r.Context(), base))
}

// streamDeadlines gives unary RPCs a deadline for reading their body, and
// lets Subscribe, UploadFileStream and DownloadFile set deadlines on their
// streams.
func streamDeadlines(next http.Handler) http.Handler {
	unary := unaryProcedures()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, withDeadlines(unary, w, r))
	})
}

// withDeadlines is streamDeadlines' work before the call, in a function of
// its own so that a stream's goroutine does not keep its frame.
func withDeadlines(unary map[string]bool, w http.ResponseWriter, r *http.Request) *http.Request {
	switch {
	case unary[r.URL.Path]:
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unaryReadTimeout))
	case r.URL.Path == foxholev1connect.RealtimeServiceSubscribeProcedure:
		r = r.WithContext(stream.WithWriteDeadline(r.Context(), http.NewResponseController(w).SetWriteDeadline))
	case r.URL.Path == foxholev1connect.FileServiceUploadFileStreamProcedure,
		r.URL.Path == foxholev1connect.FileServiceDownloadFileProcedure:
		rc := http.NewResponseController(w)
		r = r.WithContext(files.WithDeadlines(r.Context(), files.Deadlines{Read: rc.SetReadDeadline, Write: rc.SetWriteDeadline}))
	}
	return r
}

// unaryProcedures lists the paths of every unary foxhole.v1 method.
func unaryProcedures() map[string]bool {
	paths := map[string]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage("foxhole.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				if !md.IsStreamingClient() && !md.IsStreamingServer() {
					paths["/"+string(sd.FullName())+"/"+string(md.Name())] = true
				}
			}
		}
		return true
	})
	return paths
}
