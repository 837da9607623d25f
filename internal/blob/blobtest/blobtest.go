// Package blobtest is the contract every blob.Store must meet.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"foxhole.dev/foxhole/internal/blob"
)

// Run checks the store made by newStore against the blob.Store contract.
// fetch downloads a URL returned by the store (relative ones are resolved by
// the caller, e.g. against a Foxhole server).
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()
	data := make([]byte, 3<<20+17) // spans several copy buffers
	rand.Read(data)

	// Every Put is made twice: with the size declared, and with it unknown
	// (-1), which take different paths in some stores.
	for _, known := range []bool{true, false} {
		sizeOf := func(n int) int64 {
			if known {
				return int64(n)
			}
			return -1
		}
		name := map[bool]string{true: "known size", false: "unknown size"}[known]
		t.Run(name, func(t *testing.T) {
			t.Run("put get stat delete", func(t *testing.T) {
				s := newStore(t)
				n, err := s.Put(ctx, "aaaa00000001", bytes.NewReader(data), sizeOf(len(data)))
				if err != nil || n != int64(len(data)) {
					t.Fatalf("Put = %d, %v", n, err)
				}
				got := read(t, s, "aaaa00000001", 0, -1)
				if !bytes.Equal(got, data) {
					t.Fatalf("Get returned %d different bytes", len(got))
				}
				info, err := s.Stat(ctx, "aaaa00000001")
				if err != nil || info.Size != int64(len(data)) {
					t.Fatalf("Stat = %+v, %v", info, err)
				}
				if err := s.Delete(ctx, "aaaa00000001"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Stat(ctx, "aaaa00000001"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
				}
				if _, err := s.Get(ctx, "aaaa00000001", 0, -1); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
				}
				if err := s.Delete(ctx, "aaaa00000001"); err != nil {
					t.Fatalf("Delete of a missing object = %v", err)
				}
			})
			t.Run("empty object", func(t *testing.T) {
				s := newStore(t)
				if n, err := s.Put(ctx, "cccc00000001", strings.NewReader(""), sizeOf(0)); err != nil || n != 0 {
					t.Fatalf("Put(empty) = %d, %v", n, err)
				}
				if got := read(t, s, "cccc00000001", 0, -1); len(got) != 0 {
					t.Fatalf("empty object read back %d bytes", len(got))
				}
			})
			t.Run("failed put stores nothing", func(t *testing.T) {
				s := newStore(t)
				r := io.MultiReader(bytes.NewReader(data[:1<<20]), iotest.ErrReader(errors.New("client went away")))
				if _, err := s.Put(ctx, "dddd00000001", r, sizeOf(len(data))); err == nil {
					t.Fatal("Put of a failing reader succeeded")
				}
				if _, err := s.Stat(ctx, "dddd00000001"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("Stat after a failed Put = %v, want ErrNotFound", err)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if _, err := s.Put(cctx, "dddd00000002", bytes.NewReader(data), sizeOf(len(data))); err == nil {
					t.Fatal("Put with a cancelled context succeeded")
				}
				if _, err := s.Stat(ctx, "dddd00000002"); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("Stat after a cancelled Put = %v, want ErrNotFound", err)
				}
			})
		})
	}
	t.Run("reader shorter than the declared size", func(t *testing.T) {
		s := newStore(t)
		// iotest.OneByteReader hides bytes.Reader's Seek and ReadAt, as a
		// request body has none.
		short := iotest.OneByteReader(bytes.NewReader(data[:1000]))
		if _, err := s.Put(ctx, "dddd00000003", short, 1001); err == nil {
			t.Fatal("Put of fewer bytes than declared succeeded")
		}
		if _, err := s.Stat(ctx, "dddd00000003"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat after a short Put = %v, want ErrNotFound", err)
		}
		if _, err := s.Put(ctx, "dddd00000004", bytes.NewReader(nil), 1); err == nil {
			t.Fatal("Put of nothing declared as 1 byte succeeded")
		}
		if _, err := s.Stat(ctx, "dddd00000004"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat after an empty short Put = %v, want ErrNotFound", err)
		}
	})
	t.Run("ranges", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Put(ctx, "bbbb00000001", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct{ off, n int64 }{{0, 1}, {10, 100}, {1 << 20, 1 << 20}, {int64(len(data)) - 5, 5}, {int64(len(data)) - 5, -1}, {7, 0}} {
			got := read(t, s, "bbbb00000001", r.off, r.n)
			end := int64(len(data))
			if r.n >= 0 {
				end = r.off + r.n
			}
			if !bytes.Equal(got, data[r.off:end]) {
				t.Errorf("range %d+%d: got %d bytes, want %d", r.off, r.n, len(got), end-r.off)
			}
		}
	})
	t.Run("invalid keys", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"../../etc/passwd", "", "short", "UPPERCASE123", "a/b/c/d/e/f", strings.Repeat("a", 65)} {
			if _, err := s.Put(ctx, key, strings.NewReader("x"), 1); err == nil {
				t.Errorf("Put(%q) accepted", key)
			}
		}
	})
	t.Run("walk", func(t *testing.T) {
		s := newStore(t)
		want := map[string]bool{"eeee00000001": true, "ffff00000002": true}
		for k := range want {
			if _, err := s.Put(ctx, k, strings.NewReader(k), -1); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		if err := s.Walk(ctx, func(i blob.Info) error { seen[i.Key] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if !seen[k] {
				t.Errorf("Walk missed %s (saw %v)", k, seen)
			}
		}
	})
	t.Run("url", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Put(ctx, "abab00000001", bytes.NewReader(data[:1000]), 1000); err != nil {
			t.Fatal(err)
		}
		u, err := s.URL(ctx, "abab00000001", time.Minute, blob.URLOptions{ContentType: "text/plain", FileName: "a.txt"})
		if err != nil || u == "" {
			t.Fatalf("URL = %q, %v", u, err)
		}
		if strings.HasPrefix(u, "http") {
			res, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.Equal(got, data[:1000]) {
				t.Fatalf("GET %s = %d with %d bytes", u, res.StatusCode, len(got))
			}
		}
	})
}

func read(t *testing.T, s blob.Store, key string, off, n int64) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key, off, n)
	if err != nil {
		t.Fatalf("Get(%s, %d, %d): %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}
