package store

import (
	"context"

	"github.com/uptrace/bun"

	"foxhole.dev/foxhole/internal/errs"
)

// Share is a row of shares: a public link to a file. Times are Unix
// microseconds; ExpiresAt 0 is never.
type Share struct {
	bun.BaseModel `bun:"table:shares"`

	ID        string `bun:"id,pk"`
	FileID    string `bun:"file_id"`
	OwnerID   string `bun:"owner_id"`
	CreatedAt int64  `bun:"created_at"`
	ExpiresAt int64  `bun:"expires_at"`
}

// CreateShare inserts sh, unless its file is not its owner's (not found)
// or the owner has max live shares already (0: no bound). Expired shares
// of the owner are deleted on the way.
func (s *Store) CreateShare(ctx context.Context, sh *Share, max int) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			if _, err := tx.NewRaw("SELECT 1 FROM users WHERE id = ? FOR UPDATE", sh.OwnerID).Exec(ctx); err != nil {
				return err
			}
		}
		n, err := tx.NewSelect().Table("files").Where("id = ? AND owner_id = ?", sh.FileID, sh.OwnerID).Count(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errs.New(errs.ErrNotFound, "file not found")
		}
		if _, err := tx.NewDelete().Model((*Share)(nil)).
			Where("owner_id = ? AND expires_at <> 0 AND expires_at <= ?", sh.OwnerID, sh.CreatedAt).Exec(ctx); err != nil {
			return err
		}
		if max > 0 {
			n, err := tx.NewSelect().Model((*Share)(nil)).Where("owner_id = ?", sh.OwnerID).Count(ctx)
			if err != nil {
				return err
			}
			if n >= int64(max) {
				return errs.New(errs.ErrResourceExhausted, "share limit reached: at most %d live links per user; revoke some first", max)
			}
		}
		_, err = tx.NewInsert().Model(sh).Exec(ctx)
		return err
	})
}

// SharedFile returns the file a live share names, whoever owns it; a
// missing, revoked or expired share, or a deleted file, is not found. It
// reads the database every time, so a revocation holds at once everywhere.
func (s *Store) SharedFile(ctx context.Context, shareID string, now int64) (*File, error) {
	f := new(File)
	err := s.r.NewSelect().Model(f).ModelTableExpr("files AS f").ColumnExpr("f.*").
		Join("JOIN shares AS s ON s.file_id = f.id AND s.owner_id = f.owner_id").
		Where("s.id = ?", shareID).
		Where("(s.expires_at = 0 OR s.expires_at > ?)", now).Scan(ctx)
	return f, notFound(err, "share")
}

// DeleteShare removes the owner's share.
func (s *Store) DeleteShare(ctx context.Context, ownerID, id string) error {
	res, err := s.w.NewDelete().Model((*Share)(nil)).Where("id = ? AND owner_id = ?", id, ownerID).Exec(ctx)
	if ok, err := affected(res, err); err != nil || !ok {
		if err == nil {
			err = errs.New(errs.ErrNotFound, "share not found")
		}
		return err
	}
	return nil
}

// ListShares returns the owner's live shares, of one file when fileID is
// not empty, newest first.
func (s *Store) ListShares(ctx context.Context, ownerID, fileID string, now int64) ([]Share, error) {
	var out []Share
	q := s.r.NewSelect().Model(&out).Where("owner_id = ?", ownerID).Where("(expires_at = 0 OR expires_at > ?)", now)
	if fileID != "" {
		q = q.Where("file_id = ?", fileID)
	}
	err := q.OrderExpr("created_at DESC, id DESC").Scan(ctx)
	return out, err
}

// DeleteSharesOf removes every share of a file.
func (s *Store) DeleteSharesOf(ctx context.Context, fileID string) error {
	_, err := s.w.NewDelete().Model((*Share)(nil)).Where("file_id = ?", fileID).Exec(ctx)
	return err
}
