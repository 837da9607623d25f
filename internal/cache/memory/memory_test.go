package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/cache/cachetest"
	"foxhole.dev/foxhole/internal/cache/memory"
)

func TestContract(t *testing.T) {
	cachetest.Run(t, func(*testing.T) cache.Cache { return memory.New(1000) })
}

func TestBounded(t *testing.T) {
	c := memory.New(10)
	for i := range 100 {
		c.Set(context.Background(), fmt.Sprint(i), []byte("v"), time.Minute)
	}
	if n := c.Len(); n > 10 {
		t.Fatalf("cache holds %d entries, bound is 10", n)
	}
	if _, ok, _ := c.Get(context.Background(), "99"); !ok {
		t.Fatal("the newest entry was evicted")
	}
}
