// Package tracing exports OpenTelemetry traces when the standard OTEL_*
// variables ask for them: a span per RPC and stream (otelconnect), per
// plain HTTP route and WebSocket session, and child spans for database
// queries and object-store calls. Trace context is taken from callers
// (W3C traceparent). With tracing off none of it is installed.
package tracing

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/buildinfo"
	"foxhole.dev/foxhole/internal/call"
)

// Name is the instrumentation scope of Foxhole's own spans.
const Name = "foxhole.dev/foxhole"

// Start installs the global tracer provider and propagator: spans go to
// the exporter named ("otlp": OTLP over HTTP/protobuf, configured by the
// OTEL_EXPORTER_OTLP_* variables; "console": stdout), sampled as
// OTEL_TRACES_SAMPLER says (default: parent-based, always on), batched as
// OTEL_BSP_* say, described by OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES. shutdown flushes what is pending.
func Start(ctx context.Context, exporter string) (shutdown func(context.Context) error, err error) {
	var exp sdktrace.SpanExporter
	switch exporter {
	case "otlp":
		exp, err = otlptracehttp.New(ctx)
	case "console":
		exp, err = stdouttrace.New()
	default:
		return nil, fmt.Errorf("unknown trace exporter %q", exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", "foxhole"),
			attribute.String("service.version", buildinfo.Get().Version),
		),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	SetPropagator()
	return tp.Shutdown, nil
}

// SetPropagator makes W3C trace context and baggage the global propagator.
func SetPropagator() {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// Route wraps a plain HTTP route's handler (pattern such as "PUT
// /files/{name...}") in a server span, child of the caller's trace context.
func Route(tp trace.TracerProvider, pattern string, h http.Handler) http.Handler {
	tr := tp.Tracer(Name)
	prop := otel.GetTextMapPropagator()
	method, route, _ := strings.Cut(pattern, " ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tr.Start(ctx, pattern, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
		defer span.End()
		// The access log's writer knows the status; a route served
		// without one gets a writer of its own.
		var sw *call.StatusWriter
		if rec, ok := call.Lookup(ctx); ok && rec.Response != nil {
			sw = rec.Response
		} else {
			sw = &call.StatusWriter{ResponseWriter: w}
			w = sw
		}
		h.ServeHTTP(w, r.WithContext(ctx))
		status := sw.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// Session starts the span of a WebSocket session, which outlives the
// upgrade request's span (its parent, in ctx); End it when the session ends.
func Session(tp trace.TracerProvider, ctx context.Context, parent trace.SpanContext) context.Context {
	ctx = trace.ContextWithSpanContext(ctx, parent)
	ctx, _ = tp.Tracer(Name).Start(ctx, "WebSocket session", trace.WithSpanKind(trace.SpanKindServer))
	return ctx
}

// QueryHook makes a span of every database query, named by its operation,
// with the query's text before its arguments are put in (never values).
type QueryHook struct {
	tr     trace.Tracer
	system string // sqlite or postgresql
}

// NewQueryHook returns the hook for a database of the system named.
func NewQueryHook(tp trace.TracerProvider, system string) *QueryHook {
	return &QueryHook{tr: tp.Tracer(Name), system: system}
}

type spanKey struct{}

// BeforeQuery implements bun.QueryHook.
func (h *QueryHook) BeforeQuery(ctx context.Context, ev *bun.QueryEvent) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx // only queries of a traced call
	}
	q := Redact(ev.QueryTemplate)
	if len(q) > 2000 {
		q = q[:2000]
	}
	ctx, span := h.tr.Start(ctx, ev.Operation(), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(ev.StartTime),
		trace.WithAttributes(
			attribute.String("db.system.name", h.system),
			attribute.String("db.operation.name", ev.Operation()),
			attribute.String("db.query.text", q),
		))
	if ev.Stash == nil {
		ev.Stash = map[any]any{}
	}
	ev.Stash[spanKey{}] = span
	return ctx
}

// AfterQuery implements bun.QueryHook.
func (h *QueryHook) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	span, ok := ev.Stash[spanKey{}].(trace.Span)
	if !ok {
		return
	}
	if ev.Err != nil && !isNoRows(ev.Err) {
		span.RecordError(ev.Err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// Redact replaces the literals that bun formats into a query (strings,
// blobs, numbers) with ?, so that a span shows the query's shape and never
// a value (a secret's hash, a message).
func Redact(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			// To the closing quote; '' inside is an escaped quote.
			j := i + 1
			for j < len(q) {
				if q[j] == '\'' {
					if j+1 < len(q) && q[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteByte('?')
			i = j
		case c >= '0' && c <= '9' && (i == 0 || !isWord(q[i-1])):
			j := i
			for j < len(q) && (isWord(q[j]) || q[j] == '.') {
				j++
			}
			b.WriteByte('?')
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '"' || c == '$'
}

func isNoRows(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no rows in result set")
}

// Blobs makes a span of every call to the object store s, named kind
// ("local" or "s3").
func Blobs(tp trace.TracerProvider, kind string, s blob.Store) blob.Store {
	return tracedBlobs{Store: s, tr: tp.Tracer(Name), kind: kind}
}

type tracedBlobs struct {
	blob.Store
	tr   trace.Tracer
	kind string
}

func (b tracedBlobs) start(ctx context.Context, op, key string) (context.Context, trace.Span) {
	return b.tr.Start(ctx, "blob "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("blob.store", b.kind), attribute.String("blob.key", key)))
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "object store call failed")
	}
	span.End()
}

func (b tracedBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	ctx, span := b.start(ctx, "put", key)
	n, err := b.Store.Put(ctx, key, r, size)
	span.SetAttributes(attribute.Int64("blob.bytes", n))
	end(span, err)
	return n, err
}

// Get's span lasts until the content is read and closed.
func (b tracedBlobs) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	ctx, span := b.start(ctx, "get", key)
	rc, err := b.Store.Get(ctx, key, off, n)
	if err != nil {
		end(span, err)
		return nil, err
	}
	return &tracedReader{ReadCloser: rc, span: span, start: time.Now()}, nil
}

type tracedReader struct {
	io.ReadCloser
	span  trace.Span
	start time.Time
	n     int64
}

func (r *tracedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	return n, err
}

func (r *tracedReader) Close() error {
	err := r.ReadCloser.Close()
	r.span.SetAttributes(attribute.Int64("blob.bytes", r.n))
	end(r.span, err)
	return err
}

func (b tracedBlobs) Stat(ctx context.Context, key string) (blob.Info, error) {
	ctx, span := b.start(ctx, "stat", key)
	info, err := b.Store.Stat(ctx, key)
	end(span, err)
	return info, err
}

func (b tracedBlobs) Delete(ctx context.Context, key string) error {
	ctx, span := b.start(ctx, "delete", key)
	err := b.Store.Delete(ctx, key)
	end(span, err)
	return err
}

func (b tracedBlobs) URL(ctx context.Context, key string, ttl time.Duration, o blob.URLOptions) (string, error) {
	ctx, span := b.start(ctx, "url", key)
	u, err := b.Store.URL(ctx, key, ttl, o)
	end(span, err)
	return u, err
}
