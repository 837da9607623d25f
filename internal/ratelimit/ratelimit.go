// Package ratelimit defines the limiter that bounds how often one key (a
// user, a client address) may act. The embedded default counts in process
// (inmem.Limiter); a shared one counts across processes.
package ratelimit

import (
	"context"
	"time"
)

// Limiter allows up to a fixed number of events per second per key, with a
// burst allowance.
type Limiter interface {
	// Allow reports whether key may act now, and if so counts the event.
	// When it may not, retryAfter is how long until it may.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}
