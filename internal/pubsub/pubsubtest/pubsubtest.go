// Package pubsubtest is the contract every pubsub.Hub must meet.
package pubsubtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/pubsub"
)

// Run checks the hub made by newHub against the pubsub.Hub contract.
func Run(t *testing.T, newHub func(t *testing.T) pubsub.Hub) {
	ctx := context.Background()
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
			})
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
		unsub := h.Subscribe(func([]byte) { mu.Lock(); n++; mu.Unlock() })
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
		}))
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
			}
		}
		if online, _ := h.Online(ctx); len(online) != 0 {
			t.Errorf("Online after everyone left = %v", online)
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
