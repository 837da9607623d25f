package valkey

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	valkeygo "github.com/valkey-io/valkey-go"

	"foxhole.dev/foxhole/internal/errs"
)

// Valkey is an accelerator: when it stops answering, callers fall back (the
// cache to the database, the limiters to counting in process, realtime to
// the event store), so a call must learn of it at once rather than wait on
// a dead connection each time.
const (
	opTimeout  = time.Second // the longest one command may take
	probeEvery = time.Second // while down, how often one call tries again
)

// ErrUnavailable is what every call returns while the server does not
// answer: at once while it is known to be down.
var ErrUnavailable = errs.New(errs.ErrUnavailable, "the shared cache and hub (Valkey) is unreachable; try again shortly")

// breaker keeps calls off a server that stopped answering, lets one call
// through every probeEvery to see whether it is back, and logs each change
// once rather than for every call.
type breaker struct {
	log     zerolog.Logger
	down    atomic.Bool
	probeAt atomic.Int64 // UnixNano after which the next call may try
}

// call runs op with a deadline of its own unless the server is known to be
// down, and notes whether the server answered.
func (c *Client) call(ctx context.Context, op func(context.Context) error) error {
	b := &c.breaker
	if b.down.Load() {
		at, now := b.probeAt.Load(), time.Now().UnixNano()
		if now < at || !b.probeAt.CompareAndSwap(at, now+int64(probeEvery)) {
			return ErrUnavailable
		}
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := op(octx)
	switch {
	case !unreachable(err):
		if b.down.CompareAndSwap(true, false) {
			b.log.Info().Msg("valkey answers again")
		}
		return err
	case ctx.Err() != nil:
		return err // the caller gave up; that says nothing of the server
	}
	if b.down.CompareAndSwap(false, true) {
		b.probeAt.Store(time.Now().Add(probeEvery).UnixNano())
		b.log.Warn().Err(err).Msg("valkey is unreachable: the cache falls back to the database, limits count in process, realtime catches up when it returns")
	}
	return ErrUnavailable
}

// unreachable reports whether err says the server did not answer, as
// opposed to answering no (a nil reply, or an error reply).
func unreachable(err error) bool {
	if err == nil || valkeygo.IsValkeyNil(err) {
		return false
	}
	_, replied := valkeygo.IsValkeyErr(err)
	return !replied
}

// Reachable reports whether Valkey answered the last call: false while the
// breaker keeps calls off it.
func (c *Client) Reachable() bool { return !c.breaker.down.Load() }
