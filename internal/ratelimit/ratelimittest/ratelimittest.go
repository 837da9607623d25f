// Package ratelimittest is the contract every ratelimit.Limiter must meet.
package ratelimittest

import (
	"context"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/ratelimit"
)

// Run checks limiters made by newLimiter(rate, burst) against the contract.
func Run(t *testing.T, newLimiter func(t *testing.T, rate float64, burst int) ratelimit.Limiter) {
	ctx := context.Background()
	t.Run("burst then refuse then refill", func(t *testing.T) {
		l := newLimiter(t, 20, 5)
		for i := range 5 {
			if ok, _, err := l.Allow(ctx, "k"); !ok || err != nil {
				t.Fatalf("event %d of the burst refused: %v", i, err)
			}
		}
		ok, retry, _ := l.Allow(ctx, "k")
		if ok {
			t.Fatal("event past the burst allowed")
		}
		// One token comes back every 1/20 s.
		if retry <= 0 || retry > time.Second/20+10*time.Millisecond {
			t.Errorf("retry after %s, want within (0, 60ms]", retry)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if ok, _, _ := l.Allow(ctx, "k"); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("bucket never refilled")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("waiting retry-after is enough", func(t *testing.T) {
		// retryAfter must not be too short, or a client that honours it is
		// refused again. Only time passing matters here, and it only makes
		// a later Allow more likely to succeed.
		l := newLimiter(t, 10, 1)
		if ok, _, _ := l.Allow(ctx, "k"); !ok {
			t.Fatal("first event refused")
		}
		ok, retry, err := l.Allow(ctx, "k")
		if ok || err != nil {
			t.Fatalf("second event at once = %v, %v; want refused", ok, err)
		}
		// A millisecond more than asked for absorbs rounding between the
		// limiter's clock and this one.
		time.Sleep(retry + time.Millisecond)
		if ok, retry, err := l.Allow(ctx, "k"); !ok || err != nil {
			t.Fatalf("event after waiting retry-after refused (retry after %s more): %v", retry, err)
		}
	})
	t.Run("keys are independent", func(t *testing.T) {
		l := newLimiter(t, 1, 1)
		if ok, _, _ := l.Allow(ctx, "a"); !ok {
			t.Fatal("a refused")
		}
		if ok, _, _ := l.Allow(ctx, "b"); !ok {
			t.Fatal("b refused because of a")
		}
	})
}
