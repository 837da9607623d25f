package realtime

import (
	"context"
	"testing"

	"foxhole.dev/foxhole/internal/store"
)

// testDB opens a real database in a temporary directory holding the users
// given, at token version 1, each with the screen name name gives it.
func testDB(t *testing.T, name func(id string) string, users ...string) *store.Store {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, id := range users {
		if err := db.CreateUser(ctx, &store.User{ID: id, SecretHash: []byte(id), ScreenName: name(id), TokenVersion: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// sameName names a test user by its id.
func sameName(id string) string { return id }
