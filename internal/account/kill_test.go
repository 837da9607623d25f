package account_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestDeleteAccountSurvivesKill9 kills the server process with SIGKILL
// while a deletion of an account with many files and messages is under
// way, starts it again on the same data, and checks that the account is
// then wholly gone and the other user's data whole. Whether the kill came
// before the deletion's first step or after, the outcome is one of the
// two: the account intact (the client retries) or gone; never half.
func TestDeleteAccountSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server")
	}
	ctx := context.Background()
	p := testutil.StartProcess(t, "FOXHOLE_MESSAGE_RATE=10000", "FOXHOLE_MESSAGE_BURST=10000")
	victim := p.Register(t, client.Connect, victimName)
	friend := p.Register(t, client.Connect, "friend")
	vc, fc := p.Clients(client.Connect, victim.Token), p.Clients(client.Connect, friend.Token)
	for i := range 60 {
		if _, err := vc.Upload(ctx, fmt.Sprintf("f%d.txt", i), "text/plain", strings.NewReader(victimFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := vc.Send(ctx, client.Direct(friend.ID), victimDM); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fc.Send(ctx, client.Lobby, friendText); err != nil {
		t.Fatal(err)
	}
	go vc.DeleteAccount(ctx, victim.Secret) //nolint:errcheck // cut off by the kill
	// Killed midway: once some of the victim's 60 files are gone, not all.
	blobs := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(p.DataDir, "blobs"), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	for start := time.Now(); blobs() > 45 && time.Since(start) < 10*time.Second; {
	}
	p.Kill()
	srv := &testutil.Server{DataDir: p.DataDir}
	t.Logf("killed: %d rows name the victim, %d hold its direct messages' text", len(srv.FindInDatabase(t, []byte(victim.ID))), len(srv.FindInDatabase(t, []byte(victimDM))))

	p = p.Restart(t)
	srv.URL = p.URL
	vc = p.Clients(client.Connect, victim.Token)
	if _, err := vc.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err == nil {
		// Killed before the first step: the deletion never began. Retry.
		t.Log("the kill came before the deletion began; retrying")
		if err := vc.DeleteAccount(ctx, victim.Secret); err != nil {
			t.Fatal(err)
		}
	}
	fc = p.Clients(client.Connect, friend.Token)
	deadline := time.Now().Add(time.Minute)
	for len(srv.FindInDatabase(t, []byte(victim.ID))) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the victim is still in the database a minute after the restart: %v", srv.FindInDatabase(t, []byte(victim.ID)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range []string{victimName, victimDM, victimFile} {
		if found := srv.FindInDatabase(t, []byte(s)); len(found) > 0 {
			t.Errorf("the database still holds %q: %v", s, found)
		}
	}
	filepath.WalkDir(p.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && (bytes.Contains(b, []byte(victimFile)) || bytes.Contains(b, []byte(victimDM))) {
			t.Errorf("%s holds the victim's data", path)
		}
		return nil
	})
	if len(srv.FindInDatabase(t, []byte(friendText))) == 0 {
		t.Error("the friend's message is gone")
	}
	if _, err := fc.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: victim.ID})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUser = %v, want not_found", err)
	}
}
