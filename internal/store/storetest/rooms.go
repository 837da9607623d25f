package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// newRoom creates a room owned by owner, with the owner's JOINED event.
// contextT is the context a room change runs in.
type contextT = context.Context

func newRoom(t *testing.T, s *store.Store, id, name string, vis int32, owner string) *store.Room {
	t.Helper()
	r := &store.Room{ID: id, Name: name, NameFolded: store.FoldName(name), Visibility: vis, CreatedAt: 1, UpdatedAt: 1}
	err := s.CreateRoom(ctx, r, func(ctx2 contextT, tx *store.RoomTx) error {
		if err := tx.Put(ctx2, &store.Member{RoomID: id, UserID: owner, State: store.Joined, Role: store.RoleOwner, JoinedAt: 1}, 0); err != nil {
			return err
		}
		tx.Emit(roomEvent(id, owner, owner))
		return nil
	})
	if err != nil {
		t.Fatalf("CreateRoom(%s): %v", id, err)
	}
	return r
}

// roomEvent is a stored room event by actor naming user.
func roomEvent(room, actor, user string) *store.Event {
	return &store.Event{SenderID: actor, RecipientID: &user, RoomID: &room, Conv: store.RoomConversation(room),
		Kind: store.KindRoom, Body: []byte("room event"), CreatedAt: 1}
}

// setMember changes user's standing in the room, as a room change does,
// recording a room event.
func setMember(t *testing.T, s *store.Store, room, user string, state store.MemberState, role int32, at int64) {
	t.Helper()
	err := s.ChangeRoom(ctx, room, func(ctx2 contextT, tx *store.RoomTx) error {
		m, err := tx.Member(ctx2, user)
		if err != nil {
			return err
		}
		old := m.State
		if state == 0 {
			err = tx.Drop(ctx2, user, old)
		} else {
			m.State, m.Role, m.JoinedAt = state, role, at
			err = tx.Put(ctx2, m, old)
		}
		if err != nil {
			return err
		}
		tx.Emit(roomEvent(room, user, user))
		return nil
	})
	if err != nil {
		t.Fatalf("set %s in %s: %v", user, room, err)
	}
}

func roomMessage(t *testing.T, s *store.Store, room, sender string) *store.Event {
	t.Helper()
	e := &store.Event{SenderID: sender, RoomID: &room, Conv: store.RoomConversation(room), Kind: store.KindChat, Body: []byte("msg"), CreatedAt: 1}
	if err := s.AddRoomMessage(ctx, e); err != nil {
		t.Fatalf("AddRoomMessage(%s, %s): %v", room, sender, err)
	}
	return e
}

