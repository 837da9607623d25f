package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// OpenPostgres connects to the PostgreSQL database at url
// (postgres://user:pass@host:5432/db) and applies every pending migration,
// one process at a time.
//
// The driver is pgx, through its database/sql adapter: bun's own pgdriver
// has no release matching bun v1.3 on the module proxy, and pgx is the
// PostgreSQL driver most Go programs run in production.
func OpenPostgres(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgConfig(url)
	if err != nil {
		return nil, err
	}
	db := pgPool(cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	bdb := bun.NewDB(db, pgdialect.New())
	// One pool for reads and writes: MVCC readers never wait for writers.
	// A second pool for reads alone was measured (BenchmarkReadsUnderWrites,
	// docs/scaling.md): no better p99 for reads, no more writes, and twice
	// the connections taken from the server's max_connections.
	s := &Store{w: bdb, r: bdb, pg: true}
	s.users = newUserInserter(s.w, true)
	ms, err := discoverMigrations("migrations/postgres")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.migrateLock = func(ctx context.Context) (func() error, error) { return advisoryLock(ctx, bdb) }
	if err := migrateLocked(ctx, s.w, ms, s.migrateLock); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// pgConfig parses url into the connection settings every store connection
// uses.
func pgConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	// bun writes the arguments into the SQL itself, so nearly every
	// statement text is new: the simple protocol sends it in one round
	// trip, where pgx's default would prepare and cache each one first.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	// pgx sends simple-protocol text only in UTF-8, which a database
	// created with another encoding (SQL_ASCII by a C locale) would not
	// otherwise speak to clients.
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	return cfg, nil
}

// pgPool opens a pool of connections with cfg; it connects on first use.
func pgPool(cfg *pgx.ConnConfig) *sql.DB {
	db := stdlib.OpenDB(*cfg)
	n := pgPoolSize()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db
}

// pgPoolSize is how many connections a pool holds at most. Connections are
// a server-wide budget (max_connections, 100 by default) shared by every
// process: a few per core is enough to keep the cores busy while others
// wait on the network or a commit.
func pgPoolSize() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// migrateLockKey names Foxhole's migration lock among the database's
// advisory locks (an arbitrary constant: "foxhole" in ASCII).
const migrateLockKey = 0x666f78686f6c65

// advisoryLock takes PostgreSQL's session advisory lock for migrations on a
// connection of its own, waiting while another process holds it, until ctx
// ends. The server releases it when the connection closes, so a process
// killed mid-migration leaves no lock behind.
func advisoryLock(ctx context.Context, db *bun.DB) (unlock func() error, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrateLockKey); err != nil {
		conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() error {
		_, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", migrateLockKey)
		// The connection is discarded, not pooled: were the unlock to have
		// failed, a pooled connection would hold the lock for good.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return errors.Join(err, conn.Close())
	}, nil
}
