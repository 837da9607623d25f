package valkey

import (
	"context"
	"fmt"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// BenchmarkGet measures a repeated read of one cached key through Get
// (client-side cache) against the baseline of a plain GET, a round trip to
// the server, in the same run.
func BenchmarkGet(b *testing.B) {
	v := backends.StartValkey(b)
	c, err := New(context.Background(), Options{URL: v.URL, Prefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	c.Set(ctx, "k", []byte("0123456789abcdefghij ada 1"), time.Hour)
	b.Run("read=client-side-cache", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := c.Get(ctx, "k"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("read=round-trip", func(b *testing.B) {
		for b.Loop() {
			if err := c.c.Do(ctx, c.c.B().Get().Key(c.cacheKey("k")).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWrite measures Set, which follows each write with a PING in the
// same pipeline (see Client.write), against a bare SET.
func BenchmarkWrite(b *testing.B) {
	v := backends.StartValkey(b)
	c, err := New(context.Background(), Options{URL: v.URL, Prefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	b.Run("write=set-then-ping", func(b *testing.B) {
		for b.Loop() {
			if err := c.Set(ctx, "k", []byte("v"), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write=bare-set", func(b *testing.B) {
		for b.Loop() {
			if err := c.c.Do(ctx, c.c.B().Set().Key(c.cacheKey("k")).Value("v").Px(time.Hour).Build()).Error(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAllow measures one rate-limit check, one script call, on keys
// that rotate so that most checks are allowed.
func BenchmarkAllow(b *testing.B) {
	v := backends.StartValkey(b)
	c, err := New(context.Background(), Options{URL: v.URL, Prefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	l := c.NewLimiter("bench", 100, 10)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, _, err := l.Allow(ctx, fmt.Sprint(i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}
