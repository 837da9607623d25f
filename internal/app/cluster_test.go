package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// events subscribes through c and passes on every event the stream
// carries (heartbeats left out) until the test ends; the channel closes
// with the stream, whose error is then in *ended.
func events(t *testing.T, c *client.Client, after *int64) (<-chan *foxholev1.Event, *error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{AfterEventId: after}))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *foxholev1.Event, 1024)
	var ended error
	go func() {
		defer close(out)
		for stream.Receive() {
			if ev := stream.Msg().GetEvent(); ev != nil {
				out <- ev
			}
		}
		ended = stream.Err()
	}()
	return out, &ended
}

// next returns the next event for which match is true, skipping others.
func next(t *testing.T, ch <-chan *foxholev1.Event, what string, match func(*foxholev1.Event) bool) *foxholev1.Event {
	t.Helper()
	timeout := time.After(20 * time.Second) // only keeps a broken build from hanging
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s", what)
		}
	}
}

func chat(content string) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool { return ev.GetChatMessage().GetContent() == content }
}

// TestProcessesSharingValkeyActAsOne starts two Foxhole processes on one
// data dir and one Valkey and checks each promise of API.md's "Several
// processes", then stops Valkey and starts it again.
func TestProcessesSharingValkeyActAsOne(t *testing.T) {
	c := startCluster(t, clusterOptions{processes: 2})
	v, a, b := c.valkey, c.procs[0], c.procs[1]
	p := client.Connect
	ctx := context.Background()

	// A token issued by one works on the other.
	ada := a.Register(t, p, "ada")
	onA, onB := a.Clients(p, ada.Token), b.Clients(p, ada.Token)
	if _, err := onB.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
		t.Fatalf("a token from one process on the other: %v", err)
	}

	// A profile change through one is seen through the other at once (its
	// cached copy is invalidated).
	if _, err := onA.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: "Ada L."}})); err != nil {
		t.Fatal(err)
	}
	got, err := onB.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil || got.Msg.GetUser().GetScreenName() != "Ada L." {
		t.Fatalf("profile through the other process: %v %v", got, err)
	}

	// A message, a file event and a presence change made through one are
	// seen by a subscriber of the other.
	grace := b.Register(t, p, "grace")
	graceOnB, _ := events(t, b.Clients(p, grace.Token), nil)
	adaOnA, adaOnAEnded := events(t, onA, nil)
	next(t, graceOnB, "ada's join, made on A", func(ev *foxholev1.Event) bool {
		// In a change, or in grace's snapshot if ada came first.
		return slices.ContainsFunc(ev.GetPresence().GetJoined(), func(u *foxholev1.UserRef) bool { return u.GetId() == ada.ID })
	})
	adaOnB, _ := events(t, onB, nil)
	online, err := b.Clients(p, grace.Token).Realtime.ListPresence(ctx, connect.NewRequest(&foxholev1.ListPresenceRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(online.Msg.GetUsers()); n != 2 {
		t.Fatalf("presence through B lists %v, want ada and grace", online.Msg.GetUsers())
	}
	sent, err := onA.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hello from A"}))
	if err != nil {
		t.Fatal(err)
	}
	next(t, graceOnB, "the broadcast made on A", chat("hello from A"))
	if _, err := onA.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "a.txt", Content: []byte("x")})); err != nil {
		t.Fatal(err)
	}
	next(t, adaOnB, "the file event of an upload made on A", func(ev *foxholev1.Event) bool {
		return ev.GetFileEvent().GetFile().GetName() == "a.txt"
	})

	// A client may resume on the other process: all that was stored since
	// its last id comes, once, in order.
	resumed, _ := events(t, b.Clients(p, ada.Token), &sent.Msg.Event.Id)
	first := next(t, resumed, "the first event after the resume point", func(*foxholev1.Event) bool { return true })
	if first.GetId() <= sent.Msg.GetEvent().GetId() || first.GetFileEvent() == nil {
		t.Fatalf("resume on B after %d began with %v", sent.Msg.GetEvent().GetId(), first)
	}

	// A rotation through one process ends the user's sessions on both, and
	// its old token at once everywhere.
	if _, err := b.Clients(p, ada.Token).Auth.RotateSecret(ctx, connect.NewRequest(&foxholev1.RotateSecretRequest{UserSecret: ada.Secret})); err != nil {
		t.Fatal(err)
	}
	for range adaOnA {
	}
	if code := connect.CodeOf(*adaOnAEnded); code != connect.CodeUnauthenticated {
		t.Fatalf("ada's stream on A after rotating on B ended with %v", *adaOnAEnded)
	}
	if _, err := onA.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("the old token on A after rotating on B: %v", err)
	}

	// Valkey stops: calls keep working from the database, /readyz names
	// the cache, and messages sent meanwhile reach subscribers once it is
	// back.
	v.Stop()
	graceOnA := a.Clients(p, grace.Token)
	if _, err := graceOnA.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
		t.Fatalf("GetProfile without Valkey: %v", err)
	}
	// /readyz stays 200 (its answer is reused for a second: wait for the
	// next) and names the cache as degraded.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		status, failed, degraded := readiness(t, a.URL)
		if status != http.StatusOK || len(failed) != 0 {
			t.Fatalf("/readyz without Valkey: %d, failed %v; want 200", status, failed)
		}
		if len(degraded) == 1 && degraded[0] == "cache" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz without Valkey names %v as degraded, want the cache", degraded)
		}
	}
	if _, err := graceOnA.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "sent without Valkey"})); err != nil {
		t.Fatalf("SendMessage without Valkey: %v", err)
	}
	v.Start()
	next(t, graceOnB, "the message sent while Valkey was down", chat("sent without Valkey"))
	if _, err := graceOnA.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "and after"})); err != nil {
		t.Fatal(err)
	}
	next(t, graceOnB, "a message after Valkey came back", chat("and after"))
}

// readiness returns /readyz's status, and what it says failed and what is
// degraded.
func readiness(t *testing.T, url string) (status int, failed, degraded []string) {
	t.Helper()
	res, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Failed   []string `json:"failed"`
		Degraded []string `json:"degraded"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/readyz: %d %q", res.StatusCode, raw)
	}
	return res.StatusCode, body.Failed, body.Degraded
}
