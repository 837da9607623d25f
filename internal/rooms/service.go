// Package rooms serves foxhole.v1.RoomService: rooms, their members and
// roles. Every change of a room or its membership is a stored event in the
// room's history, written in the transaction that makes the change and
// published through the realtime service, which keeps each process's
// sessions' rooms by those events (see realtime's roomIndex).
package rooms

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/realtime"
	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/text"
)

// Options bound rooms.
type Options struct {
	MaxRoomsPerUser int // rooms a user may be a member of
	MaxMembers      int // members a room may have
	MaxName         int // characters of a room's name
	MaxTopic        int // characters of a room's topic
}

// Service manages rooms.
type Service struct {
	db  *store.Store
	rt  *realtime.Service
	opt Options
	now func() time.Time
}

// NewService returns a Service keeping rooms in db and publishing their
// events through rt.
func NewService(db *store.Store, rt *realtime.Service, o Options) *Service {
	return &Service{db: db, rt: rt, opt: o, now: time.Now}
}

// change runs fn on the room in one transaction, with a batch for the
// events it records, and publishes them once it has committed.
func (s *Service) change(ctx context.Context, roomID string, fn func(context.Context, *store.RoomTx, *realtime.Batch) error) error {
	return s.rt.Write(ctx, func(ctx context.Context, b *realtime.Batch) error {
		return s.db.ChangeRoom(ctx, roomID, func(ctx context.Context, t *store.RoomTx) error { return fn(ctx, t, b) })
	})
}

// record adds a room event to the change: about user (nil: the room), by
// actor, delivered to the room's members and to recipient ("": none).
func record(t *store.RoomTx, b *realtime.Batch, re *foxholev1.RoomEvent, recipient string) error {
	re.RoomId = t.Room.ID
	row, err := b.Add(&foxholev1.Event{Payload: &foxholev1.Event_RoomEvent{RoomEvent: re}},
		realtime.Route{Sender: re.GetActor().GetId(), Recipient: recipient, Room: t.Room.ID, Kind: store.KindRoom})
	if err != nil {
		return err
	}
	t.Emit(row)
	return nil
}

// refs returns the users with these ids as UserRefs, or errs.ErrNotFound
// naming the first that does not exist.
func (s *Service) refs(ctx context.Context, ids ...string) ([]*foxholev1.UserRef, error) {
	refs := make([]*foxholev1.UserRef, len(ids))
	for i, id := range ids {
		u, err := s.db.UserByID(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.New(errs.ErrNotFound, "user %q not found", id)
		} else if err != nil {
			return nil, err
		}
		refs[i] = &foxholev1.UserRef{Id: u.ID, ScreenName: u.ScreenName}
	}
	return refs, nil
}

// member returns the caller's membership, or the error a call by a user who
// is not a member answers.
func member(ctx context.Context, t *store.RoomTx, user string) (*store.Member, error) {
	m, err := t.Member(ctx, user)
	if err != nil {
		return nil, err
	}
	if err := store.CanRead(t.Room, m); err != nil {
		return nil, err
	}
	return m, nil
}

// manager returns the caller's membership if it is an owner or an admin.
func manager(ctx context.Context, t *store.RoomTx, user string) (*store.Member, error) {
	m, err := member(ctx, t, user)
	if err != nil {
		return nil, err
	}
	if m.Role != store.RoleOwner && m.Role != store.RoleAdmin {
		return nil, errs.New(errs.ErrPermissionDenied, "only the room's owners and admins may do this")
	}
	return m, nil
}

func owner(ctx context.Context, t *store.RoomTx, user string) (*store.Member, error) {
	m, err := member(ctx, t, user)
	if err != nil {
		return nil, err
	}
	if m.Role != store.RoleOwner {
		return nil, errs.New(errs.ErrPermissionDenied, "only the room's owners may do this")
	}
	return m, nil
}

// cleanName checks a room's name: 1 to MaxName characters after trimming,
// no control characters.
func (s *Service) cleanName(name string) (string, error) {
	return text.Rule{Field: "name", Required: true, Max: s.opt.MaxName}.Clean(name)
}

// cleanTopic checks a room's topic: at most MaxTopic characters, no control
// characters but newline and tab.
func (s *Service) cleanTopic(topic string) (string, error) {
	return text.Rule{Field: "topic", Max: s.opt.MaxTopic, Lines: true}.Clean(topic)
}

