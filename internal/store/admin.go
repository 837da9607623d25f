package store

import (
	"context"
)

// UserSummary is a user as an operator lists it. Times are Unix
// microseconds.
type UserSummary struct {
	ID         string `bun:"id"`
	ScreenName string `bun:"screen_name"`
	CreatedAt  int64  `bun:"created_at"`
	// LastSeen is when it sent its newest stored message, else when it
	// got its first token; 0: never.
	LastSeen int64  `bun:"last_seen"`
	BannedAt *int64 `bun:"banned_at"`
	Files    int64  `bun:"files"`
	Bytes    int64  `bun:"bytes"`
}

const summaryColumns = `u.id, u.screen_name, u.created_at, u.banned_at,
	COALESCE((SELECT MAX(e.created_at) FROM events e WHERE e.sender_id = u.id AND e.kind = 1), u.used_at, 0) AS last_seen,
	(SELECT COUNT(*) FROM files f WHERE f.owner_id = u.id) AS files,
	COALESCE((SELECT SUM(f.size) FROM files f WHERE f.owner_id = u.id), 0) AS bytes`

// UserSummaries returns up to limit users in order of id, after the id
// after.
func (s *Store) UserSummaries(ctx context.Context, after string, limit int) ([]UserSummary, error) {
	var us []UserSummary
	err := s.r.NewRaw(`SELECT `+summaryColumns+` FROM users u WHERE u.id > ? ORDER BY u.id LIMIT ?`, after, limit).Scan(ctx, &us)
	return us, err
}

// UserSummary returns the user with that id, or errs.ErrNotFound.
func (s *Store) UserSummary(ctx context.Context, id string) (*UserSummary, error) {
	u := new(UserSummary)
	if err := s.r.NewRaw(`SELECT `+summaryColumns+` FROM users u WHERE u.id = ?`, id).Scan(ctx, u); err != nil {
		return nil, notFound(err, "user")
	}
	return u, nil
}
