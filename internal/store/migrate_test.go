package store

import (
	"context"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/uptrace/bun/migrate"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// appliedMigrations returns how many times each migration is recorded as applied.
func appliedMigrations(t *testing.T, s *Store) map[string]int {
	t.Helper()
	var rows []struct {
		Name  string `bun:"name"`
		Count int    `bun:"n"`
	}
	if err := s.r.NewRaw("SELECT name, COUNT(*) AS n FROM bun_migrations GROUP BY name").Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	applied := make(map[string]int)
	for _, r := range rows {
		applied[r.Name] = r.Count
	}
	return applied
}

// engines are the databases the store's own tests run on: newDB makes a
// fresh database and returns how to open a store on it.
var engines = []struct {
	name  string
	newDB func(t testing.TB) func(context.Context) (*Store, error)
}{
	{"sqlite", func(t testing.TB) func(context.Context) (*Store, error) {
		dir := t.TempDir()
		return func(ctx context.Context) (*Store, error) { return Open(ctx, dir) }
	}},
	{"postgres", func(t testing.TB) func(context.Context) (*Store, error) {
		url := backends.SharedPostgres(t).NewDatabase(t)
		return func(ctx context.Context) (*Store, error) { return OpenPostgres(ctx, url) }
	}},
}

func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			testConcurrentOpensMigrateOnce(t, e.newDB(t), "migrations/"+e.name)
		})
	}
}

func testConcurrentOpensMigrateOnce(t *testing.T, open func(context.Context) (*Store, error), dir string) {
	ctx := context.Background()
	const opens = 4
	stores := make([]*Store, opens)
	errs := make([]error, opens)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range opens {
		wg.Go(func() {
			<-start // release every Open together so that they contend
			stores[i], errs[i] = open(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d: %v", i+1, opens, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}

	ups, err := fs.Glob(migrationFiles, dir+"/*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	applied := appliedMigrations(t, stores[0])
	if len(applied) != len(ups) {
		t.Errorf("%d migrations recorded, want %d: %v", len(applied), len(ups), applied)
	}
	for name, n := range applied {
		if n != 1 {
			t.Errorf("migration %s recorded %d times, want once", name, n)
		}
	}
}

func TestFailedMigrationIsNotMarkedApplied(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			testFailedMigrationIsNotMarkedApplied(t, e.newDB(t))
		})
	}
}

func testFailedMigrationIsNotMarkedApplied(t *testing.T, open func(context.Context) (*Store, error)) {
	ctx := context.Background()
	s, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	lock := s.migrateLock

	files := fstest.MapFS{
		"29990101000001_good.tx.up.sql": {Data: []byte("CREATE TABLE throwaway_good (id INTEGER PRIMARY KEY);")},
		"29990101000002_bad.tx.up.sql":  {Data: []byte("INSERT INTO no_such_table VALUES (1);")},
	}
	migrations := func() *migrate.Migrations {
		ms := migrate.NewMigrations()
		if err := ms.Discover(files); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	if err := migrateLocked(ctx, s.w, migrations(), lock); err == nil {
		t.Fatal("a migration with a failing statement succeeded")
	}
	applied := appliedMigrations(t, s)
	if applied["29990101000001"] != 1 {
		t.Errorf("the migration that succeeded is recorded %d times, want once", applied["29990101000001"])
	}
	if n := applied["29990101000002"]; n != 0 {
		t.Fatalf("the migration that failed is recorded as applied (%d times)", n)
	}

	// Fixed, the failed migration runs at the next start, and only it.
	files["29990101000002_bad.tx.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE throwaway_fixed (id INTEGER PRIMARY KEY);")}
	if err := migrateLocked(ctx, s.w, migrations(), lock); err != nil {
		t.Fatalf("migrate after the fix: %v", err)
	}
	applied = appliedMigrations(t, s)
	for _, name := range []string{"29990101000001", "29990101000002"} {
		if applied[name] != 1 {
			t.Errorf("migration %s recorded %d times, want once", name, applied[name])
		}
	}
}
