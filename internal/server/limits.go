package server

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/ratelimit"
)

// Health and reflection are public, so they get small bounds of their own:
// a reflection stream may send probeStreamBytes in all and must keep
// sending, and no probe stream lives longer than probeStreamLifetime.
const (
	probeStreamBytes    = 64 << 10
	probeReadTimeout    = 30 * time.Second
	probeStreamLifetime = 10 * time.Minute
)

// envelopeSlack covers what a protocol adds around a message: gRPC's
// 5-byte prefix, gRPC-Web's trailers frame.
const envelopeSlack = 1 << 10

// limits is what the server accepts from a request before anything reads
// its body: which route it names, how many bytes it may send, and whether
// its body may be compressed.
type limits struct {
	mux *http.ServeMux
	// services are the mux patterns of Connect services ("/pkg.Service/"),
	// which match any method name; procedures are the methods they have.
	services   map[string]bool
	procedures map[string]bool
	body       map[string]int64 // by path: the most bytes a request body may hold
	fallback   int64            // any other path
	// compressed are the paths that accept a compressed request body:
	// uploads, where it can pay. Elsewhere a small message gains nothing,
	// and inflating it is work a client could make the server do for free.
	compressed  map[string]bool
	probe       map[string]bool // every health and reflection procedure
	probeStream map[string]bool // the long-lived ones
	probes      chan struct{}   // a slot per probe stream open
}

func newLimits(mux *http.ServeMux, services []string, o Options) *limits {
	fileMessage := uploadMessageBytes(o.FileUnaryMaxBytes)
	l := &limits{
		mux:        mux,
		services:   map[string]bool{},
		procedures: map[string]bool{},
		fallback:   o.MaxRequestBytes + envelopeSlack,
		body: map[string]int64{
			// JSON may escape a character in up to 12 bytes (a surrogate pair).
			foxholev1connect.RealtimeServiceSendMessageProcedure: o.MaxRequestBytes + 12*int64(o.MessageMaxChars),
			foxholev1connect.FileServiceUploadFileProcedure:      fileMessage + envelopeSlack,
			// Every chunk costs a few bytes of framing; twice the content
			// is room for chunks as small as a few bytes each.
			foxholev1connect.FileServiceUploadFileStreamProcedure: 2*o.FileMaxBytes + uploadReadMax(o.FileUnaryMaxBytes),
		},
		compressed: map[string]bool{
			foxholev1connect.FileServiceUploadFileProcedure:       true,
			foxholev1connect.FileServiceUploadFileStreamProcedure: true,
		},
		probe:       map[string]bool{},
		probeStream: map[string]bool{"/" + grpchealth.HealthV1ServiceName + "/Watch": true},
		probes:      make(chan struct{}, o.MaxProbeStreams),
	}
	for _, svc := range []string{grpcreflect.ReflectV1ServiceName, grpcreflect.ReflectV1AlphaServiceName} {
		path := "/" + svc + "/ServerReflectionInfo"
		l.probeStream[path] = true
		l.body[path] = probeStreamBytes
	}
	for _, svc := range services {
		l.services["/"+svc+"/"] = true
		sd, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			panic("service " + svc + " is not registered: " + err.Error())
		}
		methods := sd.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			l.procedures["/"+svc+"/"+string(methods.Get(i).Name())] = true
		}
	}
	// Health and reflection are not in the registry; their methods are few.
	for svc, methods := range map[string][]string{
		grpchealth.HealthV1ServiceName:        {"Check", "Watch"},
		grpcreflect.ReflectV1ServiceName:      {"ServerReflectionInfo"},
		grpcreflect.ReflectV1AlphaServiceName: {"ServerReflectionInfo"},
	} {
		l.services["/"+svc+"/"] = true
		for _, m := range methods {
			l.procedures["/"+svc+"/"+m] = true
			l.probe["/"+svc+"/"+m] = true
		}
	}
	return l
}

// maxChunkBytes is the largest chunk of content one UploadFileStream
// message may carry, whatever UploadFile's own limit is.
const maxChunkBytes = 4 << 20

// uploadMessageBytes bounds one upload message: UploadFile's largest
// content as base64 in JSON (4/3 of it), plus room for the metadata.
func uploadMessageBytes(unaryMax int64) int64 {
	return unaryMax/3*4 + 64<<10
}

// uploadReadMax bounds every message of the upload procedures, which share
// one handler: the largest UploadFile, or the largest stream chunk.
func uploadReadMax(unaryMax int64) int64 {
	return max(uploadMessageBytes(unaryMax), uploadMessageBytes(maxChunkBytes))
}

