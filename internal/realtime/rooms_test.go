package realtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// rooms returns u's RoomService client over p.
func rooms(srv *testutil.Server, p client.Protocol, u testutil.User) *client.Client {
	return srv.Clients(p, u.Token)
}

func createRoom(t *testing.T, c *client.Client, name string, vis foxholev1.RoomVisibility) *foxholev1.Room {
	t.Helper()
	res, err := c.Rooms.CreateRoom(context.Background(), connect.NewRequest(&foxholev1.CreateRoomRequest{Name: name, Visibility: vis}))
	if err != nil {
		t.Fatalf("CreateRoom(%s): %v", name, err)
	}
	return res.Msg.GetRoom()
}

// must returns a check of a call's result: must(c.Call(...))(t, "what")
// fails the test if the call failed, else returns its message.
func must[T any](res *connect.Response[T], err error) func(*testing.T, string) *T {
	return func(t *testing.T, what string) *T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res.Msg
	}
}

func wantCode(t *testing.T, what string, err error, code connect.Code) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Errorf("%s = %v, want %v", what, err, code)
	}
}

func sendRoom(t *testing.T, srv *testutil.Server, p client.Protocol, token, room, content string) *foxholev1.Event {
	t.Helper()
	res, err := srv.Clients(p, token).Realtime.SendMessage(context.Background(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: content, RoomId: room}))
	if err != nil {
		t.Fatalf("SendMessage(%s, %q): %v", room, content, err)
	}
	return res.Msg.GetEvent()
}

// TestRoomOnEveryTransport has members on every protocol, the WebSocket
// and curl talk in a private room, while an outsider hears nothing of it.
func TestRoomOnEveryTransport(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	owner := srv.Register(t, client.Connect, "owner")
	oc := rooms(srv, client.Connect, owner)
	room := createRoom(t, oc, "everywhere", foxholev1.RoomVisibility_ROOM_VISIBILITY_UNSPECIFIED)
	if room.GetVisibility() != foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE || room.GetRole() != foxholev1.RoomRole_ROOM_ROLE_OWNER || room.GetMemberCount() != 1 {
		t.Fatalf("created %v: want a private room owned by its creator", room)
	}
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	type member struct {
		name string
		sub  *sub
	}
	join := func(name string, p client.Protocol) testutil.User {
		u := srv.Register(t, p, name)
		must(oc.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: room.GetId(), UserId: u.ID})))(t, "invite")
		must(rooms(srv, p, u).Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()})))(t, "join")
		return u
	}
	var members []member
	for _, p := range testutil.Protocols {
		u := join(string(p), p)
		members = append(members, member{string(p), subscribe(t, srv, p, u.Token, quiet)})
	}
	wu := join("websocket", client.ConnectJSON)
	w, err := dialWS(t, srv, wu.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	members = append(members, member{"websocket", w.sub})
	outsider := srv.Register(t, client.Connect, "outsider")
	out := subscribe(t, srv, client.Connect, outsider.Token, quiet)

	sendRoom(t, srv, client.Connect, owner.Token, room.GetId(), "in the room")
	w.send(t, fmt.Sprintf(`{"content": "from the socket", "roomId": %q}`, room.GetId()))
	for _, m := range members {
		got := contents(m.sub.untilChat("from the socket"))
		if !slices.Contains(got, "in the room") {
			t.Errorf("%s heard %q, not the room's message", m.name, got)
		}
	}
	send(t, srv, client.Connect, owner.Token, "lobby marker", "")
	if got := contents(out.untilChat("lobby marker")); len(got) != 1 {
		t.Errorf("the outsider heard %q of a room it is not in", got)
	}
	// Nor can it read, send or see the room.
	oo := rooms(srv, client.Connect, outsider)
	_, err = oo.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{RoomId: room.GetId()}))
	wantCode(t, "ListMessages by an outsider", err, connect.CodeNotFound)
	_, err = oo.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{RoomId: room.GetId(), Content: "hi"}))
	wantCode(t, "SendMessage by an outsider", err, connect.CodeNotFound)
	_, err = oo.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: room.GetId()}))
	wantCode(t, "GetRoom by an outsider", err, connect.CodeNotFound)
	_, err = oo.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()}))
	wantCode(t, "JoinRoom uninvited", err, connect.CodeNotFound)
}

