// Package cachetest is the contract every cache.Cache must meet.
package cachetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/cache"
)

// Run checks the cache made by newCache against the cache.Cache contract.
func Run(t *testing.T, newCache func(t *testing.T) cache.Cache) {
	ctx := context.Background()
	t.Run("set get delete", func(t *testing.T) {
		c := newCache(t)
		if _, ok, err := c.Get(ctx, "missing"); ok || err != nil {
			t.Fatalf("Get(missing) = %v, %v", ok, err)
		}
		if err := c.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "k", []byte("v2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := c.Get(ctx, "k"); !ok || err != nil || string(v) != "v2" {
			t.Fatalf("Get(k) = %q, %v, %v; want v2", v, ok, err)
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := c.Get(ctx, "k"); ok {
			t.Fatal("Get after Delete found the key")
		}
		if err := c.Delete(ctx, "k"); err != nil {
			t.Fatalf("Delete(missing) = %v", err)
		}
	})
	t.Run("values are copied", func(t *testing.T) {
		c := newCache(t)
		b := []byte("abc")
		c.Set(ctx, "k", b, time.Minute)
		b[0] = 'X'
		if v, _, _ := c.Get(ctx, "k"); string(v) != "abc" {
			t.Fatalf("stored value changed with the caller's slice: %q", v)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		c := newCache(t)
		c.Set(ctx, "short", []byte("v"), 50*time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, ok, _ := c.Get(ctx, "short"); !ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("entry with a 50ms TTL still present after 5s")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("add only when absent", func(t *testing.T) {
		c := newCache(t)
		if added, err := c.Add(ctx, "k", []byte("first"), time.Minute); !added || err != nil {
			t.Fatalf("Add(absent key) = %v, %v; want true", added, err)
		}
		if added, err := c.Add(ctx, "k", []byte("second"), time.Minute); added || err != nil {
			t.Fatalf("Add(present key) = %v, %v; want false", added, err)
		}
		if v, ok, err := c.Get(ctx, "k"); !ok || err != nil || string(v) != "first" {
			t.Fatalf("Get(k) = %q, %v, %v; want the first value kept", v, ok, err)
		}
		// Set still overwrites, and Add after a Delete stores again.
		c.Set(ctx, "k", []byte("set"), time.Minute)
		if v, _, _ := c.Get(ctx, "k"); string(v) != "set" {
			t.Fatalf("Get after Set = %q, want set", v)
		}
		c.Delete(ctx, "k")
		if added, err := c.Add(ctx, "k", []byte("again"), time.Minute); !added || err != nil {
			t.Fatalf("Add after Delete = %v, %v; want true", added, err)
		}
		b := []byte("abc")
		c.Add(ctx, "copied", b, time.Minute)
		b[0] = 'X'
		if v, _, _ := c.Get(ctx, "copied"); string(v) != "abc" {
			t.Fatalf("value stored by Add changed with the caller's slice: %q", v)
		}
	})
	t.Run("add after expiry", func(t *testing.T) {
		c := newCache(t)
		c.Set(ctx, "short", []byte("old"), 50*time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for {
			added, err := c.Add(ctx, "short", []byte("new"), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if added {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Add still refused after the 50ms entry should have expired for 5s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if v, ok, _ := c.Get(ctx, "short"); !ok || string(v) != "new" {
			t.Fatalf("Get after Add over an expired entry = %q, %v; want new", v, ok)
		}
	})
	t.Run("reads its own writes", func(t *testing.T) {
		// A cache that keeps copies near the caller (Valkey's client-side
		// cache) must drop its copy before a write returns; many rounds
		// give a late invalidation many chances to show.
		c := newCache(t)
		for i := range 500 {
			v := fmt.Sprint(i)
			if err := c.Set(ctx, "k", []byte(v), time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := c.Get(ctx, "k"); string(got) != v || !ok || err != nil {
				t.Fatalf("round %d: Get after Set = %q, %v, %v; want %s", i, got, ok, err, v)
			}
			if err := c.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := c.Get(ctx, "k"); ok || err != nil {
				t.Fatalf("round %d: Get after Delete = %v, %v; want a miss", i, ok, err)
			}
			if added, err := c.Add(ctx, "k", []byte(v), time.Minute); !added || err != nil {
				t.Fatalf("round %d: Add after Delete = %v, %v", i, added, err)
			}
			if got, ok, err := c.Get(ctx, "k"); string(got) != v || !ok || err != nil {
				t.Fatalf("round %d: Get after Add = %q, %v, %v; want %s", i, got, ok, err, v)
			}
		}
	})
	t.Run("compare and set", func(t *testing.T) {
		c := newCache(t)
		if stored, err := c.CompareAndSet(ctx, "k", []byte("a"), []byte("b"), time.Minute); stored || err != nil {
			t.Fatalf("CompareAndSet(missing key) = %v, %v; want false", stored, err)
		}
		if _, ok, _ := c.Get(ctx, "k"); ok {
			t.Fatal("CompareAndSet on a missing key stored it")
		}
		c.Set(ctx, "k", []byte("a"), time.Minute)
		if stored, err := c.CompareAndSet(ctx, "k", []byte("x"), []byte("b"), time.Minute); stored || err != nil {
			t.Fatalf("CompareAndSet(other value) = %v, %v; want false", stored, err)
		}
		if v, _, _ := c.Get(ctx, "k"); string(v) != "a" {
			t.Fatalf("Get after a refused CompareAndSet = %q, want a", v)
		}
		b := []byte("b")
		if stored, err := c.CompareAndSet(ctx, "k", []byte("a"), b, time.Minute); !stored || err != nil {
			t.Fatalf("CompareAndSet(same value) = %v, %v; want true", stored, err)
		}
		b[0] = 'X'
		if v, _, _ := c.Get(ctx, "k"); string(v) != "b" {
			t.Fatalf("Get after CompareAndSet = %q, want b (copied)", v)
		}
		// An expired entry matches nothing.
		c.Set(ctx, "short", []byte("a"), 50*time.Millisecond)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, ok, _ := c.Get(ctx, "short"); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("entry with a 50ms TTL still present after 5s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if stored, err := c.CompareAndSet(ctx, "short", []byte("a"), []byte("b"), time.Minute); stored || err != nil {
			t.Fatalf("CompareAndSet(expired entry) = %v, %v; want false", stored, err)
		}
	})
	t.Run("read-through fills once", func(t *testing.T) {
		c := newCache(t)
		loads := 0
		load := func(context.Context) (string, []byte, error) { loads++; return "v", []byte("v"), nil }
		for range 3 {
			if v, err := cache.ReadThrough(ctx, c, "k", time.Minute, decodeString, load); v != "v" || err != nil {
				t.Fatalf("ReadThrough = %q, %v", v, err)
			}
		}
		if loads != 1 {
			t.Fatalf("loaded %d times, want once: the fill was not kept", loads)
		}
		// A cached value that does not decode is replaced.
		c.Set(ctx, "bad", []byte("undecodable"), time.Minute)
		if v, err := cache.ReadThrough(ctx, c, "bad", time.Minute, decodeString, load); v != "v" || err != nil {
			t.Fatalf("ReadThrough over an undecodable value = %q, %v", v, err)
		}
		if got, _, _ := c.Get(ctx, "bad"); string(got) != "v" {
			t.Fatalf("Get after ReadThrough replaced an undecodable value = %q, want v", got)
		}
	})
	// A reader loads the old value; a writer changes the source and
	// invalidates the key (Delete, or Set of the new value); then the reader
	// fills. Its fill must not bring the old value back.
	for _, inv := range []struct {
		name       string
		invalidate func(c cache.Cache)
		want       string // cached after the late fill; "" a miss
	}{
		{"read-through loses to a delete", func(c cache.Cache) { c.Delete(ctx, "k") }, ""},
		{"read-through loses to a set", func(c cache.Cache) { c.Set(ctx, "k", []byte("new"), time.Minute) }, "new"},
	} {
		t.Run(inv.name, func(t *testing.T) {
			c := newCache(t)
			loaded, release := make(chan struct{}), make(chan struct{})
			done := make(chan string)
			go func() {
				v, err := cache.ReadThrough(ctx, c, "k", time.Minute, decodeString, func(context.Context) (string, []byte, error) {
					close(loaded) // read the old value from the source...
					<-release     // ...and is slow to fill
					return "old", []byte("old"), nil
				})
				if err != nil {
					t.Error(err)
				}
				done <- v
			}()
			<-loaded
			inv.invalidate(c) // the writer, after its database write
			close(release)
			if v := <-done; v != "old" {
				t.Fatalf("the slow reader got %q, want the old value it read", v)
			}
			got, ok, err := c.Get(ctx, "k")
			if err != nil || string(got) != inv.want || ok != (inv.want != "") {
				t.Fatalf("after the slow reader's fill the cache holds %q (present %v, %v), want %q", got, ok, err, inv.want)
			}
			v, err := cache.ReadThrough(ctx, c, "k", time.Minute, decodeString, func(context.Context) (string, []byte, error) {
				return "new", []byte("new"), nil
			})
			if v != "new" || err != nil {
				t.Fatalf("the next read got %q, %v; want new", v, err)
			}
		})
	}
	t.Run("read-through fills only for the lease holder", func(t *testing.T) {
		c := newCache(t)
		loaded, release := make(chan struct{}), make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			cache.ReadThrough(ctx, c, "k", time.Minute, decodeString, func(context.Context) (string, []byte, error) {
				close(loaded)
				<-release
				return "first", []byte("first"), nil
			})
		}()
		<-loaded
		// A second reader while the first holds the lease: it reads, and
		// leaves the fill to the first.
		if v, err := cache.ReadThrough(ctx, c, "k", time.Minute, decodeString, func(context.Context) (string, []byte, error) {
			return "second", []byte("second"), nil
		}); v != "second" || err != nil {
			t.Fatalf("second reader got %q, %v", v, err)
		}
		close(release)
		<-done
		if v, _, _ := c.Get(ctx, "k"); string(v) != "first" {
			t.Fatalf("cache holds %q, want the lease holder's fill", v)
		}
	})
	t.Run("concurrent add has one winner", func(t *testing.T) {
		c := newCache(t)
		const n = 32
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			mu     sync.Mutex
			winner = -1
			wins   int
		)
		for g := range n {
			wg.Go(func() {
				<-start // release every goroutine together to maximise the overlap
				added, err := c.Add(ctx, "contended", []byte(fmt.Sprint(g)), time.Minute)
				if err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				if added {
					mu.Lock()
					winner, wins = g, wins+1
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d of %d concurrent Adds of one key succeeded, want exactly 1", wins, n)
		}
		if v, _, _ := c.Get(ctx, "contended"); string(v) != fmt.Sprint(winner) {
			t.Fatalf("Get = %q, want the winner's value %d", v, winner)
		}
	})
	t.Run("concurrent use", func(t *testing.T) {
		c := newCache(t)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					k := fmt.Sprintf("k%d", (g*200+i)%50)
					c.Set(ctx, k, []byte(k), time.Minute)
					if v, ok, err := c.Get(ctx, k); err != nil || (ok && string(v) != k) {
						t.Errorf("Get(%s) = %q, %v", k, v, err)
					}
					c.Delete(ctx, k)
				}
			})
		}
		wg.Wait()
	})
}

// decodeString accepts any value but "undecodable".
func decodeString(b []byte) (string, bool) { return string(b), string(b) != "undecodable" }
