// Package cache defines the small key-value cache that Foxhole keeps in front
// of the database. The embedded default lives in process (inmem.Cache); a
// shared one lets several processes see each other's invalidations.
package cache

import (
	"context"
	"time"
)

// Cache maps string keys to byte values that expire after a TTL.
// A cache may drop any entry at any time; callers treat a miss as
// "ask the source of truth".
type Cache interface {
	// Get returns the value for key and whether it was present.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores value under key for ttl, replacing any value there.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Add stores value under key for ttl only if the key holds no live
	// entry, atomically (Valkey's SET NX), and reports whether it stored it.
	// A fill from the source of truth uses Add so that it never overwrites
	// a newer value that a writer Set meanwhile.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (added bool, err error)
	// CompareAndSet stores value under key for ttl only if the key holds a
	// live entry equal to old, atomically, and reports whether it stored
	// it. ReadThrough fills with it, replacing its lease.
	CompareAndSet(ctx context.Context, key string, old, value []byte, ttl time.Duration) (stored bool, err error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// None caches nothing: every Get misses, which the Cache contract allows
// (any entry may be dropped at any time). FOXHOLE_CACHE_ENTRIES=0 picks
// it, to save the memory or to measure what the cache is worth.
type None struct{}

var _ Cache = None{}

// Get implements Cache: always a miss.
func (None) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

// Set implements Cache: the entry is dropped at once.
func (None) Set(context.Context, string, []byte, time.Duration) error { return nil }

// Add implements Cache: the entry is stored and dropped at once.
func (None) Add(context.Context, string, []byte, time.Duration) (bool, error) { return true, nil }

// CompareAndSet implements Cache: nothing is held, so nothing matches old.
func (None) CompareAndSet(context.Context, string, []byte, []byte, time.Duration) (bool, error) {
	return false, nil
}

// Delete implements Cache.
func (None) Delete(context.Context, string) error { return nil }
