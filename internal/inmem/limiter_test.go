package inmem_test

import (
	"context"
	"fmt"
	"testing"

	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/ratelimit/ratelimittest"
)

func TestLimiterContract(t *testing.T) {
	ratelimittest.Run(t, func(_ *testing.T, rate float64, burst int) ratelimit.Limiter { return inmem.NewLimiter(rate, burst) })
}

func TestLimiterForgetsIdleKeys(t *testing.T) {
	l := inmem.NewLimiter(1e9, 1) // refills at once, so every bucket is full immediately
	for i := range 10000 {
		l.Allow(context.Background(), fmt.Sprint(i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("limiter keeps %d idle buckets", n)
	}
}
