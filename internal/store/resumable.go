package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"foxhole.dev/foxhole/internal/errs"
)

// ResumableUpload is a row of resumable_uploads: an upload written over
// several requests (tus). Times are Unix microseconds.
type ResumableUpload struct {
	bun.BaseModel `bun:"table:resumable_uploads"`

	ID          string `bun:"id,pk"`
	OwnerID     string `bun:"owner_id"`
	Name        string `bun:"name"`
	ClaimedType string `bun:"claimed_type"`
	Length      int64  `bun:"length"`
	Received    int64  `bun:"received"`
	HashState   []byte `bun:"hash_state"`
	Head        []byte `bun:"head"`
	FileID      string `bun:"file_id"` // once finished
	ExpiresAt   int64  `bun:"expires_at"`
	LeaseToken  string `bun:"lease_token"`
	LeaseUntil  int64  `bun:"lease_until"`
	Steal       int    `bun:"steal"`
}

// CreateResumable records a resumable upload and its intent, reserving its
// whole length of the owner's quota (see ReserveUpload), unless the owner
// already has maxPending unfinished ones (0: no bound).
func (s *Store) CreateResumable(ctx context.Context, in *UploadIntent, u *ResumableUpload, maxPending int, maxBytes int64, l FileLimits) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			if _, err := tx.NewRaw("SELECT 1 FROM users WHERE id = ? FOR UPDATE", in.OwnerID).Exec(ctx); err != nil {
				return err
			}
		}
		if maxPending > 0 {
			n, err := tx.NewSelect().Model((*ResumableUpload)(nil)).Where("owner_id = ? AND file_id = ''", in.OwnerID).Count(ctx)
			if err != nil {
				return err
			}
			if n >= int64(maxPending) {
				return errs.New(errs.ErrResourceExhausted, "too many unfinished uploads: at most %d per user; finish or delete one (DELETE /files/tus/{id}), or wait until they expire", maxPending)
			}
		}
		if _, err := s.reserveUpload(ctx, tx, in, u.Length, maxBytes, l); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(u).Exec(ctx)
		return err
	})
}

// ResumableByID returns the owner's resumable upload; another owner's is
// errs.ErrNotFound, exactly like a missing one.
func (s *Store) ResumableByID(ctx context.Context, ownerID, id string) (*ResumableUpload, error) {
	u := new(ResumableUpload)
	err := s.w.NewSelect().Model(u).Where("id = ? AND owner_id = ?", id, ownerID).Scan(ctx)
	return u, notFound(err, "upload")
}

// AcquireLease gives the request holding token the right to write the
// owner's upload until until, if nobody holds it or the holder's lease
// ran out before now, and returns the upload as it then stands; nil when
// another request holds it (or the upload is gone or finished).
func (s *Store) AcquireLease(ctx context.Context, ownerID, id, token string, until, now int64) (*ResumableUpload, error) {
	u := new(ResumableUpload)
	err := s.w.NewUpdate().Model(u).
		Set("lease_token = ?, lease_until = ?, steal = 0", token, until).
		Where("id = ? AND owner_id = ? AND file_id = '' AND (lease_token = '' OR lease_until < ?)", id, ownerID, now).
		Returning("*").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// RequestSteal asks the holder of an upload's lease to let go of it.
func (s *Store) RequestSteal(ctx context.Context, id string) error {
	_, err := s.w.NewUpdate().Model((*ResumableUpload)(nil)).Set("steal = 1").
		Where("id = ? AND lease_token <> ''", id).Exec(ctx)
	return err
}

// RenewLease extends the lease token holds until until, unless another
// request asked for it; it reports whether the lease is still held.
func (s *Store) RenewLease(ctx context.Context, id, token string, until int64) (bool, error) {
	res, err := s.w.NewUpdate().Model((*ResumableUpload)(nil)).Set("lease_until = ?", until).
		Where("id = ? AND lease_token = ? AND steal = 0", id, token).Exec(ctx)
	return affected(res, err)
}

// ReleaseLease lets go of the lease token holds.
func (s *Store) ReleaseLease(ctx context.Context, id, token string) error {
	_, err := s.w.NewUpdate().Model((*ResumableUpload)(nil)).Set("lease_token = '', lease_until = 0, steal = 0").
		Where("id = ? AND lease_token = ?", id, token).Exec(ctx)
	return err
}

// AdvanceResumable records that the upload, leased by token, has received
// bytes up to u.Received (from from), with their hash state and head, and
// expires at u.ExpiresAt; release also lets go of the lease. It reports
// false when the lease or the offset is no longer the one given.
func (s *Store) AdvanceResumable(ctx context.Context, u *ResumableUpload, token string, from int64, release bool) (bool, error) {
	q := s.w.NewUpdate().Model((*ResumableUpload)(nil)).
		Set("received = ?, hash_state = ?, head = ?, expires_at = ?", u.Received, u.HashState, u.Head, u.ExpiresAt)
	if release {
		q = q.Set("lease_token = '', lease_until = 0, steal = 0")
	}
	res, err := q.Where("id = ? AND lease_token = ? AND received = ?", u.ID, token, from).Exec(ctx)
	return affected(res, err)
}

// FinishResumable turns a whole resumable upload into the file f, as
// CreateFile does, and marks the upload finished, in one transaction.
func (s *Store) FinishResumable(ctx context.Context, f *File, l FileLimits, token string) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*ResumableUpload)(nil)).
			Set("file_id = ?, lease_token = '', lease_until = 0, head = ?, hash_state = ?", f.ID, []byte{}, []byte{}).
			Where("id = ? AND lease_token = ? AND received = length AND file_id = ''", f.ID, token).Exec(ctx)
		if ok, err := affected(res, err); err != nil || !ok {
			return errors.Join(err, errs.New(errs.ErrAlreadyExists, "the upload changed while it was finishing"))
		}
		return s.createFile(ctx, tx, f, l)
	})
}

// DeleteResumable removes the owner's upload and its intent (its quota
// share) and returns what it was.
func (s *Store) DeleteResumable(ctx context.Context, ownerID, id string) (*ResumableUpload, error) {
	u := new(ResumableUpload)
	err := s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewDelete().Model(u).Where("id = ? AND owner_id = ?", id, ownerID).Returning("*").Scan(ctx); err != nil {
			return notFound(err, "upload")
		}
		_, err := tx.NewDelete().Table("upload_intents").Where("id = ?", id).Exec(ctx)
		return err
	})
	return u, err
}

// ExpiredResumables returns up to limit uploads that expired before now
// and that no request holds.
func (s *Store) ExpiredResumables(ctx context.Context, now int64, limit int) ([]ResumableUpload, error) {
	var us []ResumableUpload
	err := s.w.NewSelect().Model(&us).Where("expires_at < ? AND (lease_token = '' OR lease_until < ?)", now, now).
		OrderExpr("expires_at").Limit(int64(limit)).Scan(ctx)
	return us, err
}

// ResumableKeyInUse reports whether an unfinished upload has that id.
func (s *Store) ResumableKeyInUse(ctx context.Context, id string) (bool, error) {
	n, err := s.w.NewSelect().Model((*ResumableUpload)(nil)).Where("id = ? AND file_id = ''", id).Count(ctx)
	if err != nil {
		return false, fmt.Errorf("look up upload: %w", err)
	}
	return n > 0, nil
}

func affected(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
