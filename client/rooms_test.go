package client_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// patience bounds every wait, so that a broken test fails instead of
// hanging; no test asserts how long anything takes.
const patience = 60 * time.Second

// newUser registers a user on a client of its own.
func newUser(t *testing.T, p client.Protocol, name string) (*client.Client, string) {
	t.Helper()
	c := client.New(serverURL, client.WithProtocol(p))
	reg, err := c.Register(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg.GetUser().GetId()
}

// events subscribes c with o (presence left out) and returns what arrives.
func events(t *testing.T, c *client.Client, o client.SubscribeOptions) <-chan *foxholev1.Event {
	t.Helper()
	ch := make(chan *foxholev1.Event, 256)
	o.SkipPresence = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = c.Subscribe(ctx, o, func(ev *foxholev1.Event) error {
			select {
			case ch <- ev:
			case <-ctx.Done():
			}
			return nil
		})
	}()
	return ch
}

// next returns the next event on ch that ok accepts, skipping the others.
func next(t *testing.T, ch <-chan *foxholev1.Event, what string, ok func(*foxholev1.Event) bool) *foxholev1.Event {
	t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case ev := <-ch:
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s", what)
		}
	}
}

// until collects the events on ch up to and including the chat message
// with content text.
func until(t *testing.T, ch <-chan *foxholev1.Event, text string) []*foxholev1.Event {
	t.Helper()
	var seen []*foxholev1.Event
	deadline := time.After(patience)
	for {
		select {
		case ev := <-ch:
			seen = append(seen, ev)
			if ev.GetChatMessage().GetContent() == text {
				return seen
			}
		case <-deadline:
			t.Fatalf("no message %q; got %v", text, seen)
		}
	}
}

func roomEvent(roomID string, kind foxholev1.RoomEventKind, userID string) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool {
		re := ev.GetRoomEvent()
		return re.GetRoomId() == roomID && re.GetKind() == kind && re.GetUser().GetId() == userID
	}
}

func chatIn(roomID, text string) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool {
		m := ev.GetChatMessage()
		return m.GetRoomId() == roomID && m.GetContent() == text
	}
}

// waitLive waits until c's stream, whose events arrive on ch, hears live
// events: a lobby message sent now arrives.
func waitLive(t *testing.T, sender *client.Client, ch <-chan *foxholev1.Event) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for i := 0; ; i++ {
		text := fmt.Sprintf("are you there %d", i)
		if _, err := sender.Send(t.Context(), client.Lobby, text); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-ch:
			if strings.HasPrefix(ev.GetChatMessage().GetContent(), "are you there") {
				return
			}
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream never went live")
		}
	}
}

func wantCode(t *testing.T, what string, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Errorf("%s: %v, want %v", what, err, code)
	}
}

