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
