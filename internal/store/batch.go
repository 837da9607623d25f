package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// maxBatch bounds how many inserts share one transaction.
const maxBatch = 256

// inserter commits concurrent inserts in shared transactions: whatever
// arrives while one commit is on its way to the disk goes into the next, so
// one fsync makes many inserts durable. Each caller still hears of its own
// insert only after the commit that holds it.
type inserter struct {
	db   *bun.DB
	reqs chan insertReq
	wg   sync.WaitGroup

	// query inserts one row, with a placeholder for each of the values
	// args returns. It is prepared once (stmt, made and used by the loop
	// alone) instead of being built by bun and parsed by the database for
	// every row, inside the one writer that every registration waits for.
	query string
	args  func(model any) []any
	stmt  *sql.Stmt

	mu     sync.RWMutex
	closed bool
}

type insertReq struct {
	ctx   context.Context
	model any
	done  chan error
}

var errClosed = errors.New("store is closed")

// newInserter returns an inserter of the rows that query inserts one at a
// time, given the values args returns for a model.
func newInserter(db *bun.DB, query string, args func(model any) []any) *inserter {
	in := &inserter{db: db, reqs: make(chan insertReq, maxBatch), query: query, args: args}
	in.wg.Go(in.loop)
	return in
}

// insert inserts model and returns once it is committed.
func (in *inserter) insert(ctx context.Context, model any) error {
	req := insertReq{ctx: ctx, model: model, done: make(chan error, 1)}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return errClosed
	}
	select {
	case in.reqs <- req:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.mu.RUnlock()
		return ctx.Err()
	}
	return <-req.done
}

// loop commits batches until reqs is closed and drained.
//
// A batch is what is queued when the writer is free, and more: when fewer
// inserts are queued than the last commit answered, the loop waits for the
// rest, at most as long as that commit took. Callers who send one insert
// after another (a client registering users, a load of closed-loop
// callers) come back soon after their answer; without the wait, the first
// of them to come back is committed alone while the others gather behind
// it, and batches settle into one insert, then all the others, then one
// again. Under 64 such callers a third of the commits held a single row;
// with the wait, one in a hundred, and with fewer commits (each a
// transaction, an fsync and a wake-up of the writer) registrations were
// about 5% faster (foxhole-bench register). Waiting at most one commit's
// duration costs a lone caller no more than the commit it would otherwise
// have waited behind.
func (in *inserter) loop() {
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	var lastRows int           // inserts the last commit answered
	var lastTook time.Duration // how long it took
	for first := range in.reqs {
		batch, open := in.gather([]insertReq{first}, 0, nil)
		if open && len(batch) < lastRows {
			wait.Reset(lastTook)
			batch, _ = in.gather(batch, lastRows, wait.C)
			wait.Stop()
		}
		start := time.Now()
		in.commit(batch)
		lastRows, lastTook = len(batch), time.Since(start)
	}
}

// gather adds the inserts queued to batch, up to maxBatch, and while batch
// holds fewer than want, waits for more until expiry fires. It reports
// false once reqs is closed and drained.
func (in *inserter) gather(batch []insertReq, want int, expiry <-chan time.Time) ([]insertReq, bool) {
	for len(batch) < maxBatch {
		var r insertReq
		var ok bool
		select {
		case r, ok = <-in.reqs:
		default:
			if len(batch) >= want {
				return batch, true
			}
			select {
			case r, ok = <-in.reqs:
			case <-expiry:
				return batch, true
			}
		}
		if !ok {
			return batch, false
		}
		batch = append(batch, r)
	}
	return batch, true
}

// commit commits every insert of batch that can be, and tells each caller
// whether its own row was committed: success exactly when it was.
//
// It cannot let a failed statement fail alone inside the transaction: on some
// errors (SQLITE_FULL, IOERR, BUSY) SQLite rolls the whole transaction back,
// and the statements after it would run in autocommit mode, committed while
// the COMMIT fails. So the first failure ends the attempt: the transaction is
// rolled back, that insert gets its error, and the others are tried again in
// a fresh transaction. Each failed attempt removes one insert, so this ends.
func (in *inserter) commit(batch []insertReq) {
	for len(batch) > 0 {
		batch = in.tryCommit(batch)
	}
}

// tryCommit runs batch in one transaction. It answers the callers it can
// and returns those left to try again: every insert but the failed one,
// when a statement failed.
func (in *inserter) tryCommit(batch []insertReq) (retry []insertReq) {
	ctx := context.Background()
	// Abandoned inserts are dropped before the transaction: after a
	// statement runs, its caller must hear the outcome of the commit.
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return nil
	}
	answerAll := func(err error) []insertReq {
		for _, r := range live {
			r.done <- err
		}
		return nil
	}
	if in.stmt == nil {
		// database/sql prepares it again on any new connection.
		stmt, err := in.db.DB.PrepareContext(ctx, in.query)
		if err != nil {
			return answerAll(err)
		}
		in.stmt = stmt
	}
	// One pinned connection, so that the ROLLBACK after a failed COMMIT
	// reaches the connection that holds the transaction, and no other writer
	// borrows that connection in between.
	conn, err := in.db.Conn(ctx)
	if err != nil {
		return answerAll(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return answerAll(err)
	}
	stmt := tx.StmtContext(ctx, in.stmt)
	defer stmt.Close()
	for i, r := range live {
		if _, err := stmt.ExecContext(ctx, in.args(r.model)...); err != nil {
			// SQLite may already have rolled back; then this errors, harmlessly.
			_ = tx.Rollback()
			r.done <- err
			return append(live[:i:i], live[i+1:]...)
		}
	}
	if err := tx.Commit(); err != nil {
		// A COMMIT that fails may leave the transaction open; end it so
		// that nothing of it commits later. Every insert failed, together.
		_, _ = conn.ExecContext(ctx, "ROLLBACK")
		return answerAll(err)
	}
	return answerAll(nil)
}

// close stops accepting inserts and waits for those queued.
func (in *inserter) close() {
	in.mu.Lock()
	in.closed = true
	close(in.reqs)
	in.mu.Unlock()
	in.wg.Wait()
	if in.stmt != nil {
		in.stmt.Close()
	}
}
