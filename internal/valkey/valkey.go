// Package valkey is the shared backend of several Foxhole processes: one
// valkey-go client (github.com/valkey-io/valkey-go) that is the cache
// (cache.Cache), the hub (pubsub.Hub) and, through NewLimiter, the rate
// limiters (ratelimit.Limiter) of every process using the same Valkey.
//
// The cache reads through valkey-go's server-assisted client-side caching:
// a repeated Get costs no round trip, and a write from any process
// invalidates this process's copy at once. That copy belongs to one
// connection and is dropped when the connection is, so after a reconnect
// the cache is cold, never stale.
//
// The hub publishes on one channel and receives on a connection of its own,
// so that a burst of events never queues behind cache reads. A subscription
// that was lost and re-established is reported to subscribers (see
// pubsub.Hub), because Valkey does not keep messages published during the
// gap. Presence is shared: see presence.go.
//
// The limiters run GCRA in one Lua script per check (see limiter.go),
// rather than valkeylimiter from the same project: its v1.0.76 counts in
// fixed windows (INCRBY on a counter that restarts when a window ends),
// which lets a key act twice its limit across a window edge, and it
// answers with the time the window ends, in ms on the calling process's
// clock, where Foxhole needs a retry-after for the next event that holds
// across processes whose clocks differ (GCRA here reads the server's).
//
// Every key, and the channel, starts with Options.Prefix, so that several
// deployments (or tests) can share one server. Multi-key scripts assume one
// server, not a cluster: their keys share a hash tag, but presence reads
// the keys of other processes that it cannot declare in advance.
//
// valkey-go's own package is also named valkey; every file here imports it
// as valkeygo, so that "valkey" always means this package.
package valkey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	valkeygo "github.com/valkey-io/valkey-go"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/pubsub"
)

var (
	_ cache.Cache = (*Client)(nil)
	_ pubsub.Hub  = (*Client)(nil)
)

// DefaultPrefix starts every key and channel unless Options says otherwise.
const DefaultPrefix = "foxhole:"

// Options configures New.
type Options struct {
	// URL is the server, as redis://[user:password@]host:port/db or
	// rediss:// for TLS.
	URL string
	// Prefix starts every key and channel name; empty means DefaultPrefix.
	Prefix string
	// CacheBytes bounds the client-side cache of each connection; zero
	// means valkey-go's default (128 MiB).
	CacheBytes int

	// Log hears when the server stops answering and when it is back.
	Log zerolog.Logger

	// heartbeat, when set, replaces presenceHeartbeat (tests).
	heartbeat time.Duration
}

// Client is the cache and the hub of one process, and the connection its
// limiters share. Its methods are safe for concurrent use. Close it once,
// when the process stops.
type Client struct {
	c      valkeygo.Client
	prefix string
	db     int // the database selected, which names the hub's channel

	// The hub's subscription (hub.go).
	subMu     sync.Mutex
	subs      map[*subscriber]struct{}
	live      bool          // the channel is subscribed now
	liveCh    chan struct{} // closed when live becomes true
	receiving bool          // the receive loop runs
	stop      context.CancelFunc
	stopCtx   context.Context
	loopDone  chan struct{}

	presence *presence
	closing  sync.Once
	breaker  breaker
}

// New connects to the server named by o.URL. It fails when the server does
// not support client-side caching (CLIENT TRACKING, Redis 6 and later, and
// every Valkey): the cache would otherwise never learn of other processes'
// writes.
func New(ctx context.Context, o Options) (*Client, error) {
	opt, err := valkeygo.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("valkey url: %w", err)
	}
	opt.CacheSizeEachConn = o.CacheBytes
	// One pipelined connection (2^0) rather than valkey-go's default of
	// several: a write then reaches the connection whose client-side cache
	// holds the key, which Client.write relies on. Auto-pipelining keeps
	// one connection busy enough for a process.
	opt.PipelineMultiplex = -1
	vc, err := valkeygo.NewClient(opt)
	if errors.Is(err, valkeygo.ErrNoCache) {
		return nil, fmt.Errorf("valkey at %s lacks client-side caching (CLIENT TRACKING); use Valkey, or Redis 6 or later: %w", opt.InitAddress, err)
	}
	if err != nil {
		return nil, fmt.Errorf("valkey: %w", err)
	}
	if err := vc.Do(ctx, vc.B().Ping().Build()).Error(); err != nil {
		vc.Close()
		return nil, fmt.Errorf("valkey ping: %w", err)
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	stopCtx, stop := context.WithCancel(context.Background())
	c := &Client{
		c:        vc,
		prefix:   prefix,
		db:       opt.SelectDB,
		subs:     map[*subscriber]struct{}{},
		liveCh:   make(chan struct{}),
		stopCtx:  stopCtx,
		stop:     stop,
		loopDone: make(chan struct{}),
		breaker:  breaker{log: o.Log},
	}
	c.presence = newPresence(c, newProcessID(), o.heartbeat)
	return c, nil
}

// Close stops the heartbeat, removes this process from presence, ends the
// subscription and closes the connections. Calls after the first do
// nothing.
func (c *Client) Close() error {
	var err error
	c.closing.Do(func() {
		c.stop()
		err = c.presence.close()
		c.subMu.Lock()
		receiving := c.receiving
		c.subMu.Unlock()
		if receiving {
			<-c.loopDone
		}
		c.c.Close()
	})
	return err
}

// Ping reports whether the server answers, for /readyz.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, func(ctx context.Context) error {
		return c.c.Do(ctx, c.c.B().Ping().Build()).Error()
	})
}

// newProcessID returns 128 random bits: a process's name in presence, which
// must not collide with another live process's.
func newProcessID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
