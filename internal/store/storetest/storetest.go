// Package storetest is the contract every database behind store.Store must
// meet: each method the services use, with its edge cases (paging ties,
// quota races, retention), and concurrent writers and readers.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Run checks the stores made by open against the contract. open returns a
// fresh, empty, migrated store, closed when the test ends.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Run("users", func(t *testing.T) { t.Parallel(); testUsers(t, open(t)) })
	t.Run("rotate secret", func(t *testing.T) { t.Parallel(); testRotateSecret(t, open(t)) })
	t.Run("unused users expire", func(t *testing.T) { t.Parallel(); testUnusedUsers(t, open(t)) })
	t.Run("users by id", func(t *testing.T) { t.Parallel(); testUsersByID(t, open(t)) })
	t.Run("concurrent registrations", func(t *testing.T) { t.Parallel(); testConcurrentUsers(t, open(t)) })
	t.Run("files", func(t *testing.T) { t.Parallel(); testFiles(t, open(t)) })
	t.Run("file paging", func(t *testing.T) { t.Parallel(); testFilePaging(t, open(t)) })
	t.Run("file limits", func(t *testing.T) { t.Parallel(); testFileLimits(t, open(t)) })
	t.Run("concurrent uploads share the quota", func(t *testing.T) { t.Parallel(); testConcurrentQuota(t, open(t)) })
	t.Run("concurrent reservations share the quota", func(t *testing.T) { t.Parallel(); testConcurrentReservations(t, open(t)) })
	t.Run("upload intents", func(t *testing.T) { t.Parallel(); testUploadIntents(t, open(t)) })
	t.Run("events", func(t *testing.T) { t.Parallel(); testEvents(t, open(t)) })
	t.Run("event retention", func(t *testing.T) { t.Parallel(); testPruneEvents(t, open(t)) })
	t.Run("event ids never skip", func(t *testing.T) { t.Parallel(); testEventIDsNeverSkip(t, open(t)) })
	t.Run("rooms", func(t *testing.T) { t.Parallel(); testRooms(t, open(t)) })
	t.Run("room membership in replay", func(t *testing.T) { t.Parallel(); testRoomReplay(t, open(t)) })
	t.Run("history paging", func(t *testing.T) { t.Parallel(); testHistory(t, open(t)) })
	t.Run("retention per conversation", func(t *testing.T) { t.Parallel(); testRetentionPerConversation(t, open(t)) })
	t.Run("room messages from members only", func(t *testing.T) { t.Parallel(); testRoomMessages(t, open(t)) })
}

var ctx = context.Background()

// user returns a user ready to insert, its secret hash derived from its id.
func user(id, name string) *store.User {
	return &store.User{ID: id, SecretHash: []byte("hash of " + id), ScreenName: name, TokenVersion: 1, CreatedAt: 1_000_000, UpdatedAt: 1_000_000}
}

func mustCreateUser(t *testing.T, s *store.Store, id string) *store.User {
	t.Helper()
	u := user(id, "name of "+id)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
	return u
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("%s = %v, want ErrNotFound", what, err)
	}
}

