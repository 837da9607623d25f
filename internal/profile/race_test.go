package profile_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/profile"
	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/testutil/backends"
	"foxhole.dev/foxhole/internal/valkey"
)

// heldReads is the real store, except that the next UserByID, once armed,
// stops after its read until released: a reader slow to fill the cache.
type heldReads struct {
	*store.Store
	next atomic.Pointer[hold]
}

type hold struct{ read, release chan struct{} }

func (h *heldReads) arm() *hold {
	x := &hold{read: make(chan struct{}), release: make(chan struct{})}
	h.next.Store(x)
	return x
}

func (h *heldReads) UserByID(ctx context.Context, id string) (*store.User, error) {
	u, err := h.Store.UserByID(ctx, id)
	if x := h.next.Swap(nil); x != nil {
		close(x.read)
		<-x.release
	}
	return u, err
}

// TestSlowReaderDoesNotRestoreOldName runs the race between a profile read
// and UpdateProfile step by step: the reader reads the old row from the
// database, the update writes the new one and invalidates the cache, then
// the reader fills the cache. The old name must not come back, neither in
// the process that read (reader) nor in the one that wrote (writer), on
// the in-process cache (one process) and on Valkey (two processes).
func TestSlowReaderDoesNotRestoreOldName(t *testing.T) {
	caches := map[string]func(t *testing.T) (reader, writer cache.Cache){
		"inmem": func(t *testing.T) (cache.Cache, cache.Cache) {
			c := inmem.NewCache(1000)
			t.Cleanup(c.Close)
			return c, c
		},
		"valkey": func(t *testing.T) (cache.Cache, cache.Cache) {
			v := backends.StartValkey(t)
			open := func() cache.Cache {
				c, err := valkey.New(context.Background(), valkey.Options{URL: v.URL, Prefix: fmt.Sprintf("race%p:", t)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			return open(), open()
		},
	}
	for name, newCaches := range caches {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			u := &store.User{ID: store.NewID(), SecretHash: []byte("h"), ScreenName: "before", TokenVersion: 1}
			if err := db.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			rc, wc := newCaches(t)
			held := &heldReads{Store: db}
			reader, writer := profile.NewService(held, rc), profile.NewService(db, wc)

			x := held.arm()
			got := make(chan string, 1)
			go func() {
				p, err := reader.Get(ctx, u.ID)
				if err != nil {
					t.Error(err)
				}
				got <- p.ScreenName
			}()
			<-x.read // the reader has the old row
			after := "after"
			if _, err := writer.Update(ctx, u.ID, profile.Changes{ScreenName: &after}); err != nil {
				t.Fatal(err)
			}
			close(x.release) // now it fills
			if name := <-got; name != "before" {
				t.Fatalf("the slow read returned %q, want the row it read, before", name)
			}
			for _, s := range []struct {
				name string
				svc  *profile.Service
			}{{"reader", reader}, {"writer", writer}, {"reader", reader}} {
				p, err := s.svc.Get(ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if p.ScreenName != "after" {
					t.Fatalf("after the update, the %s's process reads %q, want after", s.name, p.ScreenName)
				}
			}
		})
	}
}
