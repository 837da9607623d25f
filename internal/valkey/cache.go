package valkey

import (
	"context"
	"strconv"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"
)

// localTTL caps how long a value read through Get stays in this process
// without a round trip. valkey-go caps it further by the key's own
// remaining TTL (it reads PTTL with the value), so a local copy never
// outlives the entry; and the server invalidates the copy on any write, so
// the cap only bounds memory held for keys that nobody writes.
const localTTL = time.Hour

func (c *Client) cacheKey(key string) string { return c.prefix + "cache:" + key }

// Get implements cache.Cache. A hit, and a miss too, is remembered in this
// process until the entry expires or any process writes the key.
func (c *Client) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var s string
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		s, err = c.c.DoCache(ctx, c.c.B().Get().Key(c.cacheKey(key)).Cache(), localTTL).ToString()
		return err
	})
	if valkeygo.IsValkeyNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	// The string is shared with the client-side cache: the caller gets a
	// copy it may change.
	return []byte(s), true, nil
}

// Set implements cache.Cache. A ttl that is not positive removes the key,
// as the value would be expired at once.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return c.Delete(ctx, key)
	}
	return c.write(ctx, c.c.B().Set().Key(c.cacheKey(key)).Value(valkeygo.BinaryString(value)).Px(roundUpMs(ttl)).Build())
}

// Add implements cache.Cache with SET NX. With a ttl that is not positive
// nothing is stored, and Add reports whether it would have been.
func (c *Client) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		var n int64
		err := c.call(ctx, func(ctx context.Context) error {
			var err error
			n, err = c.c.Do(ctx, c.c.B().Exists().Key(c.cacheKey(key)).Build()).AsInt64()
			return err
		})
		return n == 0, err
	}
	err := c.write(ctx, c.c.B().Set().Key(c.cacheKey(key)).Value(valkeygo.BinaryString(value)).Nx().Px(roundUpMs(ttl)).Build())
	if valkeygo.IsValkeyNil(err) {
		return false, nil // the key holds a live entry
	}
	return err == nil, err
}

// casScript sets KEYS[1] to ARGV[2] for ARGV[3] ms (deletes it when
// ARGV[3] is 0) if it holds ARGV[1], and returns 1 if it did.
const casScript = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '0' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`

// CompareAndSet implements cache.Cache with a script, which the server
// runs as one step. Like write, it returns once this process's cached copy
// of the key is gone.
func (c *Client) CompareAndSet(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	ms := int64(0)
	if ttl > 0 {
		ms = roundUpMs(ttl).Milliseconds()
	}
	cmd := c.c.B().Eval().Script(casScript).Numkeys(1).Key(c.cacheKey(key)).
		Arg(valkeygo.BinaryString(old), valkeygo.BinaryString(value), strconv.FormatInt(ms, 10)).Build()
	var n int64
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		n, err = c.c.DoMulti(ctx, cmd, c.c.B().Ping().Build())[0].AsInt64()
		return err
	})
	return n == 1, err
}

// Delete implements cache.Cache.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.write(ctx, c.c.B().Del().Key(c.cacheKey(key)).Build())
}

// write sends a command that changes a cache key, and returns once this
// process's cached copy of the key, if any, is gone, so that the process
// reads its own writes. The server sends a connection the invalidation of a
// key that the connection itself changed only after the command's reply
// (Redis 7 and Valkey), so a PING follows the command in the same pipeline:
// its reply comes after the invalidation, which the client applies as it
// reads. This holds because New keeps one pipelined connection, the one
// whose cache Get fills.
func (c *Client) write(ctx context.Context, cmd valkeygo.Completed) error {
	return c.call(ctx, func(ctx context.Context) error {
		return c.c.DoMulti(ctx, cmd, c.c.B().Ping().Build())[0].Error()
	})
}

// roundUpMs rounds d up to whole milliseconds, the resolution of PX, so
// that a positive TTL never becomes the invalid PX 0.
func roundUpMs(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