func testUsers(t *testing.T, s *store.Store) {
	u := user("u1", "Zoë 狐狸 🦊")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserByID(ctx, "u1")
	if err != nil || got.ScreenName != u.ScreenName || !bytes.Equal(got.SecretHash, u.SecretHash) ||
		got.TokenVersion != 1 || got.CreatedAt != u.CreatedAt || got.UpdatedAt != u.UpdatedAt {
		t.Fatalf("UserByID = %+v, %v; want %+v", got, err, u)
	}
	if got, err := s.UserBySecretHash(ctx, u.SecretHash); err != nil || got.ID != "u1" {
		t.Errorf("UserBySecretHash = %+v, %v", got, err)
	}
	_, err = s.UserByID(ctx, "nobody")
	wantNotFound(t, "UserByID(missing)", err)
	_, err = s.UserBySecretHash(ctx, []byte("no such hash"))
	wantNotFound(t, "UserBySecretHash(missing)", err)
	_, err = s.TokenVersion(ctx, "nobody")
	wantNotFound(t, "TokenVersion(missing)", err)

	// Two users may not share a secret hash, nor an id.
	dup := user("u2", "other")
	dup.SecretHash = u.SecretHash
	if err := s.CreateUser(ctx, dup); err == nil {
		t.Error("CreateUser with a secret hash already taken succeeded")
	}
	if err := s.CreateUser(ctx, user("u1", "again")); err == nil {
		t.Error("CreateUser with an id already taken succeeded")
	}
	if _, err := s.UserByID(ctx, "u2"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("the user whose insert failed is there: %v", err)
	}

	up, err := s.UpdateScreenName(ctx, "u1", "renamed", 2_000_000)
	if err != nil || up.ID != "u1" || up.ScreenName != "renamed" || up.UpdatedAt != 2_000_000 || up.CreatedAt != u.CreatedAt {
		t.Fatalf("UpdateScreenName = %+v, %v", up, err)
	}
	if got, _ := s.UserByID(ctx, "u1"); got.ScreenName != "renamed" || got.UpdatedAt != 2_000_000 {
		t.Errorf("after UpdateScreenName the row is %+v", got)
	}
	_, err = s.UpdateScreenName(ctx, "nobody", "x", 1)
	wantNotFound(t, "UpdateScreenName(missing)", err)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testUnusedUsers: an account for which no token was ever created goes once
// it is older than the cutoff; a used one stays, with what it owns, however
// old; MarkUsed keeps the first use.
func testUnusedUsers(t *testing.T, s *store.Store) {
	oldUnused, oldUsed, newUnused := user("old-unused", "a"), user("old-used", "b"), user("new-unused", "c")
	newUnused.CreatedAt = 5_000_000
	for _, u := range []*store.User{oldUnused, oldUsed, newUnused} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.UserByID(ctx, "old-unused"); err != nil || got.UsedAt != nil {
		t.Fatalf("a new user: %+v, %v; want used_at unset", got, err)
	}
	for _, at := range []int64{2_000_000, 3_000_000} {
		if err := s.MarkUsed(ctx, "old-used", at); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.UserByID(ctx, "old-used"); err != nil || got.UsedAt == nil || *got.UsedAt != 2_000_000 {
		t.Fatalf("after MarkUsed at 2s and 3s: %+v, %v; want used_at 2s", got, err)
	}
	if err := s.CreateFile(ctx, file(t, s, "old-used", "kept", 1, 1), store.FileLimits{}); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteUnusedUsers(ctx, 4_000_000)
	if err != nil || n != 1 {
		t.Fatalf("DeleteUnusedUsers = %d, %v; want 1", n, err)
	}
	_, err = s.UserByID(ctx, "old-unused")
	wantNotFound(t, "the expired user", err)
	for _, id := range []string{"old-used", "new-unused"} {
		if _, err := s.UserByID(ctx, id); err != nil {
			t.Errorf("%s after the sweep: %v", id, err)
		}
	}
	if _, err := s.FileByID(ctx, "old-used", "kept"); err != nil {
		t.Errorf("the used account's file after the sweep: %v", err)
	}
	if n, err := s.DeleteUnusedUsers(ctx, 4_000_000); err != nil || n != 0 {
		t.Errorf("a second sweep = %d, %v; want 0", n, err)
	}
}

func testRotateSecret(t *testing.T, s *store.Store) {
	u := mustCreateUser(t, s, "rot")
	for want := int64(2); want <= 3; want++ {
		h := fmt.Appendf(nil, "hash %d", want)
		v, err := s.RotateSecret(ctx, "rot", h)
		if err != nil || v != want {
			t.Fatalf("RotateSecret = %d, %v; want %d", v, err, want)
		}
		if v, err := s.TokenVersion(ctx, "rot"); err != nil || v != want {
			t.Errorf("TokenVersion = %d, %v; want %d", v, err, want)
		}
		if got, err := s.UserBySecretHash(ctx, h); err != nil || got.ID != "rot" {
			t.Errorf("UserBySecretHash(new) = %+v, %v", got, err)
		}
	}
	_, err := s.UserBySecretHash(ctx, u.SecretHash)
	wantNotFound(t, "UserBySecretHash(the rotated-out secret)", err)
	// A credential is not part of the profile.
	if got, _ := s.UserByID(ctx, "rot"); got.UpdatedAt != u.UpdatedAt {
		t.Errorf("RotateSecret changed updated_at from %d to %d", u.UpdatedAt, got.UpdatedAt)
	}
	_, err = s.RotateSecret(ctx, "nobody", []byte("h"))
	wantNotFound(t, "RotateSecret(missing)", err)

	// ReplaceSecret rotates only from the secret it is given.
	_, err = s.ReplaceSecret(ctx, "rot", []byte("not the current hash"), []byte("hash 4"))
	wantNotFound(t, "ReplaceSecret(a stale secret)", err)
	if v, err := s.ReplaceSecret(ctx, "rot", []byte("hash 3"), []byte("hash 4")); err != nil || v != 4 {
		t.Fatalf("ReplaceSecret = %d, %v; want 4", v, err)
	}
	_, err = s.ReplaceSecret(ctx, "rot", []byte("hash 3"), []byte("hash 5"))
	wantNotFound(t, "ReplaceSecret(the secret it just replaced)", err)
	_, err = s.ReplaceSecret(ctx, "nobody", []byte("h"), []byte("h2"))
	wantNotFound(t, "ReplaceSecret(missing)", err)
}

// testUsersByID asks for more ids than SQLite binds in one statement
// (32,766) and PostgreSQL (65,535), as ListPresence does with that many
// users online, with a repeated id in two chunks.
func testUsersByID(t *testing.T, s *store.Store) {
	const n = 70_000
	ids := make([]string, 0, n+1)
	want := make(map[string]string)
	for i := range n {
		id := fmt.Sprintf("missing%05d", i)
		if i%7000 == 123 { // real users spread over several chunks
			id = fmt.Sprintf("real%05d", i)
			want[id] = mustCreateUser(t, s, id).ScreenName
		}
		ids = append(ids, id)
	}
	ids = append(ids, "real00123")
	users, err := s.UsersByID(ctx, ids)
	if err != nil {
		t.Fatalf("UsersByID(%d ids): %v", len(ids), err)
	}
	if len(users) != len(want) {
		t.Errorf("UsersByID found %d users, want %d", len(users), len(want))
	}
	for _, u := range users {
		if want[u.ID] != u.ScreenName || u.TokenVersion != 1 {
			t.Errorf("UsersByID returned %s %q version %d, want %q version 1", u.ID, u.ScreenName, u.TokenVersion, want[u.ID])
		}
	}
	if users, err := s.UsersByID(ctx, nil); err != nil || len(users) != 0 {
		t.Errorf("UsersByID(none) = %v, %v", users, err)
	}
}

// testConcurrentUsers registers many users at once, a few of them
// duplicates: each caller hears the outcome of its own insert.
func testConcurrentUsers(t *testing.T, s *store.Store) {
	const n = 120
	users := make([]*store.User, n)
	for i := range users {
		users[i] = user(fmt.Sprintf("c%03d", i), "concurrent")
		if i%40 == 39 { // the id of the user before, so exactly one of the two fails
			users[i].ID = users[i-1].ID
		}
	}
	errors := make([]error, n)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { errors[i] = s.CreateUser(ctx, u) })
	}
	wg.Wait()
	for i, u := range users {
		got, err := s.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("user %s: %v", u.ID, err)
		}
		mine := bytes.Equal(got.SecretHash, u.SecretHash)
		if (errors[i] == nil) != mine {
			t.Errorf("insert %d of %s: error %v, but its row is stored: %v", i, u.ID, errors[i], mine)
		}
		if i%40 != 38 && i%40 != 39 && errors[i] != nil {
			t.Errorf("insert %d failed for no reason of its own: %v", i, errors[i])
		}
	}
}

