package valkey

import (
	"context"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// TestOutagesLeakNoGoroutines stops and restarts the server several times
// under a subscribed hub, a cache in use and a user present, calling all
// three while it is down: once it is back and answering, the process runs
// as many goroutines as before the first outage. Each outage ends a
// subscription, connections and perhaps a heartbeat; none may be left
// behind waiting on a connection that is gone.
//
// It does not run in parallel: it counts the goroutines of the whole test
// binary.
func TestOutagesLeakNoGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the server several times")
	}
	v := backends.StartValkey(t)
	ctx := context.Background()
	c := newClient(t, v, Options{Prefix: newPrefix(), heartbeat: 100 * time.Millisecond})
	got := make(chan string, 1000)
	t.Cleanup(c.Subscribe(func(m []byte) {
		select {
		case got <- string(m):
		default:
		}
	}, nil))
	// use exercises every part of the client once and reports whether the
	// server answered all of it.
	use := func(msg string) bool {
		if c.Set(ctx, "k", []byte(msg), time.Hour) != nil {
			return false
		}
		for range 2 { // the second read is served from the client-side cache
			if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || string(v) != msg {
				return false
			}
		}
		if _, err := c.Join(ctx, "ann"); err != nil {
			return false
		}
		if _, err := c.Online(ctx); err != nil {
			return false
		}
		return c.Publish(ctx, []byte(msg)) == nil
	}
	// until waits for msg on the hub, skipping earlier ones.
	until := func(msg string) {
		t.Helper()
		for {
			if receive(t, got) == msg {
				return
			}
		}
	}
	waitFor(t, "the client to answer", func() bool { return use("warm") })
	until("warm")
	before := runtime.NumGoroutine()

	for i := range 3 {
		v.Stop()
		// Calls while the server is down fail (at once, once the breaker
		// knows); they must leave nothing waiting behind them.
		for range 5 {
			use("down")
			time.Sleep(20 * time.Millisecond)
		}
		v.Start()
		msg := "back " + string(rune('a'+i))
		waitFor(t, "the client to answer after a restart", func() bool { return use(msg) })
		until(msg)
	}

	// Goroutines of the broken connections end on their own schedule: poll
	// until the count is back, with a deadline rather than a fixed sleep.
	deadline := time.Now().Add(30 * time.Second)
	now := runtime.NumGoroutine()
	for now > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		now = runtime.NumGoroutine()
	}
	if now > before {
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Fatalf("%d goroutines after 3 outages, %d before:\n%s", now, before, dump.String())
	}
}