// TestRemovedMemberHearsNothingMore removes a subscribed member and checks
// that from its removal on none of the room's events reach it, live or
// replayed, while it still hears of its own removal.
func TestRemovedMemberHearsNothingMore(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	p := client.Connect
	owner, bob := srv.Register(t, p, "owner"), srv.Register(t, p, "bob")
	oc, bc := rooms(srv, p, owner), rooms(srv, p, bob)
	room := createRoom(t, oc, "shrinking", foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC)
	must(bc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()})))(t, "join")
	live := subscribe(t, srv, p, bob.Token, &foxholev1.SubscribeRequest{SkipPresence: true})
	w, err := dialWS(t, srv, bob.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	before := sendRoom(t, srv, p, owner.Token, room.GetId(), "before")
	for _, s := range []*sub{live, w.sub} {
		s.untilChat("before")
	}

	must(oc.Rooms.RemoveMember(ctx, connect.NewRequest(&foxholev1.RemoveMemberRequest{RoomId: room.GetId(), UserId: bob.ID, Ban: true})))(t, "remove")
	sendRoom(t, srv, p, owner.Token, room.GetId(), "after")
	send(t, srv, p, owner.Token, "lobby marker", "")
	for _, s := range []*sub{live, w.sub} {
		var banned bool
		for {
			ev := s.next()
			if re := ev.GetRoomEvent(); re.GetKind() == foxholev1.RoomEvent_KIND_BANNED && re.GetUser().GetId() == bob.ID {
				banned = true
			}
			if c := ev.GetChatMessage().GetContent(); c == "after" {
				t.Fatal("a banned member heard the room's next message")
			} else if c == "lobby marker" {
				break
			}
		}
		if !banned {
			t.Error("the banned member did not hear of its ban")
		}
	}
	// Replayed: nothing of the room after the ban, nor before it (it is
	// not a member), but the events naming it.
	replay := subscribe(t, srv, p, bob.Token, &foxholev1.SubscribeRequest{SkipPresence: true, AfterEventId: new(int64(0))})
	for _, ev := range replay.untilChatOrRoomEnd("lobby marker") {
		if ev.GetChatMessage().GetRoomId() != "" {
			t.Errorf("replay to a banned member carried room message %v", ev)
		}
		if re := ev.GetRoomEvent(); re != nil && re.GetUser().GetId() != bob.ID {
			t.Errorf("replay to a banned member carried room event %v", ev)
		}
	}
	_, err = bc.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{RoomId: room.GetId(), AfterEventId: new(before.GetId() - 1)}))
	wantCode(t, "ListMessages after a ban", err, connect.CodePermissionDenied)
	_, err = bc.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{RoomId: room.GetId(), Content: "let me in"}))
	wantCode(t, "SendMessage after a ban", err, connect.CodePermissionDenied)
	_, err = bc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()}))
	wantCode(t, "JoinRoom while banned", err, connect.CodePermissionDenied)
	// Unbanned, it may join again, and hears the room from then on.
	must(oc.Rooms.UnbanMember(ctx, connect.NewRequest(&foxholev1.UnbanMemberRequest{RoomId: room.GetId(), UserId: bob.ID})))(t, "unban")
	must(bc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()})))(t, "rejoin")
	sendRoom(t, srv, p, owner.Token, room.GetId(), "welcome back")
	live.untilChat("welcome back")
}

// untilChatOrRoomEnd collects every event up to the chat message marker.
func (s *sub) untilChatOrRoomEnd(marker string) []*foxholev1.Event {
	s.t.Helper()
	var evs []*foxholev1.Event
	for {
		ev := s.next()
		evs = append(evs, ev)
		if ev.GetChatMessage().GetContent() == marker {
			return evs
		}
	}
}

