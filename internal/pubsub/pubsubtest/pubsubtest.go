// Package pubsubtest is the contract every pubsub.Hub must meet.
package pubsubtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/pubsub"
)

// Run checks hubs against the pubsub.Hub contract. newHubs returns n hubs
// sharing one fresh backend, as n processes sharing it would have theirs;
// an in-process hub may return the same hub n times.
func Run(t *testing.T, newHubs func(t *testing.T, n int) []pubsub.Hub) {
	ctx := context.Background()
	newHub := func(t *testing.T) pubsub.Hub { return newHubs(t, 1)[0] }
	t.Run("every subscriber gets every message in order", func(t *testing.T) {
		h := newHub(t)
		const subs, msgs = 3, 100
		var mu sync.Mutex
		got := make([][]string, subs)
		for i := range subs {
			unsub := h.Subscribe(func(m []byte) {
				mu.Lock()
				got[i] = append(got[i], string(m))
				mu.Unlock()
			}, func() {})
			t.Cleanup(unsub)
		}
		var want []string
		for i := range msgs {
			m := fmt.Sprint("m", i)
			want = append(want, m)
			if err := h.Publish(ctx, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if len(g) < msgs {
					return false
				}
			}
			return true
		})
		for i, g := range got {
			if !slices.Equal(g, want) {
				t.Errorf("subscriber %d got %v", i, g)
			}
		}
	})
	t.Run("unsubscribe stops delivery", func(t *testing.T) {
		h := newHub(t)
		var mu sync.Mutex
		n := 0
		unsub := h.Subscribe(func([]byte) { mu.Lock(); n++; mu.Unlock() }, func() {})
		h.Publish(ctx, []byte("a"))
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return n == 1 })
		unsub()
		h.Publish(ctx, []byte("b"))
		// A marker on a second subscription shows that "b" has been delivered.
		seen := make(chan struct{}, 1)
		t.Cleanup(h.Subscribe(func(m []byte) {
			if string(m) == "marker" {
				seen <- struct{}{}
			}
		}, func() {}))
		h.Publish(ctx, []byte("marker"))
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Fatal("marker not delivered")
		}
		mu.Lock()
		defer mu.Unlock()
		if n != 1 {
			t.Errorf("unsubscribed handler called %d times", n)
		}
	})
	t.Run("presence counts sessions per user", func(t *testing.T) {
		h := newHub(t)
		steps := []struct {
			join bool
			user string
			want bool // first on join, last on leave
		}{
			{true, "ann", true}, {true, "ann", false}, {true, "bob", true},
			{false, "ann", false}, {false, "ann", true}, {false, "bob", true},
		}
		for i, s := range steps {
			var got bool
			var err error
			if s.join {
				got, err = h.Join(ctx, s.user)
			} else {
				got, err = h.Leave(ctx, s.user)
			}
			if err != nil || got != s.want {
				t.Fatalf("step %d (%+v): %v, %v", i, s, got, err)
			}
			if i == 2 {
				online, _ := h.Online(ctx)
				slices.Sort(online)
				if !slices.Equal(online, []string{"ann", "bob"}) {
					t.Errorf("Online = %v", online)
				}
				among, err := h.OnlineAmong(ctx, []string{"cat", "bob", "ann"})
				slices.Sort(among)
				if err != nil || !slices.Equal(among, []string{"ann", "bob"}) {
					t.Errorf("OnlineAmong(cat, bob, ann) = %v, %v; want [ann bob]", among, err)
				}
			}
			if i == 4 {
				if among, err := h.OnlineAmong(ctx, []string{"ann", "bob"}); err != nil || !slices.Equal(among, []string{"bob"}) {
					t.Errorf("OnlineAmong(ann, bob) once ann left = %v, %v; want [bob]", among, err)
				}
			}
		}
		if online, _ := h.Online(ctx); len(online) != 0 {
			t.Errorf("Online after everyone left = %v", online)
		}
		if among, err := h.OnlineAmong(ctx, []string{"ann", "bob"}); len(among) != 0 || err != nil {
			t.Errorf("OnlineAmong after everyone left = %v, %v", among, err)
		}
		if among, err := h.OnlineAmong(ctx, nil); len(among) != 0 || err != nil {
			t.Errorf("OnlineAmong of nobody = %v, %v", among, err)
		}
	})
	runShared(t, newHubs)
}

