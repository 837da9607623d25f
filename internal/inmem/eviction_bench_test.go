package inmem_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/inmem"
)

const (
	// benchCapacity is the bound the app gives the in-process cache (app.cacheEntries).
	benchCapacity = 100_000
	// benchUsers is how many distinct users call GetProfile: more than the
	// cache holds, so that misses, and so evictions, never stop.
	benchUsers = 200_000
)

// BenchmarkGetProfileTraffic measures the cache traffic of GetProfile from
// many users at once on a full cache: each call gets the caller's token
// version and profile, and sets whichever missed, as auth and profile do.
// It runs the old scan-evicting design and the otter-based one in the same
// run, so that their ns/op compare directly.
func BenchmarkGetProfileTraffic(b *testing.B) {
	b.Run("design=scan-evict", func(b *testing.B) {
		c := newScanEvictCache(benchCapacity)
		// Filling the old design through Set would scan the whole map for
		// each of the 100,000 users beyond its capacity (minutes); what it
		// leaves, a full map, is written directly instead.
		for i := range benchCapacity {
			c.entries[versionKey(i)] = scanEntry{value: []byte("1"), expires: time.Now().Add(time.Hour)}
		}
		runGetProfileTraffic(b, c)
	})
	b.Run("design=otter", func(b *testing.B) {
		c := inmem.NewCache(benchCapacity)
		b.Cleanup(c.Close)
		ctx := context.Background()
		for i := range benchUsers {
			c.Set(ctx, versionKey(i), []byte("1"), time.Hour)
		}
		runGetProfileTraffic(b, c)
	})
}

func runGetProfileTraffic(b *testing.B, c cache.Cache) {
	ctx := context.Background()
	profile := []byte("0123456789abcdefghij\x00Ada Lovelace\x001796000000000000\x001796000000000000")
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 0))
		for pb.Next() {
			u := rng.IntN(benchUsers)
			vk, pk := versionKey(u), "profile:"+userID(u)
			if _, ok, _ := c.Get(ctx, vk); !ok {
				c.Add(ctx, vk, []byte("1"), time.Minute)
			}
			if _, ok, _ := c.Get(ctx, pk); !ok {
				c.Set(ctx, pk, profile, time.Minute)
			}
		}
	})
}

func userID(i int) string { return fmt.Sprintf("user%016d", i) }

func versionKey(i int) string { return "auth:ver:" + userID(i) }

// scanEvictCache is the old design of the in-process cache, kept here only as
// the baseline of BenchmarkGetProfileTraffic: a map under one RWMutex that,
// once full, scans every entry under the write lock to make room for one.
type scanEvictCache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]scanEntry
}

type scanEntry struct {
	value   []byte
	expires time.Time
}

var _ cache.Cache = (*scanEvictCache)(nil)

func newScanEvictCache(maxEntries int) *scanEvictCache {
	return &scanEvictCache{max: max(1, maxEntries), entries: make(map[string]scanEntry)}
}

func (c *scanEvictCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !time.Now().Before(e.expires) {
		return nil, false, nil
	}
	return e.value, true, nil
}

func (c *scanEvictCache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := time.Now()
	e := scanEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
	return nil
}

// Add is Set when the key holds no live entry: the old design had no Add,
// and the benchmark needs one with the same eviction cost.
func (c *scanEvictCache) Add(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	now := time.Now()
	e := scanEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.entries[key]
	if ok && now.Before(old.expires) {
		return false, nil
	}
	if !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
	return true, nil
}

func (c *scanEvictCache) CompareAndSet(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.entries[key]
	if !ok || !now.Before(cur.expires) || !bytes.Equal(cur.value, old) {
		return false, nil
	}
	c.entries[key] = scanEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	return true, nil
}

func (c *scanEvictCache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			return
		}
		delete(c.entries, k)
	}
}

func (c *scanEvictCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
	return nil
}