// TestRoomLifecycle walks a private room through every membership call on
// every protocol: invisible to outsiders, an invitation the invitee hears
// of, a join, messages, then a ban after which the banned user hears the
// ban and nothing more, and can neither read nor write the room.
func TestRoomLifecycle(t *testing.T) {
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			ctx := t.Context()
			ada, adaID := newUser(t, p, "ada")
			bob, bobID := newUser(t, p, "bob")

			den, err := ada.CreateRoom(ctx, "den", client.RoomOptions{Topic: "quiet"})
			if err != nil {
				t.Fatal(err)
			}
			if den.GetRole() != foxholev1.RoomRole_ROOM_ROLE_OWNER || den.GetVisibility() != foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE || den.GetTopic() != "quiet" || den.GetMemberCount() != 1 {
				t.Fatalf("created %v: want a private room with ada its owner", den)
			}
			_, err = bob.GetRoom(ctx, den.GetId())
			wantCode(t, "an outsider's GetRoom", err, connect.CodeNotFound)
			_, err = bob.JoinRoom(ctx, den.GetId())
			wantCode(t, "an outsider's JoinRoom", err, connect.CodeNotFound)

			bobEvents := events(t, bob, client.SubscribeOptions{})
			waitLive(t, ada, bobEvents)
			if err := ada.InviteMember(ctx, den.GetId(), bobID); err != nil {
				t.Fatal(err)
			}
			next(t, bobEvents, "invitation", roomEvent(den.GetId(), foxholev1.RoomEventKind_ROOM_EVENT_KIND_INVITED, bobID))
			if r, err := bob.GetRoom(ctx, den.GetId()); err != nil || !r.GetInvited() {
				t.Fatalf("invitee's GetRoom: %v, %v: want the room, invited", r, err)
			}
			joined, err := bob.JoinRoom(ctx, den.GetId())
			if err != nil {
				t.Fatal(err)
			}
			if joined.GetRole() != foxholev1.RoomRole_ROOM_ROLE_MEMBER || joined.GetMemberCount() != 2 {
				t.Fatalf("joined %v: want bob a member of two", joined)
			}
			next(t, bobEvents, "join", roomEvent(den.GetId(), foxholev1.RoomEventKind_ROOM_EVENT_KIND_JOINED, bobID))

			if _, err := ada.Send(ctx, client.InRoom(den.GetId()), "welcome"); err != nil {
				t.Fatal(err)
			}
			m := next(t, bobEvents, "room message", chatIn(den.GetId(), "welcome")).GetChatMessage()
			if m.GetSender().GetId() != adaID {
				t.Errorf("room message %v: want it from ada", m)
			}

			members, err := ada.ListMembers(ctx, den.GetId())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range members {
				got = append(got, m.GetUser().GetId()+"/"+m.GetRole().String())
			}
			if want := []string{adaID + "/ROOM_ROLE_OWNER", bobID + "/ROOM_ROLE_MEMBER"}; !slices.Equal(got, want) {
				t.Errorf("members %v, want %v", got, want)
			}
			rooms, err := bob.JoinedRooms(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rooms) != 1 || rooms[0].GetId() != den.GetId() || rooms[0].GetUnreadCount() != 1 {
				t.Errorf("bob's rooms %v: want den with one unread message", rooms)
			}
			// The presence view follows sessions within a presence
			// interval: poll.
			for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
				online, err := ada.ListRoomOnline(ctx, den.GetId())
				if err != nil && connect.CodeOf(err) != connect.CodeResourceExhausted {
					t.Fatal(err)
				}
				if slices.ContainsFunc(online, func(u *foxholev1.UserRef) bool { return u.GetId() == bobID }) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("den's members online %v: want bob, who subscribes", online)
				}
			}
			_, err = ada.ListRoomOnline(ctx, "no-such-room")
			wantCode(t, "ListRoomOnline of an unknown room", err, connect.CodeNotFound)

			// The ban reaches bob, then nothing more of the room does:
			// the lobby message sent after the room's reaches him alone.
			if err := ada.RemoveMember(ctx, den.GetId(), bobID, true); err != nil {
				t.Fatal(err)
			}
			ban := next(t, bobEvents, "ban", roomEvent(den.GetId(), foxholev1.RoomEventKind_ROOM_EVENT_KIND_BANNED, bobID))
			if _, err := ada.Send(ctx, client.InRoom(den.GetId()), "after the ban"); err != nil {
				t.Fatal(err)
			}
			if _, err := ada.Send(ctx, client.Lobby, "lobby after the ban"); err != nil {
				t.Fatal(err)
			}
			for _, ev := range until(t, bobEvents, "lobby after the ban") {
				if ev.GetChatMessage().GetRoomId() != "" || ev.GetRoomEvent() != nil {
					t.Errorf("the banned user received %v", ev)
				}
			}
			_, err = bob.ListMessages(ctx, client.InRoom(den.GetId()), client.Page{})
			wantCode(t, "the banned user's ListMessages", err, connect.CodeNotFound)
			_, err = bob.Send(ctx, client.InRoom(den.GetId()), "let me in")
			wantCode(t, "the banned user's Send", err, connect.CodeNotFound)
			_, err = bob.JoinRoom(ctx, den.GetId())
			wantCode(t, "the banned user's JoinRoom", err, connect.CodeNotFound)

			// Nor does a replay from the start hold anything of the room
			// after the ban.
			zero := int64(0)
			replay := events(t, bob, client.SubscribeOptions{AfterEventID: &zero})
			for _, ev := range until(t, replay, "lobby after the ban") {
				inDen := ev.GetRoomEvent().GetRoomId() == den.GetId() || ev.GetChatMessage().GetRoomId() == den.GetId()
				if inDen && ev.GetId() > ban.GetId() {
					t.Errorf("replayed to the banned user: %v", ev)
				}
			}
		})
	}
}