func testRooms(t *testing.T, s *store.Store) {
	for _, id := range []string{"owner", "alice", "bob", "eve"} {
		mustCreateUser(t, s, id)
	}
	newRoom(t, s, "r1", "Team Chat", store.Private, "owner")
	newRoom(t, s, "r2", "Public Square", store.Public, "owner")
	newRoom(t, s, "r3", "100% fun_stuff", store.Public, "owner")

	// Visibility: a private room exists only for members and invitees.
	_, err := s.RoomFor(ctx, "r1", "eve")
	wantNotFound(t, "RoomFor(private, outsider)", err)
	_, err = s.RoomFor(ctx, "nope", "owner")
	wantNotFound(t, "RoomFor(unknown)", err)
	if v, err := s.RoomFor(ctx, "r2", "eve"); err != nil || v.State != 0 || v.MemberCount != 1 {
		t.Errorf("RoomFor(public, outsider) = %+v, %v", v, err)
	}
	setMember(t, s, "r1", "alice", store.Invited, 0, 2)
	if v, err := s.RoomFor(ctx, "r1", "alice"); err != nil || v.State != store.Invited || v.MemberCount != 1 {
		t.Errorf("RoomFor(private, invitee) = %+v, %v", v, err)
	}
	setMember(t, s, "r1", "alice", store.Joined, store.RoleMember, 3)
	setMember(t, s, "r1", "bob", store.Joined, store.RoleAdmin, 4)
	if v, err := s.RoomFor(ctx, "r1", "alice"); err != nil || v.State != store.Joined || v.MemberCount != 3 {
		t.Errorf("RoomFor(member) = %+v, %v", v, err)
	}

	// Unread: messages by others after the marker.
	roomMessage(t, s, "r1", "owner")
	last := roomMessage(t, s, "r1", "bob")
	roomMessage(t, s, "r1", "alice")
	if v, _ := s.RoomFor(ctx, "r1", "alice"); v.Unread != 2 || v.LastEventID == 0 {
		t.Errorf("alice's unread = %d (last event %d), want 2", v.Unread, v.LastEventID)
	}
	if err := s.MarkRead(ctx, "r1", "alice", last.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRead(ctx, "r1", "alice", 1); err != nil { // never back
		t.Fatal(err)
	}
	if v, _ := s.RoomFor(ctx, "r1", "alice"); v.Unread != 0 || v.ReadThrough != last.ID {
		t.Errorf("after MarkRead: unread %d, marker %d; want 0, %d", v.Unread, v.ReadThrough, last.ID)
	}
	wantNotFound(t, "MarkRead(private, outsider)", s.MarkRead(ctx, "r1", "eve", 5))
	if err := s.MarkRead(ctx, "r2", "eve", 5); !errors.Is(err, errs.ErrPermissionDenied) {
		t.Errorf("MarkRead(public, outsider) = %v, want ErrPermissionDenied", err)
	}

	// Joined rooms, latest activity first, paged.
	setMember(t, s, "r2", "alice", store.Joined, store.RoleMember, 5)
	vs, err := s.JoinedRooms(ctx, "alice", nil, 1)
	if err != nil || len(vs) != 1 || vs[0].ID != "r2" {
		t.Fatalf("JoinedRooms page 1 = %+v, %v; want r2 (latest activity)", vs, err)
	}
	vs, err = s.JoinedRooms(ctx, "alice", &store.RoomCursor{LastEventID: vs[0].LastEventID, ID: vs[0].ID}, 10)
	if err != nil || len(vs) != 1 || vs[0].ID != "r1" {
		t.Fatalf("JoinedRooms page 2 = %+v, %v; want r1", vs, err)
	}

	// The directory: public rooms by name, searched without case, with
	// LIKE's wildcards taken literally.
	dir := func(query string, after *store.RoomCursor, n int) []string {
		t.Helper()
		vs, err := s.DirectoryRooms(ctx, "eve", query, after, n)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		return ids
	}
	if got := dir("", nil, 10); !slices.Equal(got, []string{"r3", "r2"}) {
		t.Errorf("directory = %v, want [r3 r2] (by name)", got)
	}
	if got := dir("SQUARE", nil, 10); !slices.Equal(got, []string{"r2"}) {
		t.Errorf("directory(SQUARE) = %v", got)
	}
	for _, q := range []string{"%", "_", "0%"} {
		if got := dir(q, nil, 10); !slices.Equal(got, []string{"r3"}) {
			t.Errorf("directory(%q) = %v, want [r3]", q, got)
		}
	}
	if got := dir("team", nil, 10); len(got) != 0 {
		t.Errorf("the directory lists a private room: %v", got)
	}
	if got := dir("", &store.RoomCursor{Name: store.FoldName("100% fun_stuff"), ID: "r3"}, 10); !slices.Equal(got, []string{"r2"}) {
		t.Errorf("directory page 2 = %v", got)
	}

	// Members, in order of joining, paged; RoomsOf.
	ms, err := s.Members(ctx, "r1", nil, 2)
	if err != nil || len(ms) != 2 || ms[0].UserID != "owner" || ms[1].UserID != "alice" || ms[0].ScreenName != "name of owner" {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	ms, err = s.Members(ctx, "r1", &store.MemberCursor{JoinedAt: ms[1].JoinedAt, UserID: ms[1].UserID}, 2)
	if err != nil || len(ms) != 1 || ms[0].UserID != "bob" {
		t.Fatalf("Members page 2 = %+v, %v", ms, err)
	}
	if ids, err := s.RoomsOf(ctx, "alice"); err != nil || !slices.Equal(slices.Sorted(slices.Values(ids)), []string{"r1", "r2"}) {
		t.Errorf("RoomsOf(alice) = %v, %v", ids, err)
	}
	if ids, err := s.MemberIDs(ctx, "r1", "alice", 10); err != nil || !slices.Equal(ids, []string{"bob", "owner"}) {
		t.Errorf("MemberIDs after alice = %v, %v", ids, err)
	}

	// Succession, counting, banning.
	err = s.ChangeRoom(ctx, "r1", func(ctx2 contextT, tx *store.RoomTx) error {
		if n, err := tx.Owners(ctx2); err != nil || n != 1 {
			return fmt.Errorf("owners = %d, %v", n, err)
		}
		if m, err := tx.Successor(ctx2); err != nil || m == nil || m.UserID != "bob" {
			return fmt.Errorf("successor = %+v, %v; want bob, the admin", m, err)
		}
		if n, err := tx.RoomsJoined(ctx2, "alice"); err != nil || n != 2 {
			return fmt.Errorf("rooms joined = %d, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	setMember(t, s, "r1", "alice", store.Banned, 0, 6)
	if v, err := s.RoomFor(ctx, "r1", "owner"); err != nil || v.MemberCount != 2 {
		t.Errorf("member count after a ban = %+v, %v; want 2", v, err)
	}
	_, err = s.RoomFor(ctx, "r1", "alice")
	wantNotFound(t, "RoomFor(private, banned)", err)

	// A failed change writes nothing.
	boom := errors.New("boom")
	err = s.ChangeRoom(ctx, "r1", func(ctx2 contextT, tx *store.RoomTx) error {
		if err := tx.Drop(ctx2, "bob", store.Joined); err != nil {
			return err
		}
		tx.Emit(roomEvent("r1", "bob", "bob"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("ChangeRoom = %v, want boom", err)
	}
	if v, _ := s.RoomFor(ctx, "r1", "bob"); v.State != store.Joined || v.MemberCount != 2 {
		t.Errorf("a failed change left bob %+v", v)
	}

	// Deleting a room takes its members and history.
	err = s.ChangeRoom(ctx, "r1", func(ctx2 contextT, tx *store.RoomTx) error { return tx.Delete(ctx2) })
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.RoomFor(ctx, "r1", "owner")
	wantNotFound(t, "RoomFor(deleted)", err)
	if evs, err := s.History(ctx, store.RoomConversation("r1"), -1, -1, 100); err != nil || len(evs) != 0 {
		t.Errorf("a deleted room's history = %d events, %v", len(evs), err)
	}
	wantNotFound(t, "ChangeRoom(deleted)", s.ChangeRoom(ctx, "r1", func(contextT, *store.RoomTx) error { return nil }))
}

// testRoomReplay checks that a user's replay holds the events of the rooms
// it is a member of now, and those naming it, and no other room's.
func testRoomReplay(t *testing.T, s *store.Store) {
	for _, id := range []string{"owner", "alice", "bob"} {
		mustCreateUser(t, s, id)
	}
	newRoom(t, s, "r1", "one", store.Private, "owner") // 1
	newRoom(t, s, "r2", "two", store.Private, "owner") // 2
	setMember(t, s, "r1", "alice", store.Joined, 3, 2) // 3
	setMember(t, s, "r2", "alice", store.Joined, 3, 2) // 4
	m1 := roomMessage(t, s, "r1", "owner")             // 5
	m2 := roomMessage(t, s, "r2", "owner")             // 6
	lobby := event("owner", nil, "lobby")              //
	if err := s.AddEvent(ctx, lobby); err != nil {     // 7
		t.Fatal(err)
	}
	replay := func(user string, rooms []string) []int64 {
		t.Helper()
		evs, err := s.EventsAfter(ctx, user, 0, 100, rooms)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids
	}
	if got := replay("alice", nil); !slices.Equal(got, []int64{1, 2, 3, 4, m1.ID, m2.ID, lobby.ID}) {
		t.Errorf("alice's replay = %v", got)
	}
	if got := replay("alice", []string{"r2"}); !slices.Equal(got, []int64{2, 4, m2.ID, lobby.ID}) {
		t.Errorf("alice's replay narrowed to r2 = %v", got)
	}
	if got := replay("bob", nil); !slices.Equal(got, []int64{lobby.ID}) {
		t.Errorf("bob's replay = %v, want the lobby only", got)
	}
	// Removed from r1: its events are gone from her replay, but for those
	// naming her (her joining, her removal).
	setMember(t, s, "r1", "alice", 0, 0, 0) // 8
	if got := replay("alice", nil); !slices.Equal(got, []int64{2, 3, 4, m2.ID, lobby.ID, 8}) {
		t.Errorf("alice's replay after removal = %v", got)
	}
}

func testHistory(t *testing.T, s *store.Store) {
	mustCreateUser(t, s, "owner")
	newRoom(t, s, "r1", "one", store.Public, "owner") // id 1
	var ids []int64
	for i := range 25 {
		var e *store.Event
		if i%2 == 0 {
			e = roomMessage(t, s, "r1", "owner")
		} else {
			e = event("owner", nil, "lobby") // interleaved: other conversations
			if err := s.AddEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ids = append(ids, e.ID)
	}
	all := append([]int64{1}, ids...) // the room's 14 events
	page := func(before, after int64, n int) []int64 {
		t.Helper()
		evs, err := s.History(ctx, store.RoomConversation("r1"), before, after, n)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range evs {
			got = append(got, e.ID)
		}
		return got
	}
	if got := page(-1, -1, 5); !slices.Equal(got, reversed(all[len(all)-5:])) {
		t.Errorf("latest page = %v, want %v (newest first)", got, reversed(all[len(all)-5:]))
	}
	if got := page(all[5], -1, 3); !slices.Equal(got, reversed(all[2:5])) {
		t.Errorf("page before %d = %v", all[5], got)
	}
	if got := page(-1, all[2], 3); !slices.Equal(got, all[3:6]) {
		t.Errorf("page after %d = %v", all[2], got)
	}
	if got := page(all[0], -1, 3); len(got) != 0 {
		t.Errorf("page before the first = %v", got)
	}
	if got := page(-1, all[len(all)-1], 3); len(got) != 0 {
		t.Errorf("page after the last = %v", got)
	}
	if evs, err := s.History(ctx, store.Lobby, -1, -1, 100); err != nil || len(evs) != 12 {
		t.Errorf("lobby history = %d events, %v; want 12", len(evs), err)
	}
}

func reversed(ids []int64) []int64 {
	r := slices.Clone(ids)
	slices.Reverse(r)
	return r
}

// testRetentionPerConversation checks that a busy conversation never
// pushes out another's history.
func testRetentionPerConversation(t *testing.T, s *store.Store) {
	b := "b"
	for range 10 {
		if err := s.AddEvent(ctx, event("a", nil, "lobby")); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := s.AddEvent(ctx, event("a", &b, "dm")); err != nil {
			t.Fatal(err)
		}
	}
	convs, err := s.Conversations(ctx, 0)
	if err != nil || !slices.Equal(slices.Sorted(slices.Values(convs)), []string{store.DirectConversation("a", "b"), store.Lobby}) {
		t.Fatalf("Conversations = %v, %v", convs, err)
	}
	if convs, err := s.Conversations(ctx, 10); err != nil || !slices.Equal(convs, []string{store.DirectConversation("a", "b")}) {
		t.Errorf("Conversations after 10 = %v, %v", convs, err)
	}
	n, err := s.PruneEvents(ctx, convs, 4, 0)
	if err != nil || n != 6 {
		t.Fatalf("PruneEvents kept 4 per conversation: removed %d, %v; want 6", n, err)
	}
	if evs, _ := s.History(ctx, store.Lobby, -1, -1, 100); len(evs) != 4 {
		t.Errorf("lobby kept %d, want 4", len(evs))
	}
	if evs, _ := s.History(ctx, store.DirectConversation("a", "b"), -1, -1, 100); len(evs) != 3 {
		t.Errorf("the direct conversation kept %d, want all 3", len(evs))
	}
	if pruned, _, err := s.EventBounds(ctx); err != nil || pruned != 6 {
		t.Errorf("pruned through %d, %v; want 6", pruned, err)
	}
}

func testRoomMessages(t *testing.T, s *store.Store) {
	for _, id := range []string{"owner", "eve"} {
		mustCreateUser(t, s, id)
	}
	newRoom(t, s, "priv", "one", store.Private, "owner")
	newRoom(t, s, "pub", "two", store.Public, "owner")
	for _, tc := range []struct {
		room string
		want error
	}{{"priv", errs.ErrNotFound}, {"pub", errs.ErrPermissionDenied}, {"none", errs.ErrNotFound}} {
		room := tc.room
		e := &store.Event{SenderID: "eve", RoomID: &room, Conv: store.RoomConversation(room), Kind: store.KindChat, Body: []byte("x"), CreatedAt: 1}
		if err := s.AddRoomMessage(ctx, e); !errors.Is(err, tc.want) || e.ID != 0 {
			t.Errorf("AddRoomMessage by an outsider to %s = %v (id %d), want %v", room, err, e.ID, tc.want)
		}
	}
	if evs, err := s.EventsBetween(ctx, 0, -1, 100); err != nil || len(evs) != 2 {
		t.Errorf("events stored = %d, %v; want the two rooms' creations only", len(evs), err)
	}
}
