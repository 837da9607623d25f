package server

import (
	"context"

	"connectrpc.com/grpchealth"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// readyFor is how long /readyz's answer is reused: a load balancer polling
// every process often costs the database one ping a second at most.
const readyFor = time.Second

// readiness answers /readyz. Only the required checks (the database) and
// draining take the process out of service: 200 while they pass, else 503.
// The reported checks (Valkey, the object store) are named in the body
// when they fail, as "degraded", but leave the status alone: the process
// still serves what it can without them, and a shared backend's outage
// would otherwise take every process out of service at once.
type readiness struct {
	required map[string]func(context.Context) error
	reported map[string]func(context.Context) error
	draining atomic.Bool

	mu     sync.Mutex
	at     time.Time // when last was checked
	status int
	body   map[string]any
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body := rd.answer(r.Context())
	writeJSON(w, status, body)
}

// answer is /readyz's status and body, checked at most once a readyFor.
func (rd *readiness) answer(ctx context.Context) (int, map[string]any) {
	if rd.draining.Load() {
		return http.StatusServiceUnavailable, map[string]any{"status": "draining"}
	}
	// One check at a time; callers meanwhile wait for its answer.
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.body == nil || time.Since(rd.at) >= readyFor {
		rd.status, rd.body = rd.check(ctx)
		rd.at = time.Now()
	}
	return rd.status, rd.body
}

// healthChecker answers grpc.health.v1.Health as /readyz does: NOT_SERVING
// for the whole server ("") and for every service whenever /readyz would
// answer 503; NOT_FOUND for a service not served. Watch streams hear a
// change within about a second.
type healthChecker struct {
	rd    *readiness
	known *grpchealth.StaticChecker // the services served, all SERVING
}

func (h healthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if _, err := h.known.Check(ctx, req); err != nil {
		return nil, err
	}
	if status, _ := h.rd.answer(ctx); status != http.StatusOK {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// watchEvery is how often a Watch stream's status is looked at again.
const watchEvery = time.Second

func (h healthChecker) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	if _, err := h.known.Check(ctx, req); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		t := time.NewTicker(watchEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// The handler calls Check and sends only a change.
				onChange()
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }, nil
}

func (rd *readiness) check(ctx context.Context) (int, map[string]any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	// Callers are anonymous: they learn what failed, never how; the log
	// has the error.
	run := func(checks map[string]func(context.Context) error) []string {
		var failed []string
		for name, check := range checks {
			if err := check(ctx); err != nil {
				failed = append(failed, name)
				zerolog.Ctx(ctx).Warn().Err(err).Str("check", name).Msg("readiness check failed")
			}
		}
		sort.Strings(failed)
		return failed
	}
	failed, degraded := run(rd.required), run(rd.reported)
	body := map[string]any{"status": "ok"}
	if len(degraded) > 0 {
		body["degraded"] = degraded
	}
	if len(failed) > 0 {
		body["status"], body["failed"] = "unavailable", failed
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, body
}
