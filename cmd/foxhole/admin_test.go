package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// admin runs foxhole admin with args against the server's data dir, as an
// operator would beside it, and returns its exit code and output.
func admin(t *testing.T, srv *testutil.Server, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("FOXHOLE_DATA_DIR", srv.DataDir)
	if srv.Config.DatabaseURL != "" {
		t.Setenv("FOXHOLE_DATABASE_URL", srv.Config.DatabaseURL)
		t.Setenv("FOXHOLE_ALLOW_SINGLE_PROCESS", "1")
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"admin"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestAdminBanEndsSessionsAndRefusesTokens bans a user with an open
// WebSocket from another process (the command): the socket closes, its
// token and secret get nothing more, and unban lets it back in.
func TestAdminBanEndsSessionsAndRefusesTokens(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	p := client.Connect
	u := srv.Register(t, p, "troll")
	srv.Register(t, p, "bystander")
	c := srv.Clients(p, u.Token)
	if _, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hello"})); err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token="+u.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()

	code, out, errOut := admin(t, srv, "--json", "users", "show", u.ID)
	var shown adminUser
	if code != adminOK || json.Unmarshal([]byte(out), &shown) != nil || shown.ScreenName != "troll" || shown.LastSeen == nil || shown.BannedAt != nil {
		t.Fatalf("users show = %d %q %q", code, out, errOut)
	}
	if code, out, _ := admin(t, srv, "users", "ls"); code != adminOK || !strings.Contains(out, "troll") || !strings.Contains(out, "bystander") || !strings.HasPrefix(out, "ID") {
		t.Errorf("users ls = %d %q", code, out)
	}
	if code, out, errOut := admin(t, srv, "users", "ban", u.ID); code != adminOK {
		t.Fatalf("users ban = %d %q %q", code, out, errOut)
	}
	// The server hears of it through the database (no Valkey here): the
	// socket closes with 1008, as for a rotated secret.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second) // only keeps a broken build from hanging
	defer cancel()
	for {
		if _, _, err = conn.Read(rctx); err != nil {
			break
		}
	}
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Errorf("the banned user's WebSocket ended with %v, want 1008", err)
	}
	for {
		_, err = c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			break
		}
		select {
		case <-rctx.Done():
			t.Fatalf("the banned user's token still works: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	fresh := srv.Clients(p, "")
	if _, err := fresh.Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: u.Secret})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("CreateToken while banned = %v, want permission_denied", err)
	}
	if code, out, _ := admin(t, srv, "--json", "users", "show", u.ID); code != adminOK || !strings.Contains(out, "bannedAt") {
		t.Errorf("users show of a banned user = %d %q", code, out)
	}
	if code, _, _ := admin(t, srv, "users", "unban", u.ID); code != adminOK {
		t.Fatalf("users unban = %d", code)
	}
	if _, err := fresh.Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: u.Secret})); err != nil {
		t.Errorf("CreateToken after unban = %v", err)
	}
	// Usage and refusals.
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"users", "ban"}, adminUsage},
		{[]string{"users", "ban", "nobody"}, adminRefused},
		{[]string{"users", "show", "nobody"}, adminRefused},
		{[]string{"users", "frobnicate"}, adminUsage},
		{[]string{"users", "ls", "--limit", "0"}, adminUsage},
	} {
		if code, _, _ := admin(t, srv, tc.args...); code != tc.code {
			t.Errorf("admin %v = %d, want %d", tc.args, code, tc.code)
		}
	}
}

// TestAdminPurgeAndDelete purges a user's messages to tombstones, then
// deletes the user, from the command line beside a running server.
func TestAdminPurgeAndDelete(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	p := client.Connect
	u, other := srv.Register(t, p, "spammer"), srv.Register(t, p, "other")
	c := srv.Clients(p, u.Token)
	for _, text := range []string{"buy cheap stuff", "more cheap stuff"} {
		if _, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: text})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Clients(p, other.Token).Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "kept"})); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := admin(t, srv, "messages", "purge", u.ID); code != adminOK || !strings.Contains(out, "purged") {
		t.Fatalf("messages purge = %d %q %q", code, out, errOut)
	}
	if found := srv.FindInDatabase(t, []byte("cheap stuff")); len(found) > 0 {
		t.Errorf("purged text still stored: %v", found)
	}
	page, err := srv.Clients(p, other.Token).Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var tombstones, kept int
	for _, ev := range page.Msg.GetEvents() {
		switch m := ev.GetChatMessage(); {
		case m.GetDeleted() && m.GetSender().GetId() == u.ID:
			tombstones++
		case m.GetContent() == "kept":
			kept++
		}
	}
	if tombstones != 2 || kept != 1 {
		t.Errorf("after the purge the lobby holds %d tombstones and %d of the other's messages, want 2 and 1", tombstones, kept)
	}
	if code, out, errOut := admin(t, srv, "users", "delete", u.ID); code != adminOK {
		t.Fatalf("users delete = %d %q %q", code, out, errOut)
	}
	if code, _, _ := admin(t, srv, "users", "show", u.ID); code != adminRefused {
		t.Errorf("users show of a deleted user = %d, want %d", code, adminRefused)
	}
	if _, err := srv.Clients(p, other.Token).Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: u.ID})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUser of a deleted user = %v, want not_found", err)
	}
	if found := srv.FindInDatabase(t, []byte(u.ID)); len(found) > 0 {
		t.Errorf("the deleted user's id is still stored: %v", found)
	}
	if code, _, _ := admin(t, srv, "messages", "purge", "nobody"); code != adminRefused {
		t.Errorf("messages purge nobody = %d, want %d", code, adminRefused)
	}
}
