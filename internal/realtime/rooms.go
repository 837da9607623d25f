package realtime

import (
	"sync"
	"sync/atomic"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// roomIndex is which rooms each user with a session in this process is a
// member of, and the reverse: a room's events are offered to its members'
// sessions alone, without a query per event.
//
// A user's rooms are read from the database when its first session here
// opens (load), then kept by the room events themselves, which every
// process hears in id order through the sequencer: a join adds the room,
// a leave, a removal or a ban takes it away before the event is offered,
// so that from the removal on none of the room's events reach the removed
// user's sessions (it hears of its own removal as the event's recipient).
// Changes heard while a user's rooms are being read are kept and applied
// on top of what was read, in order; a room event heard meanwhile makes
// the user's sessions catch up from the database, which checks membership
// as it reads.
//
// It keeps the users each of them blocks the same way: read with the
// rooms, then kept by the news of blocks that every process hears through
// the hub (read again when the hub reconnects, as news may have been lost).
type roomIndex struct {
	mu       sync.RWMutex
	byUser   map[string]*userRooms
	byRoom   map[string]map[string]struct{} // users here who are members
	blockers map[string]map[string]struct{} // by blocked user: users here who block it

	events atomic.Uint64 // room events offered so far
}

// userRooms are one user's rooms.
type userRooms struct {
	rooms   map[string]struct{}
	blocked map[string]struct{} // the users it blocks
	ready   bool                // read from the database
	pending []roomChange        // heard while not ready, in order
	since   uint64              // roomIndex.events when the user was first tracked
}

// roomChange is a change of membership: user joined or left room, or, with
// no user, the room was deleted; or, with block set, a block.
type roomChange struct {
	room, user string
	join       bool
	block      *blockNews
}

// roomChangeOf returns the change of membership d makes, if it makes one.
func roomChangeOf(d *Delivery) (roomChange, bool) {
	ev := d.msg.GetEvent().GetRoomEvent()
	if ev == nil {
		return roomChange{}, false
	}
	c := roomChange{room: ev.GetRoomId(), user: ev.GetUser().GetId()}
	switch ev.GetKind() {
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_JOINED:
		c.join = true
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_LEFT, foxholev1.RoomEventKind_ROOM_EVENT_KIND_REMOVED, foxholev1.RoomEventKind_ROOM_EVENT_KIND_BANNED:
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_DELETED:
		c.user = ""
	default:
		return roomChange{}, false
	}
	return c, true
}

// track starts keeping user's rooms, not ready until loaded. The caller
// holds sessions.mu.
func (x *roomIndex) track(user string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byUser == nil {
		x.byUser = map[string]*userRooms{}
		x.byRoom = map[string]map[string]struct{}{}
		x.blockers = map[string]map[string]struct{}{}
	}
	x.byUser[user] = &userRooms{rooms: map[string]struct{}{}, blocked: map[string]struct{}{}, since: x.events.Load()}
}

// untrack forgets user's rooms: its last session here closed.
func (x *roomIndex) untrack(user string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ur := x.byUser[user]
	if ur == nil {
		return
	}
	for room := range ur.rooms {
		x.leave(user, room)
	}
	for blocked := range ur.blocked {
		x.unblock(user, blocked)
	}
	delete(x.byUser, user)
}

// ready reports whether user's rooms are known.
func (x *roomIndex) ready(user string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	ur := x.byUser[user]
	return ur != nil && ur.ready
}

// loaded sets user's rooms to those read from the database, then applies
// the changes heard while they were read, and reports whether a room event
// was offered since the user was tracked: its sessions may have missed it.
// A user whose rooms are known already (another session loaded them) is
// left alone.
func (x *roomIndex) loaded(user string, rooms, blocked []string) (missed bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ur := x.byUser[user]
	if ur == nil || ur.ready {
		return false
	}
	for _, room := range rooms {
		x.join(ur, user, room)
	}
	for _, b := range blocked {
		x.setBlock(ur, user, b, true)
	}
	ur.ready = true
	for _, c := range ur.pending {
		x.applyLocked(c)
	}
	ur.pending = nil
	return x.events.Load() != ur.since
}

// apply makes a change of membership.
func (x *roomIndex) apply(c roomChange) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.applyLocked(c)
}

