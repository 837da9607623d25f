// Package store keeps Foxhole's records through bun, in SQLite (Open) or
// PostgreSQL (OpenPostgres), behind the same methods; storetest is their
// contract.
//
// SQLite allows one writer at a time, so the store holds two pools on the
// same file: a single-connection pool for writes, whose transactions take the
// write lock up front (BEGIN IMMEDIATE) instead of failing on upgrade, and a
// pool of readers that WAL mode lets run beside the writer. PostgreSQL takes
// many writers at once and its readers never wait for them, so one pool
// serves both there (postgres.go); a separate reader pool did not read
// faster under writes (BenchmarkReadsUnderWrites, docs/scaling.md).
//
// The SQL of the two engines differs in a few places only, each a switch on
// Store.pg beside the query, so that both versions are read together.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Each engine has its own migrations, with the same ids.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// discoverMigrations returns the migrations in the directory dir of
// migrationFiles.
func discoverMigrations(dir string) (*migrate.Migrations, error) {
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	return loadMigrations(sub)
}

// loadMigrations returns the migrations in fsys, which must all run in a
// transaction.
func loadMigrations(sub fs.FS) (*migrate.Migrations, error) {
	// bun runs a migration in a transaction only when its file is named
	// .tx.up.sql; migrateLocked relies on it.
	ups, err := fs.Glob(sub, "*.up.sql")
	if err != nil {
		return nil, err
	}
	for _, name := range ups {
		if !strings.HasSuffix(name, ".tx.up.sql") {
			return nil, fmt.Errorf("migration %s: name it .tx.up.sql, so that it runs and is recorded in one transaction", name)
		}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	return ms, nil
}

// Store is the database. Its methods are safe for concurrent use.
type Store struct {
	w *bun.DB // the only writer
	r *bun.DB // readers

	users *inserter // group commit for registrations
	pg    bool      // PostgreSQL, else SQLite

	// migrateLock takes the lock under which migrations run.
	migrateLock func(context.Context) (unlock func() error, err error)
}

// Open opens (creating if needed) the database file in dir and applies every
// pending migration.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "foxhole.db")
	// synchronous(FULL): a commit is on disk before the call that made it
	// answers, so an acknowledged write survives a power cut, not only a crash.
	pragmas := url.Values{"_pragma": {
		"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "synchronous(FULL)",
		// What is deleted is overwritten with zeros, not left in free
		// pages: a deleted account leaves nothing in the file.
		"secure_delete(ON)",
	}}
	dsn := "file:" + path + "?" + pragmas.Encode()

	// wal_autocheckpoint(4000): the commit that takes the WAL past this many
	// pages copies them back into the database file before it returns, while
	// every write queued behind the one writer waits. At SQLite's default of
	// 1000 pages (4 MB) a batch of registrations did so every few hundred
	// rows; at 4000 (16 MB) a page rewritten by several commits (an index
	// page, the end of a table) is copied once for all of them, and
	// registrations were about 8% faster (foxhole-bench register).
	wdb, err := sql.Open("sqlite", dsn+"&_txlock=immediate&"+url.Values{"_pragma": {"wal_autocheckpoint(4000)"}}.Encode())
	if err != nil {
		return nil, err
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)

	rdb, err := sql.Open("sqlite", dsn+"&"+url.Values{"_pragma": {"query_only(ON)"}}.Encode())
	if err != nil {
		wdb.Close()
		return nil, err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	rdb.SetConnMaxIdleTime(0)

	s := &Store{w: bun.NewDB(wdb, sqlitedialect.New()), r: bun.NewDB(rdb, sqlitedialect.New())}
	s.users = newUserInserter(s.w, false)
	ms, err := discoverMigrations("migrations/sqlite")
	if err != nil {
		s.Close()
		return nil, err
	}
	lockPath := filepath.Join(dir, migrateLockFile)
	s.migrateLock = func(ctx context.Context) (func() error, error) { return lockFile(ctx, lockPath) }
	if err := migrateLocked(ctx, s.w, ms, s.migrateLock); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// migrateLockFile, in the data dir, is locked while migrations run.
const migrateLockFile = "migrate.lock"

// migrateLocked applies the pending migrations of ms to db while holding
// the lock that lock takes (an OS lock on a file in the data dir for
// SQLite, an advisory lock for PostgreSQL), so that processes starting
// together apply each migration once: the second waits, then finds nothing
// to do. (bun's own Migrator.Lock is a row in a table, which a killed
// process would leave behind, failing every later start; both locks here
// go with the process that holds them.)
//
// Each migration runs in one transaction (every file is .tx.up.sql, which
// discoverMigrations checks) and is recorded as applied in that same
// transaction (recordInTx), so a migration is applied and recorded, or
// neither: a process killed between the two leaves nothing half done. A
// failed migration is rolled back, recorded nowhere, and tried again at the
// next start. (Migrations need not be idempotent: the transaction does what
// IF NOT EXISTS could do only for some statements, not for an ALTER TABLE
// or a data change.)
func migrateLocked(ctx context.Context, db *bun.DB, ms *migrate.Migrations, lock func(context.Context) (unlock func() error, err error)) error {
	unlock, err := lock(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer unlock()
	// bun records a migration after its transaction has committed; the
	// hook records it before, inside, and the upsert makes bun's own record
	// update that row instead of adding a second.
	m := migrate.NewMigrator(db, ms,
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithUpsert(true),
		migrate.AfterMigration(recordInTx))
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// recordInTx, run by bun inside a migration's transaction after its
// statements, records the migration as applied in that transaction. A
// migration being rolled back (Down) has an id already: it is left alone.
func recordInTx(ctx context.Context, db bun.IConn, m *migrate.Migration) error {
	if m.ID != 0 {
		return nil
	}
	tx, ok := db.(bun.Tx)
	if !ok {
		return fmt.Errorf("migration %s does not run in a transaction", m.Name)
	}
	rec := &migrate.Migration{Name: m.Name, GroupID: m.GroupID}
	if _, err := tx.NewInsert().Model(rec).ModelTableExpr(migrationsTable).Exec(ctx); err != nil {
		return fmt.Errorf("record migration %s: %w", m.Name, err)
	}
	return nil
}

// migrationsTable is where bun records applied migrations (its default).
const migrationsTable = "bun_migrations"

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.NewRaw("SELECT 1").Scan(ctx, &one)
}

// Close finishes queued writes and closes the pools.
func (s *Store) Close() error {
	s.users.close()
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Pools returns the database pools, for their statistics: the writer's and
// the readers' (the same pool on PostgreSQL when it has one).
func (s *Store) Pools() (writer, reader *sql.DB) { return s.w.DB, s.r.DB }

// AddQueryHook adds h to every pool (tracing), before the store is used
// by anything but its own group commit of registrations, whose batches
// belong to no one call.
func (s *Store) AddQueryHook(h bun.QueryHook) {
	same := s.r == s.w
	s.w = s.w.WithQueryHook(h)
	if same {
		s.r = s.w
	} else {
		s.r = s.r.WithQueryHook(h)
	}
}

// Postgres reports whether the store is on PostgreSQL (else SQLite).
func (s *Store) Postgres() bool { return s.pg }
