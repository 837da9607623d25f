package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Edit replaces the content of the message of event eventID, which user
// sent, and records the edit as an event delivered to whoever can read the
// message. There is no edit window: a message stays its sender's to
// correct for as long as it is kept.
func (s *Service) Edit(ctx context.Context, user string, eventID int64, content string) (*foxholev1.Event, error) {
	if err := s.checkContent(content); err != nil {
		return nil, err
	}
	var edited *foxholev1.Event
	err := s.Write(ctx, func(ctx context.Context, b *Batch) error {
		return s.db.ReviseMessage(ctx, eventID, false, func(ctx context.Context, row *store.Event) ([]byte, *store.Event, error) {
			ev, err := s.readable(ctx, user, row)
			if err != nil {
				return nil, nil, err
			}
			msg := ev.GetChatMessage()
			switch {
			case row.SenderID != user:
				return nil, nil, errs.New(errs.ErrPermissionDenied, "only its sender may edit a message")
			case msg.GetDeleted():
				return nil, nil, errs.New(errs.ErrFailedPrecondition, "the message was deleted")
			}
			now := timestamppb.New(b.now)
			msg.Content, msg.EditedAt = content, now
			body, err := proto.Marshal(withoutID(ev))
			if err != nil {
				return nil, nil, err
			}
			edited = ev
			rec, err := b.Add(&foxholev1.Event{Payload: &foxholev1.Event_MessageEdited{MessageEdited: &foxholev1.MessageEdited{
				EventId: eventID, Content: content, EditedAt: now, RoomId: msg.GetRoomId(),
			}}}, revisionRoute(row, user))
			if err != nil {
				return nil, nil, err
			}
			rec.RefID = &eventID
			return body, rec, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return edited, nil
}

// DeleteMessage erases the content of the message of event eventID,
// keeping a tombstone, and records the deletion as an event delivered to
// whoever can read the message. Its sender may delete it, and a room's
// owners and admins may delete any message in their room. The edits of the
// message, which hold its text too, are deleted with it.
func (s *Service) DeleteMessage(ctx context.Context, user string, eventID int64) error {
	actor, err := s.db.UserByID(ctx, user)
	if err != nil {
		return err
	}
	return s.Write(ctx, func(ctx context.Context, b *Batch) error {
		return s.db.ReviseMessage(ctx, eventID, true, func(ctx context.Context, row *store.Event) ([]byte, *store.Event, error) {
			ev, err := s.readable(ctx, user, row)
			if err != nil {
				return nil, nil, err
			}
			msg := ev.GetChatMessage()
			if msg.GetDeleted() {
				return nil, nil, errs.New(errs.ErrNotFound, "message %d was deleted already", eventID)
			}
			if row.SenderID != user {
				if err := s.moderates(ctx, user, msg.GetRoomId()); err != nil {
					return nil, nil, err
				}
			}
			msg.Content, msg.EditedAt, msg.Deleted = "", nil, true
			body, err := proto.Marshal(withoutID(ev))
			if err != nil {
				return nil, nil, err
			}
			rec, err := b.Add(&foxholev1.Event{Payload: &foxholev1.Event_MessageDeleted{MessageDeleted: &foxholev1.MessageDeleted{
				EventId: eventID, RoomId: msg.GetRoomId(), Actor: &foxholev1.UserRef{Id: actor.ID, ScreenName: actor.ScreenName},
			}}}, revisionRoute(row, user))
			if err != nil {
				return nil, nil, err
			}
			rec.RefID = &eventID
			return body, rec, nil
		})
	})
}

// withoutID is ev as stored: its id is the row's.
func withoutID(ev *foxholev1.Event) *foxholev1.Event {
	c := proto.Clone(ev).(*foxholev1.Event)
	c.Id = 0
	return c
}

// revisionRoute routes the edit or deletion of row, made by actor, to
// whoever can read row: the room's members, the pair of a direct message,
// or everyone.
func revisionRoute(row *store.Event, actor string) Route {
	r := Route{Sender: actor, Kind: store.KindRevision}
	switch {
	case row.RoomID != nil:
		r.Room = *row.RoomID
	case row.RecipientID != nil:
		// The pair of the original message: the route's conversation is
		// theirs whoever of the two acts.
		r.Sender, r.Recipient = row.SenderID, *row.RecipientID
	}
	return r
}

// readable decodes the chat message row, or answers not_found when user
// cannot read it (a direct message between others, a room it is not in,
// a message from a user it blocks).
func (s *Service) readable(ctx context.Context, user string, row *store.Event) (*foxholev1.Event, error) {
	notFound := errs.New(errs.ErrNotFound, "message %d not found", row.ID)
	switch {
	case row.RoomID != nil:
		r, m, err := s.db.Membership(ctx, *row.RoomID, user)
		if errors.Is(err, errs.ErrNotFound) {
			return nil, notFound
		} else if err != nil {
			return nil, err
		}
		if store.CanRead(r, m) != nil {
			return nil, notFound
		}
	case row.RecipientID != nil && *row.RecipientID != user && row.SenderID != user:
		return nil, notFound
	}
	if row.SenderID != user {
		if blocked, err := s.db.Blocking(ctx, user, row.SenderID); err != nil {
			return nil, err
		} else if blocked {
			return nil, notFound
		}
	}
	d, err := storedDelivery(*row)
	if err != nil {
		return nil, err
	}
	return d.msg.GetEvent(), nil
}

// moderates answers nil when user is an owner or admin of room.
func (s *Service) moderates(ctx context.Context, user, room string) error {
	denied := errs.New(errs.ErrPermissionDenied, "only its sender, or a room's owners and admins, may delete a message")
	if room == "" {
		return denied
	}
	_, m, err := s.db.Membership(ctx, room, user)
	if err != nil {
		return err
	}
	if m.State != store.Joined || (m.Role != store.RoleOwner && m.Role != store.RoleAdmin) {
		return denied
	}
	return nil
}

// Typing tells the members of room who are online, or recipient, that
// user is typing: live only, never stored. The caller has counted it
// against the user's typing rate (the policy of SendTyping).
func (s *Service) Typing(ctx context.Context, user, room, recipient string) error {
	if (room == "") == (recipient == "") {
		return errs.Invalidf("room_id", "set room_id or recipient_id: one of the two")
	}
	u, err := s.db.UserByID(ctx, user)
	if err != nil {
		return err
	}
	if room != "" {
		r, m, err := s.db.Membership(ctx, room, user)
		if err != nil {
			return err
		}
		if err := store.CanRead(r, m); err != nil {
			return err
		}
	} else if err := s.mayWrite(ctx, user, recipient); err != nil {
		return err
	}
	ev := &foxholev1.Event{CreatedAt: timestamppb.New(s.now()), Payload: &foxholev1.Event_Typing{Typing: &foxholev1.Typing{
		User: &foxholev1.UserRef{Id: u.ID, ScreenName: u.ScreenName}, RoomId: room,
	}}}
	// No sender: the typist's own sessions are not told.
	if err := s.publish(ctx, ev, envelope{Recipient: recipient, Room: room}); err != nil {
		return fmt.Errorf("publish typing: %w", err)
	}
	return nil
}

// mayWrite answers nil when user may send recipient a direct message: it
// exists, and does not block user.
func (s *Service) mayWrite(ctx context.Context, user, recipient string) error {
	if _, err := s.db.UserByID(ctx, recipient); errors.Is(err, errs.ErrNotFound) {
		return errs.New(errs.ErrNotFound, "recipient %q not found", recipient)
	} else if err != nil {
		return err
	}
	if blocked, err := s.db.Blocking(ctx, recipient, user); err != nil {
		return err
	} else if blocked {
		return errs.New(errs.ErrPermissionDenied, "the recipient does not take your messages")
	}
	return nil
}

// blockNews travels through the hub: blocker blocks blocked, or no longer
// (On false).
type blockNews struct {
	Blocker string `json:"b"`
	Blocked string `json:"u"`
	On      bool   `json:"on,omitempty"`
}

// Block records that user blocks blocked, at most MaxBlocks users, and
// tells every process: from then on none of blocked's messages or typing
// reach user's sessions.
func (s *Service) Block(ctx context.Context, user, blocked string, on bool) error {
	if blocked == user {
		return errs.Invalidf("user_id", "is the caller")
	}
	var err error
	if on {
		err = s.db.AddBlock(ctx, user, blocked, s.now().UnixMicro(), s.opt.MaxBlocks)
	} else {
		err = s.db.RemoveBlock(ctx, user, blocked)
	}
	if err != nil {
		return err
	}
	news := blockNews{Blocker: user, Blocked: blocked, On: on}
	s.live.rooms.block(news) // here at once, even if the hub fails
	msg, _ := json.Marshal(envelope{Block: &news})
	if err := s.hub.Publish(context.WithoutCancel(ctx), msg); err != nil {
		// The other processes read every tracked user's blocks again when
		// their hub reconnects.
		s.log.Warn().Err(err).Msg("publish a block")
	}
	return nil
}

// Blocked lists the users user blocks, in order of id.
func (s *Service) Blocked(ctx context.Context, user string) ([]*foxholev1.UserRef, error) {
	ids, err := s.db.Blocks(ctx, user)
	if err != nil {
		return nil, err
	}
	users, err := s.db.UsersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	refs := make([]*foxholev1.UserRef, 0, len(users))
	for _, u := range users {
		refs = append(refs, &foxholev1.UserRef{Id: u.ID, ScreenName: u.ScreenName})
	}
	return refs, nil
}

// reloadBlocks reads again the blocks of every user with a session here:
// news of blocks may have been lost while the hub reconnected.
func (s *Service) reloadBlocks() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, user := range s.live.rooms.readyUsers() {
		blocked, err := s.db.Blocks(ctx, user)
		if err != nil {
			s.log.Error().Err(err).Msg("read blocks again after the hub reconnected")
			return
		}
		s.live.rooms.setBlocked(user, blocked)
	}
}
