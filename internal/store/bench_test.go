package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// BenchmarkCreateUser registers users from many goroutines at once, through
// the group commit (CreateUser) and with one transaction per insert, on
// each engine: whether the group commit pays for itself on PostgreSQL,
// whose concurrent commits already share WAL flushes, is measured here
// rather than assumed.
//
// PostgreSQL runs with fsync on here, unlike in the other tests, so that a
// commit costs what it costs in production.
func BenchmarkCreateUser(b *testing.B) {
	durable := []struct {
		name  string
		newDB func(t testing.TB) func(context.Context) (*Store, error)
	}{engines[0], {"postgres", func(t testing.TB) func(context.Context) (*Store, error) {
		url := backends.StartPostgres(t, "fsync=on", "full_page_writes=on").NewDatabase(t)
		return func(ctx context.Context) (*Store, error) { return OpenPostgres(ctx, url) }
	}}}
	for _, e := range durable {
		for _, batched := range []bool{true, false} {
			name := map[bool]string{true: "group commit", false: "one commit each"}[batched]
			b.Run(e.name+"/"+name, func(b *testing.B) {
				s, err := e.newDB(b)(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				var n atomic.Int64
				b.SetParallelism(32) // registrations arrive from many clients
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						u := testUser(fmt.Sprintf("b%09d", n.Add(1)), "bench")
						var err error
						if batched {
							err = s.CreateUser(ctx, u)
						} else {
							_, err = s.w.NewInsert().Model(u).Exec(ctx)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
