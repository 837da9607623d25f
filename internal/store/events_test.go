package store

import (
	"context"
	"fmt"
	"testing"
)

// TestUsersByIDManyIDs asks for more ids than one SQLite statement may hold
// as parameters (32,766 by default), as ListPresence does with that many
// users online.
func TestUsersByIDManyIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	const n = 40_000
	ids := make([]string, 0, n)
	want := make(map[string]string)
	for i := range n {
		id := fmt.Sprintf("missing%05d", i)
		// Real users spread over the list, so that several chunks find some.
		if i%4000 == 123 {
			id = fmt.Sprintf("real%05d", i)
			if err := s.CreateUser(ctx, testUser(id, "name "+id)); err != nil {
				t.Fatal(err)
			}
			want[id] = "name " + id
		}
		ids = append(ids, id)
	}
	// An id repeated far apart, in different chunks, still gives one user.
	ids = append(ids, "real00123")
	users, err := s.UsersByID(ctx, ids)
	if err != nil {
		t.Fatalf("UsersByID(%d ids): %v", n, err)
	}
	if len(users) != len(want) {
		t.Errorf("UsersByID found %d users, want %d", len(users), len(want))
	}
	for _, u := range users {
		if want[u.ID] != u.ScreenName {
			t.Errorf("UsersByID returned %s %q, want %q", u.ID, u.ScreenName, want[u.ID])
		}
	}
}
