package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/uptrace/bun"
)

// Event is a row of the events table. CreatedAt is in Unix microseconds.
type Event struct {
	bun.BaseModel `bun:"table:events"`

	ID          int64   `bun:"id,pk,autoincrement"`
	SenderID    string  `bun:"sender_id"`
	RecipientID *string `bun:"recipient_id"`
	Body        []byte  `bun:"body"`
	CreatedAt   int64   `bun:"created_at"`
	// Conv is the conversation the event belongs to (see Conversation).
	Conv string `bun:"conv"`
	// RoomID is the room of a room event or message; nil otherwise.
	RoomID *string   `bun:"room_id"`
	Kind   EventKind `bun:"kind"`
}

// EventKind says what a stored event is.
type EventKind int

const (
	KindChat EventKind = 1 // a chat message
	KindFile EventKind = 2 // a file event
	KindRoom EventKind = 3 // a change to a room or its membership
)

// Lobby is the conversation of broadcasts.
const Lobby = "lobby"

// DirectConversation is the conversation between users a and b.
func DirectConversation(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "d:" + a + ":" + b
}

// RoomConversation is the conversation of a room.
func RoomConversation(room string) string { return "r:" + room }

// FileConversation is where a user's file events are kept.
func FileConversation(user string) string { return "f:" + user }

// AddEvent inserts e, setting its ID. Once it returns, e is durable.
//
// Ids are given in commit order: when a reader sees event n, every event
// below n is committed (the realtime sequencer and resuming clients rely on
// it). SQLite has one writer at a time, so AUTOINCREMENT gives that. On
// PostgreSQL the id comes from the event_counter row, updated in the same
// statement (so the same transaction) as the insert: the next writer waits
// on the row lock until this one has committed, and then reads its value.
func (s *Store) AddEvent(ctx context.Context, e *Event) error {
	return s.addEvent(ctx, s.w, e)
}

// addEvent is AddEvent within db, a transaction or the writer. On
// PostgreSQL it holds the event counter's row lock until db commits: a
// transaction takes it last, after every other lock it needs.
func (s *Store) addEvent(ctx context.Context, db bun.IDB, e *Event) error {
	if !s.pg {
		_, err := db.NewInsert().Model(e).Returning("id").Exec(ctx)
		return err
	}
	return db.NewRaw(`WITH n AS (UPDATE event_counter SET last = last + 1 WHERE id = 1 RETURNING last)
		INSERT INTO events (id, sender_id, recipient_id, body, created_at, conv, room_id, kind)
		SELECT last, ?, ?, ?, ?, ?, ?, ? FROM n RETURNING id`,
		e.SenderID, e.RecipientID, e.Body, e.CreatedAt, e.Conv, e.RoomID, e.Kind).Scan(ctx, &e.ID)
}

// AddRoomMessage adds e, a message to the room e.RoomID, if its sender is
// a member of the room; else it adds nothing and answers as a room call
// by a non-member does (see RoomTx.Caller).
func (s *Store) AddRoomMessage(ctx context.Context, e *Event) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// FOR SHARE: a removal waits for the messages being sent, and a
		// message waits for a removal being made, then finds no row.
		q := tx.NewSelect().Model((*Member)(nil)).Column("state").
			Where("room_id = ? AND user_id = ?", *e.RoomID, e.SenderID)
		if s.pg {
			q = q.For("SHARE")
		}
		var state MemberState
		err := q.Scan(ctx, &state)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if state != Joined {
			r, err := roomByID(ctx, tx, *e.RoomID)
			if err != nil {
				return err
			}
			return notMember(r, state)
		}
		return s.addEvent(ctx, tx, e)
	})
}

// EventsAfter returns up to limit events with an id greater than after that
// userID may see, in id order: broadcasts, those it sent or received, and
// those of the rooms it is a member of now, or that name it (an
// invitation, its own removal). With rooms set, room events only of those
// rooms.
func (s *Store) EventsAfter(ctx context.Context, userID string, after int64, limit int, rooms []string) ([]Event, error) {
	var evs []Event
	q := s.r.NewSelect().Model(&evs).
		Where("id > ?", after).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("room_id IS NULL AND (recipient_id IS NULL OR recipient_id = ? OR sender_id = ?)", userID, userID).
				WhereOr("room_id IS NOT NULL AND (recipient_id = ? OR room_id IN (SELECT room_id FROM room_members WHERE user_id = ? AND state = ?))", userID, userID, Joined)
		})
	if len(rooms) > 0 {
		q = q.Where("(room_id IS NULL OR room_id IN (?))", bun.List(rooms))
	}
	err := q.OrderExpr("id").Limit(int64(limit)).Scan(ctx)
	return evs, err
}