// TestRoomAdministration covers the calls an owner makes: publish a room,
// find it in the directory, promote, unban, rename, mark read, delete.
func TestRoomAdministration(t *testing.T) {
	ctx := t.Context()
	ada, _ := newUser(t, client.Connect, "ada")
	bob, bobID := newUser(t, client.ConnectJSON, "bob")

	hall, err := ada.CreateRoom(ctx, "Great Hall of Administration", client.RoomOptions{Public: true})
	if err != nil {
		t.Fatal(err)
	}
	found, err := bob.PublicRooms(ctx, "hall OF admin")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].GetId() != hall.GetId() {
		t.Fatalf("directory for %q: %v, want the hall", "hall OF admin", found)
	}
	if _, err := bob.JoinRoom(ctx, hall.GetId()); err != nil {
		t.Fatal(err)
	}
	m, err := ada.UpdateMember(ctx, hall.GetId(), bobID, foxholev1.RoomRole_ROOM_ROLE_ADMIN)
	if err != nil || m.GetRole() != foxholev1.RoomRole_ROOM_ROLE_ADMIN {
		t.Fatalf("UpdateMember: %v, %v", m, err)
	}
	name := "Small Hall"
	if r, err := bob.UpdateRoom(ctx, hall.GetId(), client.RoomUpdate{Name: &name}); err != nil || r.GetName() != name {
		t.Fatalf("UpdateRoom by an admin: %v, %v", r, err)
	}

	if err := ada.RemoveMember(ctx, hall.GetId(), bobID, true); err != nil {
		t.Fatal(err)
	}
	_, err = bob.JoinRoom(ctx, hall.GetId())
	wantCode(t, "a banned user joining a public room", err, connect.CodePermissionDenied)
	if err := ada.UnbanMember(ctx, hall.GetId(), bobID); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(ctx, hall.GetId()); err != nil {
		t.Fatalf("join after the ban was lifted: %v", err)
	}

	sent, err := ada.Send(ctx, client.InRoom(hall.GetId()), "read me")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := bob.GetRoom(ctx, hall.GetId()); r.GetUnreadCount() != 1 {
		t.Errorf("unread before MarkRead: %v", r)
	}
	if err := bob.MarkRead(ctx, hall.GetId(), sent.GetId()); err != nil {
		t.Fatal(err)
	}
	if r, _ := bob.GetRoom(ctx, hall.GetId()); r.GetUnreadCount() != 0 || r.GetReadEventId() != sent.GetId() {
		t.Errorf("after MarkRead: %v", r)
	}

	if err := bob.LeaveRoom(ctx, hall.GetId()); err != nil {
		t.Fatal(err)
	}
	if err := ada.DeleteRoom(ctx, hall.GetId()); err != nil {
		t.Fatal(err)
	}
	_, err = ada.GetRoom(ctx, hall.GetId())
	wantCode(t, "GetRoom of a deleted room", err, connect.CodeNotFound)

	_, err = ada.Send(ctx, client.Conversation{RoomID: "r", PeerID: "p"}, "both")
	if err == nil || connect.CodeOf(err) != connect.CodeUnknown {
		t.Errorf("Send to a room and a peer at once: %v, want a local error", err)
	}
}

