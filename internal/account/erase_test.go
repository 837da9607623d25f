package account_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/testutil"
)

// victim's data, each piece unique enough to be found wherever it lies.
const (
	victimName  = "victim-screen-name-7f3a"
	victimBio   = "victim-bio-text-9c1d"
	victimAttr  = "victim-attribute-2b8e"
	victimDM    = "victim-dm-text-4e6f"
	victimLobby = "victim-lobby-text-8a2c"
	victimRoom  = "victim-room-text-1d9b"
	victimEdit  = "victim-edited-text-6f0a"
	toVictimDM  = "friend-dm-to-victim-5c3e"
	friendText  = "friend-own-lobby-text-3a7d"
	victimFile  = "victim-file-bytes-0e4b"
	friendFile  = "friend-file-bytes-7b1c"
)

func withMinIO(t *testing.T) func(*config.Config) {
	m := testutil.StartMinIO(t)
	return func(c *config.Config) {
		c.S3 = config.S3{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "erasure"}
	}
}

func TestDeleteAccountLeavesNothing(t *testing.T) {
	t.Run("local", func(t *testing.T) { testErasure(t, testutil.Start(t)) })
	t.Run("minio", func(t *testing.T) { testErasure(t, testutil.Start(t, withMinIO(t))) })
}

type world struct {
	srv                  *testutil.Server
	victim, friend, peer testutil.User
	vc, fc               *client.Client
	room, ownRoom        string
	downloadURL          string
	shareURL             string
	friendFileID         string
}

// must returns v, failing t on err.
func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func try(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// populate gives the victim everything an account can hold, with others
// around it: a profile and avatar, files, messages every way, rooms (one
// it owns with another member, one it owns alone, one it joined), an edit,
// blocks both ways and a read marker.
func populate(t *testing.T, srv *testutil.Server) *world {
	ctx := context.Background()
	p := client.Connect
	w := &world{srv: srv}
	w.victim = srv.Register(t, p, victimName)
	w.friend = srv.Register(t, p, "friend")
	w.peer = srv.Register(t, p, "peer")
	w.vc, w.fc = srv.Clients(p, w.victim.Token), srv.Clients(p, w.friend.Token)
	pc := srv.Clients(p, w.peer.Token)

	attrs, _ := structpb.NewStruct(map[string]any{"motto": victimAttr})
	try(t)(w.vc.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{User: &foxholev1.User{Bio: victimBio, Attributes: attrs}})))
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/avatar", bytes.NewReader(pngBytes(t)))
	req.Header.Set("Authorization", "Bearer "+w.victim.Token)
	resp := must[*http.Response](t)(http.DefaultClient.Do(req))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT /avatar = %d", resp.StatusCode)
	}
	if r := must[*http.Response](t)(http.Get(srv.URL + "/avatars/" + w.victim.ID + "?size=64")); r.StatusCode != 200 {
		t.Fatalf("thumbnail = %d", r.StatusCode)
	} else {
		r.Body.Close()
	}

	f := must[*foxholev1.File](t)(w.vc.Upload(ctx, "secret-plans.txt", "text/plain", strings.NewReader(strings.Repeat(victimFile, 100))))
	try(t)(w.vc.Upload(ctx, "second.bin", "application/octet-stream", strings.NewReader(victimFile+"2")))
	got := must[*connect.Response[foxholev1.GetFileResponse]](t)(w.vc.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()})))
	w.downloadURL = got.Msg.GetDownloadUrl()
	if !strings.HasPrefix(w.downloadURL, "http") {
		w.downloadURL = srv.URL + w.downloadURL
	}
	share := must[*connect.Response[foxholev1.ShareFileResponse]](t)(w.vc.File.ShareFile(ctx, connect.NewRequest(&foxholev1.ShareFileRequest{Id: f.GetId()})))
	w.shareURL = share.Msg.GetShare().GetUrl()
	if !strings.HasPrefix(w.shareURL, "http") {
		w.shareURL = srv.URL + w.shareURL
	}
	w.friendFileID = must[*foxholev1.File](t)(w.fc.Upload(ctx, "friend.txt", "text/plain", strings.NewReader(friendFile))).GetId()

	try(t)(w.vc.Send(ctx, client.Direct(w.friend.ID), victimDM))
	try(t)(w.fc.Send(ctx, client.Direct(w.victim.ID), toVictimDM))
	try(t)(w.vc.Send(ctx, client.Lobby, victimLobby))
	try(t)(w.fc.Send(ctx, client.Lobby, friendText))
	edited := must[*foxholev1.Event](t)(w.vc.Send(ctx, client.Lobby, "first draft"))
	try(t)(w.vc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: edited.GetId(), Content: victimEdit})))

	room := must[*foxholev1.Room](t)(w.vc.CreateRoom(ctx, "victim's room", client.RoomOptions{Public: true}))
	w.room = room.GetId()
	try(t)(w.fc.JoinRoom(ctx, w.room))
	ev := must[*foxholev1.Event](t)(w.vc.Send(ctx, client.InRoom(w.room), victimRoom))
	if err := w.vc.MarkRead(ctx, w.room, ev.GetId()); err != nil {
		t.Fatal(err)
	}
	w.ownRoom = must[*foxholev1.Room](t)(w.vc.CreateRoom(ctx, "alone", client.RoomOptions{})).GetId()
	other := must[*foxholev1.Room](t)(pc.CreateRoom(ctx, "peer's room", client.RoomOptions{Public: true}))
	try(t)(w.vc.JoinRoom(ctx, other.GetId()))

	try(t)(w.vc.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: w.peer.ID})))
	try(t)(pc.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: w.victim.ID})))
	return w
}

