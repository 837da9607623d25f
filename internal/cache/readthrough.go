package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"time"
)

// ReadThrough returns the value cached under key, decoded, or else the one
// load reads from the source of truth, which it caches for ttl unless the
// key was invalidated meanwhile. Every fill of a cache after a database
// read goes through it; a writer changes the database first, then
// invalidates the key (Delete, or Set of the new value).
//
// The race it closes: a reader loads the old row, a writer updates the
// row and invalidates the key, then the reader stores the old row, which
// stays for a whole TTL. An add-if-absent fill (Add) is not enough: the
// writer's Delete leaves the key absent, and the late Add stores the old
// row all the same. So the reader takes a lease before it loads: Add of a
// value unique to this read, which lives leaseTTL. It fills with
// CompareAndSet from its lease to the value, which stores nothing unless
// the lease is still there. A writer's invalidation comes after its
// database write and removes any lease, so a load that may have read the
// row before the write (it began before the invalidation) never fills;
// one that began after it reads the new row. A reader that finds another
// reader's lease, or cannot take one, loads without filling. Nothing
// depends on timing: a lease that expires, or that the cache drops,
// refuses its fill too.
//
// A value must not begin with a NUL byte (a lease does): such a value is
// returned but not cached. A cached value that decode refuses (written by
// another version, say) is deleted and read again. A cache that fails
// costs only speed.
func ReadThrough[T any](ctx context.Context, c Cache, key string, ttl time.Duration,
	decode func([]byte) (T, bool),
	load func(context.Context) (T, []byte, error),
) (T, error) {
	if b, ok, err := c.Get(ctx, key); err == nil && ok && !isLease(b) {
		if v, ok := decode(b); ok {
			return v, nil
		}
		_ = c.Delete(ctx, key)
	}
	lease := newLease()
	leased, err := c.Add(ctx, key, lease, leaseTTL)
	leased = leased && err == nil
	v, b, err := load(ctx)
	if err != nil {
		return v, err
	}
	if leased && !isLease(b) {
		_, _ = c.CompareAndSet(ctx, key, lease, b, ttl)
	}
	return v, nil
}

// leaseTTL bounds how long a key stays leased to one reader: a load that
// takes longer does not fill, and a reader that died holding a lease keeps
// others from filling, not from reading, for this long at most.
const leaseTTL = 10 * time.Second

// leasePrefix begins every lease; no cached value begins with NUL.
var leasePrefix = []byte("\x00lease\x00")

func isLease(b []byte) bool { return bytes.HasPrefix(b, leasePrefix) }

// newLease returns a lease no other reader holds: 128 random bits.
func newLease() []byte {
	b := make([]byte, len(leasePrefix)+16)
	copy(b, leasePrefix)
	rand.Read(b[len(leasePrefix):])
	return b
}