// TestHistoryPages pages a room's history both ways and walks it back
// with History, which yields every event once, newest first.
func TestHistoryPages(t *testing.T) {
	ctx := t.Context()
	ada, adaID := newUser(t, client.GRPC, "ada")
	room, err := ada.CreateRoom(ctx, "archive", client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range 7 {
		ev, err := ada.Send(ctx, client.InRoom(room.GetId()), fmt.Sprint("message ", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.GetId())
	}

	// The room's history starts with ada's JOINED event, then the seven
	// messages: eight events.
	var walked []int64
	for ev, err := range ada.History(ctx, client.InRoom(room.GetId()), client.Page{Size: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, ev.GetId())
		if len(walked) == 8 {
			if !roomEvent(room.GetId(), foxholev1.RoomEventKind_ROOM_EVENT_KIND_JOINED, adaID)(ev) {
				t.Errorf("the oldest event %v: want ada's JOINED", ev)
			}
		}
	}
	if len(walked) != 8 || !slices.IsSortedFunc(walked, func(a, b int64) int { return int(b - a) }) || walked[0] != ids[6] {
		t.Fatalf("History walked %v: want eight ids from %d down", walked, ids[6])
	}

	// Stop early: History fetches no more than the loop asks for.
	n := 0
	for range ada.History(ctx, client.InRoom(room.GetId()), client.Page{Size: 2}) {
		if n++; n == 3 {
			break
		}
	}

	latest, err := ada.ListMessages(ctx, client.InRoom(room.GetId()), client.Page{Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(latest); !slices.Equal(got, ids[4:]) || !latest.GetHasMore() {
		t.Fatalf("latest page %v (more: %v), want %v and more", got, latest.GetHasMore(), ids[4:])
	}
	older, err := ada.ListMessages(ctx, client.InRoom(room.GetId()), client.Page{BeforeEventID: &ids[4], Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(older); !slices.Equal(got, ids[1:4]) || !older.GetHasMore() {
		t.Fatalf("page before %d: %v, want %v and more", ids[4], got, ids[1:4])
	}
	newer, err := ada.ListMessages(ctx, client.InRoom(room.GetId()), client.Page{AfterEventID: &ids[3], Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(newer); !slices.Equal(got, ids[4:]) || newer.GetHasMore() {
		t.Fatalf("page after %d: %v (more: %v), want %v and no more", ids[3], got, newer.GetHasMore(), ids[4:])
	}

	// A direct conversation pages the same way.
	bob, bobID := newUser(t, client.GRPC, "bob")
	if _, err := ada.Send(ctx, client.Direct(bobID), "just for you"); err != nil {
		t.Fatal(err)
	}
	dm, err := bob.ListMessages(ctx, client.Direct(adaID), client.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dm.GetEvents()) != 1 || dm.GetEvents()[0].GetChatMessage().GetContent() != "just for you" || dm.GetHasMore() {
		t.Errorf("bob's history with ada: %v", dm)
	}
}

func eventIDs(res *foxholev1.ListMessagesResponse) []int64 {
	var ids []int64
	for _, ev := range res.GetEvents() {
		ids = append(ids, ev.GetId())
	}
	return ids
}

// TestSubscribeNarrowsRooms subscribes to one of two rooms: the other's
// messages stay away, the lobby's come.
func TestSubscribeNarrowsRooms(t *testing.T) {
	ctx := t.Context()
	ada, _ := newUser(t, client.Connect, "ada")
	one, err := ada.CreateRoom(ctx, "one", client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := ada.CreateRoom(ctx, "two", client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := events(t, ada, client.SubscribeOptions{RoomIDs: []string{one.GetId()}})
	waitLive(t, ada, ch)
	for _, s := range []struct {
		to   client.Conversation
		text string
	}{{client.InRoom(two.GetId()), "in two"}, {client.InRoom(one.GetId()), "in one"}, {client.Lobby, "in the lobby"}} {
		if _, err := ada.Send(ctx, s.to, s.text); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, ev := range until(t, ch, "in the lobby") {
		if c := ev.GetChatMessage().GetContent(); c != "" && !strings.HasPrefix(c, "are you there") {
			got = append(got, c)
		}
	}
	if want := []string{"in one", "in the lobby"}; !slices.Equal(got, want) {
		t.Errorf("narrowed to room one, received %v, want %v", got, want)
	}
}

// TestHistoryWaitsOutTheRateLimit walks a history one event a page on a
// server that allows two calls in a burst: History waits as the server
// asks, and yields every event.
func TestHistoryWaitsOutTheRateLimit(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.AuthRate, c.ListRate, c.ListBurst = 0, 5, 2 })
	ctx := t.Context()
	ada := client.New(srv.URL)
	if _, err := ada.Register(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	room, err := ada.CreateRoom(ctx, "busy", client.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := ada.Send(ctx, client.InRoom(room.GetId()), fmt.Sprint("message ", i)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, err := range ada.History(ctx, client.InRoom(room.GetId()), client.Page{Size: 1}) {
		if err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		n++
	}
	if n != 6 {
		t.Errorf("walked %d events, want 6: ada's joining and five messages", n)
	}
	// A single page is not retried: the refusal is the caller's to handle.
	var limited bool
	for range 5 {
		_, err := ada.ListMessages(ctx, client.InRoom(room.GetId()), client.Page{})
		limited = limited || connect.CodeOf(err) == connect.CodeResourceExhausted
	}
	if !limited {
		t.Error("five pages at once were never refused: the limit the test relies on is not in force")
	}
}
