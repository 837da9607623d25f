package memory_test

import (
	"context"
	"fmt"
	"testing"

	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/ratelimit/memory"
	"foxhole.dev/foxhole/internal/ratelimit/ratelimittest"
)

func TestContract(t *testing.T) {
	ratelimittest.Run(t, func(_ *testing.T, rate float64, burst int) ratelimit.Limiter { return memory.New(rate, burst) })
}

func TestForgetsIdleKeys(t *testing.T) {
	l := memory.New(1e9, 1) // refills at once, so every bucket is full immediately
	for i := range 10000 {
		l.Allow(context.Background(), fmt.Sprint(i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("limiter keeps %d idle buckets", n)
	}
}
