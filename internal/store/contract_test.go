package store_test

import (
	"context"
	"testing"

	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/store/storetest"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// The contract suite on each engine.
func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.Store {
		s, err := store.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	pg := backends.SharedPostgres(t)
	storetest.Run(t, func(t *testing.T) *store.Store {
		s, err := store.OpenPostgres(context.Background(), pg.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
