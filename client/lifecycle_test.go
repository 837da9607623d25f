package client_test

import (
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

func edited(eventID int64, content string) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool {
		e := ev.GetMessageEdited()
		return e.GetEventId() == eventID && e.GetContent() == content
	}
}

func deleted(eventID int64) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool { return ev.GetMessageDeleted().GetEventId() == eventID }
}

func typing(userID, roomID string) func(*foxholev1.Event) bool {
	return func(ev *foxholev1.Event) bool {
		ty := ev.GetTyping()
		return ty.GetUser().GetId() == userID && ty.GetRoomId() == roomID
	}
}

// messageIn returns the chat message of event id in a page of history.
func messageIn(t *testing.T, page *foxholev1.ListMessagesResponse, id int64) *foxholev1.ChatMessage {
	t.Helper()
	for _, ev := range page.GetEvents() {
		if ev.GetId() == id {
			return ev.GetChatMessage()
		}
	}
	t.Fatalf("event %d is not in history %v", id, page.GetEvents())
	return nil
}

// TestEditAndDelete edits and deletes messages on every protocol: the
// reader hears both live, history keeps the latest content and then the
// tombstone, only the sender edits, and a room's owner deletes a
// member's message.
func TestEditAndDelete(t *testing.T) {
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			ctx := t.Context()
			ada, adaID := newUser(t, p, "ada")
			bob, bobID := newUser(t, p, "bob")
			bobEvents := events(t, bob, client.SubscribeOptions{})
			waitLive(t, ada, bobEvents)

			sent, err := ada.Send(ctx, client.Direct(bobID), "helo")
			if err != nil {
				t.Fatal(err)
			}
			id := sent.GetId()
			ev, err := ada.EditMessage(ctx, id, "hello")
			if err != nil {
				t.Fatal(err)
			}
			if m := ev.GetChatMessage(); m.GetContent() != "hello" || m.GetEditedAt() == nil || ev.GetId() != id {
				t.Fatalf("edited %v: want event %d with the new content and edited_at", ev, id)
			}
			next(t, bobEvents, "edit", edited(id, "hello"))
			page, err := bob.ListMessages(ctx, client.Direct(adaID), client.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if m := messageIn(t, page, id); m.GetContent() != "hello" || m.GetEditedAt() == nil {
				t.Errorf("history holds %v: want the edited message", m)
			}

			_, err = bob.EditMessage(ctx, id, "mine now")
			wantCode(t, "the reader's edit", err, connect.CodePermissionDenied)
			wantCode(t, "the reader's delete", bob.DeleteMessage(ctx, id), connect.CodePermissionDenied)
			_, err = ada.EditMessage(ctx, id, "")
			wantCode(t, "an empty edit", err, connect.CodeInvalidArgument)

			if err := ada.DeleteMessage(ctx, id); err != nil {
				t.Fatal(err)
			}
			if d := next(t, bobEvents, "deletion", deleted(id)).GetMessageDeleted(); d.GetActor().GetId() != adaID {
				t.Errorf("deletion %v: want ada its actor", d)
			}
			page, err = bob.ListMessages(ctx, client.Direct(adaID), client.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if m := messageIn(t, page, id); !m.GetDeleted() || m.GetContent() != "" {
				t.Errorf("history holds %v: want a tombstone", m)
			}
			_, err = ada.EditMessage(ctx, id, "back")
			wantCode(t, "editing a deleted message", err, connect.CodeFailedPrecondition)
			wantCode(t, "deleting it again", ada.DeleteMessage(ctx, id), connect.CodeNotFound)

			// In a room, the owner deletes a member's message.
			den, err := ada.CreateRoom(ctx, "den", client.RoomOptions{Public: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.JoinRoom(ctx, den.GetId()); err != nil {
				t.Fatal(err)
			}
			said, err := bob.Send(ctx, client.InRoom(den.GetId()), "rude")
			if err != nil {
				t.Fatal(err)
			}
			if err := ada.DeleteMessage(ctx, said.GetId()); err != nil {
				t.Fatalf("the owner's delete: %v", err)
			}
			d := next(t, bobEvents, "room deletion", deleted(said.GetId())).GetMessageDeleted()
			if d.GetRoomId() != den.GetId() || d.GetActor().GetId() != adaID {
				t.Errorf("deletion %v: want it in den, by ada", d)
			}
		})
	}
}

// TestTyping sends typing to a peer and to a room; the lobby has none.
func TestTyping(t *testing.T) {
	ctx := t.Context()
	ada, adaID := newUser(t, client.Connect, "ada")
	bob, bobID := newUser(t, client.Connect, "bob")
	bobEvents := events(t, bob, client.SubscribeOptions{})
	waitLive(t, ada, bobEvents)

	if err := ada.SendTyping(ctx, client.Direct(bobID)); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, bobEvents, "typing", typing(adaID, "")); ev.GetId() != 0 {
		t.Errorf("typing %v: want it live only, without an id", ev)
	}
	den, err := ada.CreateRoom(ctx, "den", client.RoomOptions{Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.JoinRoom(ctx, den.GetId()); err != nil {
		t.Fatal(err)
	}
	if err := ada.SendTyping(ctx, client.InRoom(den.GetId())); err != nil {
		t.Fatal(err)
	}
	next(t, bobEvents, "typing in the room", typing(adaID, den.GetId()))

	if err := ada.SendTyping(ctx, client.Lobby); err == nil {
		t.Error("typing in the lobby: no error")
	}
	if err := ada.SendTyping(ctx, client.Conversation{RoomID: den.GetId(), PeerID: bobID}); err == nil {
		t.Error("typing to a room and a peer: no error")
	}
}

// TestBlock blocks a user on every protocol: its direct messages and
// typing are refused, its lobby messages no longer arrive, and after an
// unblock they do again.
func TestBlock(t *testing.T) {
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			ctx := t.Context()
			ada, adaID := newUser(t, p, "ada")
			bob, bobID := newUser(t, p, "bob")
			carol, _ := newUser(t, p, "carol")
			bobEvents := events(t, bob, client.SubscribeOptions{})
			waitLive(t, carol, bobEvents)

			if err := bob.BlockUser(ctx, adaID); err != nil {
				t.Fatal(err)
			}
			if err := bob.BlockUser(ctx, adaID); err != nil {
				t.Fatalf("blocking again: %v", err)
			}
			blocked, err := bob.ListBlockedUsers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(blocked) != 1 || blocked[0].GetId() != adaID {
				t.Fatalf("blocked %v: want ada", blocked)
			}
			_, err = ada.Send(ctx, client.Direct(bobID), "psst")
			wantCode(t, "a blocked user's direct message", err, connect.CodePermissionDenied)
			wantCode(t, "a blocked user's typing", ada.SendTyping(ctx, client.Direct(bobID)), connect.CodePermissionDenied)
			wantCode(t, "blocking oneself", bob.BlockUser(ctx, bobID), connect.CodeInvalidArgument)
			wantCode(t, "blocking nobody", bob.BlockUser(ctx, "u_nobody"), connect.CodeNotFound)

			if _, err := ada.Send(ctx, client.Lobby, "hidden "+string(p)); err != nil {
				t.Fatal(err)
			}
			if _, err := carol.Send(ctx, client.Lobby, "after "+string(p)); err != nil {
				t.Fatal(err)
			}
			for _, ev := range until(t, bobEvents, "after "+string(p)) {
				if ev.GetChatMessage().GetSender().GetId() == adaID {
					t.Errorf("bob received %v from ada, whom he blocks", ev)
				}
			}

			if err := bob.UnblockUser(ctx, adaID); err != nil {
				t.Fatal(err)
			}
			if blocked, err := bob.ListBlockedUsers(ctx); err != nil || len(blocked) != 0 {
				t.Fatalf("blocked after unblocking: %v, %v: want none", blocked, err)
			}
			if _, err := ada.Send(ctx, client.Lobby, "seen "+string(p)); err != nil {
				t.Fatal(err)
			}
			until(t, bobEvents, "seen "+string(p))
			if _, err := ada.Send(ctx, client.Direct(bobID), "psst"); err != nil {
				t.Fatalf("a direct message after unblocking: %v", err)
			}
		})
	}
}