// TestSubscribeNarrowsToRooms checks roomIds on streams and WebSockets.
func TestSubscribeNarrowsToRooms(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	p := client.Connect
	u := srv.Register(t, p, "u")
	c := rooms(srv, p, u)
	a := createRoom(t, c, "a", foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE)
	b := createRoom(t, c, "b", foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE)
	narrow := subscribe(t, srv, p, u.Token, &foxholev1.SubscribeRequest{SkipPresence: true, RoomIds: []string{a.GetId()}})
	w, err := dialWS(t, srv, u.Token, "skipPresence=true&roomIds="+a.GetId())
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	sendRoom(t, srv, p, u.Token, b.GetId(), "in b")
	sendRoom(t, srv, p, u.Token, a.GetId(), "in a")
	send(t, srv, p, u.Token, "lobby", "")
	for _, s := range []*sub{narrow, w.sub} {
		if got := contents(s.untilChat("lobby")); !slices.Equal(got, []string{"in a", "lobby"}) {
			t.Errorf("narrowed to room a, heard %q", got)
		}
	}
	// A room the caller cannot see is refused, on both.
	other := srv.Register(t, p, "other")
	hidden := createRoom(t, rooms(srv, p, other), "hidden", foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE)
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{RoomIds: []string{hidden.GetId()}}))
	if err == nil {
		stream.Receive()
		err = stream.Err()
		stream.Close()
	}
	wantCode(t, "Subscribe narrowed to a hidden room", err, connect.CodeNotFound)
	if _, err := dialWS(t, srv, u.Token, "roomIds="+hidden.GetId()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("/ws narrowed to a hidden room: %v, want a 404", err)
	}
}

// TestRoomHistoryPages scrolls back through a room, a direct conversation
// and the lobby, in both directions.
func TestRoomHistoryPages(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) {
		c.ListRate, c.ListBurst, c.MessageRate, c.MessageBurst = 1000, 1000, 1000, 1000
	})
	ctx := context.Background()
	p := client.ConnectJSON
	u, peer := srv.Register(t, p, "u"), srv.Register(t, p, "peer")
	c := rooms(srv, p, u)
	room := createRoom(t, c, "history", foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE)
	var sent []int64
	for i := range 120 {
		sent = append(sent, sendRoom(t, srv, p, u.Token, room.GetId(), fmt.Sprint("m", i)).GetId())
		if i%10 == 0 { // other conversations between
			send(t, srv, p, u.Token, fmt.Sprint("lobby", i), "")
			send(t, srv, p, u.Token, fmt.Sprint("dm", i), peer.ID)
		}
	}
	list := func(req *foxholev1.ListMessagesRequest) ([]int64, bool) {
		t.Helper()
		res := must(c.Realtime.ListMessages(ctx, connect.NewRequest(req)))(t, "ListMessages")
		var ids []int64
		for _, ev := range res.GetEvents() {
			ids = append(ids, ev.GetId())
		}
		if !slices.IsSorted(ids) {
			t.Errorf("page %v is not in ascending id order", ids)
		}
		return ids, res.GetHasMore()
	}
	// Scroll back from the newest: every message once, then the room's
	// creation, then nothing more.
	var seen []int64
	var before *int64
	for {
		ids, more := list(&foxholev1.ListMessagesRequest{RoomId: room.GetId(), BeforeEventId: before, PageSize: 50})
		seen = append(ids, seen...)
		if !more {
			break
		}
		before = new(ids[0])
	}
	if len(seen) != 121 || !slices.Equal(seen[1:], sent) {
		t.Errorf("scrolling back read %d events, want the creation and 120 messages in order", len(seen))
	}
	if ids, more := list(&foxholev1.ListMessagesRequest{RoomId: room.GetId()}); len(ids) != 50 || !more || ids[49] != sent[119] {
		t.Errorf("latest page: %d events ending %v, more %v", len(ids), ids[len(ids)-1:], more)
	}
	if ids, more := list(&foxholev1.ListMessagesRequest{RoomId: room.GetId(), AfterEventId: new(sent[100]), PageSize: 10}); !slices.Equal(ids, sent[101:111]) || !more {
		t.Errorf("page after m100 = %v (more %v), want m101..m110", ids, more)
	}
	if ids, more := list(&foxholev1.ListMessagesRequest{RoomId: room.GetId(), AfterEventId: new(sent[110]), PageSize: 10}); len(ids) != 9 || more {
		t.Errorf("last page forward = %v (more %v), want 9 and no more", ids, more)
	}
	if ids, _ := list(&foxholev1.ListMessagesRequest{PeerId: peer.ID}); len(ids) != 12 {
		t.Errorf("direct conversation = %d messages, want 12", len(ids))
	}
	if ids, _ := list(&foxholev1.ListMessagesRequest{}); len(ids) != 12 {
		t.Errorf("lobby = %d messages, want 12", len(ids))
	}
	// The peer reads the same direct conversation.
	res := must(rooms(srv, p, peer).Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{PeerId: u.ID})))(t, "peer's ListMessages")
	if len(res.GetEvents()) != 12 {
		t.Errorf("the peer reads %d messages of the conversation, want 12", len(res.GetEvents()))
	}
	for _, tc := range []struct {
		req  *foxholev1.ListMessagesRequest
		code connect.Code
	}{
		{&foxholev1.ListMessagesRequest{RoomId: room.GetId(), PeerId: peer.ID}, connect.CodeInvalidArgument},
		{&foxholev1.ListMessagesRequest{BeforeEventId: new(int64(5)), AfterEventId: new(int64(1))}, connect.CodeInvalidArgument},
		{&foxholev1.ListMessagesRequest{PageSize: 201}, connect.CodeInvalidArgument},
		{&foxholev1.ListMessagesRequest{RoomId: "nope"}, connect.CodeNotFound},
		{&foxholev1.ListMessagesRequest{PeerId: "nope"}, connect.CodeNotFound},
	} {
		_, err := c.Realtime.ListMessages(ctx, connect.NewRequest(tc.req))
		wantCode(t, fmt.Sprintf("ListMessages(%v)", tc.req), err, tc.code)
	}
}

