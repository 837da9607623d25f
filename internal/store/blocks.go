package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"foxhole.dev/foxhole/internal/errs"
)

// Block is a row of user_blocks: blocker blocks blocked.
type Block struct {
	bun.BaseModel `bun:"table:user_blocks"`

	BlockerID string `bun:"blocker_id,pk"`
	BlockedID string `bun:"blocked_id,pk"`
	CreatedAt int64  `bun:"created_at"`
}

// AddBlock records that blocker blocks blocked, unless it blocks max users
// already (errs.ErrResourceExhausted); blocking again changes nothing. A
// blocked user that does not exist is errs.ErrNotFound.
func (s *Store) AddBlock(ctx context.Context, blocker, blocked string, at int64, max int) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		exists, err := tx.NewSelect().Model((*User)(nil)).Where("id = ?", blocked).Exists(ctx)
		if err != nil {
			return err
		}
		if !exists {
			return errs.New(errs.ErrNotFound, "user %q not found", blocked)
		}
		n, err := tx.NewSelect().Model((*Block)(nil)).Where("blocker_id = ?", blocker).Count(ctx)
		if err != nil {
			return err
		}
		if n >= int64(max) {
			return errs.New(errs.ErrResourceExhausted, "a user may block at most %d users; unblock one first", max)
		}
		_, err = tx.NewInsert().Model(&Block{BlockerID: blocker, BlockedID: blocked, CreatedAt: at}).
			On("CONFLICT (blocker_id, blocked_id) DO NOTHING").Exec(ctx)
		return err
	})
}

// RemoveBlock lifts blocker's block of blocked, if there is one.
func (s *Store) RemoveBlock(ctx context.Context, blocker, blocked string) error {
	_, err := s.w.NewDelete().Model((*Block)(nil)).Where("blocker_id = ? AND blocked_id = ?", blocker, blocked).Exec(ctx)
	return err
}

// Blocks returns the ids of the users blocker blocks, in order.
func (s *Store) Blocks(ctx context.Context, blocker string) ([]string, error) {
	var ids []string
	err := s.r.NewSelect().Model((*Block)(nil)).Column("blocked_id").Where("blocker_id = ?", blocker).OrderExpr("blocked_id").Scan(ctx, &ids)
	return ids, err
}

// Blocking reports whether blocker blocks blocked.
func (s *Store) Blocking(ctx context.Context, blocker, blocked string) (bool, error) {
	var one int
	err := s.r.NewSelect().Model((*Block)(nil)).ColumnExpr("1").Where("blocker_id = ? AND blocked_id = ?", blocker, blocked).Scan(ctx, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
