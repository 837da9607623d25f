package inmem

import (
	"bytes"
	"context"
	"time"

	"github.com/maypok86/otter/v2"

	"foxhole.dev/foxhole/internal/cache"
)

var _ cache.Cache = (*Cache)(nil)

// Cache is the in-process cache.Cache. It holds about a fixed number of
// entries (otter may exceed the bound briefly while it evicts). When full, it
// drops the entries least likely to be used again; an entry is never visible
// after its TTL.
//
// It is built on otter (github.com/maypok86/otter/v2). Why otter: the cache
// sits on every authenticated call, so it must stay fast while full and under
// concurrent use. Otter's reads take no lock, its eviction (W-TinyLFU) and
// its per-entry expiry (a timer wheel) cost O(1) per write and run off the
// callers' path, and SetIfAbsent gives Add its "store only if absent" in one
// atomic step. The fallback considered, hashicorp/golang-lru's expirable LRU,
// has one TTL for the whole cache and one mutex for every read and write;
// Foxhole sets a TTL per entry.
type Cache struct {
	c *otter.Cache[string, item]
}

// item carries its TTL so that the expiry calculator can give each entry its own.
type item struct {
	value []byte
	ttl   time.Duration
}

// NewCache returns a cache that holds about maxEntries entries.
func NewCache(maxEntries int) *Cache {
	return &Cache{c: otter.Must(&otter.Options[string, item]{
		MaximumSize: max(1, maxEntries),
		// Written entries expire ttl after their latest write; reads do
		// not extend them, so a cached value is never older than its TTL.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, item]) time.Duration {
			return e.Value.ttl
		}),
	})}
}

// Get implements cache.Cache.
func (c *Cache) Get(_ context.Context, key string) ([]byte, bool, error) {
	it, ok := c.c.GetIfPresent(key)
	if !ok {
		return nil, false, nil
	}
	return it.value, true, nil
}

// Set implements cache.Cache. The value is copied. A ttl that is not
// positive removes the key: the value would be expired at once.
func (c *Cache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		c.c.Invalidate(key)
		return nil
	}
	c.c.Set(key, item{value: clone(value), ttl: ttl})
	return nil
}

// Add implements cache.Cache. The value is copied. With a ttl that is not
// positive nothing is stored, and Add reports whether it would have been.
func (c *Cache) Add(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		_, live := c.c.GetIfPresent(key)
		return !live, nil
	}
	_, added := c.c.SetIfAbsent(key, item{value: clone(value), ttl: ttl})
	return added, nil
}

// CompareAndSet implements cache.Cache, in one step of otter's Compute.
// The value is copied. With a ttl that is not positive a matching entry is
// removed.
func (c *Cache) CompareAndSet(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	stored := false
	c.c.Compute(key, func(cur item, found bool) (item, otter.ComputeOp) {
		if !found || !bytes.Equal(cur.value, old) {
			return cur, otter.CancelOp
		}
		stored = true
		if ttl <= 0 {
			return cur, otter.InvalidateOp
		}
		return item{value: clone(value), ttl: ttl}, otter.WriteOp
	})
	return stored, nil
}

// Delete implements cache.Cache.
func (c *Cache) Delete(_ context.Context, key string) error {
	c.c.Invalidate(key)
	return nil
}

// Len returns the number of entries held, expired ones not yet removed
// included. It first runs the eviction that otter has pending, so it is for
// tests and diagnostics, not for a hot path.
func (c *Cache) Len() int {
	c.c.CleanUp()
	return c.c.EstimatedSize()
}

// Close stops the cache's background clean-up. Entries stay readable; a
// cache that lives as long as its process need not be closed.
func (c *Cache) Close() {
	c.c.StopAllGoroutines()
}

// clone copies b so that the caller may reuse its slice; a nil or empty value
// is stored as a non-nil empty one, as a shared cache would return it.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
