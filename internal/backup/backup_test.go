package backup_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/backup"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestFileDeletedDuringBackupIsLeftOut: a row whose content is gone by the
// time it is copied (the file was deleted after the database was copied)
// is taken out of the backup, which then restores to a server that lists
// only the files it has content for.
func TestFileDeletedDuringBackupIsLeftOut(t *testing.T) {
	if testutil.DatabaseURL(t, t.TempDir()) != "" {
		t.Skip("backup is for SQLite and local files")
	}
	srv := testutil.Start(t)
	u := srv.Register(t, client.Connect, "owner")
	c := srv.Clients(client.Connect, u.Token)
	ctx := context.Background()
	kept, err := c.Upload(ctx, "kept.txt", "text/plain", bytes.NewReader([]byte("kept")))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := c.Upload(ctx, "gone.txt", "text/plain", bytes.NewReader([]byte("gone")))
	if err != nil {
		t.Fatal(err)
	}
	// As if its deletion removed the content between the two copies.
	id := gone.GetId()
	if err := os.Remove(filepath.Join(srv.DataDir, "blobs", id[:2], id)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "b")
	m, err := backup.Backup(ctx, srv.DataDir, out, "test")
	if err != nil {
		t.Fatal(err)
	}
	if m.Files != 1 || m.Dropped != 1 || !m.HasKey {
		t.Fatalf("manifest %+v, want 1 file, 1 dropped, the key", m)
	}
	if _, err := backup.Backup(ctx, srv.DataDir, out, "test"); err == nil {
		t.Fatal("a backup into a directory that is not empty succeeded")
	}
	if _, err := backup.Restore(ctx, t.TempDir(), filepath.Join(t.TempDir(), "x")); err == nil {
		t.Fatal("a restore from a directory without a manifest succeeded")
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, out, dir); err != nil {
		t.Fatal(err)
	}
	rs := testutil.StartIn(t, dir)
	// The same key: the token issued before still holds.
	res, err := rs.Clients(client.Connect, u.Token).File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if list := res.Msg.GetFiles(); len(list) != 1 || list[0].GetId() != kept.GetId() {
		t.Fatalf("restored files %v, want only %s", list, kept.GetId())
	}
}