func (s *Service) roomsLimit(ctx context.Context, t *store.RoomTx, user string) error {
	n, err := t.RoomsJoined(ctx, user)
	if err != nil {
		return err
	}
	if n >= int64(s.opt.MaxRoomsPerUser) {
		return errs.New(errs.ErrResourceExhausted, "a user may belong to at most %d rooms; leave one first", s.opt.MaxRoomsPerUser)
	}
	return nil
}

// Create creates a room with user as its owner.
func (s *Service) Create(ctx context.Context, user, name, topic string, vis foxholev1.RoomVisibility) (*foxholev1.Room, error) {
	name, err := s.cleanName(name)
	if err != nil {
		return nil, err
	}
	if topic, err = s.cleanTopic(topic); err != nil {
		return nil, err
	}
	if vis == foxholev1.RoomVisibility_ROOM_VISIBILITY_UNSPECIFIED {
		vis = foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE
	}
	refs, err := s.refs(ctx, user)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixMicro()
	r := &store.Room{ID: store.NewID(), Name: name, NameFolded: store.FoldName(name), Topic: topic,
		Visibility: int32(vis), CreatedAt: now, UpdatedAt: now}
	err = s.rt.Write(ctx, func(ctx context.Context, b *realtime.Batch) error {
		return s.db.CreateRoom(ctx, r, func(ctx context.Context, t *store.RoomTx) error {
			if err := s.roomsLimit(ctx, t, user); err != nil {
				return err
			}
			m := &store.Member{RoomID: r.ID, UserID: user, State: store.Joined, Role: store.RoleOwner, JoinedAt: now}
			if err := t.Put(ctx, m, 0); err != nil {
				return err
			}
			return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_JOINED, User: refs[0], Actor: refs[0],
				Role: foxholev1.RoomRole_ROOM_ROLE_OWNER, Room: roomInfo(r)}, user)
		})
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, user, r.ID)
}

// roomInfo is the room's name, topic and visibility, as room events carry
// them.
func roomInfo(r *store.Room) *foxholev1.Room {
	return &foxholev1.Room{Id: r.ID, Name: r.Name, Topic: r.Topic, Visibility: foxholev1.RoomVisibility(r.Visibility),
		CreatedAt: timestamppb.New(time.UnixMicro(r.CreatedAt)), MemberCount: r.MemberCount}
}

// roomProto is the room as the user of v sees it.
func roomProto(v *store.RoomView) *foxholev1.Room {
	r := roomInfo(&v.Room)
	r.LastEventId = v.LastEventID
	r.Invited = v.State == store.Invited
	if v.State == store.Joined {
		r.Role = foxholev1.RoomRole(v.Role)
		r.UnreadCount = v.Unread
		r.ReadEventId = v.ReadThrough
	}
	return r
}

// Get returns the room as user sees it.
func (s *Service) Get(ctx context.Context, user, roomID string) (*foxholev1.Room, error) {
	v, err := s.db.RoomFor(ctx, roomID, user)
	if err != nil {
		return nil, err
	}
	return roomProto(v), nil
}

// Join makes user a member of a public room, or of a private one it is
// invited to.
func (s *Service) Join(ctx context.Context, user, roomID string) (*foxholev1.Room, error) {
	refs, err := s.refs(ctx, user)
	if err != nil {
		return nil, err
	}
	err = s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		m, err := t.Member(ctx, user)
		if err != nil {
			return err
		}
		switch {
		case m.State == store.Joined:
			return nil
		case m.State == store.Banned && t.Room.Visibility == store.Public:
			return errs.New(errs.ErrPermissionDenied, "banned from this room")
		case m.State != store.Invited && t.Room.Visibility != store.Public:
			return errs.New(errs.ErrNotFound, "room not found")
		}
		if err := s.roomsLimit(ctx, t, user); err != nil {
			return err
		}
		if t.Room.MemberCount >= int32(s.opt.MaxMembers) {
			return errs.New(errs.ErrResourceExhausted, "the room is full (at most %d members)", s.opt.MaxMembers)
		}
		last, err := t.LastEventID(ctx)
		if err != nil {
			return err
		}
		old := m.State
		m.State, m.Role, m.JoinedAt, m.ReadThrough = store.Joined, store.RoleMember, s.now().UnixMicro(), last
		if err := t.Put(ctx, m, old); err != nil {
			return err
		}
		return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_JOINED, User: refs[0], Actor: refs[0],
			Role: foxholev1.RoomRole_ROOM_ROLE_MEMBER}, user)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, user, roomID)
}

