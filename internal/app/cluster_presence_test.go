package app_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestPresenceConvergesAcrossProcesses runs two processes on one Valkey.
// Users come and go through either, in rounds; after each round, once both
// list the same users online, an observer on each process sees exactly
// them: a change made through one process reaches the other's sessions.
func TestPresenceConvergesAcrossProcesses(t *testing.T) {
	procs := startCluster(t, clusterOptions{processes: 2, env: []string{"FOXHOLE_PRESENCE_INTERVAL=20ms", "FOXHOLE_AUTH_RATE=0"}}).procs
	p := client.Connect
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))

	type observer struct {
		user   testutil.User
		events <-chan *foxholev1.Event
		online client.Online
	}
	var observers []*observer
	want := map[string]string{}
	for i, proc := range procs {
		u := proc.Register(t, p, fmt.Sprint("observer ", i))
		ch, _ := events(t, proc.Clients(p, u.Token), nil)
		observers = append(observers, &observer{user: u, events: ch})
		want[u.ID] = fmt.Sprint("observer ", i)
	}
	type user struct {
		testutil.User
		name string
		end  func() // closes its session, when open
	}
	var users []*user
	for i := range 30 {
		name := fmt.Sprintf("user %02d", i)
		users = append(users, &user{User: procs[i%2].Register(t, p, name), name: name})
	}

	for round := range 4 {
		for _, u := range users {
			switch {
			case rng.IntN(2) == 0:
			case u.end != nil:
				u.end()
				u.end = nil
				delete(want, u.ID)
			default:
				u.end = quietSession(t, procs[rng.IntN(2)].Clients(p, u.Token))
				want[u.ID] = u.name
			}
		}
		for _, proc := range procs {
			waitOnline(t, proc.Clients(p, observers[0].user.Token), want)
		}
		for i, o := range observers {
			timeout := time.After(30 * time.Second) // only keeps a broken build from hanging
			for o.online.Users == nil || !maps.Equal(o.online.Users, want) {
				select {
				case ev, ok := <-o.events:
					if !ok {
						t.Fatalf("observer %d: stream ended", i)
					}
					if pe := ev.GetPresence(); pe != nil {
						if err := o.online.Apply(pe); err != nil {
							t.Fatalf("observer %d: %v", i, err)
						}
					}
				case <-timeout:
					t.Fatalf("round %d: the observer on process %d sees %v online; want %v", round, i, o.online.Users, want)
				}
			}
		}
	}
}

// quietSession opens a Subscribe stream without presence, and returns what
// closes it.
func quietSession(t *testing.T, c *client.Client) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true}))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for stream.Receive() {
		}
	}()
	return cancel
}

// waitOnline waits until ListPresence, through c, lists exactly want.
func waitOnline(t *testing.T, c *client.Client, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // only keeps a broken build from hanging
	for {
		res, err := c.Realtime.ListPresence(context.Background(), connect.NewRequest(&foxholev1.ListPresenceRequest{}))
		if connect.CodeOf(err) == connect.CodeResourceExhausted { // polled past the limit
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, u := range res.Msg.GetUsers() {
			got[u.GetId()] = u.GetScreenName()
		}
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListPresence lists %v; want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