// TestRoomRolesAndLimits checks who may do what, the bounds, and that a
// room always has an owner while it has members.
func TestRoomRolesAndLimits(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxRoomsPerUser, c.MaxRoomMembers = 3, 3 })
	ctx := context.Background()
	p := client.Connect
	owner, admin, member, outsider := srv.Register(t, p, "owner"), srv.Register(t, p, "admin"), srv.Register(t, p, "member"), srv.Register(t, p, "outsider")
	oc, ac, mc := rooms(srv, p, owner), rooms(srv, p, admin), rooms(srv, p, member)
	room := createRoom(t, oc, "roles", foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC)
	id := room.GetId()
	for _, c := range []*client.Client{ac, mc} {
		must(c.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: id})))(t, "join")
	}
	must(oc.Rooms.UpdateMember(ctx, connect.NewRequest(&foxholev1.UpdateMemberRequest{RoomId: id, UserId: admin.ID, Role: foxholev1.RoomRole_ROOM_ROLE_ADMIN})))(t, "promote")

	// Full: a fourth member is refused.
	_, err := rooms(srv, p, outsider).Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: id}))
	wantCode(t, "JoinRoom past FOXHOLE_MAX_ROOM_MEMBERS", err, connect.CodeResourceExhausted)

	for _, tc := range []struct {
		what string
		err  error
		code connect.Code
	}{
		{"a member invites", call(mc.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: id, UserId: outsider.ID}))), connect.CodePermissionDenied},
		{"an admin removes the owner", call(ac.Rooms.RemoveMember(ctx, connect.NewRequest(&foxholev1.RemoveMemberRequest{RoomId: id, UserId: owner.ID}))), connect.CodePermissionDenied},
		{"an admin changes a role", call(ac.Rooms.UpdateMember(ctx, connect.NewRequest(&foxholev1.UpdateMemberRequest{RoomId: id, UserId: member.ID, Role: foxholev1.RoomRole_ROOM_ROLE_ADMIN}))), connect.CodePermissionDenied},
		{"an admin deletes the room", call(ac.Rooms.DeleteRoom(ctx, connect.NewRequest(&foxholev1.DeleteRoomRequest{RoomId: id}))), connect.CodePermissionDenied},
		{"a bad role", call(oc.Rooms.UpdateMember(ctx, connect.NewRequest(&foxholev1.UpdateMemberRequest{RoomId: id, UserId: member.ID, Role: 9}))), connect.CodeInvalidArgument},
		{"no role", call(oc.Rooms.UpdateMember(ctx, connect.NewRequest(&foxholev1.UpdateMemberRequest{RoomId: id, UserId: member.ID}))), connect.CodeInvalidArgument},
		{"the last owner steps down", call(oc.Rooms.UpdateMember(ctx, connect.NewRequest(&foxholev1.UpdateMemberRequest{RoomId: id, UserId: owner.ID, Role: foxholev1.RoomRole_ROOM_ROLE_MEMBER}))), connect.CodeFailedPrecondition},
		{"removing oneself", call(oc.Rooms.RemoveMember(ctx, connect.NewRequest(&foxholev1.RemoveMemberRequest{RoomId: id, UserId: owner.ID}))), connect.CodeInvalidArgument},
		{"inviting a member", call(oc.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: id, UserId: member.ID}))), connect.CodeAlreadyExists},
		{"inviting nobody", call(oc.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: id, UserId: "nobody"}))), connect.CodeNotFound},
		{"an unknown room", call(oc.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: "nope"}))), connect.CodeNotFound},
		{"a name of 101 characters", call(oc.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: strings.Repeat("n", 101)}))), connect.CodeInvalidArgument},
		// Past FOXHOLE_MAX_REQUEST_BYTES: refused before it is decoded.
		{"a name of 10,000 characters", call(oc.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: strings.Repeat("n", 10000)}))), connect.CodeResourceExhausted},
		{"an empty name", call(oc.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "  "}))), connect.CodeInvalidArgument},
		{"a name with a control character", call(oc.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "a\x00b"}))), connect.CodeInvalidArgument},
		{"a bad visibility", call(oc.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "v", Visibility: 7}))), connect.CodeInvalidArgument},
		{"roomId with recipientId", call(oc.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "x", RoomId: id, RecipientId: admin.ID}))), connect.CodeInvalidArgument},
		{"a bad page token", call(oc.Rooms.ListRooms(ctx, connect.NewRequest(&foxholev1.ListRoomsRequest{PageToken: "!!"}))), connect.CodeInvalidArgument},
	} {
		wantCode(t, tc.what, tc.err, tc.code)
	}
	// Nothing those refusals touched changed.
	r := must(oc.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: id})))(t, "GetRoom").GetRoom()
	if r.GetMemberCount() != 3 || r.GetName() != "roles" {
		t.Errorf("after the refusals the room is %v", r)
	}

	// Rooms per user: the owner has one, may create two more, not a third.
	createRoom(t, oc, "two", 0)
	createRoom(t, oc, "three", 0)
	_, err = oc.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "four"}))
	wantCode(t, "CreateRoom past FOXHOLE_MAX_ROOMS_PER_USER", err, connect.CodeResourceExhausted)

	// The last owner leaves: the admin takes over, and may now delete it.
	must(oc.Rooms.LeaveRoom(ctx, connect.NewRequest(&foxholev1.LeaveRoomRequest{RoomId: id})))(t, "owner leaves")
	r = must(ac.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: id})))(t, "GetRoom").GetRoom()
	if r.GetRole() != foxholev1.RoomRole_ROOM_ROLE_OWNER || r.GetMemberCount() != 2 {
		t.Errorf("after the owner left, the admin sees %v; want it owner of 2", r)
	}
	// The last member to leave deletes the room.
	must(mc.Rooms.LeaveRoom(ctx, connect.NewRequest(&foxholev1.LeaveRoomRequest{RoomId: id})))(t, "member leaves")
	must(ac.Rooms.LeaveRoom(ctx, connect.NewRequest(&foxholev1.LeaveRoomRequest{RoomId: id})))(t, "last leaves")
	_, err = ac.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: id}))
	wantCode(t, "GetRoom of a room its last member left", err, connect.CodeNotFound)
}