// Leave ends user's membership of the room, or declines its invitation.
// The last owner to leave hands the room on (Successor); the last member
// to leave deletes it.
func (s *Service) Leave(ctx context.Context, user, roomID string) error {
	refs, err := s.refs(ctx, user)
	if err != nil {
		return err
	}
	deleted := false
	err = s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		m, err := t.Member(ctx, user)
		if err != nil {
			return err
		}
		if m.State != store.Joined && m.State != store.Invited {
			return store.CanRead(t.Room, m)
		}
		if m.State == store.Joined && m.Role == store.RoleOwner {
			owners, err := t.Owners(ctx)
			if err != nil {
				return err
			}
			if owners == 1 {
				next, err := t.Successor(ctx)
				if err != nil {
					return err
				}
				if next == nil {
					deleted = true
					return t.Delete(ctx)
				}
				nextRef, err := s.refs(ctx, next.UserID)
				if err != nil {
					return err
				}
				next.Role = store.RoleOwner
				if err := t.Put(ctx, next, store.Joined); err != nil {
					return err
				}
				if err := record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_ROLE_CHANGED, User: nextRef[0],
					Actor: refs[0], Role: foxholev1.RoomRole_ROOM_ROLE_OWNER}, next.UserID); err != nil {
					return err
				}
			}
		}
		if err := t.Drop(ctx, user, m.State); err != nil {
			return err
		}
		return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_LEFT, User: refs[0], Actor: refs[0]}, user)
	})
	if err == nil && deleted {
		s.deleted(ctx, roomID, refs[0], user)
	}
	return err
}

// deleted tells the room's members (and recipient), in every process, that
// actor deleted the room.
func (s *Service) deleted(ctx context.Context, roomID string, actor *foxholev1.UserRef, recipient string) {
	s.rt.PublishRoom(context.WithoutCancel(ctx), &foxholev1.Event{Payload: &foxholev1.Event_RoomEvent{RoomEvent: &foxholev1.RoomEvent{
		RoomId: roomID, Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_DELETED, Actor: actor,
	}}}, roomID, recipient)
}

// Invite invites target to the room.
func (s *Service) Invite(ctx context.Context, user, roomID, target string) error {
	return s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		if _, err := manager(ctx, t, user); err != nil {
			return err
		}
		refs, err := s.refs(ctx, user, target)
		if err != nil {
			return err
		}
		m, err := t.Member(ctx, target)
		if err != nil {
			return err
		}
		switch m.State {
		case store.Joined:
			return errs.New(errs.ErrAlreadyExists, "already a member")
		case store.Banned:
			return errs.New(errs.ErrFailedPrecondition, "the user is banned from this room; unban them first")
		case store.Invited:
			return nil
		}
		m.State, m.JoinedAt = store.Invited, s.now().UnixMicro()
		if err := t.Put(ctx, m, 0); err != nil {
			return err
		}
		return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_INVITED, User: refs[1], Actor: refs[0]}, target)
	})
}

// Remove removes target from the room, or withdraws its invitation; with
// ban, target may not join again until Unban (a user who is not a member
// may be banned too).
func (s *Service) Remove(ctx context.Context, user, roomID, target string, ban bool) error {
	if target == user {
		return errs.Invalidf("user_id", "is the caller: leave the room with LeaveRoom instead")
	}
	return s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		me, err := manager(ctx, t, user)
		if err != nil {
			return err
		}
		refs, err := s.refs(ctx, user, target)
		if err != nil {
			return err
		}
		m, err := t.Member(ctx, target)
		if err != nil {
			return err
		}
		switch {
		case m.State == store.Banned && ban:
			return nil
		case m.State == 0 && !ban, m.State == store.Banned:
			return errs.New(errs.ErrNotFound, "not a member of this room")
		case m.State == store.Joined && me.Role == store.RoleAdmin && m.Role != store.RoleMember:
			return errs.New(errs.ErrPermissionDenied, "admins may remove members only")
		}
		old := m.State
		kind := foxholev1.RoomEventKind_ROOM_EVENT_KIND_REMOVED
		if ban {
			kind = foxholev1.RoomEventKind_ROOM_EVENT_KIND_BANNED
			m.State, m.Role, m.JoinedAt = store.Banned, 0, s.now().UnixMicro()
			err = t.Put(ctx, m, old)
		} else {
			err = t.Drop(ctx, target, old)
		}
		if err != nil {
			return err
		}
		return record(t, b, &foxholev1.RoomEvent{Kind: kind, User: refs[1], Actor: refs[0]}, target)
	})
}

