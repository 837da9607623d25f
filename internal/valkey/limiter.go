package valkey

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"

	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/ratelimit"
)

var _ ratelimit.Limiter = (*Limiter)(nil)

// Limiter is a ratelimit.Limiter shared by every process on the same
// Valkey. It is a type apart from Client because a process has one cache
// and one hub but several limiters, each with its own rate and key space,
// all on the client's connection.
type Limiter struct {
	c *Client
	// fallback counts in this process while the server does not answer:
	// limits stay per process then, rather than gone or refusing all.
	fallback *inmem.Limiter
	prefix   string
	interval string // µs between events at the steady rate
	window   string // µs of burst: interval × burst
}

// NewLimiter returns a limiter allowing rate (> 0) events per second per
// key, with bursts of burst. name separates its keys from other limiters'.
func (c *Client) NewLimiter(name string, rate float64, burst int) *Limiter {
	interval := max(1, int64(math.Round(1e6/rate)))
	return &Limiter{
		c:        c,
		fallback: inmem.NewLimiter(rate, burst),
		prefix:   c.prefix + "rate:" + name + ":",
		interval: strconv.FormatInt(interval, 10),
		window:   strconv.FormatInt(interval*int64(max(1, burst)), 10),
	}
}

// gcra is the generic cell rate algorithm, the token bucket kept as one
// number: the theoretical arrival time (TAT) of the next event at the
// steady rate. An event is allowed when, after it, the TAT lies at most one
// burst window ahead of now; the key then expires when the bucket would be
// full again, so idle keys cost nothing. The clock is the server's, so that
// processes whose clocks differ agree. Times are in µs.
//
// KEYS[1]: the key's TAT. ARGV[1]: interval. ARGV[2]: burst window.
// Returns {1, 0} when allowed, {0, µs until the event would be allowed}.
var gcra = valkeygo.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local next = tat + interval
local wait = next - window - now
if wait > 0 then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000))
return {1, 0}
`)

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	var res []int64
	err := l.c.call(ctx, func(ctx context.Context) error {
		var err error
		res, err = gcra.Exec(ctx, l.c.c, []string{l.prefix + key}, []string{l.interval, l.window}).AsIntSlice()
		return err
	})
	if errors.Is(err, ErrUnavailable) {
		return l.fallback.Allow(ctx, key)
	}
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("rate limit script returned %v", res)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}