// handler refuses, before authentication and before any body is read, a
// request for a route that does not exist, a compressed body where none is
// accepted, and a probe stream past the cap; and it bounds the body of
// every other request.
func (l *limits) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if !l.procedures[path] {
			// Not a procedure: a plain route, or nothing. A service's
			// pattern matches any method name, so it does not count.
			if _, pattern := l.mux.Handler(r); pattern == "" || l.services[pattern] {
				writeUnknown(w, r)
				return
			}
		}
		if !l.compressed[path] && compressedBody(r.Header) {
			writeError(w, r, errs.Invalidf("Content-Encoding", "request compression is accepted on uploads only; send this call uncompressed"))
			return
		}
		limit, ok := l.body[path]
		if !ok {
			limit = l.fallback
		}
		if strings.HasPrefix(path, "/files/") {
			limit = -1 // the file routes apply the file limits themselves
		}
		if limit >= 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if l.probeStream[path] {
			l.serveProbeStream(next, w, r)
			return
		}
		if l.probe[path] {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(probeReadTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// serveProbeStream serves a health or reflection stream within the cap on
// them and their lifetime. It is a function of its own so that the frame
// of handler, which every stream's goroutine holds, stays small.
func (l *limits) serveProbeStream(next http.Handler, w http.ResponseWriter, r *http.Request) {
	select {
	case l.probes <- struct{}{}:
		defer func() { <-l.probes }()
	default:
		writeError(w, r, &errs.Limited{Msg: "too many health and reflection streams are open; try again later", RetryAfter: time.Second})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeStreamLifetime)
	defer cancel()
	r = r.WithContext(ctx)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(probeReadTimeout))
	next.ServeHTTP(w, r)
}

// compressedBody reports whether a request says its body is compressed, in
// any of the protocols' headers.
func compressedBody(h http.Header) bool {
	for _, k := range []string{"Content-Encoding", "Connect-Content-Encoding", "Grpc-Encoding"} {
		if v := h.Get(k); v != "" && !strings.EqualFold(v, "identity") {
			return true
		}
	}
	return false
}

// writeUnknown answers a request for a procedure or path that does not
// exist: `unimplemented`, which the Connect protocol sends as HTTP 404 on
// unary calls (Connect's error writer would say 501, a server error).
func writeUnknown(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if len(path) > 200 {
		path = path[:200] + "…"
	}
	ce := connect.NewError(connect.CodeUnimplemented, fmt.Errorf("no procedure or route %s", strings.ToValidUTF8(path, "?")))
	setCode(r.Context(), ce)
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/grpc") || strings.HasPrefix(ct, "application/connect+") {
		_ = connect.NewErrorWriter().Write(w, r, ce)
		return
	}
	if r.Method == http.MethodPost && (strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/proto")) {
		// A Connect unary error body.
		writeJSON(w, httpStatus(ce), map[string]string{"code": ce.Code().String(), "message": ce.Message()})
		return
	}
	writeJSONError(w, ce)
}

// rateLimitAuth refuses Register and CreateToken past the limiter's rate
// per client address, before the body is read: accounts are free, so every
// limit per user would be worth nothing without it. l nil: no limit.
func rateLimitAuth(l ratelimit.Limiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	keys := map[string]string{
		foxholev1connect.AuthServiceRegisterProcedure:    "register:",
		foxholev1connect.AuthServiceCreateTokenProcedure: "token:",
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if prefix, ok := keys[r.URL.Path]; ok {
			allowed, retry, err := l.Allow(r.Context(), prefix+clientaddr.Key(clientaddr.From(r.Context())).String())
			if err != nil {
				writeError(w, r, err)
				return
			}
			if !allowed {
				writeError(w, r, &errs.Limited{Msg: "too many calls from your address; retry later", RetryAfter: retry})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// inflationCap is gzip for request bodies that stops inflating a little
// past limit bytes. connect-go reads a message one byte past its read limit
// and then inflates the rest to report the message's size: for a 600 KB
// gzip bomb that is 600 MiB of work, which this cuts short.
func inflationCap(limit int64) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &cappedGzip{limit: limit} },
		func() connect.Compressor { return gzip.NewWriter(nil) },
	)
}

type cappedGzip struct {
	r        *gzip.Reader
	limit, n int64
}

func (c *cappedGzip) Read(p []byte) (int, error) {
	if c.n > c.limit {
		return 0, fmt.Errorf("message inflates past %d bytes", c.limit)
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *cappedGzip) Reset(r io.Reader) error {
	c.n = 0
	if c.r == nil {
		var err error
		c.r, err = gzip.NewReader(r)
		return err
	}
	return c.r.Reset(r)
}

func (c *cappedGzip) Close() error {
	if c.r == nil {
		return nil
	}
	return c.r.Close()
}