func (x *roomIndex) applyLocked(c roomChange) {
	if c.block != nil {
		switch ur := x.byUser[c.block.Blocker]; {
		case ur == nil: // no session here
		case !ur.ready:
			ur.pending = append(ur.pending, c)
		default:
			x.setBlock(ur, c.block.Blocker, c.block.Blocked, c.block.On)
		}
		return
	}
	if c.user == "" { // the room was deleted
		for user := range x.byRoom[c.room] {
			delete(x.byUser[user].rooms, c.room)
		}
		delete(x.byRoom, c.room)
		for _, ur := range x.byUser {
			if !ur.ready {
				ur.pending = append(ur.pending, c)
			}
		}
		return
	}
	ur := x.byUser[c.user]
	switch {
	case ur == nil: // no session here
	case !ur.ready:
		ur.pending = append(ur.pending, c)
	case c.join:
		x.join(ur, c.user, c.room)
	default:
		delete(ur.rooms, c.room)
		x.leave(c.user, c.room)
	}
}

func (x *roomIndex) join(ur *userRooms, user, room string) {
	ur.rooms[room] = struct{}{}
	if x.byRoom[room] == nil {
		x.byRoom[room] = map[string]struct{}{}
	}
	x.byRoom[room][user] = struct{}{}
}

// block applies the news of a block.
func (x *roomIndex) block(news blockNews) { x.apply(roomChange{block: &news}) }

func (x *roomIndex) setBlock(ur *userRooms, user, blocked string, on bool) {
	if !on {
		delete(ur.blocked, blocked)
		x.unblock(user, blocked)
		return
	}
	ur.blocked[blocked] = struct{}{}
	if x.blockers[blocked] == nil {
		x.blockers[blocked] = map[string]struct{}{}
	}
	x.blockers[blocked][user] = struct{}{}
}

func (x *roomIndex) unblock(user, blocked string) {
	if m := x.blockers[blocked]; m != nil {
		delete(m, user)
		if len(m) == 0 {
			delete(x.blockers, blocked)
		}
	}
}

// blockersOf returns the users here who block user (nil: none), for the
// caller to read while it holds mu.
func (x *roomIndex) blockersOf(user string) map[string]struct{} {
	if user == "" {
		return nil
	}
	return x.blockers[user]
}

// setBlocked replaces the users user blocks with those read from the
// database, when its rooms are known (else its load reads them).
func (x *roomIndex) setBlocked(user string, blocked []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ur := x.byUser[user]
	if ur == nil || !ur.ready {
		return
	}
	for b := range ur.blocked {
		x.setBlock(ur, user, b, false)
	}
	for _, b := range blocked {
		x.setBlock(ur, user, b, true)
	}
}

// readyUsers lists the users whose rooms and blocks are known.
func (x *roomIndex) readyUsers() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var users []string
	for u, ur := range x.byUser {
		if ur.ready {
			users = append(users, u)
		}
	}
	return users
}

func (x *roomIndex) leave(user, room string) {
	if m := x.byRoom[room]; m != nil {
		delete(m, user)
		if len(m) == 0 {
			delete(x.byRoom, room)
		}
	}
}

// deliverRoom offers a room's event to the sessions of its members here
// that take the room's events, and to those of its recipient (the user it
// names, member or not), after making the change of membership it makes.
func (ss *sessions) deliverRoom(d *Delivery) {
	c, change := roomChangeOf(d)
	if change && c.user != "" {
		ss.rooms.apply(c)
	}
	ss.rooms.events.Add(1)
	var to []*Session
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	ss.rooms.mu.RLock()
	members := ss.rooms.byRoom[d.room]
	blockers := ss.rooms.blockersOf(d.from)
	typing := d.msg.GetEvent().GetTyping() != nil // not for the typist
	for user := range members {
		if _, blocks := blockers[user]; blocks || typing && user == d.from {
			continue
		}
		for s := range ss.byUser[user] {
			if s.wants(d.room) {
				to = append(to, s)
			}
		}
	}
	if _, member := members[d.recipient]; d.recipient != "" && !member {
		for s := range ss.byUser[d.recipient] {
			to = append(to, s)
		}
	}
	ss.rooms.mu.RUnlock()
	offerAll(d, to, nil)
	if change && c.user == "" {
		ss.rooms.apply(c)
	}
}

// userRoomsBehind makes user's sessions catch up from the database.
func (ss *sessions) userRoomsBehind(user string) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	for s := range ss.byUser[user] {
		s.markBehind()
	}
}

// endUser ends every session of user here with err.
func (ss *sessions) endUser(user string, err error) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	for s := range ss.byUser[user] {
		s.end(err)
	}
}
