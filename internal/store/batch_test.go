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
