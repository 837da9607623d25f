package store

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// FileLimits bound what one owner may store. Zero fields are no limit.
type FileLimits struct {
	Quota     int64 // total bytes charged
	MaxCount  int   // number of files
	MinCharge int64 // what a smaller file is charged, an empty one included
}

// Charge is what the quota counts for a file of size bytes.
func (l FileLimits) Charge(size int64) int64 { return max(size, l.MinCharge) }

// FileUsage is what an owner's files take: their number, and their total
// size as the quota charges it.
type FileUsage struct {
	Count int
	Bytes int64
}

// CreateFile inserts f and deletes its upload intent, which must exist
// (see CreateUploadIntent), unless it would take
// its owner past a limit, in which case it returns errs.ErrResourceExhausted
// and inserts nothing. The check and the insert are one transaction, so
// concurrent uploads cannot together overshoot.
func (s *Store) CreateFile(ctx context.Context, f *File, l FileLimits) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return s.createFile(ctx, tx, f, l)
	})
}

func (s *Store) createFile(ctx context.Context, tx bun.Tx, f *File, l FileLimits) error {
	{
		if l.Quota > 0 || l.MaxCount > 0 {
			// SQLite runs one write transaction at a time. PostgreSQL runs
			// them together, and two could each see room for one more
			// file: locking the owner's row makes the owner's uploads take
			// turns (the row must exist anyway, for the foreign key).
			if s.pg {
				if _, err := tx.NewRaw("SELECT 1 FROM users WHERE id = ? FOR UPDATE", f.OwnerID).Exec(ctx); err != nil {
					return err
				}
			}
			u, err := fileUsage(ctx, tx, f.OwnerID, l.MinCharge)
			if err != nil {
				return err
			}
			// What the owner's other uploads in progress reserved is spoken
			// for: this upload reserved its own share when it started.
			others, err := reservedBy(ctx, tx, f.OwnerID, f.ID)
			if err != nil {
				return err
			}
			u.Bytes += others
			if l.MaxCount > 0 && u.Count >= l.MaxCount {
				return errs.New(errs.ErrResourceExhausted, "file limit reached: at most %d files per user; delete some first", l.MaxCount)
			}
			if need := l.Charge(f.Size); l.Quota > 0 && u.Bytes+need > l.Quota {
				return errs.New(errs.ErrResourceExhausted, "storage quota of %d bytes exceeded: %d bytes used, this file needs %d", l.Quota, u.Bytes, need)
			}
		}
		// The intent must still be there: once the sweep has given up on an
		// upload (and may have deleted its content), it must not become a file.
		res, err := tx.NewDelete().Table("upload_intents").Where("id = ?", f.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, &errs.Error{Kind: context.DeadlineExceeded, Msg: "the upload took too long and was abandoned"})
		}
		_, err = tx.NewInsert().Model(f).Exec(ctx)
		return err
	}
}

// FileUsage returns what the owner's files take, each file charged at least
// minCharge bytes.
func (s *Store) FileUsage(ctx context.Context, ownerID string, minCharge int64) (FileUsage, error) {
	return fileUsage(ctx, s.r, ownerID, minCharge)
}

func fileUsage(ctx context.Context, db bun.IDB, ownerID string, minCharge int64) (FileUsage, error) {
	var u FileUsage
	// CASE rather than a two-argument MAX, which not every SQL engine has.
	err := db.NewSelect().Table("files").
		ColumnExpr("COUNT(*)").
		ColumnExpr("COALESCE(SUM(CASE WHEN size < ? THEN ? ELSE size END), 0)", minCharge, minCharge).
		Where("owner_id = ?", ownerID).Scan(ctx, &u.Count, &u.Bytes)
	return u, err
}

// UploadIntent is a row of upload_intents: an upload whose content may be
// in the object store before its file row exists.
type UploadIntent struct {
	bun.BaseModel `bun:"table:upload_intents"`

	ID        string `bun:"id,pk"`
	OwnerID   string `bun:"owner_id"`
	CreatedAt int64  `bun:"created_at"` // Unix microseconds
	// Reserved is what the upload holds of its owner's quota until it
	// commits or fails (0: the owner has no quota).
	Reserved int64 `bun:"reserved"`
}

// reservedBy returns what the owner's uploads in progress hold of the
// quota, but for the one with id except.
func reservedBy(ctx context.Context, db bun.IDB, ownerID, except string) (int64, error) {
	var n int64
	err := db.NewSelect().Table("upload_intents").ColumnExpr("COALESCE(SUM(reserved), 0)").
		Where("owner_id = ? AND id <> ?", ownerID, except).Scan(ctx, &n)
	return n, err
}

