package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// ended waits for s to end, skipping what it still receives, and returns
// the error that ended it.
func (s *sub) ended() error {
	s.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case <-s.ch:
		case <-s.raw:
		case err := <-s.done:
			return err
		case <-deadline:
			s.t.Fatal("session did not end")
		}
	}
}

// wantStreamUnauthenticated checks that a Subscribe stream ended as a revoked
// or expired credential must.
func wantStreamUnauthenticated(t *testing.T, name string, err error) {
	t.Helper()
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("%s: stream ended with %v, want unauthenticated", name, err)
	}
}

// wantSocketUnauthenticated checks that a WebSocket closed with 1008 and a
// reason starting "unauthenticated".
func wantSocketUnauthenticated(t *testing.T, err error) {
	t.Helper()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.HasPrefix(ce.Reason, "unauthenticated") {
		t.Errorf("WebSocket ended with %v, want close 1008 with a reason starting unauthenticated", err)
	}
}

// waitListedUser waits until ListPresence lists the user. ListPresence
// reads the process's presence view, which learns of a join within an
// interval: a test waits for it before closing the user's sessions, so
// that waitOffline then sees the leave, not a join not yet seen.
func waitListedUser(t *testing.T, srv *testutil.Server, token, user string) {
	t.Helper()
	deadline := time.Now().Add(wait) // only keeps a broken build from hanging
	for !slices.ContainsFunc(listPresence(t, srv, token), func(u *foxholev1.UserRef) bool { return u.GetId() == user }) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not online", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitOffline waits until ListPresence no longer lists the user: every
// session of the user has closed, and its slot is free.
func waitOffline(t *testing.T, srv *testutil.Server, token, user string) {
	t.Helper()
	deadline := time.Now().Add(wait) // only keeps a broken build from hanging
	for slices.ContainsFunc(listPresence(t, srv, token), func(u *foxholev1.UserRef) bool { return u.GetId() == user }) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still online", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRotationEndsEverySessionOfTheUser(t *testing.T) {
	srv := testutil.Start(t)
	p := client.ConnectJSON
	u, other := srv.Register(t, p, "rotator"), srv.Register(t, p, "bystander")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	watch := subscribe(t, srv, p, other.Token, &foxholev1.SubscribeRequest{})
	streams := map[string]*sub{}
	for _, p := range testutil.Protocols {
		streams[string(p)] = subscribe(t, srv, p, u.Token, quiet)
	}
	w, err := dialWS(t, srv, u.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	send(t, srv, p, other.Token, "ready", "")
	for _, s := range streams {
		s.untilChat("ready")
	}
	w.untilChat("ready")
	watch.untilChat("ready")
	waitListedUser(t, srv, other.Token, u.ID)

	rot, err := srv.Clients(p, u.Token).Auth.RotateSecret(context.Background(), connect.NewRequest(&foxholev1.RotateSecretRequest{UserSecret: u.Secret}))
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	// A frame sent after the rotation is not sent as the user, whether the
	// socket is still open to read it or not.
	_ = w.conn.Write(context.Background(), websocket.MessageText, []byte(`{"content": "after rotation"}`))

	for name, s := range streams {
		wantStreamUnauthenticated(t, name, s.ended())
	}
	wantSocketUnauthenticated(t, w.ended())
	// Once the rotator is offline, every one of its sessions has closed,
	// frames included.
	waitOffline(t, srv, other.Token, u.ID)

	// The bystander's session lives on, and the frame was never stored.
	send(t, srv, p, other.Token, "after", "")
	if got := contents(watch.untilChat("after")); !slices.Equal(got, []string{"after"}) {
		t.Errorf("bystander got %q after the rotation", got)
	}
	zero := int64(0)
	replay := subscribe(t, srv, p, other.Token, &foxholev1.SubscribeRequest{AfterEventId: &zero, SkipPresence: true})
	if got := contents(replay.untilChat("after")); slices.Contains(got, "after rotation") {
		t.Errorf("a frame sent after the rotation was stored: %q", got)
	}

	// A new token opens sessions again.
	tok, err := srv.Clients(p, "").Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: rot.Msg.GetUserSecret()}))
	if err != nil {
		t.Fatal(err)
	}
	again := subscribe(t, srv, p, tok.Msg.GetAccessToken(), quiet)
	send(t, srv, p, other.Token, "welcome back", "")
	again.untilChat("welcome back")
}

