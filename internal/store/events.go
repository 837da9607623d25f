package store

import (
	"context"
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
}

// AddEvent inserts e, setting its ID. Once it returns, e is durable.
//
// Ids are given in commit order: when a reader sees event n, every event
// below n is committed (the realtime sequencer and resuming clients rely on
// it). SQLite has one writer at a time, so AUTOINCREMENT gives that. On
// PostgreSQL the id comes from the event_counter row, updated in the same
// statement (so the same transaction) as the insert: the next writer waits
// on the row lock until this one has committed, and then reads its value.
func (s *Store) AddEvent(ctx context.Context, e *Event) error {
	if !s.pg {
		_, err := s.w.NewInsert().Model(e).Returning("id").Exec(ctx)
		return err
	}
	return s.w.NewRaw(`WITH n AS (UPDATE event_counter SET last = last + 1 WHERE id = 1 RETURNING last)
		INSERT INTO events (id, sender_id, recipient_id, body, created_at)
		SELECT last, ?, ?, ?, ? FROM n RETURNING id`,
		e.SenderID, e.RecipientID, e.Body, e.CreatedAt).Scan(ctx, &e.ID)
}

// EventsAfter returns up to limit events with an id greater than after that
// userID may see (broadcasts, and those it sent or received), in id order.
func (s *Store) EventsAfter(ctx context.Context, userID string, after int64, limit int) ([]Event, error) {
	var evs []Event
	err := s.r.NewSelect().Model(&evs).
		Where("id > ?", after).
		Where("(recipient_id IS NULL OR recipient_id = ? OR sender_id = ?)", userID, userID).
		OrderExpr("id").Limit(int64(limit)).Scan(ctx)
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

// PruneEvents deletes events beyond the newest keep, and those created
// before cutoff (Unix microseconds), and records how far it pruned.
func (s *Store) PruneEvents(ctx context.Context, keep int, cutoff int64) (int64, error) {
	var removed int64
	err := s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var through int64
		err := tx.NewRaw(`SELECT COALESCE(MAX(id), 0) FROM events WHERE
			id <= (SELECT COALESCE(MAX(id), 0) FROM events) - ? OR created_at < ?`, keep, cutoff).Scan(ctx, &through)
		if err != nil || through == 0 {
			return err
		}
		res, err := tx.NewDelete().Model((*Event)(nil)).Where("id <= ?", through).Exec(ctx)
		if err != nil {
			return err
		}
		removed, _ = res.RowsAffected()
		greatest := "MAX" // SQLite's two-argument MAX is PostgreSQL's GREATEST
		if s.pg {
			greatest = "GREATEST"
		}
		_, err = tx.NewUpdate().Table("event_retention").
			Set("pruned_through = "+greatest+"(pruned_through, ?)", through).Where("id = 1").Exec(ctx)
		return err
	})
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