// call keeps a call's error alone.
func call[T any](_ *connect.Response[T], err error) error { return err }

// TestRoomDirectoryListsAndMarks checks ListRooms both ways, unread counts,
// ListMembers and ListPresence of a room.
func TestRoomDirectoryListsAndMarks(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	p := client.GRPC
	a, b := srv.Register(t, p, "a"), srv.Register(t, p, "b")
	ac, bc := rooms(srv, p, a), rooms(srv, p, b)
	pub := createRoom(t, ac, "Gardening Club", foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC)
	createRoom(t, ac, "Secret Garden", foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE)
	dir := must(bc.Rooms.ListRooms(ctx, connect.NewRequest(&foxholev1.ListRoomsRequest{Query: "GARDEN"})))(t, "directory")
	if len(dir.GetRooms()) != 1 || dir.GetRooms()[0].GetId() != pub.GetId() || dir.GetRooms()[0].GetRole() != 0 {
		t.Fatalf("directory search = %v, want the public room alone", dir.GetRooms())
	}
	must(bc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: pub.GetId()})))(t, "join")
	var last int64
	for i := range 3 {
		last = sendRoom(t, srv, p, a.Token, pub.GetId(), fmt.Sprint("m", i)).GetId()
	}
	sendRoom(t, srv, p, b.Token, pub.GetId(), "mine")
	joined := must(bc.Rooms.ListRooms(ctx, connect.NewRequest(&foxholev1.ListRoomsRequest{Joined: true})))(t, "joined")
	if len(joined.GetRooms()) != 1 || joined.GetRooms()[0].GetUnreadCount() != 3 {
		t.Fatalf("b's rooms = %v, want the one with 3 unread", joined.GetRooms())
	}
	must(bc.Rooms.MarkRead(ctx, connect.NewRequest(&foxholev1.MarkReadRequest{RoomId: pub.GetId(), EventId: last})))(t, "mark")
	r := must(bc.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: pub.GetId()})))(t, "get").GetRoom()
	if r.GetUnreadCount() != 0 || r.GetReadEventId() != last {
		t.Errorf("after MarkRead: %v", r)
	}
	ms := must(bc.Rooms.ListMembers(ctx, connect.NewRequest(&foxholev1.ListMembersRequest{RoomId: pub.GetId(), PageSize: 1})))(t, "members")
	if len(ms.GetMembers()) != 1 || ms.GetMembers()[0].GetUser().GetId() != a.ID || ms.GetNextPageToken() == "" {
		t.Fatalf("first page of members = %v", ms)
	}
	ms = must(bc.Rooms.ListMembers(ctx, connect.NewRequest(&foxholev1.ListMembersRequest{RoomId: pub.GetId(), PageToken: ms.GetNextPageToken()})))(t, "members")
	if len(ms.GetMembers()) != 1 || ms.GetMembers()[0].GetUser().GetId() != b.ID || ms.GetNextPageToken() != "" {
		t.Fatalf("second page of members = %v", ms)
	}
	// Online in the room: a has a stream open, b does not.
	s := subscribe(t, srv, p, a.Token, &foxholev1.SubscribeRequest{})
	for {
		if ev := s.next(); slices.ContainsFunc(ev.GetPresence().GetJoined(), func(u *foxholev1.UserRef) bool { return u.GetId() == a.ID }) {
			break
		}
	}
	online := must(bc.Realtime.ListPresence(ctx, connect.NewRequest(&foxholev1.ListPresenceRequest{RoomId: pub.GetId()})))(t, "room presence")
	if len(online.GetUsers()) != 1 || online.GetUsers()[0].GetId() != a.ID {
		t.Errorf("online in the room = %v, want a alone", online.GetUsers())
	}
	outsider := srv.Register(t, p, "c")
	_, err := rooms(srv, p, outsider).Realtime.ListPresence(ctx, connect.NewRequest(&foxholev1.ListPresenceRequest{RoomId: pub.GetId()}))
	wantCode(t, "ListPresence of a room by an outsider", err, connect.CodePermissionDenied)
}