func TestExpiredTokenEndsSessions(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.TokenTTL = 2 * time.Second })
	u := srv.Register(t, client.ConnectJSON, "short-lived")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	streams := map[string]*sub{}
	for _, p := range testutil.Protocols {
		streams[string(p)] = subscribe(t, srv, p, u.Token, quiet)
	}
	w, err := dialWS(t, srv, u.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	for name, s := range streams {
		wantStreamUnauthenticated(t, name, s.ended())
	}
	wantSocketUnauthenticated(t, w.ended())
}

// refusedSubscribe opens a Subscribe stream that the server must refuse for
// being over a cap, and checks the refusal says when to retry.
func refusedSubscribe(t *testing.T, srv *testutil.Server, p client.Protocol, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	stream, err := srv.Clients(p, token).Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
		stream.Close()
	}
	ce, ok := errors.AsType[*connect.Error](err)
	if !ok || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") == "" {
		t.Errorf("%s: Subscribe over the cap: %v, want resource_exhausted with Retry-After", string(p), err)
	}
}

// refusedWebSocket dials /ws, which the server must refuse for being over a
// cap, before the upgrade, with a 429 and the server's JSON error.
func refusedWebSocket(t *testing.T, srv *testutil.Server, token string) {
	t.Helper()
	c, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token="+token, nil)
	if err == nil {
		c.CloseNow()
		t.Fatal("WebSocket over the cap was accepted")
	}
	if res == nil || res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("WebSocket over the cap answered %v, want 429 with Retry-After", res)
	}
	body, _ := io.ReadAll(res.Body)
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code != "resource_exhausted" || e.Error.Message == "" {
		t.Errorf("WebSocket over the cap answered %s, want the JSON error", body)
	}
}

func TestSessionCapPerUser(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxSessionsUser = 2 })
	p := client.ConnectJSON
	u, watcher := srv.Register(t, p, "busy"), srv.Register(t, p, "watcher")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}

	first := subscribe(t, srv, p, u.Token, quiet)
	w, err := dialWS(t, srv, u.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	for _, p := range testutil.Protocols {
		refusedSubscribe(t, srv, p, u.Token)
	}
	refusedWebSocket(t, srv, u.Token)
	// Another user is not affected.
	subscribe(t, srv, p, watcher.Token, quiet)

	// Freed slots are taken again. Both sessions have joined presence
	// once they deliver (a session is counted in its cap before it joins),
	// so the user is offline only once both have closed.
	send(t, srv, p, watcher.Token, "both in", "")
	first.untilChat("both in")
	w.untilChat("both in")
	waitListedUser(t, srv, watcher.Token, u.ID)
	first.cancel()
	w.conn.Close(websocket.StatusNormalClosure, "")
	waitOffline(t, srv, watcher.Token, u.ID)
	w2, err := dialWS(t, srv, u.Token, "skipPresence=true")
	if err != nil {
		t.Fatalf("WebSocket in a freed slot: %v", err)
	}
	w2.start()
	again := subscribe(t, srv, client.GRPC, u.Token, quiet)
	send(t, srv, p, watcher.Token, "still here", "")
	again.untilChat("still here")
	w2.untilChat("still here")
}

func TestSessionCapPerAddress(t *testing.T) {
	// Every client of the test comes from 127.0.0.1.
	srv := testutil.Start(t, func(c *config.Config) { c.MaxSessionsAddr = 3 })
	p := client.Connect
	var users []testutil.User
	for i := range 4 {
		users = append(users, srv.Register(t, p, fmt.Sprint("neighbour ", i)))
	}
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	subscribe(t, srv, p, users[0].Token, &foxholev1.SubscribeRequest{})
	a := subscribe(t, srv, p, users[1].Token, quiet)
	b, err := dialWS(t, srv, users[2].Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	b.start()
	for _, p := range testutil.Protocols {
		refusedSubscribe(t, srv, p, users[3].Token)
	}
	refusedWebSocket(t, srv, users[3].Token)

	waitListedUser(t, srv, users[0].Token, users[1].ID)
	a.cancel()
	waitOffline(t, srv, users[0].Token, users[1].ID)
	c, err := dialWS(t, srv, users[3].Token, "skipPresence=true")
	if err != nil {
		t.Fatalf("WebSocket in a freed slot: %v", err)
	}
	c.start()
	send(t, srv, p, users[0].Token, "room for one more", "")
	c.untilChat("room for one more")
	refusedSubscribe(t, srv, p, users[1].Token)
}