// ReserveUpload records an upload's intent (see CreateUploadIntent) and
// reserves its share of the owner's quota in the same transaction, so that
// uploads running at once cannot together store past it. size is the
// content's declared length, or -1 when unknown: then the upload reserves
// what the quota has left, at most maxBytes. It returns the most content
// bytes the upload may store (at most maxBytes), or refuses and records
// nothing: errs.Limited (retry later) when only uploads in progress are in
// the way, errs.ErrResourceExhausted when the owner's files are. The reservation ends with the intent: CreateFile and
// DeleteUploadIntent.
func (s *Store) ReserveUpload(ctx context.Context, in *UploadIntent, size, maxBytes int64, l FileLimits) (int64, error) {
	var limit int64
	err := s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		limit, err = s.reserveUpload(ctx, tx, in, size, maxBytes, l)
		return err
	})
	if err != nil {
		return 0, err
	}
	return limit, nil
}

func (s *Store) reserveUpload(ctx context.Context, tx bun.Tx, in *UploadIntent, size, maxBytes int64, l FileLimits) (int64, error) {
	in.Reserved = 0
	limit := maxBytes
	if size >= 0 && size > maxBytes {
		return 0, errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", maxBytes)
	}
	err := func() error {
		if l.Quota > 0 || l.MaxCount > 0 {
			// As in CreateFile: the owner's row lock makes the owner's
			// reservations take turns on PostgreSQL.
			if s.pg {
				if _, err := tx.NewRaw("SELECT 1 FROM users WHERE id = ? FOR UPDATE", in.OwnerID).Exec(ctx); err != nil {
					return err
				}
			}
			u, err := fileUsage(ctx, tx, in.OwnerID, l.MinCharge)
			if err != nil {
				return err
			}
			var pending int
			var reserved int64
			if err := tx.NewSelect().Table("upload_intents").ColumnExpr("COUNT(*)").ColumnExpr("COALESCE(SUM(reserved), 0)").
				Where("owner_id = ?", in.OwnerID).Scan(ctx, &pending, &reserved); err != nil {
				return err
			}
			if l.MaxCount > 0 && u.Count+pending >= l.MaxCount {
				return errs.New(errs.ErrResourceExhausted, "file limit reached: at most %d files per user, counting uploads in progress; delete some first", l.MaxCount)
			}
			if l.Quota > 0 {
				left := l.Quota - u.Bytes - reserved
				need := l.Charge(max(size, 0))
				quotaErr := func() error {
					if l.Quota-u.Bytes >= need {
						// Only uploads in progress are in the way, and they end.
						return &errs.Limited{
							Msg: fmt.Sprintf("the %d bytes left of your storage quota are reserved by your uploads in progress; retry when one has finished (an upload of unknown length reserves what is left, up to the largest file)",
								l.Quota-u.Bytes),
							RetryAfter: time.Second,
						}
					}
					return errs.New(errs.ErrResourceExhausted, "storage quota of %d bytes exceeded: %d bytes used, this file needs %d (every file counts at least %d)", l.Quota, u.Bytes, need, l.MinCharge)
				}
				if size >= 0 {
					if need > left {
						return quotaErr()
					}
					in.Reserved = need
				} else {
					if left < need {
						return quotaErr()
					}
					limit = min(maxBytes, left)
					in.Reserved = l.Charge(limit)
				}
			}
		}
		_, err := tx.NewInsert().Model(in).Exec(ctx)
		return err
	}()
	if err != nil {
		return 0, err
	}
	return limit, nil
}

// CreateUploadIntent records that an upload is about to write content
// under id.
func (s *Store) CreateUploadIntent(ctx context.Context, id, ownerID string, at int64) error {
	_, err := s.w.NewInsert().Model(&UploadIntent{ID: id, OwnerID: ownerID, CreatedAt: at}).Exec(ctx)
	return err
}

// DeleteUploadIntent forgets an upload that ended without a file.
func (s *Store) DeleteUploadIntent(ctx context.Context, id string) error {
	_, err := s.w.NewDelete().Table("upload_intents").Where("id = ?", id).Exec(ctx)
	return err
}

// UploadIntentsBefore returns the ids of up to limit intents recorded
// before the time given (Unix microseconds).
func (s *Store) UploadIntentsBefore(ctx context.Context, before int64, limit int) ([]string, error) {
	var ids []string
	err := s.r.NewSelect().Table("upload_intents").Column("id").
		Where("created_at < ?", before).
		// A resumable upload lives until it expires, however old.
		Where("id NOT IN (SELECT id FROM resumable_uploads)").OrderExpr("created_at").Limit(int64(limit)).Scan(ctx, &ids)
	return ids, err
}

// KeyInUse reports whether a file or an upload in progress has that id,
// or a user's avatar is stored under it or under its first 26 characters
// (a thumbnail's key is the avatar's followed by its size): its content
// must not be swept.
func (s *Store) KeyInUse(ctx context.Context, id string) (bool, error) {
	var n int
	avatar := id[:min(len(id), len(NewID()))]
	err := s.r.NewRaw("SELECT (SELECT COUNT(*) FROM files WHERE id = ?) + (SELECT COUNT(*) FROM upload_intents WHERE id = ?) + (SELECT COUNT(*) FROM users WHERE avatar = ?)", id, id, avatar).Scan(ctx, &n)
	if err != nil {
		return false, fmt.Errorf("look up key: %w", err)
	}
	return n > 0, nil
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
