package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"foxhole.dev/foxhole/internal/errs"
)

// Room is a row of the rooms table. Times are Unix microseconds.
type Room struct {
	bun.BaseModel `bun:"table:rooms"`

	ID          string `bun:"id,pk"`
	Name        string `bun:"name"`
	NameFolded  string `bun:"name_folded"`
	Topic       string `bun:"topic"`
	Visibility  int32  `bun:"visibility"` // foxhole.v1.RoomVisibility
	MemberCount int32  `bun:"member_count"`
	CreatedAt   int64  `bun:"created_at"`
	UpdatedAt   int64  `bun:"updated_at"`
}

// Visibilities of a room, as foxhole.v1.RoomVisibility numbers them.
const (
	Private int32 = 1
	Public  int32 = 2
)

// Roles of a member, as foxhole.v1.RoomRole numbers them.
const (
	RoleOwner  int32 = 1
	RoleAdmin  int32 = 2
	RoleMember int32 = 3
)

// MemberState is a user's standing in a room.
type MemberState int

const (
	Joined  MemberState = 1
	Invited MemberState = 2
	Banned  MemberState = 3
)

// Member is a row of room_members: a user's standing in a room.
type Member struct {
	bun.BaseModel `bun:"table:room_members"`

	RoomID      string      `bun:"room_id,pk"`
	UserID      string      `bun:"user_id,pk"`
	State       MemberState `bun:"state"`
	Role        int32       `bun:"role"` // members only
	JoinedAt    int64       `bun:"joined_at"`
	ReadThrough int64       `bun:"read_through"`
}

// RoomView is a room as one user sees it: the room, the user's standing in
// it (State 0: none), and its activity.
type RoomView struct {
	Room
	State       MemberState `bun:"state"`
	Role        int32       `bun:"role"`
	ReadThrough int64       `bun:"read_through"`
	LastEventID int64       `bun:"last_event_id"`
	Unread      int32       `bun:"unread"`
}

// MaxUnread bounds the unread messages counted per room.
const MaxUnread = 1000

// notMember is the error of a room call by a user who is not a member: a
// private room it is not invited to does not exist for it.
func notMember(r *Room, state MemberState) error {
	if r.Visibility != Public && state != Invited {
		return errs.New(errs.ErrNotFound, "room not found")
	}
	return errs.New(errs.ErrPermissionDenied, "not a member of this room")
}

func roomByID(ctx context.Context, db bun.IDB, id string) (*Room, error) {
	r := new(Room)
	if err := db.NewSelect().Model(r).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "room")
	}
	return r, nil
}

// viewColumns selects a RoomView of the room aliased r for the user whose
// membership row is aliased m (a LEFT JOIN: NULL when it has none).
const viewColumns = `r.*, COALESCE(m.state, 0) AS state, COALESCE(m.role, 0) AS role,
	COALESCE(m.read_through, 0) AS read_through,
	COALESCE((SELECT MAX(e.id) FROM events e WHERE e.conv = 'r:' || r.id), 0) AS last_event_id,
	CASE WHEN m.state = 1 THEN (SELECT COUNT(*) FROM (SELECT 1 FROM events e WHERE e.conv = 'r:' || r.id
		AND e.id > m.read_through AND e.kind = 1 AND e.sender_id <> m.user_id LIMIT 1000) u) ELSE 0 END AS unread`

// RoomFor returns the room as user sees it, or errs.ErrNotFound when it
// does not exist or is private and the user neither a member nor invited.
func (s *Store) RoomFor(ctx context.Context, roomID, user string) (*RoomView, error) {
	v := new(RoomView)
	err := s.r.NewRaw(`SELECT `+viewColumns+` FROM rooms r
		LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = ?
		WHERE r.id = ?`, user, roomID).Scan(ctx, v)
	if err != nil {
		return nil, notFound(err, "room")
	}
	if v.Visibility != Public && v.State != Joined && v.State != Invited {
		return nil, errs.New(errs.ErrNotFound, "room not found")
	}
	return v, nil
}

// RoomCursor is where a page of rooms ends: the joined rooms are ordered by
// activity (LastEventID) then id, the directory by name then id.
type RoomCursor struct {
	LastEventID int64
	Name        string
	ID          string
}

// JoinedRooms returns up to limit of the rooms user is a member of, latest
// activity first, after the cursor (nil: from the start).
func (s *Store) JoinedRooms(ctx context.Context, user string, after *RoomCursor, limit int) ([]RoomView, error) {
	q := `SELECT * FROM (SELECT ` + viewColumns + ` FROM room_members m JOIN rooms r ON r.id = m.room_id
		WHERE m.user_id = ? AND m.state = 1) v`
	args := []any{user}
	if after != nil {
		q += ` WHERE last_event_id < ? OR (last_event_id = ? AND id > ?)`
		args = append(args, after.LastEventID, after.LastEventID, after.ID)
	}
	q += ` ORDER BY last_event_id DESC, id LIMIT ?`
	var vs []RoomView
	err := s.r.NewRaw(q, append(args, limit)...).Scan(ctx, &vs)
	return vs, err
}

