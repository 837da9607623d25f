package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"

	"foxhole.dev/foxhole/internal/blob"
)

var _ blob.Partials = (*Store)(nil)

// An unfinished object is a run of pieces, each an object of its own named
// by where it starts: PartialPrefix + key + "/" + 20-digit offset. Every
// piece but the last holds at least MinPartSize bytes (a shorter last one
// is read back and rewritten longer by the next write), so FinishPartial
// joins them by server-side copy (ComposeObject), without their bytes
// passing through Foxhole. Pieces live outside Prefix, so Walk never sees
// them; WalkPartials does. Any process sharing the bucket continues any
// unfinished object: its state is all in the bucket (and its offset in the
// database, which says which bytes count).

// PartialPrefix is where the pieces of unfinished objects live.
const PartialPrefix = "foxhole/partial/"

// pieceSize is the most one piece holds, so the buffer an upload holds.
const pieceSize = 8 << 20

var pieceBuffers = sync.Pool{New: func() any { b := make([]byte, pieceSize); return &b }}

type piece struct {
	start, size int64
	name        string
	mod         time.Time
}

func (p piece) end() int64 { return p.start + p.size }

func partialDir(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("invalid blob key %q", key)
	}
	return PartialPrefix + key + "/", nil
}

// pieces lists the pieces of key, in order.
func (s *Store) pieces(ctx context.Context, key string) ([]piece, error) {
	dir, err := partialDir(key)
	if err != nil {
		return nil, err
	}
	var ps []piece
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: dir, Recursive: true}) {
		if oi.Err != nil {
			return nil, mapErr(oi.Err)
		}
		start, err := strconv.ParseInt(strings.TrimPrefix(oi.Key, dir), 10, 64)
		if err != nil {
			continue
		}
		ps = append(ps, piece{start: start, size: oi.Size, name: oi.Key, mod: oi.LastModified})
	}
	slices.SortFunc(ps, func(a, b piece) int { return int(a.start - b.start) })
	return ps, nil
}

// WritePartial implements blob.Partials.
func (s *Store) WritePartial(ctx context.Context, key string, off int64, r io.Reader) (int64, error) {
	dir, err := partialDir(key)
	if err != nil {
		return 0, err
	}
	ps, err := s.pieces(ctx, key)
	if err != nil {
		return 0, err
	}
	var have int64
	for _, p := range ps {
		if p.start != have {
			break // a gap: nothing past it counts
		}
		have = p.end()
	}
	if have < off {
		return 0, fmt.Errorf("unfinished object %s holds %d bytes, not %d: %w", key, have, off, blob.ErrSizeMismatch)
	}
	bufp := pieceBuffers.Get().(*[]byte)
	buf := (*bufp)[:0]
	start := off
	// The piece that holds off-1 is rewritten, joined with what follows,
	// when it is short (only a last piece may be) or runs past off.
	var stale []string
	for _, p := range ps {
		switch {
		case p.start < off && p.end() >= off && (p.size < MinPartSize || p.end() > off):
			// Pieces hold at most pieceSize bytes: the head fits the buffer.
			rc, err := s.client.GetObject(ctx, s.bucket, p.name, minio.GetObjectOptions{})
			if err != nil {
				return 0, mapErr(err)
			}
			buf = buf[:off-p.start]
			_, err = io.ReadFull(rc, buf)
			rc.Close()
			if err != nil {
				return 0, mapErr(err)
			}
			start = p.start
		case p.start >= off:
			stale = append(stale, p.name)
		}
	}
	for _, name := range stale {
		if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
			return 0, mapErr(err)
		}
	}
	// Pieces go up in a goroutine of their own while the next one is
	// read: the client's bytes keep flowing while the store writes. At
	// most two buffers per upload: the one being sent, the one filling.
	type job struct {
		start int64
		bufp  *[]byte
	}
	jobs := make(chan job)
	var stored = off // how far the durable pieces reach; the sender's until it is done
	var sendErr error
	sent, broken := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sent)
		for j := range jobs {
			b := *j.bufp
			if sendErr == nil {
				// The bytes that arrived are kept even when the client is gone.
				_, err := s.client.PutObject(context.WithoutCancel(ctx), s.bucket, dir+fmt.Sprintf("%020d", j.start), bytes.NewReader(b), int64(len(b)),
					minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
				if err != nil {
					sendErr = mapErr(err)
					close(broken)
				} else {
					stored = j.start + int64(len(b))
				}
			}
			pieceBuffers.Put(j.bufp)
		}
	}()
	failed := func() bool {
		select {
		case <-broken:
			return true
		default:
			return false
		}
	}
	flush := func() {
		if len(buf) == 0 {
			return
		}
		*bufp = buf
		jobs <- job{start: start, bufp: bufp}
		start += int64(len(buf))
		bufp = pieceBuffers.Get().(*[]byte)
		buf = (*bufp)[:0]
	}
	var rerr error
	for rerr == nil && !failed() {
		var n int
		n, rerr = r.Read(buf[len(buf):pieceSize])
		buf = buf[:len(buf)+n]
		if len(buf) == pieceSize {
			flush()
		}
		if rerr == nil {
			rerr = ctx.Err()
		}
	}
	flush()
	close(jobs)
	<-sent
	pieceBuffers.Put(bufp)
	if rerr == io.EOF {
		rerr = nil
	}
	if sendErr != nil {
		return max(0, stored-off), sendErr
	}
	return stored - off, rerr
}

