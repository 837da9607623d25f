package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"foxhole.dev/foxhole/internal/blob"
)

var _ blob.Partials = (*Store)(nil)

// Unfinished objects live in <dir>/partial/<key>, appended to in place and
// synced after every write; FinishPartial renames one into its shard.

func (s *Store) partialPath(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(s.dir, "partial", key), nil
}

// errBusy is a partial object another writer of this machine holds.
var errBusy = errors.New("another request is writing this upload")

// WritePartial implements blob.Partials. The writer holds a lock on the
// file, so two writers never interleave.
func (s *Store) WritePartial(ctx context.Context, key string, off int64, r io.Reader) (int64, error) {
	p, err := s.partialPath(key)
	if err != nil {
		return 0, err
	}
	flags := os.O_RDWR
	if off == 0 {
		flags |= os.O_CREATE
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return 0, err
		}
	}
	f, err := os.OpenFile(p, flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("unfinished object %s is missing: %w", key, blob.ErrSizeMismatch)
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if !tryLock(f) {
		return 0, errBusy
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() < off {
		return 0, fmt.Errorf("unfinished object %s holds %d bytes, not %d: %w", key, fi.Size(), off, blob.ErrSizeMismatch)
	}
	if fi.Size() > off {
		if err := f.Truncate(off); err != nil {
			return 0, err
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	buf := copyBuffers.Get().(*[]byte)
	// Every write of an unfinished object ends with an fsync: start the
	// disk writes early, so that little is left for it.
	n, err := io.CopyBuffer(&writeback{f: f, started: off, written: off, chunk: 1 << 20}, ctxReader{ctx, r}, *buf)
	copyBuffers.Put(buf)
	if serr := f.Sync(); serr != nil {
		// Nothing written is known durable.
		return 0, serr
	}
	if off == 0 {
		if serr := syncDir(filepath.Dir(p)); serr != nil {
			return 0, serr
		}
	}
	return n, err
}

// FinishPartial implements blob.Partials.
func (s *Store) FinishPartial(_ context.Context, key string, size int64) error {
	p, err := s.partialPath(key)
	if err != nil {
		return err
	}
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return blob.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if !tryLock(f) {
		return errBusy
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < size {
		return fmt.Errorf("unfinished object %s holds %d bytes, not %d: %w", key, fi.Size(), size, blob.ErrSizeMismatch)
	}
	if fi.Size() > size {
		if err := f.Truncate(size); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	now := s.now()
	if err := os.Chtimes(p, now, now); err != nil {
		return err
	}
	if err := s.makeShard(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := os.Rename(p, dst); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// DeletePartial implements blob.Partials.
func (s *Store) DeletePartial(_ context.Context, key string) error {
	p, err := s.partialPath(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WalkPartials implements blob.Partials.
func (s *Store) WalkPartials(ctx context.Context, fn func(blob.Info) error) error {
	return walkDir(ctx, filepath.Join(s.dir, "partial"), fn)
}