// TestRoomRatesPerUser checks FOXHOLE_ROOM_CREATE_* and
// FOXHOLE_ROOM_INVITE_*: past the burst a user is refused, another is not.
func TestRoomRatesPerUser(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) {
		c.RoomCreateRate, c.RoomCreateBurst = 0.001, 2
		c.RoomInviteRate, c.RoomInviteBurst = 0.001, 1
	})
	ctx := context.Background()
	p := client.ConnectJSON
	a, b, c := srv.Register(t, p, "a"), srv.Register(t, p, "b"), srv.Register(t, p, "c")
	ac := rooms(srv, p, a)
	room := createRoom(t, ac, "one", 0)
	createRoom(t, ac, "two", 0)
	_, err := ac.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "three"}))
	wantCode(t, "a third room in the burst of two", err, connect.CodeResourceExhausted)
	if ce := new(connect.Error); errors.As(err, &ce) && ce.Meta().Get("Retry-After") == "" {
		t.Error("the refusal carries no Retry-After")
	}
	createRoom(t, rooms(srv, p, b), "b's", 0)
	must(ac.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: room.GetId(), UserId: b.ID})))(t, "invite")
	_, err = ac.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: room.GetId(), UserId: c.ID}))
	wantCode(t, "a second invitation in the burst of one", err, connect.CodeResourceExhausted)
	if v := must(ac.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: room.GetId()})))(t, "get"); v.GetRoom().GetMemberCount() != 1 {
		t.Errorf("refused calls changed the room: %v", v.GetRoom())
	}
}