// FinishPartial implements blob.Partials.
func (s *Store) FinishPartial(ctx context.Context, key string, size int64) error {
	ps, err := s.pieces(ctx, key)
	if err != nil {
		return err
	}
	if len(ps) == 0 && size > 0 {
		return blob.ErrNotFound
	}
	var srcs []minio.CopySrcOptions
	composable := true
	var have int64
	for _, p := range ps {
		if have >= size {
			break
		}
		if p.start != have {
			return fmt.Errorf("unfinished object %s has a gap at %d: %w", key, have, blob.ErrSizeMismatch)
		}
		src := minio.CopySrcOptions{Bucket: s.bucket, Object: p.name}
		if p.end() > size {
			src.MatchRange, src.Start, src.End = true, 0, size-p.start-1
		}
		if len(srcs) > 0 && srcs[len(srcs)-1].Object != "" && have-ps[len(srcs)-1].start < MinPartSize {
			composable = false
		}
		srcs = append(srcs, src)
		have = min(p.end(), size)
	}
	if have < size {
		return fmt.Errorf("unfinished object %s holds %d bytes, not %d: %w", key, have, size, blob.ErrSizeMismatch)
	}
	switch {
	case size == 0:
		_, err = s.Put(ctx, key, bytes.NewReader(nil), 0)
	case composable && len(srcs) <= maxParts:
		_, err = s.client.ComposeObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: Prefix + key}, srcs...)
		err = mapErr(err)
	default:
		// Short pieces in the middle (a crash between a write and the next
		// one's rewrite): through Foxhole, piece by piece.
		readers := make([]io.Reader, len(srcs))
		for i, src := range srcs {
			n := ps[i].size
			if src.MatchRange {
				n = src.End + 1
			}
			readers[i] = &lazyPiece{ctx: ctx, s: s, name: src.Object, n: n}
		}
		_, err = s.Put(ctx, key, io.MultiReader(readers...), size)
	}
	if err != nil {
		return err
	}
	return s.DeletePartial(ctx, key)
}

// lazyPiece reads n bytes of a piece, opening it on the first read.
type lazyPiece struct {
	ctx  context.Context
	s    *Store
	name string
	n    int64
	rc   io.ReadCloser
}

func (l *lazyPiece) Read(p []byte) (int, error) {
	if l.rc == nil {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(0, l.n-1); err != nil {
			return 0, err
		}
		obj, err := l.s.client.GetObject(l.ctx, l.s.bucket, l.name, opts)
		if err != nil {
			return 0, mapErr(err)
		}
		l.rc = obj
	}
	n, err := l.rc.Read(p)
	if err == io.EOF {
		l.rc.Close()
	}
	return n, err
}

// DeletePartial implements blob.Partials.
func (s *Store) DeletePartial(ctx context.Context, key string) error {
	ps, err := s.pieces(ctx, key)
	if err != nil {
		return err
	}
	var errList []error
	for _, p := range ps {
		if err := s.client.RemoveObject(ctx, s.bucket, p.name, minio.RemoveObjectOptions{}); err != nil {
			errList = append(errList, mapErr(err))
		}
	}
	return errors.Join(errList...)
}

// WalkPartials implements blob.Partials: one Info per unfinished object,
// its size that of all its pieces, its time the newest piece's.
func (s *Store) WalkPartials(ctx context.Context, fn func(blob.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cur *blob.Info
	emit := func() error {
		if cur == nil {
			return nil
		}
		i := *cur
		cur = nil
		return fn(i)
	}
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: PartialPrefix, Recursive: true}) {
		if oi.Err != nil {
			return mapErr(oi.Err)
		}
		key, _, ok := strings.Cut(strings.TrimPrefix(oi.Key, PartialPrefix), "/")
		if !ok || !blob.ValidKey(key) {
			continue
		}
		if cur != nil && cur.Key != key {
			if err := emit(); err != nil {
				return err
			}
		}
		if cur == nil {
			cur = &blob.Info{Key: key}
		}
		cur.Size += oi.Size
		if oi.LastModified.After(cur.ModTime) {
			cur.ModTime = oi.LastModified
		}
	}
	if err := emit(); err != nil {
		return err
	}
	return ctx.Err()
}
