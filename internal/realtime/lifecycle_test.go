package realtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// until returns the events up to and including the first for which match
// is true.
func (s *sub) until(match func(*foxholev1.Event) bool) []*foxholev1.Event {
	s.t.Helper()
	var evs []*foxholev1.Event
	for {
		ev := s.next()
		evs = append(evs, ev)
		if match(ev) {
			return evs
		}
	}
}

func deletedEvent(id int64) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool { return ev.GetMessageDeleted().GetEventId() == id }
}

// TestEditAndDeleteReachEveryone edits and deletes a lobby message: live
// subscribers on every protocol and the WebSocket hear both, a resume
// returns the tombstone, and the text is nowhere in the database.
func TestEditAndDeleteReachEveryone(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	author := srv.Register(t, client.Connect, "author")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	var subs []*sub
	for _, p := range testutil.Protocols {
		u := srv.Register(t, p, string(p))
		subs = append(subs, subscribe(t, srv, p, u.Token, quiet))
	}
	wu := srv.Register(t, client.Connect, "ws")
	w, err := dialWS(t, srv, wu.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	subs = append(subs, w.sub)
	ac := srv.Clients(client.Connect, author.Token)

	const secret = "my password is hunter2"
	sent := send(t, srv, client.Connect, author.Token, secret, "")
	id := sent.GetId()
	res := must(ac.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: id, Content: "typo fixed, " + secret})))(t, "edit")
	if res.GetEvent().GetChatMessage().GetEditedAt() == nil || res.GetEvent().GetId() != id {
		t.Errorf("EditMessage answered %v", res.GetEvent())
	}
	must(ac.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: id})))(t, "delete")
	for i, s := range subs {
		evs := s.until(deletedEvent(id))
		var edited bool
		for _, ev := range evs {
			if e := ev.GetMessageEdited(); e.GetEventId() == id && e.GetContent() == "typo fixed, "+secret && e.GetEditedAt() != nil {
				edited = true
			}
		}
		if !edited {
			t.Errorf("subscriber %d heard no edit before the deletion: %v", i, evs)
		}
	}
	// A resume and the history both show the tombstone, with no text.
	replay := subscribe(t, srv, client.Connect, wu.Token, &foxholev1.SubscribeRequest{SkipPresence: true, AfterEventId: new(id - 1)})
	first := replay.next()
	if m := first.GetChatMessage(); first.GetId() != id || !m.GetDeleted() || m.GetContent() != "" || m.GetSender().GetId() != author.ID {
		t.Errorf("replay began with %v, want the tombstone of %d", first, id)
	}
	if got := replay.next(); got.GetMessageDeleted().GetEventId() != id {
		t.Errorf("replay then carried %v, want the deletion (the edit went with the text)", got)
	}
	hist := must(ac.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{})))(t, "history")
	for _, ev := range hist.GetEvents() {
		if ev.GetId() == id && !ev.GetChatMessage().GetDeleted() {
			t.Errorf("history shows %v, want a tombstone", ev)
		}
	}
	if found := srv.FindInDatabase(t, []byte("hunter2")); len(found) > 0 {
		t.Errorf("the deleted text is still in the database: %v", found)
	}
	// Deleted: no more edits, no second deletion.
	_, err = ac.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: id, Content: "back"}))
	wantCode(t, "editing a deleted message", err, connect.CodeFailedPrecondition)
	_, err = ac.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: id}))
	wantCode(t, "deleting a deleted message", err, connect.CodeNotFound)
}

