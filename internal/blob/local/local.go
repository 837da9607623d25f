// Package local is the blob.Store on the local disk.
//
// Objects live at <dir>/<first two characters of the key>/<key>. A Put
// writes to a temporary file in <dir>/tmp, fsyncs it, and only then renames
// it into place (and fsyncs the directory), so a crash or a cancelled upload
// never leaves a partial object under a real key. A writer holds an
// exclusive lock (flock) on its temporary file, so that after a crash the
// files of dead uploads are told apart from live ones at once.
package local

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"foxhole.dev/foxhole/internal/blob"
)

var _ blob.Store = (*Store)(nil)

// DownloadPath is where Foxhole serves signed downloads of local objects:
// DownloadPath + key + "?expires=…&signature=…".
const DownloadPath = "/files/download/"

// Store keeps objects under one directory.
type Store struct {
	dir     string
	signKey []byte
	now     func() time.Time
}

// New returns a store under dir, creating it if needed. signKey signs
// download URLs.
func New(dir string, signKey []byte) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("create blob dir: %w", err)
	}
	return &Store{dir: dir, signKey: signKey, now: time.Now}, nil
}

func (s *Store) path(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return filepath.Join(s.dir, key[:2], key), nil
}

// copyBuffers hold the buffers Put copies through, so that concurrent
// uploads reuse memory instead of growing it.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	dst, err := s.path(key)
	if err != nil {
		return 0, err
	}
	tmp, err := s.createTemp(key)
	if err != nil {
		return 0, err
	}
	committed := false
	defer func() {
		if !committed {
			os.Remove(tmp.Name())
			tmp.Close() // after the remove: closing drops the lock
		}
	}()
	buf := copyBuffers.Get().(*[]byte)
	n, err := io.CopyBuffer(&writeback{f: tmp}, ctxReader{ctx, blob.SizedReader(r, size)}, *buf)
	copyBuffers.Put(buf)
	if err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, err
	}
	// The object appears young however long its upload took, so that the
	// sweep's grace period counts from its arrival, not from its start.
	now := s.now()
	if err := os.Chtimes(tmp.Name(), now, now); err != nil {
		return n, err
	}
	if err := s.makeShard(filepath.Dir(dst)); err != nil {
		return n, err
	}
	// Renamed while still open and locked, so RemoveStaleTemp never takes
	// it for a dead upload's.
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return n, err
	}
	committed = true
	tmp.Close()
	return n, syncDir(filepath.Dir(dst))
}

// createTemp creates and locks a temporary file for key. The lock tells
// RemoveStaleTemp that a writer is alive. Between the create and the lock,
// RemoveStaleTemp may lock and remove the new file; then the path no
// longer names it, and a fresh one is made.
func (s *Store) createTemp(key string) (*os.File, error) {
	for {
		f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), key+"-*")
		if err != nil {
			return nil, err
		}
		if err := lock(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		mine, err1 := f.Stat()
		named, err2 := os.Stat(f.Name())
		if err1 == nil && err2 == nil && os.SameFile(mine, named) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, err1
		}
	}
}

// makeShard creates a shard directory if it is missing, and makes its
// entry durable by syncing the parent: otherwise a crash could lose the
// directory, and with it objects whose rename was already synced.
func (s *Store) makeShard(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(s.dir)
}

// writebackChunk is how much an upload writes before asking the kernel to
// start flushing it.
const writebackChunk = 8 << 20

// writeback writes to f and starts the disk writes of every full chunk.
type writeback struct {
	f       *os.File
	written int64
	started int64 // bytes handed to startWriteback
	chunk   int64 // 0: writebackChunk
}

func (w *writeback) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	chunk := w.chunk
	if chunk == 0 {
		chunk = writebackChunk
	}
	if w.written-w.started >= chunk {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get implements blob.Store.
func (s *Store) Get(_ context.Context, key string, off, n int64) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	if n < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{bufio.NewReaderSize(io.LimitReader(f, n), 64<<10), f}, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(_ context.Context, key string) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return blob.Info{}, blob.ErrNotFound
	}
	if err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// URL implements blob.Store: a path on Foxhole's own origin, signed with
// HMAC-SHA256 over the key and the expiry.
func (s *Store) URL(_ context.Context, key string, ttl time.Duration, _ blob.URLOptions) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	exp := strconv.FormatInt(s.now().Add(ttl).Unix(), 10)
	q := url.Values{"expires": {exp}, "signature": {s.sign(key, exp)}}
	return DownloadPath + key + "?" + q.Encode(), nil
}

// Verify reports whether signature signs key until expires and has not
// expired.
func (s *Store) Verify(key, expires, signature string) bool {
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || s.now().Unix() > exp {
		return false
	}
	want := s.sign(key, expires)
	return hmac.Equal([]byte(want), []byte(signature))
}

func (s *Store) sign(key, expires string) string {
	m := hmac.New(sha256.New, s.signKey)
	m.Write([]byte("foxhole-download\x00" + key + "\x00" + expires))
	return hex.EncodeToString(m.Sum(nil))
}

// Walk implements blob.Store. Temporary files are not objects; see
// RemoveStaleTemp.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, shard := range shards {
		if !shard.IsDir() || len(shard.Name()) != 2 {
			continue
		}
		if err := walkDir(ctx, filepath.Join(s.dir, shard.Name()), fn); err != nil {
			return err
		}
	}
	return nil
}

// walkDir calls fn with every object of dir (a file named by a valid key);
// a dir that does not exist has none.
func walkDir(ctx context.Context, dir string, fn func(blob.Info) error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !blob.ValidKey(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if err := fn(blob.Info{Key: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// RemoveStaleTemp deletes the temporary files of uploads whose writer is
// gone (a crash interrupted them): every writer holds a lock on its file
// while it writes, so a file that can be locked has none.
func (s *Store) RemoveStaleTemp() (int, error) {
	dir := filepath.Join(s.dir, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue // renamed or removed meanwhile
		}
		if tryLock(f) && os.Remove(p) == nil {
			removed++
		}
		f.Close()
	}
	return removed, nil
}
