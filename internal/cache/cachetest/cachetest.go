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