// file returns a file of owner ready to insert, after recording its intent.
func file(t *testing.T, s *store.Store, owner, id string, size, at int64) *store.File {
	t.Helper()
	if err := s.CreateUploadIntent(ctx, id, owner, at); err != nil {
		t.Fatalf("CreateUploadIntent(%s): %v", id, err)
	}
	return &store.File{ID: id, OwnerID: owner, Name: "name of " + id, Size: size, ContentType: "text/plain", SHA256: "sha of " + id, CreatedAt: at}
}

func testFiles(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	f := file(t, s, "alice", "f1", 10, 100)
	f.Name = "résumé ../../etc/passwd"
	if err := s.CreateFile(ctx, f, store.FileLimits{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FileByID(ctx, "alice", "f1"); err != nil || *got != *f {
		t.Errorf("FileByID = %+v, %v; want %+v", got, err, f)
	}
	_, err := s.FileByID(ctx, "bob", "f1")
	wantNotFound(t, "FileByID(another owner's file)", err)
	if got, err := s.FileByIDAnyOwner(ctx, "f1"); err != nil || got.OwnerID != "alice" {
		t.Errorf("FileByIDAnyOwner = %+v, %v", got, err)
	}
	_, err = s.FileByIDAnyOwner(ctx, "nothing")
	wantNotFound(t, "FileByIDAnyOwner(missing)", err)

	// The intent went with the insert; a second file needs a new one.
	if err := s.CreateFile(ctx, &store.File{ID: "f1b", OwnerID: "alice", CreatedAt: 1}, store.FileLimits{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CreateFile without an upload intent = %v, want a DeadlineExceeded kind", err)
	}
	if _, err := s.FileByIDAnyOwner(ctx, "f1b"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("a file without an intent was stored: %v", err)
	}
	if err := s.CreateFile(ctx, file(t, s, "nobody", "f2", 1, 1), store.FileLimits{}); err == nil {
		t.Error("CreateFile for a user that does not exist succeeded")
	}

	_, err = s.DeleteFile(ctx, "bob", "f1")
	wantNotFound(t, "DeleteFile(another owner's file)", err)
	if got, err := s.DeleteFile(ctx, "alice", "f1"); err != nil || *got != *f {
		t.Errorf("DeleteFile = %+v, %v; want %+v", got, err, f)
	}
	_, err = s.DeleteFile(ctx, "alice", "f1")
	wantNotFound(t, "DeleteFile(deleted)", err)
	_, err = s.FileByID(ctx, "alice", "f1")
	wantNotFound(t, "FileByID(deleted)", err)
}

// testFilePaging lists files newest first, ties broken by greater id first,
// in pages of every size: each file appears once, in order.
func testFilePaging(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "pager")
	mustCreateUser(t, s, "other")
	var want []string
	for i := range 23 {
		at := int64(1000 - i/4*10) // runs of four files created in the same microsecond
		// Ids not in insertion order, so that ties test the order by id.
		f := file(t, s, "pager", fmt.Sprintf("f%02d", i*7%23), 1, at)
		if err := s.CreateFile(ctx, f, store.FileLimits{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, f.ID)
	}
	if err := s.CreateFile(ctx, file(t, s, "other", "x", 1, 5000), store.FileLimits{}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListFiles(ctx, "pager", nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ordered := slices.Clone(all)
	slices.SortFunc(ordered, func(a, b store.File) int {
		if a.CreatedAt != b.CreatedAt {
			return int(b.CreatedAt - a.CreatedAt)
		}
		return strings.Compare(b.ID, a.ID)
	})
	var ids []string
	for _, f := range ordered {
		ids = append(ids, f.ID)
	}
	if len(all) != len(want) || !slices.EqualFunc(all, ordered, func(a, b store.File) bool { return a.ID == b.ID }) {
		t.Fatalf("ListFiles = %v, want newest first, ties by greater id: %v", fileIDs(all), ids)
	}
	for size := 1; size <= 6; size++ {
		var got []string
		var after *store.FileCursor
		for range 100 {
			page, err := s.ListFiles(ctx, "pager", after, size)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fileIDs(page)...)
			if len(page) < size {
				break
			}
			last := page[len(page)-1]
			after = &store.FileCursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("pages of %d = %v, want %v", size, got, ids)
		}
	}
	if files, err := s.ListFiles(ctx, "nobody", nil, 10); err != nil || len(files) != 0 {
		t.Errorf("ListFiles(no files) = %v, %v", files, err)
	}
}

func fileIDs(files []store.File) []string {
	var ids []string
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	return ids
}

func testFileLimits(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "lim")
	l := store.FileLimits{Quota: 100, MaxCount: 3, MinCharge: 10}
	if u, err := s.FileUsage(ctx, "lim", l.MinCharge); err != nil || u != (store.FileUsage{}) {
		t.Errorf("FileUsage(no files) = %+v, %v", u, err)
	}
	// Charged 10 (the minimum), 10 and 60: 80 of 100.
	for i, size := range []int64{0, 3, 60} {
		if err := s.CreateFile(ctx, file(t, s, "lim", fmt.Sprintf("ok%d", i), size, int64(i)), l); err != nil {
			t.Fatalf("file %d of %d bytes: %v", i, size, err)
		}
	}
	if u, err := s.FileUsage(ctx, "lim", l.MinCharge); err != nil || u != (store.FileUsage{Count: 3, Bytes: 80}) {
		t.Errorf("FileUsage = %+v, %v; want 3 files, 80 bytes", u, err)
	}
	if u, err := s.FileUsage(ctx, "lim", 0); err != nil || u != (store.FileUsage{Count: 3, Bytes: 63}) {
		t.Errorf("FileUsage without a minimum charge = %+v, %v; want 3 files, 63 bytes", u, err)
	}

	over := file(t, s, "lim", "over", 21, 10)
	if err := s.CreateFile(ctx, over, store.FileLimits{Quota: 100, MinCharge: 10}); !errors.Is(err, errs.ErrResourceExhausted) {
		t.Errorf("a file past the quota = %v, want ErrResourceExhausted", err)
	}
	if err := s.CreateFile(ctx, over, store.FileLimits{MaxCount: 3}); !errors.Is(err, errs.ErrResourceExhausted) {
		t.Errorf("a file past the count = %v, want ErrResourceExhausted", err)
	}
	if in, err := s.KeyInUse(ctx, "over"); err != nil || !in {
		t.Errorf("a refused file's intent is gone: KeyInUse = %v, %v", in, err)
	}
	// The minimum charge counts too: an empty file takes 10 of the 20 left.
	if err := s.CreateFile(ctx, file(t, s, "lim", "empty", 0, 11), store.FileLimits{Quota: 100, MinCharge: 30}); !errors.Is(err, errs.ErrResourceExhausted) {
		t.Errorf("an empty file charged past the quota = %v, want ErrResourceExhausted", err)
	}
	if err := s.CreateFile(ctx, over, store.FileLimits{Quota: 101, MinCharge: 10}); err != nil {
		t.Errorf("a file that fits exactly: %v", err)
	}
	if u, _ := s.FileUsage(ctx, "lim", 10); u != (store.FileUsage{Count: 4, Bytes: 101}) {
		t.Errorf("FileUsage = %+v, want 4 files, 101 bytes", u)
	}
}

// testConcurrentQuota uploads many files at once against a quota that
// holds a few of them: the check and the insert are one transaction, so
// together they never overshoot.
func testConcurrentQuota(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "racer")
	const n, fit = 24, 5
	l := store.FileLimits{Quota: fit * 100, MaxCount: 1000}
	files := make([]*store.File, n)
	for i := range files {
		files[i] = file(t, s, "racer", fmt.Sprintf("r%02d", i), 100, int64(i))
	}
	errors := make([]error, n)
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { errors[i] = s.CreateFile(ctx, f, l) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errors {
		switch {
		case err == nil:
			ok++
		case !isExhausted(err):
			t.Errorf("upload %d: %v", i, err)
		}
	}
	u, err := s.FileUsage(ctx, "racer", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok != fit || u.Bytes != fit*100 {
		t.Errorf("%d uploads succeeded and %d bytes are stored, want %d and %d", ok, u.Bytes, fit, fit*100)
	}
}

// testConcurrentReservations starts many uploads at once against a quota
// that holds a few of them: the reservations together never overshoot it,
// an upload of unknown size gets what is left, and a reservation ends with
// its upload.
func testConcurrentReservations(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "reserver")
	const n, fit = 24, 5
	l := store.FileLimits{Quota: fit * 100, MaxCount: 1000, MinCharge: 10}
	errors := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := &store.UploadIntent{ID: fmt.Sprintf("q%02d", i), OwnerID: "reserver", CreatedAt: int64(i)}
			var limit int64
			limit, errors[i] = s.ReserveUpload(ctx, in, 100, 1000, l)
			if errors[i] == nil && limit != 1000 {
				t.Errorf("reservation %d: limit %d, want the 1000 asked for", i, limit)
			}
		})
	}
	wg.Wait()
	var ok []string
	for i, err := range errors {
		switch {
		case err == nil:
			ok = append(ok, fmt.Sprintf("q%02d", i))
		case !isExhausted(err):
			t.Errorf("reservation %d: %v", i, err)
		}
	}
	if len(ok) != fit {
		t.Fatalf("%d reservations succeeded, want %d", len(ok), fit)
	}
	unknown := &store.UploadIntent{ID: "qunknown", OwnerID: "reserver", CreatedAt: 100}
	if _, err := s.ReserveUpload(ctx, unknown, -1, 1000, l); !isExhausted(err) {
		t.Errorf("an upload of unknown size with the quota reserved: %v, want resource exhausted", err)
	}
	if in, _ := s.KeyInUse(ctx, "qunknown"); in {
		t.Error("a refused reservation left an intent")
	}
	// A failed upload gives its share back; a committed one keeps it as a file.
	if err := s.DeleteUploadIntent(ctx, ok[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFile(ctx, &store.File{ID: ok[1], OwnerID: "reserver", Size: 100, CreatedAt: 1}, l); err != nil {
		t.Fatalf("CreateFile within its reservation: %v", err)
	}
	if limit, err := s.ReserveUpload(ctx, unknown, -1, 1000, l); err != nil || limit != 100 {
		t.Errorf("unknown size after one upload failed: limit %d, %v; want the 100 bytes left", limit, err)
	}
	if _, err := s.ReserveUpload(ctx, &store.UploadIntent{ID: "qmore", OwnerID: "reserver"}, 0, 1000, l); !isExhausted(err) {
		t.Errorf("an empty file with nothing left: %v, want resource exhausted", err)
	}
	// A file larger than its reservation cannot commit into others' shares.
	if err := s.CreateFile(ctx, &store.File{ID: ok[2], OwnerID: "reserver", Size: 150, CreatedAt: 2}, l); !isExhausted(err) {
		t.Errorf("CreateFile past its reservation: %v, want resource exhausted", err)
	}
	u, err := s.FileUsage(ctx, "reserver", l.MinCharge)
	if err != nil || u.Bytes != 100 || u.Count != 1 {
		t.Errorf("usage %+v, %v; want the one file of 100 bytes", u, err)
	}
}

func isExhausted(err error) bool { return errors.Is(err, errs.ErrResourceExhausted) }

func testUploadIntents(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "up")
	for i, at := range []int64{30, 10, 20, 40} {
		if err := s.CreateUploadIntent(ctx, fmt.Sprintf("i%d", i), "up", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateUploadIntent(ctx, "i0", "up", 1); err == nil {
		t.Error("a second intent with the same id succeeded")
	}
	if ids, err := s.UploadIntentsBefore(ctx, 35, 10); err != nil || !slices.Equal(ids, []string{"i1", "i2", "i0"}) {
		t.Errorf("UploadIntentsBefore(35) = %v, %v; want the oldest first: [i1 i2 i0]", ids, err)
	}
	if ids, err := s.UploadIntentsBefore(ctx, 100, 2); err != nil || !slices.Equal(ids, []string{"i1", "i2"}) {
		t.Errorf("UploadIntentsBefore(limit 2) = %v, %v", ids, err)
	}
	if err := s.CreateFile(ctx, &store.File{ID: "i3", OwnerID: "up", CreatedAt: 40}, store.FileLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUploadIntent(ctx, "i2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUploadIntent(ctx, "never"); err != nil {
		t.Errorf("DeleteUploadIntent(missing) = %v", err)
	}
	for id, want := range map[string]bool{"i0": true, "i1": true, "i2": false, "i3": true, "never": false} {
		if in, err := s.KeyInUse(ctx, id); err != nil || in != want {
			t.Errorf("KeyInUse(%s) = %v, %v; want %v", id, in, err, want)
		}
	}
	if ids, _ := s.UploadIntentsBefore(ctx, 100, 10); !slices.Equal(ids, []string{"i1", "i0"}) {
		t.Errorf("intents left = %v, want [i1 i0]", ids)
	}
}

func event(sender string, recipient *string, body string) *store.Event {
	e := &store.Event{SenderID: sender, RecipientID: recipient, Body: []byte(body), CreatedAt: 1, Conv: store.Lobby, Kind: store.KindChat}
	if recipient != nil {
		e.Conv = store.DirectConversation(sender, *recipient)
	}
	return e
}

func testEvents(t *testing.T, s *store.Store) {
	if pruned, last, err := s.EventBounds(ctx); err != nil || pruned != 0 || last != 0 {
		t.Fatalf("EventBounds(empty) = %d, %d, %v", pruned, last, err)
	}
	a, b, c := "a", "b", "c"
	evs := []*store.Event{
		event(a, nil, "broadcast from a"),
		event(a, &b, "a to b"),
		event(b, &c, "b to c"),
		event(c, nil, "broadcast from c"),
		event(c, &a, "c to a"),
		event(b, &b, "b to self"),
	}
	for i, e := range evs {
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID != int64(i+1) {
			t.Errorf("event %d got id %d, want %d", i, e.ID, i+1)
		}
	}
	if _, last, err := s.EventBounds(ctx); err != nil || last != 6 {
		t.Errorf("EventBounds last = %d, %v; want 6", last, err)
	}
	ids := func(evs []store.Event) []int64 {
		var ids []int64
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		user  string
		after int64
		limit int
		want  []int64
	}{
		{"a", 0, 100, []int64{1, 2, 4, 5}},
		{"b", 0, 100, []int64{1, 2, 3, 4, 6}},
		{"c", 0, 100, []int64{1, 3, 4, 5}},
		{"d", 0, 100, []int64{1, 4}},
		{"b", 2, 100, []int64{3, 4, 6}},
		{"b", 2, 2, []int64{3, 4}},
		{"a", 5, 100, nil},
	} {
		got, err := s.EventsAfter(ctx, tc.user, tc.after, tc.limit, nil)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("EventsAfter(%s, %d, %d) = %v, %v; want %v", tc.user, tc.after, tc.limit, ids(got), err, tc.want)
		}
	}
	got, err := s.EventsAfter(ctx, "b", 1, 1, nil)
	if err != nil || len(got) != 1 || got[0].SenderID != "a" || *got[0].RecipientID != "b" || string(got[0].Body) != "a to b" || got[0].CreatedAt != 1 {
		t.Errorf("EventsAfter returned %+v, %v", got, err)
	}
	if got, _ := s.EventsAfter(ctx, "d", 0, 1, nil); got[0].RecipientID != nil {
		t.Errorf("a broadcast came back with recipient %q", *got[0].RecipientID)
	}
	for _, tc := range []struct {
		after, through int64
		limit          int
		want           []int64
	}{
		{0, -1, 100, []int64{1, 2, 3, 4, 5, 6}},
		{2, 4, 100, []int64{3, 4}},
		{2, -1, 3, []int64{3, 4, 5}},
		{6, -1, 100, nil},
	} {
		got, err := s.EventsBetween(ctx, tc.after, tc.through, tc.limit)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("EventsBetween(%d, %d, %d) = %v, %v; want %v", tc.after, tc.through, tc.limit, ids(got), err, tc.want)
		}
	}
}

func testPruneEvents(t *testing.T, s *store.Store) {
	add := func(n int, at int64) {
		for range n {
			e := event("p", nil, "x")
			e.CreatedAt = at
			if err := s.AddEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	bounds := func(wantPruned, wantLast int64) {
		t.Helper()
		if pruned, last, err := s.EventBounds(ctx); err != nil || pruned != wantPruned || last != wantLast {
			t.Errorf("EventBounds = %d, %d, %v; want %d, %d", pruned, last, err, wantPruned, wantLast)
		}
	}
	prune := func(keep int, cutoff, want int64) {
		t.Helper()
		if n, err := s.PruneEvents(ctx, []string{store.Lobby}, keep, cutoff); err != nil || n != want {
			t.Errorf("PruneEvents(%d, %d) = %d, %v; want %d removed", keep, cutoff, n, err, want)
		}
	}
	prune(10, 0, 0) // nothing to prune
	add(5, 100)     // 1-5
	add(5, 200)     // 6-10
	prune(10, 0, 0)
	bounds(0, 10)
	prune(7, 0, 3) // beyond the newest 7
	bounds(3, 10)
	prune(100, 150, 2) // older than the cutoff
	bounds(5, 10)
	prune(100, 0, 0) // pruned_through never goes back
	bounds(5, 10)
	prune(0, 0, 5) // everything
	bounds(10, 10)
	// Ids keep growing past pruned ones even with the table empty, so an id
	// is a safe resume cursor.
	add(1, 300)
	bounds(10, 11)
	if evs, err := s.EventsBetween(ctx, 0, -1, 100); err != nil || len(evs) != 1 || evs[0].ID != 11 {
		t.Errorf("events left = %+v, %v; want the one of id 11", evs, err)
	}
}

// testEventIDsNeverSkip stores events from many writers at once while
// readers resume after the last id they saw, over and over, as clients
// and the live sequencer do. Ids must be given in commit order: a reader
// that saw id n never later finds an id below n that it missed. So every
// reader sees every event exactly once, and the ids have no gaps.
func testEventIDsNeverSkip(t *testing.T, s *store.Store) {
	const writers, perWriter, readers = 8, 40, 4
	const total = writers * perWriter
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := s.AddEvent(ctx, event(fmt.Sprintf("w%d", w), nil, fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := make([][]int64, readers)
	writersDone := make(chan struct{})
	var readersWG sync.WaitGroup
	for r := range readers {
		readersWG.Go(func() {
			var after int64
			for {
				// Whether the writers had finished before this read: if so,
				// this read sees everything, and is the last.
				var last bool
				select {
				case <-writersDone:
					last = true
				default:
				}
				// Small pages, so that readers resume often, in the middle
				// of the writers' commits.
				page := 1 + r
				evs, err := s.EventsAfter(ctx, fmt.Sprintf("reader%d", r), after, page, nil)
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range evs {
					seen[r] = append(seen[r], e.ID)
					after = e.ID
				}
				if last && len(evs) < page {
					return
				}
			}
		})
	}
	wg.Wait()
	close(writersDone)
	readersWG.Wait()
	for r, ids := range seen {
		for i, id := range ids {
			if id != int64(i+1) {
				t.Fatalf("reader %d: event %d of those it saw has id %d, want %d: an event was missed, repeated or numbered out of commit order", r, i+1, id, i+1)
			}
		}
		if len(ids) != total {
			t.Errorf("reader %d saw %d events, want %d", r, len(ids), total)
		}
	}
}
