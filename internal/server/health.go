package server

import (
	"context"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// readiness answers /readyz: 200 while every check passes, else 503 with a
// JSON body naming what failed.
type readiness struct {
	checks   map[string]func(context.Context) error
	draining atomic.Bool
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rd.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// Callers are anonymous: they learn what failed, never how; the log
	// has the error.
	var failed []string
	for name, check := range rd.checks {
		if err := check(ctx); err != nil {
			failed = append(failed, name)
			zerolog.Ctx(r.Context()).Warn().Err(err).Str("check", name).Msg("readiness check failed")
		}
	}
	sort.Strings(failed)
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}
