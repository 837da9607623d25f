// Package metrics keeps the process's Prometheus metrics and serves them
// in the Prometheus text format on a listener of their own
// (FOXHOLE_METRICS_ADDR), through the Prometheus Go client library.
//
// Every name is foxhole_*, but the Go runtime's (go_*), the process's
// (process_*) and the database pools' (go_sql_*, by db_name). Labels are
// bounded: a route is a procedure's path or a plain route's pattern, never
// a raw URL.
package metrics

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"foxhole.dev/foxhole/internal/realtime"
)

// Metrics are the process's metrics. A nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	calls     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	refused   *prometheus.CounterVec
	sessions  *prometheus.GaugeVec
	opened    *prometheus.CounterVec
	delivered prometheus.Counter
	catchUps  prometheus.Counter
	cutOff    *prometheus.CounterVec
	presence  prometheus.Histogram
	uploaded  prometheus.Counter
	download  prometheus.Counter
	cache     *prometheus.CounterVec
}

// Build describes the binary, for foxhole_build_info.
type Build struct{ Version, Commit string }

// New makes the metrics, with the Go runtime's and the process's.
func New(b Build) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "foxhole_build_info", Help: "Always 1: the version and commit of the binary serving."}, []string{"version", "commit"})
	info.WithLabelValues(b.Version, b.Commit).Set(1)
	f(info)
	m := &Metrics{
		reg: reg,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foxhole_calls_total", Help: "Calls ended, by route (procedure path or plain route), protocol and Connect code; streams and WebSocket upgrades included.",
		}, []string{"route", "protocol", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "foxhole_call_duration_seconds", Help: "How long calls took, by route and protocol: a stream's whole life, a WebSocket's upgrade.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600},
		}, []string{"route", "protocol"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foxhole_limit_refusals_total", Help: "Calls refused by a rate limit, cap or slot (resource_exhausted with Retry-After), by route.",
		}, []string{"route"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "foxhole_sessions_open", Help: "Realtime sessions open in this process, by transport (stream or websocket).",
		}, []string{"transport"}),
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foxhole_sessions_opened_total", Help: "Realtime sessions opened, by transport.",
		}, []string{"transport"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "foxhole_deliveries_total", Help: "Events written to sessions' connections.",
		}),
		catchUps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "foxhole_catchups_total", Help: "Reads of stored events for a session: resumes, and sessions that fell behind their queue.",
		}),
		cutOff: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foxhole_sessions_cut_off_total", Help: "Sessions the server ended, by reason (too_slow, revoked, expired).",
		}, []string{"reason"}),
		presence: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "foxhole_presence_work_seconds", Help: "How long one presence interval's work took.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		uploaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "foxhole_upload_bytes_total", Help: "File content bytes stored, every upload path.",
		}),
		download: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "foxhole_download_bytes_total", Help: "File content bytes read for downloads served by this process.",
		}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foxhole_cache_requests_total", Help: "Cache reads by result (hit, miss, error).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration, m.refused, m.sessions, m.opened, m.delivered, m.catchUps, m.cutOff, m.presence, m.uploaded, m.download, m.cache} {
		f(c)
	}
	for _, t := range []string{"stream", "websocket"} {
		m.sessions.WithLabelValues(t)
		m.opened.WithLabelValues(t)
	}
	for _, r := range []string{"too_slow", "revoked", "expired"} {
		m.cutOff.WithLabelValues(r)
	}
	for _, r := range []string{"hit", "miss", "error"} {
		m.cache.WithLabelValues(r)
	}
	return m
}

// Handler serves GET /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	return mux
}

// Registry is where the metrics are kept.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// DB reports a database pool's statistics as go_sql_* with db_name=name.
func (m *Metrics) DB(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Gauge reports fn's value under name.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Call records one call's end.
func (m *Metrics) Call(route, protocol, code string, took time.Duration, limited bool) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.calls.WithLabelValues(route, protocol, code).Inc()
	m.duration.WithLabelValues(route, protocol).Observe(took.Seconds())
	if limited {
		m.refused.WithLabelValues(route).Inc()
	}
}

// Uploaded and Downloaded count file content bytes.
func (m *Metrics) Uploaded(n int64)   { m.uploaded.Add(float64(n)) }
func (m *Metrics) Downloaded(n int64) { m.download.Add(float64(n)) }

// CacheRead counts one cache read.
func (m *Metrics) CacheRead(hit bool, err error) {
	switch {
	case err != nil:
		m.cache.WithLabelValues("error").Inc()
	case hit:
		m.cache.WithLabelValues("hit").Inc()
	default:
		m.cache.WithLabelValues("miss").Inc()
	}
}

// Realtime returns the realtime service's hooks.
func (m *Metrics) Realtime() realtime.Metrics { return realtimeMetrics{m} }

type realtimeMetrics struct{ m *Metrics }

func (r realtimeMetrics) SessionOpened(t string) {
	r.m.sessions.WithLabelValues(t).Inc()
	r.m.opened.WithLabelValues(t).Inc()
}
func (r realtimeMetrics) SessionClosed(t string) { r.m.sessions.WithLabelValues(t).Dec() }
func (r realtimeMetrics) Delivered(n int)        { r.m.delivered.Add(float64(n)) }
func (r realtimeMetrics) CaughtUp()              { r.m.catchUps.Inc() }
func (r realtimeMetrics) CutOff(why error) {
	reason := "other"
	switch {
	case errors.Is(why, realtime.ErrTooSlow):
		reason = "too_slow"
	case errors.Is(why, realtime.ErrRevoked):
		reason = "revoked"
	case errors.Is(why, realtime.ErrExpired):
		reason = "expired"
	}
	r.m.cutOff.WithLabelValues(reason).Inc()
}
func (r realtimeMetrics) PresenceWork(d time.Duration) { r.m.presence.Observe(d.Seconds()) }

// Serve serves the metrics on addr until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