// TestWhoMayEditAndDelete checks the rules: the sender edits, the sender
// or a room's owner or admin deletes, and others cannot even see a message
// they could not read.
func TestWhoMayEditAndDelete(t *testing.T) {
	srv := testutil.Start(t)
	ctx := context.Background()
	p := client.ConnectJSON
	owner, member, other := srv.Register(t, p, "owner"), srv.Register(t, p, "member"), srv.Register(t, p, "other")
	oc, mc, xc := srv.Clients(p, owner.Token), srv.Clients(p, member.Token), srv.Clients(p, other.Token)
	room := createRoom(t, oc, "moderated", foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE)
	must(oc.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: room.GetId(), UserId: member.ID})))(t, "invite")
	must(mc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()})))(t, "join")
	byOwner := sendRoom(t, srv, p, owner.Token, room.GetId(), "owner's").GetId()
	byMember := sendRoom(t, srv, p, member.Token, room.GetId(), "member's").GetId()
	dm := send(t, srv, p, owner.Token, "private", member.ID).GetId()
	lobby := send(t, srv, p, owner.Token, "for all", "").GetId()

	for _, tc := range []struct {
		what string
		err  error
		code connect.Code
	}{
		{"a member edits another's message", call(mc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: byOwner, Content: "x"}))), connect.CodePermissionDenied},
		{"a member deletes another's message", call(mc.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: byOwner}))), connect.CodePermissionDenied},
		{"an outsider edits a room message", call(xc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: byOwner, Content: "x"}))), connect.CodeNotFound},
		{"an outsider deletes a direct message", call(xc.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: dm}))), connect.CodeNotFound},
		{"someone edits a lobby message", call(xc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: lobby, Content: "x"}))), connect.CodePermissionDenied},
		{"someone deletes a lobby message", call(xc.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: lobby}))), connect.CodePermissionDenied},
		{"an edit too long", call(oc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: lobby, Content: strings.Repeat("x", 4097)}))), connect.CodeInvalidArgument},
		{"an empty edit", call(oc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: lobby, Content: " "}))), connect.CodeInvalidArgument},
		{"an edit of no message", call(oc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: 1 << 40, Content: "x"}))), connect.CodeNotFound},
		{"an edit of a room event", call(oc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: 1, Content: "x"}))), connect.CodeNotFound},
	} {
		wantCode(t, tc.what, tc.err, tc.code)
	}
	// The owner moderates the room; the recipient of a direct message may
	// not delete it, its sender may.
	must(oc.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: byMember})))(t, "owner deletes a member's message")
	_, err := mc.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: dm}))
	wantCode(t, "the recipient deletes a direct message", err, connect.CodePermissionDenied)
	must(oc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: dm, Content: "private, edited"})))(t, "edit a direct message")
	page := must(mc.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{PeerId: owner.ID})))(t, "history")
	if evs := page.GetEvents(); len(evs) != 2 || evs[0].GetChatMessage().GetContent() != "private, edited" || evs[1].GetMessageEdited().GetEventId() != dm {
		t.Errorf("the direct conversation reads %v, want the latest text and the edit", evs)
	}
}

// TestTypingReachesTheOthersOnline sends typing into a room and a direct
// conversation: the online members and the peer hear it, the typist does
// not, and nothing is stored.
func TestTypingReachesTheOthersOnline(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.TypingRate, c.TypingBurst = 0.001, 2 })
	ctx := context.Background()
	p := client.Connect
	a, b := srv.Register(t, p, "a"), srv.Register(t, p, "b")
	ac, bc := srv.Clients(p, a.Token), srv.Clients(p, b.Token)
	room := createRoom(t, ac, "typing", foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC)
	must(bc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()})))(t, "join")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	aSub, bSub := subscribe(t, srv, p, a.Token, quiet), subscribe(t, srv, p, b.Token, quiet)
	must(ac.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RoomId: room.GetId()})))(t, "typing in the room")
	must(ac.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RecipientId: b.ID})))(t, "typing to b")
	send(t, srv, p, a.Token, "marker", "")
	var inRoom, direct bool
	isMarker := func(ev *foxholev1.Event) bool { return ev.GetChatMessage().GetContent() == "marker" }
	for _, ev := range bSub.until(isMarker) {
		if ty := ev.GetTyping(); ty != nil {
			if ty.GetUser().GetId() != a.ID || ev.GetId() != 0 {
				t.Errorf("typing event %v", ev)
			}
			inRoom = inRoom || ty.GetRoomId() == room.GetId()
			direct = direct || ty.GetRoomId() == ""
		}
	}
	if !inRoom || !direct {
		t.Errorf("b heard typing in the room %v, directly %v; want both", inRoom, direct)
	}
	for _, ev := range aSub.until(isMarker) {
		if ev.GetTyping() != nil {
			t.Errorf("the typist heard its own typing: %v", ev)
		}
	}
	_, err := ac.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RecipientId: b.ID}))
	wantCode(t, "typing past FOXHOLE_TYPING_BURST", err, connect.CodeResourceExhausted)
	_, err = bc.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RoomId: room.GetId(), RecipientId: a.ID}))
	wantCode(t, "typing with a room and a recipient", err, connect.CodeInvalidArgument)
	outsider := srv.Register(t, p, "outsider")
	_, err = srv.Clients(p, outsider.Token).Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RoomId: room.GetId()}))
	wantCode(t, "typing in a room one is not in", err, connect.CodePermissionDenied)
	hist := must(ac.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{PeerId: b.ID})))(t, "history")
	if len(hist.GetEvents()) != 0 {
		t.Errorf("typing was stored: %v", hist.GetEvents())
	}
}