// History returns up to limit events of the conversation conv: those
// after `after` in ascending order when after >= 0, else those before
// `before` (before < 0: the newest) in descending order.
func (s *Store) History(ctx context.Context, conv string, before, after int64, limit int) ([]Event, error) {
	var evs []Event
	q := s.r.NewSelect().Model(&evs).Where("conv = ?", conv)
	switch {
	case after >= 0:
		q = q.Where("id > ?", after).OrderExpr("id")
	case before >= 0:
		q = q.Where("id < ?", before).OrderExpr("id DESC")
	default:
		q = q.OrderExpr("id DESC")
	}
	err := q.Limit(int64(limit)).Scan(ctx)
	return evs, err
}

// EventsBetween returns up to limit events with an id greater than after
// and at most through (through < 0: no upper bound), whoever may see them,
// in id order.
func (s *Store) EventsBetween(ctx context.Context, after, through int64, limit int) ([]Event, error) {
	var evs []Event
	q := s.r.NewSelect().Model(&evs).Where("id > ?", after)
	if through >= 0 {
		q = q.Where("id <= ?", through)
	}
	err := q.OrderExpr("id").Limit(int64(limit)).Scan(ctx)
	return evs, err
}

// EventBounds returns the highest id pruning has removed and the highest id
// ever assigned.
func (s *Store) EventBounds(ctx context.Context) (prunedThrough, last int64, err error) {
	// SQLite keeps the highest AUTOINCREMENT id in sqlite_sequence (no row
	// before the first insert); PostgreSQL's counter row is that id.
	lastSQL := `COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)`
	if s.pg {
		lastSQL = `(SELECT last FROM event_counter WHERE id = 1)`
	}
	err = s.r.NewRaw(`SELECT (SELECT pruned_through FROM event_retention WHERE id = 1), `+lastSQL).
		Scan(ctx, &prunedThrough, &last)
	return prunedThrough, last, err
}

// Conversations returns the conversations of the events with an id greater
// than after, each once.
func (s *Store) Conversations(ctx context.Context, after int64) ([]string, error) {
	var convs []string
	err := s.r.NewRaw(`SELECT DISTINCT conv FROM events WHERE id > ?`, after).Scan(ctx, &convs)
	return convs, err
}

// PruneEvents deletes the events of each conversation in convs beyond its
// newest keep, and every event created before cutoff (Unix microseconds),
// and records the highest id it removed (resumes from below it are refused).
func (s *Store) PruneEvents(ctx context.Context, convs []string, keep int, cutoff int64) (int64, error) {
	var removed int64
	prune := func(ctx context.Context, tx bun.Tx, where string, args ...any) error {
		var through int64
		if err := tx.NewRaw(`SELECT COALESCE(MAX(id), 0) FROM events WHERE `+where, args...).Scan(ctx, &through); err != nil || through == 0 {
			return err
		}
		res, err := tx.NewDelete().Model((*Event)(nil)).Where(where, args...).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		removed += n
		greatest := "MAX" // SQLite's two-argument MAX is PostgreSQL's GREATEST
		if s.pg {
			greatest = "GREATEST"
		}
		_, err = tx.NewUpdate().Table("event_retention").
			Set("pruned_through = "+greatest+"(pruned_through, ?)", through).Where("id = 1").Exec(ctx)
		return err
	}
	// One transaction per conversation, so that a large prune never holds
	// the writer for long.
	err := s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return prune(ctx, tx, "created_at < ?", cutoff)
	})
	for _, conv := range convs {
		if err != nil {
			break
		}
		err = s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var oldest []int64 // the id of the newest event past keep, if any
			err := tx.NewRaw(`SELECT id FROM events WHERE conv = ? ORDER BY id DESC LIMIT 1 OFFSET ?`, conv, keep).Scan(ctx, &oldest)
			if err != nil || len(oldest) == 0 {
				return err
			}
			return prune(ctx, tx, "conv = ? AND id <= ?", conv, oldest[0])
		})
	}
	return removed, err
}

// usersByIDChunk bounds the ids of one query: ListPresence may pass every
// user online, and one IN list of them all would be a statement of unbounded
// size, past SQLite's limit of bound parameters wherever they are bound.
const usersByIDChunk = 500

// UsersByID returns the users with the given ids that exist (with their id
// and screen name only).
func (s *Store) UsersByID(ctx context.Context, ids []string) ([]User, error) {
	// Sorted and without repeats, so that an id repeated in two chunks
	// does not return its user twice, as one IN list would not.
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var users []User
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), usersByIDChunk)]
		ids = ids[len(chunk):]
		var found []User
		err := s.r.NewSelect().Model(&found).Column("id", "screen_name", "token_version").Where("id IN (?)", bun.List(chunk)).Scan(ctx)
		if err != nil {
			return nil, fmt.Errorf("users by id: %w", err)
		}
		users = append(users, found...)
	}
	return users, nil
}