func testErasure(t *testing.T, srv *testutil.Server) {
	ctx := context.Background()
	w := populate(t, srv)
	avatarKeys := avatarKeysOf(t, srv)
	// The scan finds what is there.
	for _, s := range []string{w.victim.ID, victimDM, victimBio, victimEdit} {
		if len(srv.FindInDatabase(t, []byte(s))) == 0 {
			t.Fatalf("the scan does not find %q before the deletion", s)
		}
	}
	if len(avatarKeys) < 4 { // 2 files of the victim, 1 of the friend, avatar and thumbnail
		t.Fatalf("objects before the deletion: %v", avatarKeys)
	}

	for _, u := range []string{w.downloadURL, w.shareURL} {
		if r, err := http.Get(u); err != nil || r.StatusCode != 200 {
			t.Fatalf("GET %s before the deletion: %v %v", u, r, err)
		} else {
			r.Body.Close()
		}
	}
	// A session of the victim, which must end.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := w.vc.Realtime.Subscribe(sctx, connect.NewRequest(&foxholev1.SubscribeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		for stream.Receive() {
		}
		ended <- stream.Err()
	}()

	// A wrong secret changes nothing.
	_, err = w.vc.Auth.DeleteAccount(ctx, connect.NewRequest(&foxholev1.DeleteAccountRequest{UserSecret: w.friend.Secret}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("DeleteAccount with another's secret = %v", err)
	}
	// (A client forgets a token answered unauthenticated: a fresh one.)
	w.vc = srv.Clients(client.Connect, w.victim.Token)
	if _, err := w.vc.Auth.DeleteAccount(ctx, connect.NewRequest(&foxholev1.DeleteAccountRequest{UserSecret: w.victim.Secret})); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	checkGone(t, w, avatarKeys)

	select {
	case err := <-ended:
		t.Logf("the victim's session ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Error("the victim's session is still open 30 s after DeleteAccount")
	}
}

func avatarKeysOf(t *testing.T, srv *testutil.Server) []string {
	var keys []string
	err := srv.App.Blobs().Walk(context.Background(), func(i blob.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkGone checks that nothing of the victim is left anywhere, and that
// the others' data is whole.
func checkGone(t *testing.T, w *world, before []string) {
	t.Helper()
	ctx := context.Background()
	srv := w.srv
	fc := w.fc

	if _, err := fc.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: w.victim.ID})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUser(deleted) = %v, want not_found", err)
	}
	if _, err := w.vc.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("the deleted user's token: %v, want unauthenticated", err)
	}
	if _, err := srv.Clients(client.Connect, "").Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: w.victim.Secret})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("the deleted user's secret: %v, want unauthenticated", err)
	}
	for _, u := range []string{w.downloadURL, w.shareURL, srv.URL + "/avatars/" + w.victim.ID} {
		r, err := http.Get(u)
		if err != nil {
			t.Errorf("GET %s: %v", u, err)
			continue
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", u, r.StatusCode)
		}
	}

	// The database: no row holds the victim's id, secret hash, name,
	// profile, texts or file bytes.
	h := sha256.Sum256([]byte(w.victim.Secret))
	needles := map[string][]byte{"id": []byte(w.victim.ID), "secret hash": h[:]}
	for _, s := range []string{victimName, victimBio, victimAttr, victimDM, victimLobby, victimRoom, victimEdit, victimFile, "secret-plans.txt"} {
		needles[s] = []byte(s)
	}
	for what, n := range needles {
		if found := srv.FindInDatabase(t, n); len(found) > 0 {
			t.Errorf("the database still holds the victim's %s: %v", what, found)
		}
	}
	// The object store: no key of the victim's, no object with its bytes.
	err := srv.App.Blobs().Walk(ctx, func(i blob.Info) error {
		rc, err := srv.App.Blobs().Get(ctx, i.Key, 0, -1)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if bytes.Contains(b, []byte(victimFile)) {
			t.Errorf("object %s holds the victim's file", i.Key)
		}
		if i.Key != w.friendFileID {
			t.Errorf("object %s is left (only the friend's file should be): before the deletion there were %v", i.Key, before)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The data dir: no file holds any of it, in any form.
	if srv.Config.DatabaseURL == "" || srv.Config.S3.Endpoint == "" {
		filepath.WalkDir(srv.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for what, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s holds the victim's %s", path, what)
				}
			}
			return nil
		})
	}

	// The others' data is whole: the friend's file, message, and the DM
	// they sent (to someone now unnamed); the room passed to the friend.
	if _, err := fc.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: w.friendFileID})); err != nil {
		t.Errorf("the friend's file: %v", err)
	}
	for _, s := range []string{friendText, toVictimDM, friendFile, "friend"} {
		if len(srv.FindInDatabase(t, []byte(s))) == 0 && s != friendFile {
			t.Errorf("the friend's %q is gone", s)
		}
	}
	room, err := fc.GetRoom(ctx, w.room)
	if err != nil || room.GetRole() != foxholev1.RoomRole_ROOM_ROLE_OWNER {
		t.Errorf("the victim's room passed to the friend: %v, %v", room, err)
	}
	var sawTombstone bool
	for ev, err := range fc.History(ctx, client.InRoom(w.room), client.Page{}) {
		if err != nil {
			t.Fatal(err)
		}
		if m := ev.GetChatMessage(); m != nil && m.GetDeleted() && m.GetContent() == "" {
			sawTombstone = true
		}
	}
	if !sawTombstone {
		t.Error("the victim's room message is not a tombstone in the room's history")
	}
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "avatar.png"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatal("testdata/avatar.png is missing")
	}
	return b
}