// runShared checks what several processes sharing one backend see.
func runShared(t *testing.T, newHubs func(t *testing.T, n int) []pubsub.Hub) {
	ctx := context.Background()
	t.Run("messages reach subscribers of every hub", func(t *testing.T) {
		hubs := newHubs(t, 2)
		const msgs = 50
		var mu sync.Mutex
		got := make([][]string, len(hubs))
		for i, h := range hubs {
			t.Cleanup(h.Subscribe(func(m []byte) {
				mu.Lock()
				got[i] = append(got[i], string(m))
				mu.Unlock()
			}, func() {}))
		}
		// Both hubs publish, interleaved; each publisher's order must hold.
		for i := range msgs {
			for p, h := range hubs {
				if err := h.Publish(ctx, fmt.Appendf(nil, "p%d-%d", p, i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		waitFor(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if len(g) < msgs*len(hubs) {
					return false
				}
			}
			return true
		})
		mu.Lock()
		defer mu.Unlock()
		for i, g := range got {
			if len(g) != msgs*len(hubs) {
				t.Errorf("subscriber of hub %d got %d messages, want %d", i, len(g), msgs*len(hubs))
			}
			for p := range hubs {
				var from []string
				for _, m := range g {
					if strings.HasPrefix(m, fmt.Sprintf("p%d-", p)) {
						from = append(from, m)
					}
				}
				for j, m := range from {
					if want := fmt.Sprintf("p%d-%d", p, j); m != want {
						t.Errorf("subscriber of hub %d: message %d from hub %d is %s, want %s", i, j, p, m, want)
						break
					}
				}
			}
		}
	})
	t.Run("presence counts across hubs", func(t *testing.T) {
		hubs := newHubs(t, 2)
		a, b := hubs[0], hubs[1]
		steps := []struct {
			hub  pubsub.Hub
			name string
			join bool
			user string
			want bool // first on join, last on leave
		}{
			{a, "a", true, "ann", true},
			{b, "b", true, "ann", false},
			{b, "b", true, "bob", true},
			{a, "a", false, "ann", false},
			{b, "b", false, "bob", true},
			{a, "a", true, "ann", false},
			{b, "b", false, "ann", false},
			{a, "a", false, "ann", true},
		}
		for i, s := range steps {
			var got bool
			var err error
			if s.join {
				got, err = s.hub.Join(ctx, s.user)
			} else {
				got, err = s.hub.Leave(ctx, s.user)
			}
			if err != nil || got != s.want {
				t.Fatalf("step %d (hub %s, join %v, %s): %v, %v; want %v", i, s.name, s.join, s.user, got, err, s.want)
			}
			if i == 3 {
				for _, h := range hubs {
					online, err := h.Online(ctx)
					slices.Sort(online)
					if err != nil || !slices.Equal(online, []string{"ann", "bob"}) {
						t.Errorf("Online after step %d = %v, %v; want [ann bob]", i, online, err)
					}
					// ann is online through b only, bob through b only.
					among, err := h.OnlineAmong(ctx, []string{"bob", "cat", "ann"})
					slices.Sort(among)
					if err != nil || !slices.Equal(among, []string{"ann", "bob"}) {
						t.Errorf("OnlineAmong after step %d = %v, %v; want [ann bob]", i, among, err)
					}
				}
			}
			if i == 4 {
				for _, h := range hubs {
					if among, err := h.OnlineAmong(ctx, []string{"bob", "ann"}); err != nil || !slices.Equal(among, []string{"ann"}) {
						t.Errorf("OnlineAmong after step %d = %v, %v; want [ann]", i, among, err)
					}
				}
			}
		}
		for _, h := range hubs {
			if online, err := h.Online(ctx); len(online) != 0 || err != nil {
				t.Errorf("Online after everyone left = %v, %v", online, err)
			}
		}
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
