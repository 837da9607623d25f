package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"foxhole.dev/foxhole/internal/errs"
)

// File is a row of the files table: the metadata of one stored object,
// whose object key is its ID. CreatedAt is in Unix microseconds.
type File struct {
	bun.BaseModel `bun:"table:files"`

	ID          string `bun:"id,pk"`
	OwnerID     string `bun:"owner_id"`
	Name        string `bun:"name"`
	Size        int64  `bun:"size"`
	ContentType string `bun:"content_type"`
	SHA256      string `bun:"sha256"`
	CreatedAt   int64  `bun:"created_at"`
}

// FileCursor is a position in an owner's files, newest first.
type FileCursor struct {
	CreatedAt int64
	ID        string
}

// CreateFile inserts f unless it would take its owner's total size over
// quota (quota <= 0: no limit), in which case it returns
// errs.ErrResourceExhausted and inserts nothing.
func (s *Store) CreateFile(ctx context.Context, f *File, quota int64) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if quota > 0 {
			var used int64
			err := tx.NewSelect().Table("files").ColumnExpr("COALESCE(SUM(size), 0)").
				Where("owner_id = ?", f.OwnerID).Scan(ctx, &used)
			if err != nil {
				return err
			}
			if used+f.Size > quota {
				return errs.New(errs.ErrResourceExhausted, "storage quota of %d bytes exceeded: %d bytes used, this file needs %d", quota, used, f.Size)
			}
		}
		_, err := tx.NewInsert().Model(f).Exec(ctx)
		return err
	})
}

// FileUsage returns the total size of the owner's files.
func (s *Store) FileUsage(ctx context.Context, ownerID string) (int64, error) {
	var used int64
	err := s.r.NewSelect().Table("files").ColumnExpr("COALESCE(SUM(size), 0)").
		Where("owner_id = ?", ownerID).Scan(ctx, &used)
	return used, err
}

// FileByID returns the owner's file with that id. Another owner's file is
// errs.ErrNotFound, exactly like a missing one.
func (s *Store) FileByID(ctx context.Context, ownerID, id string) (*File, error) {
	f := new(File)
	err := s.r.NewSelect().Model(f).Where("id = ? AND owner_id = ?", id, ownerID).Scan(ctx)
	return f, notFound(err, "file")
}

// FileByIDAnyOwner returns the file with that id whoever owns it, for
// requests already authorised another way (a signed download URL).
func (s *Store) FileByIDAnyOwner(ctx context.Context, id string) (*File, error) {
	f := new(File)
	err := s.r.NewSelect().Model(f).Where("id = ?", id).Scan(ctx)
	return f, notFound(err, "file")
}

// ListFiles returns up to limit of the owner's files, newest first (ties:
// greater id first), strictly after the cursor when one is given.
func (s *Store) ListFiles(ctx context.Context, ownerID string, after *FileCursor, limit int) ([]File, error) {
	var files []File
	q := s.r.NewSelect().Model(&files).Where("owner_id = ?", ownerID)
	if after != nil {
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", after.CreatedAt, after.CreatedAt, after.ID)
	}
	err := q.OrderExpr("created_at DESC, id DESC").Limit(int64(limit)).Scan(ctx)
	return files, err
}

// DeleteFile removes the owner's file metadata and returns what it was.
func (s *Store) DeleteFile(ctx context.Context, ownerID, id string) (*File, error) {
	f := new(File)
	err := s.w.NewDelete().Model(f).Where("id = ? AND owner_id = ?", id, ownerID).Returning("*").Scan(ctx)
	return f, notFound(err, "file")
}

// FileExists reports whether any file has that id.
func (s *Store) FileExists(ctx context.Context, id string) (bool, error) {
	n, err := s.r.NewSelect().Table("files").Where("id = ?", id).Count(ctx)
	if err != nil {
		return false, fmt.Errorf("count files: %w", err)
	}
	return n > 0, nil
}