// TestDeleteAccountFinishesAfterCrash stops a deletion right after its
// first step, as a kill -9 would (the secret and tokens revoked, nothing
// else removed yet), with part of the rest done by hand, then starts the
// server again on the same data: the deletion finishes on its own, and
// nothing of the user is left.
func TestDeleteAccountFinishesAfterCrash(t *testing.T) {
	t.Run("local", func(t *testing.T) { testCrash(t) })
	t.Run("minio", func(t *testing.T) { testCrash(t, withMinIO(t)) })
}

func testCrash(t *testing.T, edit ...func(*config.Config)) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := testutil.StartIn(t, dir, edit...)
	w := populate(t, srv)
	before := avatarKeysOf(t, srv)
	st := srv.App.Store()
	u, err := st.UserByID(ctx, w.victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("a secret nobody holds"))
	if _, err := st.BeginDeletion(ctx, w.victim.ID, u.SecretHash, h[:], "ghost"+strings.Repeat("0", 21)); err != nil {
		t.Fatal(err)
	}
	// Halfway: one file's content is gone, its row is not.
	fs, err := st.ListFiles(ctx, w.victim.ID, nil, 1)
	if err != nil || len(fs) != 1 {
		t.Fatal(fs, err)
	}
	if err := srv.App.Blobs().Delete(ctx, fs[0].ID); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	old := srv.URL
	srv = testutil.StartIn(t, dir, edit...)
	w.srv = srv
	w.downloadURL = strings.Replace(w.downloadURL, old, srv.URL, 1)
	w.shareURL = strings.Replace(w.shareURL, old, srv.URL, 1)
	w.fc = srv.Clients(client.Connect, w.friend.Token)
	w.vc = srv.Clients(client.Connect, w.victim.Token)
	deadline := time.Now().Add(60 * time.Second)
	// GetUser answers not_found from the first step on; the row goes last.
	if _, err := w.fc.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: w.victim.ID})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUser of a user being deleted: %v, want not_found", err)
	}
	for {
		_, err := srv.App.Store().UserByID(ctx, w.victim.ID)
		if errors.Is(err, errs.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deletion did not finish after a restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkGone(t, w, before)
	// Running it again finds nothing to do.
	if n, err := srv.App.Accounts().FinishPending(ctx); err != nil || n != 0 {
		t.Errorf("FinishPending again = %d, %v", n, err)
	}
}
