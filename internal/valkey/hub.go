package valkey

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"
)

const (
	// subscribeWait bounds how long Subscribe waits for the channel to be
	// subscribed. A subscriber that stops waiting (the server is down) is
	// told through lost when the subscription is made, since messages
	// published meanwhile reached nobody here.
	subscribeWait = 5 * time.Second
	// The receive loop waits between failed attempts to subscribe, from
	// minBackoff doubling up to maxBackoff, so that a server that is down
	// is not hammered and one that is back is found within a second.
	minBackoff = 20 * time.Millisecond
	maxBackoff = time.Second
)

type subscriber struct {
	fn   func([]byte)
	lost func()
	// waiting is true until the subscription it joined is first made, or
	// until its Subscribe stops waiting; only then can it have missed
	// messages, and be told so (see established).
	waiting bool
}

// channel is where events travel. Pub/sub ignores the database a client
// selects, so the database's number is part of its name: deployments on
// two databases of one server never hear each other.
func (c *Client) channel() string { return c.prefix + "db" + strconv.Itoa(c.db) + ":events" }

// Publish implements pubsub.Hub with PUBLISH: every subscriber of every
// process on the server receives msg, in the order this process published.
func (c *Client) Publish(ctx context.Context, msg []byte) error {
	return c.call(ctx, func(ctx context.Context) error {
		return c.c.Do(ctx, c.c.B().Publish().Channel(c.channel()).Message(valkeygo.BinaryString(msg)).Build()).Error()
	})
}

// Subscribe implements pubsub.Hub. The process keeps one subscription to
// the channel, made on the first Subscribe, however many subscribers it
// has. Subscribe returns once that subscription is live, or after
// subscribeWait when it cannot be made; lost is then called when it is.
//
// fn and lost run on the subscription's connection goroutine, with the
// subscriber set locked: they must not block, publish, or unsubscribe.
func (c *Client) Subscribe(fn func([]byte), lost func()) func() {
	if lost == nil {
		lost = func() {}
	}
	s := &subscriber{fn: fn, lost: lost}
	c.subMu.Lock()
	c.subs[s] = struct{}{}
	if !c.receiving && c.stopCtx.Err() == nil {
		c.receiving = true
		go c.receive()
	}
	live, liveCh := c.live, c.liveCh
	s.waiting = !live
	c.subMu.Unlock()
	if !live {
		timer := time.NewTimer(subscribeWait)
		select {
		case <-liveCh:
		case <-timer.C:
		case <-c.stopCtx.Done():
		}
		timer.Stop()
		c.subMu.Lock()
		s.waiting = false
		c.subMu.Unlock()
	}
	return func() {
		c.subMu.Lock()
		delete(c.subs, s)
		c.subMu.Unlock()
	}
}

// receive keeps the channel subscribed until Close, each attempt on a
// dedicated connection of its own. valkey-go's Client.Receive would
// resubscribe by itself after a connection loss, but silently, and on the
// connection that also carries cache reads; here each loss ends the
// attempt, and the next one's subscription is reported (established).
func (c *Client) receive() {
	defer close(c.loopDone)
	subscribe := c.c.B().Subscribe().Channel(c.channel()).Build().Pin()
	deliver := func(m valkeygo.PubSubMessage) {
		// One copy per message, shared by the subscribers, who may not
		// keep it (pubsub.Hub).
		msg := []byte(m.Message)
		c.subMu.Lock()
		defer c.subMu.Unlock()
		for s := range c.subs {
			s.fn(msg)
		}
	}
	backoff := minBackoff
	for c.stopCtx.Err() == nil {
		var made atomic.Bool
		ctx := valkeygo.WithOnSubscriptionHook(c.stopCtx, func(s valkeygo.PubSubSubscription) {
			if s.Kind == "subscribe" && s.Channel == c.channel() {
				made.Store(true)
				c.established()
			}
		})
		dc, _ := c.c.Dedicate()
		dc.Receive(ctx, subscribe, deliver)
		c.subMu.Lock()
		c.live = false
		if c.liveCh == nil {
			c.liveCh = make(chan struct{})
		}
		c.subMu.Unlock()
		// The connection is subscribed or broken: of no use to anyone
		// else, so it is closed rather than returned to the pool.
		dc.Close()
		if made.Load() {
			backoff = minBackoff
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-c.stopCtx.Done():
			timer.Stop()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// established records that the channel is subscribed, wakes the Subscribe
// calls waiting for it, and tells every other subscriber that messages may
// have been lost before it.
func (c *Client) established() {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.live = true
	if c.liveCh != nil {
		close(c.liveCh)
		c.liveCh = nil
	}
	for s := range c.subs {
		if s.waiting {
			s.waiting = false
			continue
		}
		s.lost()
	}
}
