package server

import (
	"context"
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
	if rd.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	// One check at a time; callers meanwhile wait for its answer.
	rd.mu.Lock()
	if rd.body == nil || time.Since(rd.at) >= readyFor {
		rd.status, rd.body = rd.check(r.Context())
		rd.at = time.Now()
	}
	status, body := rd.status, rd.body
	rd.mu.Unlock()
	writeJSON(w, status, body)
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
