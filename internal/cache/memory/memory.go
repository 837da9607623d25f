// Package memory is the in-process cache.Cache: a bounded map with expiry.
package memory

import (
	"context"
	"sync"
	"time"

	"foxhole.dev/foxhole/internal/cache"
)

var _ cache.Cache = (*Cache)(nil)

// Cache holds at most a fixed number of entries. When full, setting a new
// key first drops expired entries, then, if still full, an arbitrary one.
type Cache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]entry
	now     func() time.Time
}

type entry struct {
	value   []byte
	expires time.Time
}

// New returns a cache that holds at most maxEntries entries.
func New(maxEntries int) *Cache {
	return &Cache{max: max(1, maxEntries), entries: make(map[string]entry), now: time.Now}
}

// Get implements cache.Cache.
func (c *Cache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return nil, false, nil
	}
	return e.value, true, nil
}

// Set implements cache.Cache. The value is copied.
func (c *Cache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := c.now()
	e := entry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = e
	return nil
}

// evict makes room for one entry. Go's map iteration order is random, so the
// fallback drops an arbitrary entry without keeping any recency bookkeeping.
func (c *Cache) evict(now time.Time) {
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

// Delete implements cache.Cache.
func (c *Cache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
	return nil
}

// Len returns the number of entries held, expired ones included.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