// TestBlockedUserIsNotHeard checks blocking: direct messages refused, the
// lobby and rooms filtered live, on replay and in history, typing filtered,
// and delivery restored by unblocking.
func TestBlockedUserIsNotHeard(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxBlocks = 2 })
	ctx := context.Background()
	p := client.GRPC
	me, pest, friend := srv.Register(t, p, "me"), srv.Register(t, p, "pest"), srv.Register(t, p, "friend")
	mc, pc := srv.Clients(p, me.Token), srv.Clients(p, pest.Token)
	room := createRoom(t, mc, "shared", foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC)
	must(pc.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room.GetId()})))(t, "join")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	mine, friends := subscribe(t, srv, p, me.Token, quiet), subscribe(t, srv, p, friend.Token, quiet)
	w, err := dialWS(t, srv, me.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()

	must(mc.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: pest.ID})))(t, "block")
	must(mc.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: pest.ID})))(t, "block again")
	_, err = pc.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hey", RecipientId: me.ID}))
	wantCode(t, "a direct message to a blocker", err, connect.CodePermissionDenied)
	_, err = pc.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RecipientId: me.ID}))
	wantCode(t, "typing to a blocker", err, connect.CodePermissionDenied)
	pestLobby := send(t, srv, p, pest.Token, "pest in the lobby", "").GetId()
	sendRoom(t, srv, p, pest.Token, room.GetId(), "pest in the room")
	must(pc.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RoomId: room.GetId()})))(t, "typing in the room")
	must(pc.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: pestLobby, Content: "pest edited"})))(t, "edit")
	send(t, srv, p, friend.Token, "marker", "")
	isMarker := func(ev *foxholev1.Event) bool { return ev.GetChatMessage().GetContent() == "marker" }
	for _, s := range []*sub{mine, w.sub} {
		for _, ev := range s.until(isMarker) {
			if ev.GetChatMessage().GetSender().GetId() == pest.ID || ev.GetTyping() != nil || ev.GetMessageEdited() != nil {
				t.Errorf("the blocker heard %v", ev)
			}
		}
	}
	if got := contents(friends.untilChat("marker")); len(got) != 2 {
		t.Errorf("the friend heard %q, want the pest's lobby message and the marker", got)
	}
	// Not on replay, nor in history pages.
	replay := subscribe(t, srv, p, me.Token, &foxholev1.SubscribeRequest{SkipPresence: true, AfterEventId: new(int64(0))})
	for _, ev := range replay.until(isMarker) {
		if ev.GetChatMessage().GetSender().GetId() == pest.ID || ev.GetMessageEdited() != nil {
			t.Errorf("the blocker's replay carried %v", ev)
		}
	}
	for _, req := range []*foxholev1.ListMessagesRequest{{}, {RoomId: room.GetId()}} {
		for _, ev := range must(mc.Realtime.ListMessages(ctx, connect.NewRequest(req)))(t, "history").GetEvents() {
			if ev.GetChatMessage().GetSender().GetId() == pest.ID {
				t.Errorf("the blocker's history carried %v", ev)
			}
		}
	}
	list := must(mc.Realtime.ListBlockedUsers(ctx, connect.NewRequest(&foxholev1.ListBlockedUsersRequest{})))(t, "list")
	if len(list.GetUsers()) != 1 || list.GetUsers()[0].GetId() != pest.ID || list.GetUsers()[0].GetScreenName() != "pest" {
		t.Errorf("blocked users = %v", list.GetUsers())
	}
	// Bounded; and no blocking oneself or nobody.
	must(mc.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: friend.ID})))(t, "block a second")
	third := srv.Register(t, p, "third")
	for _, tc := range []struct {
		id   string
		code connect.Code
	}{{third.ID, connect.CodeResourceExhausted}, {me.ID, connect.CodeInvalidArgument}, {"nobody", connect.CodeNotFound}} {
		_, err = mc.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: tc.id}))
		wantCode(t, fmt.Sprintf("BlockUser(%s)", tc.id), err, tc.code)
	}
	// Unblocked: heard again from then on.
	must(mc.Realtime.UnblockUser(ctx, connect.NewRequest(&foxholev1.UnblockUserRequest{UserId: pest.ID})))(t, "unblock")
	send(t, srv, p, pest.Token, "pest forgiven", "")
	mine.untilChat("pest forgiven")
	send(t, srv, p, pest.Token, "direct again", me.ID)
	mine.untilChat("direct again")
}
