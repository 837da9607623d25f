package realtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/store"
)

// BenchmarkRecheckRevocations measures one periodic recheck of the open
// sessions' token versions (Options.RevocationCheck) on SQLite: n users,
// one session each, none revoked, so the figure is the query and the scan.
func BenchmarkRecheckRevocations(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					id := fmt.Sprintf("user%07d", i)
					if err := db.CreateUser(ctx, &store.User{ID: id, SecretHash: []byte(id), ScreenName: id, TokenVersion: 1}); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			s := NewService(db, inmem.NewHub(), Options{QueueSize: 8, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour, RevocationCheck: time.Hour}, zerolog.Nop())
			defer s.Shutdown(ctx)
			for i := range n {
				sess, err := s.Open(ctx, Subscription{UserID: fmt.Sprintf("user%07d", i), TokenVersion: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close(ctx)
			}
			for b.Loop() {
				s.recheckRevocations()
			}
		})
	}
}
