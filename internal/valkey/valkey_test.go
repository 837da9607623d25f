package valkey

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/cache/cachetest"
	"foxhole.dev/foxhole/internal/pubsub"
	"foxhole.dev/foxhole/internal/pubsub/pubsubtest"
	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/ratelimit/ratelimittest"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// prefixes gives each case its own key space on the shared server, as
// separate deployments would have.
var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("t%d:", prefixes.Add(1)) }

// newClient connects to v with the prefix given, and closes the client when
// the test ends.
func newClient(t *testing.T, v *backends.Valkey, o Options) *Client {
	t.Helper()
	o.URL = v.URL
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCacheContract(t *testing.T) {
	v := backends.StartValkey(t)
	cachetest.Run(t, func(t *testing.T) cache.Cache {
		return newClient(t, v, Options{Prefix: newPrefix()})
	})
}

func TestLimiterContract(t *testing.T) {
	v := backends.StartValkey(t)
	c := newClient(t, v, Options{Prefix: newPrefix()})
	var n atomic.Int64
	ratelimittest.Run(t, func(_ *testing.T, rate float64, burst int) ratelimit.Limiter {
		return c.NewLimiter(fmt.Sprint("case", n.Add(1)), rate, burst)
	})
}

func TestHubContract(t *testing.T) {
	v := backends.StartValkey(t)
	pubsubtest.Run(t, func(t *testing.T, n int) []pubsub.Hub {
		// Processes sharing a deployment share its prefix.
		prefix := newPrefix()
		hubs := make([]pubsub.Hub, n)
		for i := range hubs {
			hubs[i] = newClient(t, v, Options{Prefix: prefix})
		}
		return hubs
	})
}

// TestCacheSeesOtherProcessesWrites checks that a value cached in one
// process is replaced at once when another process writes it: the server
// invalidates the copy, with no TTL to wait out.
func TestCacheSeesOtherProcessesWrites(t *testing.T) {
	v := backends.StartValkey(t)
	ctx := context.Background()
	prefix := newPrefix()
	a, b := newClient(t, v, Options{Prefix: prefix}), newClient(t, v, Options{Prefix: prefix})
	if err := a.Set(ctx, "k", []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read is served from b's memory
		if got, ok, err := b.Get(ctx, "k"); string(got) != "v1" || !ok || err != nil {
			t.Fatalf("b.Get = %q, %v, %v; want v1", got, ok, err)
		}
	}
	if hit := b.c.DoCache(ctx, b.c.B().Get().Key(b.cacheKey("k")).Cache(), localTTL).IsCacheHit(); !hit {
		t.Fatal("a repeated Get was not served from the client-side cache")
	}
	a.Set(ctx, "k", []byte("v2"), time.Hour)
	waitFor(t, "b to see a's write", func() bool {
		got, _, _ := b.Get(ctx, "k")
		return string(got) == "v2"
	})
	a.Delete(ctx, "k")
	waitFor(t, "b to see a's delete", func() bool {
		_, ok, _ := b.Get(ctx, "k")
		return !ok
	})
}

// TestSubscriptionSurvivesRestart restarts the server under a subscriber:
// the hub must report the gap through lost, then deliver what is published
// after it.
func TestSubscriptionSurvivesRestart(t *testing.T) {
	v := backends.StartValkey(t)
	ctx := context.Background()
	c := newClient(t, v, Options{Prefix: newPrefix()})
	lost := make(chan struct{}, 10)
	got := make(chan string, 100)
	t.Cleanup(c.Subscribe(func(m []byte) {
		select {
		case got <- string(m):
		default:
		}
	}, func() { lost <- struct{}{} }))
	if err := c.Publish(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, got); m != "before" {
		t.Fatalf("got %q, want before", m)
	}

	v.Restart()
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("lost not called within 30s of a server restart")
	}
	// The publishing connection reconnects on its own, perhaps after a
	// failed call that found it broken.
	waitFor(t, "a publish after the restart", func() bool {
		return c.Publish(ctx, []byte("after")) == nil
	})
	if m := receive(t, got); m != "after" {
		t.Fatalf("got %q after the restart, want after", m)
	}
	select {
	case <-lost:
		t.Fatal("lost called twice for one restart")
	default:
	}
}

