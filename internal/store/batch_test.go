package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func testUser(id, name string) *User {
	return &User{ID: id, SecretHash: []byte("hash-" + id), ScreenName: name, TokenVersion: 1}
}

// committedIDs returns the ids of the users table.
func committedIDs(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	var ids []string
	if err := s.r.NewSelect().Table("users").Column("id").Scan(context.Background(), &ids); err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool, len(ids))
	for _, id := range ids {
		got[id] = true
	}
	return got
}

// rollbackTrigger makes SQLite roll back the whole transaction on inserting a
// user named "rollback": the way it reacts to SQLITE_FULL or an I/O error,
// which a test cannot cause on demand.
const rollbackTrigger = `CREATE TRIGGER rollback_on_insert BEFORE INSERT ON users
	WHEN NEW.screen_name = 'rollback'
	BEGIN SELECT RAISE(ROLLBACK, 'transaction rolled back by test trigger'); END`

// TestBatchFailureFailsOnlyItsInsert runs one batch holding a failing insert
// and checks that every caller is told success exactly when its row was
// committed.
func TestBatchFailureFailsOnlyItsInsert(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bad  *User // inserted in the middle of the batch; must fail
	}{
		// SQLite fails the statement alone.
		{"duplicate primary key", testUser("u03", "duplicate of u03")},
		// SQLite rolls the whole transaction back.
		{"transaction rolled back", testUser("bad", "rollback")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, err := Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if _, err := s.w.ExecContext(ctx, rollbackTrigger); err != nil {
				t.Fatal(err)
			}

			var batch []insertReq
			add := func(u *User) {
				batch = append(batch, insertReq{ctx: ctx, model: u, done: make(chan error, 1)})
			}
			for i := range 5 {
				add(testUser(fmt.Sprintf("u%02d", i), "ok"))
			}
			add(tc.bad)
			for i := 5; i < 10; i++ {
				add(testUser(fmt.Sprintf("u%02d", i), "ok"))
			}
			// One call is one batch: the test does not depend on how
			// concurrent inserts happen to be grouped.
			s.users.commit(batch)

			committed := committedIDs(t, s)
			for i, r := range batch {
				err := <-r.done
				u := r.model.(*User)
				if r.model == tc.bad {
					if err == nil {
						t.Errorf("insert %d (%s) was reported committed, want its error", i, tc.name)
					}
					continue
				}
				switch {
				case err == nil && !committed[u.ID]:
					t.Errorf("insert %d (%s) was reported committed but is not in the table", i, u.ID)
				case err != nil && committed[u.ID]:
					t.Errorf("insert %d (%s) was reported failed (%v) but is in the table", i, u.ID, err)
				case err != nil:
					t.Errorf("insert %d (%s) failed for no reason of its own: %v", i, u.ID, err)
				}
			}
			if len(committed) != 10 {
				t.Errorf("table holds %d users, want the 10 good ones", len(committed))
			}
		})
	}
}

// TestConcurrentInsertsReportTheirOwnOutcome inserts users concurrently
// through CreateUser, however they are batched, some of them failing in
// either way, and checks each outcome against the table.
func TestConcurrentInsertsReportTheirOwnOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.w.ExecContext(ctx, rollbackTrigger); err != nil {
		t.Fatal(err)
	}

	const n = 300
	users := make([]*User, n)
	for i := range users {
		switch {
		case i%50 == 7:
			users[i] = testUser(fmt.Sprintf("r%03d", i), "rollback")
		case i%50 == 9:
			// The same id as the user before, so one of the two fails.
			users[i] = testUser(fmt.Sprintf("u%03d", i-1), "duplicate")
			users[i].SecretHash = []byte("other hash")
		default:
			users[i] = testUser(fmt.Sprintf("u%03d", i), "ok")
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { errs[i] = s.CreateUser(ctx, u) })
	}
	wg.Wait()

	var rows []User
	if err := s.r.NewSelect().Model(&rows).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]string) // id → secret hash, telling duplicates apart
	for _, r := range rows {
		stored[r.ID] = string(r.SecretHash)
	}
	for i, u := range users {
		mine := stored[u.ID] == string(u.SecretHash)
		switch {
		case errs[i] == nil && !mine:
			t.Errorf("insert of %s (%s) reported committed, but its row is not in the table", u.ID, u.ScreenName)
		case errs[i] != nil && mine:
			t.Errorf("insert of %s (%s) reported failed (%v), but its row is in the table", u.ID, u.ScreenName, errs[i])
		case u.ScreenName == "rollback" && errs[i] == nil:
			t.Errorf("insert of %s was not rolled back", u.ID)
		case errs[i] != nil && u.ScreenName == "ok" && !strings.Contains(fmt.Sprint(errs[i]), "UNIQUE"):
			t.Errorf("insert of %s failed for no reason of its own: %v", u.ID, errs[i])
		}
	}
}

