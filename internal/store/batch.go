package store

import (
	"context"
	"errors"
	"sync"

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

	mu     sync.RWMutex
	closed bool
}

type insertReq struct {
	ctx   context.Context
	model any
	done  chan error
}

var errClosed = errors.New("store is closed")

func newInserter(db *bun.DB) *inserter {
	in := &inserter{db: db, reqs: make(chan insertReq, maxBatch)}
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

func (in *inserter) loop() {
	for first := range in.reqs {
		batch := []insertReq{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-in.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		in.commit(batch)
	}
}

// commit runs batch in one transaction. A statement that fails in SQLite
// fails alone; the others still commit.
func (in *inserter) commit(batch []insertReq) {
	errs := make([]error, len(batch))
	err := in.db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			_, errs[i] = tx.NewInsert().Model(r.model).Exec(ctx)
		}
		return nil
	})
	for i, r := range batch {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
		r.done <- errs[i]
	}
}

// close stops accepting inserts and waits for those queued.
func (in *inserter) close() {
	in.mu.Lock()
	in.closed = true
	close(in.reqs)
	in.mu.Unlock()
	in.wg.Wait()
}
