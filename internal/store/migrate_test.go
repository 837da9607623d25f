package store

import (
	"context"
	"errors"
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

func TestMigrationKilledBeforeItsRecordIsNotRunTwice(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			testMigrationKilledBeforeItsRecord(t, e.newDB(t))
		})
	}
}

// testMigrationKilledBeforeItsRecord stops a start at the point where bun
// has committed a migration's transaction and has not yet recorded it (the
// migration's Up returns, then the "process dies": Up reports an error, so
// Migrate returns before its own record), and checks that the next start
// succeeds without running the migration again. The migrations are not
// idempotent: run twice, CREATE TABLE fails.
func testMigrationKilledBeforeItsRecord(t *testing.T, open func(context.Context) (*Store, error)) {
	ctx := context.Background()
	s, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	files := fstest.MapFS{
		"29990101000001_first.tx.up.sql":  {Data: []byte("CREATE TABLE throwaway_first (id INTEGER PRIMARY KEY);\nINSERT INTO throwaway_first (id) VALUES (1);")},
		"29990101000002_second.tx.up.sql": {Data: []byte("CREATE TABLE throwaway_second (id INTEGER PRIMARY KEY);")},
	}
	migrations := func(killAfter string) *migrate.Migrations {
		found := migrate.NewMigrations()
		if err := found.Discover(files); err != nil {
			t.Fatal(err)
		}
		ms := migrate.NewMigrations()
		for _, m := range found.Sorted() {
			if m.Name == killAfter {
				up := m.Up
				m.Up = func(ctx context.Context, mg *migrate.Migrator, m *migrate.Migration) error {
					if err := up(ctx, mg, m); err != nil {
						return err
					}
					return errKilled
				}
			}
			ms.Add(m)
		}
		return ms
	}
	if err := migrateLocked(ctx, s.w, migrations("29990101000001"), s.migrateLock); !errors.Is(err, errKilled) {
		t.Fatalf("the killed start returned %v, want the kill", err)
	}
	var rows int
	if err := s.r.NewRaw("SELECT COUNT(*) FROM throwaway_first").Scan(ctx, &rows); err != nil || rows != 1 {
		t.Fatalf("the first migration's transaction did not commit before the kill: %d rows, %v", rows, err)
	}

	// The next start finds the first migration recorded, runs the second.
	if err := migrateLocked(ctx, s.w, migrations(""), s.migrateLock); err != nil {
		t.Fatalf("the start after the kill failed: %v", err)
	}
	applied := appliedMigrations(t, s)
	for _, name := range []string{"29990101000001", "29990101000002"} {
		if applied[name] != 1 {
			t.Errorf("migration %s recorded %d times, want once", name, applied[name])
		}
	}
	if err := s.r.NewRaw("SELECT COUNT(*) FROM throwaway_first").Scan(ctx, &rows); err != nil || rows != 1 {
		t.Fatalf("throwaway_first holds %d rows (%v), want the first migration's one", rows, err)
	}
	// And a start after that has nothing to do.
	if err := migrateLocked(ctx, s.w, migrations(""), s.migrateLock); err != nil {
		t.Fatal(err)
	}
}

var errKilled = errors.New("killed between the migration's commit and bun's record of it")

func TestMigrationsRunInTransactions(t *testing.T) {
	for _, dir := range []string{"migrations/sqlite", "migrations/postgres"} {
		if _, err := discoverMigrations(dir); err != nil {
			t.Error(err)
		}
	}
	plain := fstest.MapFS{"29990101000001_plain.up.sql": {Data: []byte("CREATE TABLE throwaway (id INTEGER PRIMARY KEY);")}}
	if _, err := loadMigrations(plain); err == nil {
		t.Error("a migration outside a transaction was accepted")
	}
}