// TestClosedLoopInsertsAreDurable registers users the way a load of
// closed-loop callers does, each caller inserting one user after another,
// so that batches form and the loop waits for callers to come back; every
// tenth insert reuses the id of one before it and must fail alone. Each
// caller must hear exactly once, and of its own insert; after a close and
// a reopen, the table must hold exactly the users reported committed.
func TestClosedLoopInsertsAreDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}

	const callers, each = 48, 25
	type result struct {
		u    *User
		err  error
		done chan error
	}
	results := make([][]result, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				u := randomUser()
				if i%10 == 9 {
					u.ID = results[c][i-1].u.ID
				}
				// Room for a second answer, so that one would be seen below
				// instead of blocking the loop.
				req := insertReq{ctx: ctx, model: u, done: make(chan error, 2)}
				s.users.reqs <- req
				results[c] = append(results[c], result{u: u, err: <-req.done, done: req.done})
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var rows []User
	if err := s.r.NewSelect().Model(&rows).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]string) // id → secret hash, telling duplicates apart
	for _, r := range rows {
		stored[r.ID] = string(r.SecretHash)
	}
	committed := 0
	for c, rs := range results {
		for i, r := range rs {
			mine := stored[r.u.ID] == string(r.u.SecretHash)
			duplicate := i%10 == 9
			switch {
			case len(r.done) != 0:
				t.Errorf("caller %d, insert %d: answered more than once", c, i)
			case r.err == nil && !mine:
				t.Errorf("caller %d, insert %d: reported committed, but its row is not in the reopened table", c, i)
			case r.err != nil && mine:
				t.Errorf("caller %d, insert %d: reported failed (%v), but its row is in the table", c, i, r.err)
			case duplicate && r.err == nil:
				t.Errorf("caller %d, insert %d: a duplicate id was committed", c, i)
			case !duplicate && r.err != nil:
				t.Errorf("caller %d, insert %d: failed for no reason of its own: %v", c, i, r.err)
			}
			if r.err == nil {
				committed++
			}
		}
	}
	if len(rows) != committed {
		t.Errorf("the reopened table holds %d users, %d were reported committed", len(rows), committed)
	}
}

// TestLoneInsertsAfterABatch sends a lone insert right after a large batch,
// when the loop waits for more that never come: it must be committed once
// the wait ends. Then it closes the store right after another lone insert,
// while the loop may be waiting again: that one too must be committed and
// answered.
func TestLoneInsertsAfterABatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	batch := func() {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				if err := s.CreateUser(ctx, randomUser()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	batch()
	waited := randomUser()
	if err := s.CreateUser(ctx, waited); err != nil {
		t.Fatalf("the lone insert after a batch failed: %v", err)
	}
	batch()
	closed := randomUser()
	req := insertReq{ctx: ctx, model: closed, done: make(chan error, 1)}
	s.users.reqs <- req
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-req.done; err != nil {
		t.Fatalf("the lone insert sent before Close failed: %v", err)
	}
	if s, err = Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, u := range []*User{waited, closed} {
		if _, err := s.UserByID(ctx, u.ID); err != nil {
			t.Errorf("lone insert %s is not in the reopened table: %v", u.ID, err)
		}
	}
}
