package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// presenceWait bounds how long a view may take to converge; it only keeps
// a broken build from hanging.
const presenceWait = 60 * time.Second

// quickPresence gathers presence changes for 20ms instead of a second, and
// lets the tests register as many users as they like.
func quickPresence(c *config.Config) {
	c.PresenceInterval = 20 * time.Millisecond
	c.AuthRate = 0
}

// view is who a subscriber was told is online.
type view struct{ client.Online }

func (v *view) apply(t *testing.T, pe *foxholev1.PresenceEvent) {
	t.Helper()
	if err := v.Apply(pe); err != nil {
		t.Error(err)
	}
}

// presenceUntil applies the presence events s receives to v until v is
// want.
func (s *sub) presenceUntil(v *view, want map[string]string) {
	s.t.Helper()
	deadline := time.After(presenceWait)
	for v.Users == nil || !maps.Equal(v.Users, want) {
		select {
		case m := <-s.ch:
			if pe := m.GetEvent().GetPresence(); pe != nil {
				v.apply(s.t, pe)
			}
		case err := <-s.done:
			s.t.Fatalf("subscription ended: %v", err)
		case <-deadline:
			s.t.Fatalf("the subscriber sees %v online; want %v", v.Users, want)
		}
	}
}

// listPresence lists everyone online, page by page, waiting out the limit
// on ListPresence calls when a poll reaches it.
func listPresence(t *testing.T, srv *testutil.Server, token string) []*foxholev1.UserRef {
	t.Helper()
	for {
		users, err := srv.Clients(client.ConnectJSON, token).ListOnline(context.Background())
		if connect.CodeOf(err) == connect.CodeResourceExhausted {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return users
	}
}

func byID(refs []*foxholev1.UserRef) map[string]string {
	m := map[string]string{}
	for _, u := range refs {
		m[u.GetId()] = u.GetScreenName()
	}
	return m
}

// waitListed waits until ListPresence lists exactly want: every session
// opened or closed so far has joined or left.
func waitListed(t *testing.T, srv *testutil.Server, token string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(presenceWait)
	for {
		got := byID(listPresence(t, srv, token))
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListPresence lists %v; want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tab is one session of a user who comes and goes: a Subscribe stream
// over one protocol, or a WebSocket.
type tab struct {
	user     testutil.User
	name     string
	protocol string // a testutil.Protocols name, or "websocket"
	watch    bool   // takes presence; its view is checked
	s        *sub   // while open
	end      func() // closes it
	v        *view
}

// toggle opens the tab if it is closed, and closes it if it is open. It
// may run beside others: it reports failures with Errorf.
func (tb *tab) toggle(t *testing.T, srv *testutil.Server) {
	if tb.s != nil {
		tb.end()
		tb.s = nil
		return
	}
	tb.v = &view{}
	if tb.protocol == "websocket" {
		query := "skipPresence=true"
		if tb.watch {
			query = ""
		}
		w, err := dialWS(t, srv, tb.user.Token, query)
		if err != nil {
			t.Errorf("open a WebSocket of %s: %v", tb.name, err)
			return
		}
		tb.s, tb.end = w.start().sub, func() { w.conn.CloseNow() }
		return
	}
	for _, p := range testutil.Protocols {
		if string(p) != tb.protocol {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := srv.Clients(p, tb.user.Token).Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: !tb.watch}))
		if err != nil {
			cancel()
			t.Errorf("open a stream of %s: %v", tb.name, err)
			return
		}
		s := newSub(t, cancel)
		go func() {
			for stream.Receive() {
				s.ch <- stream.Msg()
			}
			s.done <- stream.Err()
		}()
		t.Cleanup(cancel)
		tb.s, tb.end = s, cancel
	}
}

// TestPresenceConvergesUnderChurn has 100 users with two tabs each open and
// close them at random, all at once, on every transport, in several rounds.
// After each round, once the server has seen every change, the view of an
// observer, and of every open tab that takes presence, is ListPresence.
func TestPresenceConvergesUnderChurn(t *testing.T) {
	srv := testutil.Start(t, quickPresence)
	const users, tabsPerUser, rounds = 100, 2, 5
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	protocols := []string{"websocket"}
	for _, p := range testutil.Protocols {
		protocols = append(protocols, string(p))
	}

	observer := srv.Register(t, client.ConnectJSON, "observer")
	var tabs []*tab
	for i := range users {
		name := fmt.Sprintf("user %03d", i)
		u := srv.Register(t, testutil.Protocols[i%len(testutil.Protocols)], name)
		for range tabsPerUser {
			n := len(tabs)
			tabs = append(tabs, &tab{user: u, name: name, protocol: protocols[n%len(protocols)], watch: n%7 == 0})
		}
	}
	obs := subscribe(t, srv, client.ConnectJSON, observer.Token, &foxholev1.SubscribeRequest{})
	seen := &view{}

	for round := range rounds {
		var wg sync.WaitGroup
		for _, tb := range tabs {
			if rng.IntN(2) == 0 {
				wg.Go(func() { tb.toggle(t, srv) })
			}
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		want := map[string]string{observer.ID: "observer"}
		for _, tb := range tabs {
			if tb.s != nil {
				want[tb.user.ID] = tb.name
			}
		}
		waitListed(t, srv, observer.Token, want)
		obs.presenceUntil(seen, want)
		watching := 0
		for _, tb := range tabs {
			if tb.s != nil && tb.watch {
				tb.s.presenceUntil(tb.v, want)
				watching++
			}
		}
		t.Logf("round %d: %d users online, %d tabs watching presence agree", round, len(want), watching)
	}
}

// TestNewSubscriberStartsWithSnapshot opens sessions on every transport
// while others are online: the first presence event of each is a snapshot
// equal to ListPresence, after the replay of stored events.
func TestNewSubscriberStartsWithSnapshot(t *testing.T) {
	srv := testutil.Start(t, quickPresence)
	p := client.ConnectJSON
	ada, bob, cy := srv.Register(t, p, "ada"), srv.Register(t, p, "bob"), srv.Register(t, p, "cy")
	subscribe(t, srv, p, ada.Token, &foxholev1.SubscribeRequest{SkipPresence: true})
	w, err := dialWS(t, srv, bob.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	waitListed(t, srv, ada.Token, map[string]string{ada.ID: "ada", bob.ID: "bob"})
	sent := send(t, srv, p, ada.Token, "before cy came", "")

	wantSnapshot := func(name string, ev *foxholev1.Event) {
		t.Helper()
		pe := ev.GetPresence()
		if !pe.GetSnapshot() {
			t.Fatalf("%s: first presence event %v, want a snapshot", name, ev)
		}
		got, want := byID(pe.GetJoined()), byID(listPresence(t, srv, ada.Token))
		if !maps.Equal(got, want) || len(pe.GetLeft()) != 0 {
			t.Errorf("%s: snapshot %v; ListPresence lists %v", name, pe, want)
		}
	}
	for _, p := range testutil.Protocols {
		s := subscribe(t, srv, p, cy.Token, &foxholev1.SubscribeRequest{})
		wantSnapshot(string(p), s.next())
	}
	// Resuming: the stored events come first, then the snapshot.
	from := sent.GetId() - 1
	s := subscribe(t, srv, p, cy.Token, &foxholev1.SubscribeRequest{AfterEventId: &from})
	if ev := s.next(); ev.GetId() != sent.GetId() {
		t.Fatalf("resumed stream began with %v, want the stored message", ev)
	}
	wantSnapshot("resumed", s.next())

	// A WebSocket frame carries it as JSON.
	cw, err := dialWS(t, srv, cy.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	cw.start()
	wantSnapshot("websocket", cw.next())
	var frame struct {
		Event struct {
			Presence struct {
				Joined   []map[string]any `json:"joined"`
				Snapshot bool             `json:"snapshot"`
			} `json:"presence"`
		} `json:"event"`
	}
	if err := json.Unmarshal(<-cw.raw, &frame); err != nil || !frame.Event.Presence.Snapshot || len(frame.Event.Presence.Joined) != 3 {
		t.Errorf("WebSocket frame: %+v, %v; want a snapshot of three users", frame, err)
	}
}