// Unban lifts target's ban from the room.
func (s *Service) Unban(ctx context.Context, user, roomID, target string) error {
	return s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		if _, err := manager(ctx, t, user); err != nil {
			return err
		}
		refs, err := s.refs(ctx, user, target)
		if err != nil {
			return err
		}
		m, err := t.Member(ctx, target)
		if err != nil {
			return err
		}
		if m.State != store.Banned {
			return errs.New(errs.ErrNotFound, "the user is not banned from this room")
		}
		if err := t.Drop(ctx, target, m.State); err != nil {
			return err
		}
		return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_UNBANNED, User: refs[1], Actor: refs[0]}, target)
	})
}

// UpdateMember gives target role. The room keeps at least one owner.
func (s *Service) UpdateMember(ctx context.Context, user, roomID, target string, role foxholev1.RoomRole) (*foxholev1.RoomMember, error) {
	if role == foxholev1.RoomRole_ROOM_ROLE_UNSPECIFIED {
		return nil, errs.Invalidf("role", "must be ROOM_ROLE_OWNER, ROOM_ROLE_ADMIN or ROOM_ROLE_MEMBER")
	}
	var res *foxholev1.RoomMember
	err := s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		if _, err := owner(ctx, t, user); err != nil {
			return err
		}
		refs, err := s.refs(ctx, user, target)
		if err != nil {
			return err
		}
		m, err := t.Member(ctx, target)
		if err != nil {
			return err
		}
		if m.State != store.Joined {
			return errs.New(errs.ErrNotFound, "not a member of this room")
		}
		res = &foxholev1.RoomMember{User: refs[1], Role: role, JoinedAt: timestamppb.New(time.UnixMicro(m.JoinedAt))}
		if m.Role == int32(role) {
			return nil
		}
		if m.Role == store.RoleOwner {
			owners, err := t.Owners(ctx)
			if err != nil {
				return err
			}
			if owners == 1 {
				return errs.New(errs.ErrFailedPrecondition, "a room keeps at least one owner: make another member owner first")
			}
		}
		m.Role = int32(role)
		if err := t.Put(ctx, m, store.Joined); err != nil {
			return err
		}
		return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_ROLE_CHANGED, User: refs[1], Actor: refs[0], Role: role}, target)
	})
	return res, err
}

// Update changes the room's name, topic or visibility: those not nil (or
// unspecified).
func (s *Service) Update(ctx context.Context, user, roomID string, name, topic *string, vis foxholev1.RoomVisibility) (*foxholev1.Room, error) {
	var err error
	if name != nil {
		n, err := s.cleanName(*name)
		if err != nil {
			return nil, err
		}
		name = &n
	}
	if topic != nil {
		t, err := s.cleanTopic(*topic)
		if err != nil {
			return nil, err
		}
		topic = &t
	}
	err = s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		if _, err := manager(ctx, t, user); err != nil {
			return err
		}
		refs, err := s.refs(ctx, user)
		if err != nil {
			return err
		}
		r := t.Room
		if name != nil {
			r.Name, r.NameFolded = *name, store.FoldName(*name)
		}
		if topic != nil {
			r.Topic = *topic
		}
		if vis != foxholev1.RoomVisibility_ROOM_VISIBILITY_UNSPECIFIED {
			r.Visibility = int32(vis)
		}
		r.UpdatedAt = s.now().UnixMicro()
		return record(t, b, &foxholev1.RoomEvent{Kind: foxholev1.RoomEventKind_ROOM_EVENT_KIND_UPDATED, Actor: refs[0], Room: roomInfo(r)}, "")
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, user, roomID)
}

// Delete deletes the room and its history.
func (s *Service) Delete(ctx context.Context, user, roomID string) error {
	refs, err := s.refs(ctx, user)
	if err != nil {
		return err
	}
	err = s.change(ctx, roomID, func(ctx context.Context, t *store.RoomTx, b *realtime.Batch) error {
		if _, err := owner(ctx, t, user); err != nil {
			return err
		}
		return t.Delete(ctx)
	})
	if err == nil {
		s.deleted(ctx, roomID, refs[0], "")
	}
	return err
}

// MarkRead moves user's read marker in the room forward to eventID.
func (s *Service) MarkRead(ctx context.Context, user, roomID string, eventID int64) error {
	err := s.db.MarkRead(ctx, roomID, user, eventID)
	if errors.Is(err, errs.ErrNotFound) {
		return errs.New(errs.ErrNotFound, "room not found")
	}
	return err
}
