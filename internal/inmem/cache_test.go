package inmem_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/cache/cachetest"
	"foxhole.dev/foxhole/internal/inmem"
)

func newCache(t *testing.T, maxEntries int) *inmem.Cache {
	c := inmem.NewCache(maxEntries)
	t.Cleanup(c.Close)
	return c
}

func TestCacheContract(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Cache { return newCache(t, 1000) })
}

func TestCacheBounded(t *testing.T) {
	c := newCache(t, 10)
	for i := range 100 {
		c.Set(context.Background(), fmt.Sprint(i), []byte("v"), time.Minute)
	}
	if n := c.Len(); n > 10 {
		t.Fatalf("cache holds %d entries, bound is 10", n)
	}
}