// DirectoryRooms returns up to limit public rooms whose name contains query
// (ignoring case), by name then id, after the cursor (nil: from the start),
// as user sees them.
func (s *Store) DirectoryRooms(ctx context.Context, user, query string, after *RoomCursor, limit int) ([]RoomView, error) {
	q := `SELECT ` + viewColumns + ` FROM rooms r
		LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = ?
		WHERE r.visibility = 2`
	args := []any{user}
	if query != "" {
		q += ` AND r.name_folded LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(FoldName(query))+"%")
	}
	if after != nil {
		q += ` AND (r.name_folded > ? OR (r.name_folded = ? AND r.id > ?))`
		args = append(args, after.Name, after.Name, after.ID)
	}
	q += ` ORDER BY r.name_folded, r.id LIMIT ?`
	var vs []RoomView
	err := s.r.NewRaw(q, append(args, limit)...).Scan(ctx, &vs)
	return vs, err
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// FoldName is a room name as the directory compares it.
func FoldName(name string) string { return strings.ToLower(name) }

// MemberCursor is where a page of members ends.
type MemberCursor struct {
	JoinedAt int64
	UserID   string
}

// RoomMember is a member with its screen name.
type RoomMember struct {
	Member
	ScreenName string `bun:"screen_name"`
}

// Members returns up to limit members of the room in the order they joined,
// after the cursor (nil: from the first).
func (s *Store) Members(ctx context.Context, roomID string, after *MemberCursor, limit int) ([]RoomMember, error) {
	q := s.r.NewSelect().Model((*Member)(nil)).ColumnExpr("m.*, u.screen_name").
		ModelTableExpr("room_members AS m").Join("JOIN users AS u ON u.id = m.user_id").
		Where("m.room_id = ? AND m.state = ?", roomID, Joined)
	if after != nil {
		q = q.Where("(m.joined_at > ? OR (m.joined_at = ? AND m.user_id > ?))", after.JoinedAt, after.JoinedAt, after.UserID)
	}
	var ms []RoomMember
	err := q.OrderExpr("m.joined_at, m.user_id").Limit(int64(limit)).Scan(ctx, &ms)
	return ms, err
}

// RoomsOf returns the ids of the rooms user is a member of.
func (s *Store) RoomsOf(ctx context.Context, user string) ([]string, error) {
	var ids []string
	err := s.r.NewSelect().Model((*Member)(nil)).Column("room_id").
		Where("user_id = ? AND state = ?", user, Joined).Scan(ctx, &ids)
	return ids, err
}

// Membership returns user's standing in the room (State 0: none) and the
// room, or errs.ErrNotFound when the room does not exist.
func (s *Store) Membership(ctx context.Context, roomID, user string) (*Room, *Member, error) {
	r, err := roomByID(ctx, s.r, roomID)
	if err != nil {
		return nil, nil, err
	}
	m := &Member{RoomID: roomID, UserID: user}
	err = s.r.NewSelect().Model(m).WherePK().Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, err
	}
	return r, m, nil
}

// CanRead reports nil when user may read the room's history (a member),
// else the error its call answers (see notMember).
func CanRead(r *Room, m *Member) error {
	if m.State == Joined {
		return nil
	}
	return notMember(r, m.State)
}

// MarkRead moves user's read marker in the room forward to eventID. A
// user who is not a member gets the error of CanRead.
func (s *Store) MarkRead(ctx context.Context, roomID, user string, eventID int64) error {
	res, err := s.w.NewUpdate().Model((*Member)(nil)).
		Set("read_through = ?", eventID).
		Where("room_id = ? AND user_id = ? AND state = ? AND read_through < ?", roomID, user, Joined, eventID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	r, m, err := s.Membership(ctx, roomID, user)
	if err != nil {
		return err
	}
	return CanRead(r, m) // a member whose marker is ahead already: nil
}

// RoomTx is one change to a room, in one transaction: ChangeRoom and
// CreateRoom hand it to the change, which reads and writes the room's
// members and names the events that record the change (Emit); they are
// stored last, once every other write is made.
type RoomTx struct {
	s      *Store
	tx     bun.Tx
	Room   *Room
	events []*Event
	gone   bool // the room was deleted
}

// ChangeRoom runs change on the room in one transaction; the room is
// locked meanwhile (PostgreSQL; SQLite has one writer at a time). A room
// that does not exist is errs.ErrNotFound. Nothing is written when change
// fails.
func (s *Store) ChangeRoom(ctx context.Context, roomID string, change func(context.Context, *RoomTx) error) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model((*Room)(nil)).Where("id = ?", roomID)
		if s.pg {
			q = q.For("UPDATE")
		}
		r := new(Room)
		if err := q.Scan(ctx, r); err != nil {
			return notFound(err, "room")
		}
		return s.runChange(ctx, tx, r, change)
	})
}

// CreateRoom inserts r, then runs change on it, in one transaction.
func (s *Store) CreateRoom(ctx context.Context, r *Room, change func(context.Context, *RoomTx) error) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert room: %w", err)
		}
		return s.runChange(ctx, tx, r, change)
	})
}

func (s *Store) runChange(ctx context.Context, tx bun.Tx, r *Room, change func(context.Context, *RoomTx) error) error {
	t := &RoomTx{s: s, tx: tx, Room: r}
	if err := change(ctx, t); err != nil {
		return err
	}
	if !t.gone {
		if _, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
			return err
		}
	}
	for _, e := range t.events {
		if err := s.addEvent(ctx, tx, e); err != nil {
			return fmt.Errorf("store room event: %w", err)
		}
	}
	return nil
}

// Member returns user's standing in the room: State 0 when it has none.
func (t *RoomTx) Member(ctx context.Context, user string) (*Member, error) {
	m := &Member{RoomID: t.Room.ID, UserID: user}
	err := t.tx.NewSelect().Model(m).WherePK().Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return &Member{RoomID: t.Room.ID, UserID: user}, nil
	}
	return m, err
}

// Put writes m, whose standing was before old (State 0: none), keeping the
// room's member count.
func (t *RoomTx) Put(ctx context.Context, m *Member, old MemberState) error {
	_, err := t.tx.NewInsert().Model(m).
		On("CONFLICT (room_id, user_id) DO UPDATE").
		Set("state = EXCLUDED.state, role = EXCLUDED.role, joined_at = EXCLUDED.joined_at, read_through = EXCLUDED.read_through").
		Exec(ctx)
	if err != nil {
		return err
	}
	t.count(old, m.State)
	return nil
}

// Drop removes user's standing in the room, which was old.
func (t *RoomTx) Drop(ctx context.Context, user string, old MemberState) error {
	_, err := t.tx.NewDelete().Model((*Member)(nil)).Where("room_id = ? AND user_id = ?", t.Room.ID, user).Exec(ctx)
	if err != nil {
		return err
	}
	t.count(old, 0)
	return nil
}

func (t *RoomTx) count(old, now MemberState) {
	if old == Joined {
		t.Room.MemberCount--
	}
	if now == Joined {
		t.Room.MemberCount++
	}
}

// Owners counts the room's owners.
func (t *RoomTx) Owners(ctx context.Context) (int64, error) {
	return t.tx.NewSelect().Model((*Member)(nil)).
		Where("room_id = ? AND state = ? AND role = ?", t.Room.ID, Joined, RoleOwner).Count(ctx)
}

// Successor returns the member who becomes owner when the last one leaves:
// the longest-standing admin, else the longest-standing member; nil when
// no member is left but owners.
func (t *RoomTx) Successor(ctx context.Context) (*Member, error) {
	m := new(Member)
	err := t.tx.NewSelect().Model(m).
		Where("room_id = ? AND state = ? AND role IN (?, ?)", t.Room.ID, Joined, RoleAdmin, RoleMember).
		OrderExpr("role, joined_at, user_id").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return m, err
}

// RoomsJoined counts the rooms user is a member of.
func (t *RoomTx) RoomsJoined(ctx context.Context, user string) (int64, error) {
	return t.tx.NewSelect().Model((*Member)(nil)).Where("user_id = ? AND state = ?", user, Joined).Count(ctx)
}

// UserExists reports whether the user exists.
func (t *RoomTx) UserExists(ctx context.Context, user string) (bool, error) {
	return t.tx.NewSelect().Model((*User)(nil)).Where("id = ?", user).Exists(ctx)
}

// Emit stores e with the change, once every other write is made.
func (t *RoomTx) Emit(e *Event) { t.events = append(t.events, e) }

// Delete deletes the room, its members and its history.
func (t *RoomTx) Delete(ctx context.Context) error {
	if _, err := t.tx.NewDelete().Model((*Event)(nil)).Where("conv = ?", RoomConversation(t.Room.ID)).Exec(ctx); err != nil {
		return err
	}
	if _, err := t.tx.NewDelete().Model((*Member)(nil)).Where("room_id = ?", t.Room.ID).Exec(ctx); err != nil {
		return err
	}
	if _, err := t.tx.NewDelete().Model(t.Room).WherePK().Exec(ctx); err != nil {
		return err
	}
	t.gone = true
	return nil
}

// MemberIDs returns up to limit ids of the room's members, in order of id,
// after the id after.
func (s *Store) MemberIDs(ctx context.Context, roomID, after string, limit int) ([]string, error) {
	var ids []string
	err := s.r.NewSelect().Model((*Member)(nil)).Column("user_id").
		Where("room_id = ? AND state = ? AND user_id > ?", roomID, Joined, after).
		OrderExpr("user_id").Limit(int64(limit)).Scan(ctx, &ids)
	return ids, err
}

// LastEventID returns the id of the room's newest stored event (0: none).
func (t *RoomTx) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := t.tx.NewRaw(`SELECT COALESCE(MAX(id), 0) FROM events WHERE conv = ?`, RoomConversation(t.Room.ID)).Scan(ctx, &id)
	return id, err
}
