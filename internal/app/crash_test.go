package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestKilledMidWriteLosesNothingAcknowledged kills foxhole with SIGKILL
// while registrations and chat messages pour in, starts it again on the same
// data, and checks that every acknowledged registration still signs in and
// every acknowledged message is replayed, once, in id order.
func TestKilledMidWriteLosesNothingAcknowledged(t *testing.T) {
	bin := testutil.BuildFoxhole(t)
	proc := testutil.StartProcessIn(t, bin, filepath.Join(t.TempDir(), "data"),
		"FOXHOLE_AUTH_RATE=0", "FOXHOLE_MESSAGE_RATE=100000", "FOXHOLE_MESSAGE_BURST=100000")
	p := client.Connect // connect-proto
	sender := proc.Register(t, p, "sender")

	type message struct {
		id      int64
		content string
	}
	var (
		mu       sync.Mutex
		users    []testutil.User
		messages []message
		enough   = make(chan struct{})
		once     sync.Once
	)
	check := func() {
		if len(users) >= 100 && len(messages) >= 100 {
			once.Do(func() { close(enough) })
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { // registrations
			c := proc.Clients(p, "")
			for ctx.Err() == nil {
				reg, err := c.Auth.Register(ctx, connect.NewRequest(&foxholev1.RegisterRequest{}))
				if err != nil {
					continue // refused once the server is gone
				}
				mu.Lock()
				users = append(users, testutil.User{ID: reg.Msg.GetUser().GetId(), Secret: reg.Msg.GetUserSecret()})
				check()
				mu.Unlock()
			}
		})
		wg.Go(func() { // messages
			c := proc.Clients(p, sender.Token)
			for i := 0; ctx.Err() == nil; i++ {
				content := fmt.Sprintf("writer %d message %d", w, i)
				res, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: content}))
				if err != nil {
					continue
				}
				mu.Lock()
				messages = append(messages, message{res.Msg.GetEvent().GetId(), content})
				check()
				mu.Unlock()
			}
		})
	}
	<-enough
	proc.Kill() // mid-write: every writer has calls in flight
	cancel()
	wg.Wait()

	proc = proc.Restart(t)
	c := proc.Clients(p, "")
	for _, u := range users {
		if _, err := c.Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: u.Secret})); err != nil {
			t.Fatalf("registration %s was acknowledged, but its secret no longer works: %v", u.ID, err)
		}
	}

	// The sender's token is still good: the signing key is kept in the data dir.
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	stream, err := proc.Clients(p, sender.Token).Realtime.Subscribe(sctx, connect.NewRequest(&foxholev1.SubscribeRequest{AfterEventId: new(int64)}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{}
	var newest int64
	for _, m := range messages {
		want[m.id] = m.content
		newest = max(newest, m.id)
	}
	// Replay is in id order: once past the newest acknowledged id, every
	// acknowledged message has had its turn.
	var last int64
	for last < newest && stream.Receive() {
		ev := stream.Msg().GetEvent()
		if ev == nil || ev.GetChatMessage() == nil {
			continue // heartbeats and presence
		}
		if ev.GetId() <= last {
			t.Fatalf("event %d replayed after %d: out of order or twice", ev.GetId(), last)
		}
		last = ev.GetId()
		if content, ok := want[ev.GetId()]; ok {
			if ev.GetChatMessage().GetContent() != content {
				t.Fatalf("event %d holds %q, acknowledged as %q", ev.GetId(), ev.GetChatMessage().GetContent(), content)
			}
			delete(want, ev.GetId())
		}
	}
	if len(want) > 0 {
		t.Fatalf("%d acknowledged messages were not replayed after the restart (stream: %v)", len(want), stream.Err())
	}
	t.Logf("%d registrations and %d messages acknowledged before the kill; all there after the restart", len(users), len(messages))
}
