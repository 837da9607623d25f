package realtime

import (
	"context"
	"errors"
	"slices"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// errRoomsUnread ends the sessions of a user whose rooms could not be read.
var errRoomsUnread = errs.New(errs.ErrUnavailable, "could not read your rooms; reconnect and resume from your last event id")

// Page bounds of ListMessages.
const (
	DefaultHistoryPage = 50
	MaxHistoryPage     = 200
)

// HistoryQuery names one page of a conversation's history: a room's, the
// direct conversation with Peer, or, with neither, the lobby's. Before and
// After are event ids (nil: none); with neither, the latest page.
type HistoryQuery struct {
	Room, Peer    string
	Before, After *int64
	Size          int // 0: DefaultHistoryPage
}

// History returns one page of a conversation's stored history that user
// may read, in ascending id order, and whether more lies beyond it in the
// direction of travel (older, unless After is set).
func (s *Service) History(ctx context.Context, user string, q HistoryQuery) ([]*foxholev1.Event, bool, error) {
	switch {
	case q.Room != "" && q.Peer != "":
		return nil, false, errs.Invalidf("peer_id", "must not be set with room_id: a history is a room's or a direct conversation's")
	case q.Before != nil && q.After != nil:
		return nil, false, errs.Invalidf("after_event_id", "must not be set with before_event_id: a page goes one way")
	case q.Size < 0 || q.Size > MaxHistoryPage:
		return nil, false, errs.Invalidf("page_size", "must be 1 to %d", MaxHistoryPage)
	}
	size := q.Size
	if size == 0 {
		size = DefaultHistoryPage
	}
	conv := store.Lobby
	switch {
	case q.Room != "":
		r, m, err := s.db.Membership(ctx, q.Room, user)
		if errors.Is(err, errs.ErrNotFound) {
			return nil, false, errs.New(errs.ErrNotFound, "room not found")
		} else if err != nil {
			return nil, false, err
		}
		if err := store.CanRead(r, m); err != nil {
			return nil, false, err
		}
		conv = store.RoomConversation(q.Room)
	case q.Peer != "":
		if _, err := s.db.UserByID(ctx, q.Peer); errors.Is(err, errs.ErrNotFound) {
			return nil, false, errs.New(errs.ErrNotFound, "peer %q not found", q.Peer)
		} else if err != nil {
			return nil, false, err
		}
		conv = store.DirectConversation(user, q.Peer)
	}
	before, after := int64(-1), int64(-1)
	if q.Before != nil {
		before = *q.Before
	}
	if q.After != nil {
		after = *q.After
	}
	rows, err := s.db.History(ctx, conv, before, after, size+1)
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > size
	rows = rows[:min(len(rows), size)]
	if after < 0 {
		slices.Reverse(rows) // read newest first
	}
	evs := make([]*foxholev1.Event, 0, len(rows))
	for _, row := range rows {
		d, err := storedDelivery(row)
		if err != nil {
			return nil, false, err
		}
		evs = append(evs, d.msg.GetEvent())
	}
	return evs, more, nil
}

// RoomOnline returns at most n of the room's members connected now, as
// ListOnline sees them, those whose ids follow after, in id order, and
// whether more follow. user must be a member.
func (s *Service) RoomOnline(ctx context.Context, user, room string, n int, after string) ([]*foxholev1.UserRef, bool, error) {
	r, m, err := s.db.Membership(ctx, room, user)
	if err != nil {
		return nil, false, err
	}
	if err := store.CanRead(r, m); err != nil {
		return nil, false, err
	}
	const page = 1000
	var users []*foxholev1.UserRef
	for {
		ids, err := s.db.MemberIDs(ctx, room, after, page)
		if err != nil {
			return nil, false, err
		}
		for _, id := range ids {
			if ref := s.pres.online(id); ref != nil {
				if len(users) == n {
					return users, true, nil
				}
				users = append(users, ref)
			}
		}
		if len(ids) < page {
			return users, false, nil
		}
		after = ids[len(ids)-1]
	}
}
