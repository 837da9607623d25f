package inmem

import (
	"context"
	"sync"
	"time"

	"foxhole.dev/foxhole/internal/ratelimit"
)

var _ ratelimit.Limiter = (*Limiter)(nil)

// Limiter is the in-process ratelimit.Limiter: a token bucket per key, which
// it refills at rate tokens per second up to burst. Buckets that have
// refilled completely are forgotten, so memory is bounded by the keys active
// within the last burst/rate seconds.
type Limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter allowing rate events per second with bursts of burst.
func NewLimiter(rate float64, burst int) *Limiter {
	return &Limiter{rate: rate, burst: float64(max(1, burst)), now: time.Now, buckets: map[string]*bucket{}}
}

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), nil
	}
	b.tokens--
	return true, 0, nil
}

// sweep forgets full buckets, at most once per refill period.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	if now.Sub(l.swept) < full {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
