package app_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestRoomMembershipReachesEveryProcess runs a room across two processes
// on their own machines' shape (PostgreSQL, MinIO, Valkey): a member
// subscribed to one process hears the room while it is a member, and
// nothing more of it once an owner on the other process removes it; a
// member who joins through one is heard at once by the other.
func TestRoomMembershipReachesEveryProcess(t *testing.T) {
	c := startCluster(t, clusterOptions{processes: 2, apart: true})
	a, b := c.procs[0], c.procs[1]
	p := client.Connect
	ctx := context.Background()
	owner, bob, carol := a.Register(t, p, "owner"), b.Register(t, p, "bob"), b.Register(t, p, "carol")
	onA := a.Clients(p, owner.Token)
	res, err := onA.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "across", Visibility: foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC}))
	if err != nil {
		t.Fatal(err)
	}
	room := res.Msg.GetRoom().GetId()
	bobOnB, carolOnB := b.Clients(p, bob.Token), b.Clients(p, carol.Token)
	bobEvents, _ := events(t, bobOnB, nil)
	carolEvents, _ := events(t, carolOnB, nil)
	for _, cl := range []*client.Client{bobOnB, carolOnB} {
		if _, err := cl.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: room})); err != nil {
			t.Fatal(err)
		}
	}
	say := func(text string) {
		t.Helper()
		if _, err := onA.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: text, RoomId: room})); err != nil {
			t.Fatal(err)
		}
	}
	say("while a member")
	next(t, bobEvents, "a room message sent on A, on B", chat("while a member"))

	// Removed on A: from then on B gives bob nothing of the room.
	if _, err := onA.Rooms.RemoveMember(ctx, connect.NewRequest(&foxholev1.RemoveMemberRequest{RoomId: room, UserId: bob.ID})); err != nil {
		t.Fatal(err)
	}
	say("after the removal")
	if _, err := onA.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "lobby marker"})); err != nil {
		t.Fatal(err)
	}
	next(t, carolEvents, "the room's next message, to a member still in it", chat("after the removal"))
	var removed bool
	next(t, bobEvents, "the lobby marker", func(ev *foxholev1.Event) bool {
		if ev.GetChatMessage().GetContent() == "after the removal" {
			t.Fatal("a member removed on A heard the room's next message on B")
		}
		if re := ev.GetRoomEvent(); re.GetKind() == foxholev1.RoomEventKind_ROOM_EVENT_KIND_REMOVED && re.GetUser().GetId() == bob.ID {
			removed = true
		}
		return ev.GetChatMessage().GetContent() == "lobby marker"
	})
	if !removed {
		t.Error("bob did not hear of his removal")
	}
	// Nor on a resume through the other process.
	zero := int64(0)
	replay, _ := events(t, a.Clients(p, bob.Token), &zero)
	next(t, replay, "the lobby marker on replay", func(ev *foxholev1.Event) bool {
		if ev.GetChatMessage().GetRoomId() != "" {
			t.Fatalf("replay through A to a removed member carried %v", ev)
		}
		return ev.GetChatMessage().GetContent() == "lobby marker"
	})
}

// TestBlocksReachEveryProcess blocks a user through one process while the
// blocker listens on another: the blocked user's lobby messages stop
// reaching the blocker there, and come back once unblocked.
func TestBlocksReachEveryProcess(t *testing.T) {
	c := startCluster(t, clusterOptions{processes: 2})
	a, b := c.procs[0], c.procs[1]
	p := client.Connect
	ctx := context.Background()
	me, pest := a.Register(t, p, "me"), a.Register(t, p, "pest")
	onB, _ := events(t, b.Clients(p, me.Token), nil)
	lobby := func(text string) {
		t.Helper()
		if _, err := a.Clients(p, pest.Token).Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: text})); err != nil {
			t.Fatal(err)
		}
	}
	lobby("before")
	next(t, onB, "the pest's message before the block", chat("before"))
	if _, err := a.Clients(p, me.Token).Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: pest.ID})); err != nil {
		t.Fatal(err)
	}
	lobby("blocked")
	if _, err := a.Clients(p, me.Token).Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "marker"})); err != nil {
		t.Fatal(err)
	}
	next(t, onB, "the marker", func(ev *foxholev1.Event) bool {
		if ev.GetChatMessage().GetContent() == "blocked" {
			t.Fatal("a block made on A did not filter B's delivery")
		}
		return ev.GetChatMessage().GetContent() == "marker"
	})
	if _, err := a.Clients(p, me.Token).Realtime.UnblockUser(ctx, connect.NewRequest(&foxholev1.UnblockUserRequest{UserId: pest.ID})); err != nil {
		t.Fatal(err)
	}
	lobby("forgiven")
	next(t, onB, "the pest's message after the unblock", chat("forgiven"))
}