// TestSubscribeWhileServerDown checks that a subscriber that could not be
// subscribed in time is told when it is.
func TestSubscribeWhileServerDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out subscribeWait")
	}
	v := backends.StartValkey(t)
	c := newClient(t, v, Options{Prefix: newPrefix()})
	v.Stop()
	lost := make(chan struct{}, 1)
	unsub := c.Subscribe(func([]byte) {}, func() {
		select {
		case lost <- struct{}{}:
		default:
		}
	})
	defer unsub()
	v.Start()
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("lost not called once the subscription was made")
	}
}

// TestCrashedProcessLeavesPresence stops a process's heartbeat without
// Close, as its death would: its users must leave presence within the
// expiry, and the users of a live process stay.
func TestCrashedProcessLeavesPresence(t *testing.T) {
	v := backends.StartValkey(t)
	ctx := context.Background()
	prefix := newPrefix()
	const beat = 100 * time.Millisecond
	live := newClient(t, v, Options{Prefix: prefix, heartbeat: beat})
	dead := newClient(t, v, Options{Prefix: prefix, heartbeat: beat})
	if _, err := live.Join(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if first, err := dead.Join(ctx, "bob"); !first || err != nil {
		t.Fatalf("dead.Join(bob) = %v, %v", first, err)
	}
	if first, err := dead.Join(ctx, "ann"); first || err != nil {
		t.Fatalf("dead.Join(ann) = %v, %v; ann is already here", first, err)
	}
	dead.presence.stopHeartbeat()
	died := time.Now()
	waitFor(t, "bob to leave presence", func() bool {
		online, err := live.Online(ctx)
		slices.Sort(online)
		return err == nil && slices.Equal(online, []string{"ann"})
	})
	// A bound, not a timing: the expiry plus ample slack for a loaded machine.
	if d, bound := time.Since(died), presenceFactor*beat+5*time.Second; d > bound {
		t.Errorf("bob left %s after the last beat; want within %s", d, bound)
	}
	// And for OnlineAmong, which reads the same live processes.
	if among, err := live.OnlineAmong(ctx, []string{"ann", "bob"}); err != nil || !slices.Equal(among, []string{"ann"}) {
		t.Errorf("OnlineAmong(ann, bob) after dead's expiry = %v, %v; want [ann]", among, err)
	}
	// The dead process's users are gone for Join too.
	if first, err := live.Join(ctx, "bob"); !first || err != nil {
		t.Fatalf("live.Join(bob) after dead's expiry = %v, %v; want first", first, err)
	}
	if last, err := live.Leave(ctx, "ann"); !last || err != nil {
		t.Fatalf("live.Leave(ann) = %v, %v; want last, the dead process's session of ann is gone", last, err)
	}
}

// TestClosedProcessLeavesPresenceAtOnce checks that Close removes the
// process's users without waiting for the expiry.
func TestClosedProcessLeavesPresenceAtOnce(t *testing.T) {
	v := backends.StartValkey(t)
	ctx := context.Background()
	prefix := newPrefix()
	a := newClient(t, v, Options{Prefix: prefix})
	b := newClient(t, v, Options{Prefix: prefix})
	b.Join(ctx, "bob")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if online, err := a.Online(ctx); len(online) != 0 || err != nil {
		t.Fatalf("Online after the only process closed = %v, %v", online, err)
	}
}

// TestPresenceRestoredAfterDataLoss restarts the server empty: the heartbeat
// must put this process's users back.
func TestPresenceRestoredAfterDataLoss(t *testing.T) {
	v := backends.StartValkey(t)
	ctx := context.Background()
	c := newClient(t, v, Options{Prefix: newPrefix(), heartbeat: 50 * time.Millisecond})
	c.Join(ctx, "ann")
	c.Join(ctx, "ann")
	v.Restart()
	waitFor(t, "ann to be back in presence", func() bool {
		online, _ := c.Online(ctx)
		return slices.Equal(online, []string{"ann"})
	})
	// Both sessions were restored: the first Leave is not the last.
	if last, err := c.Leave(ctx, "ann"); last || err != nil {
		t.Fatalf("first Leave = %v, %v; want not last", last, err)
	}
	if last, err := c.Leave(ctx, "ann"); !last || err != nil {
		t.Fatalf("second Leave = %v, %v; want last", last, err)
	}
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10s")
		return ""
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
