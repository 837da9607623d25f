// Package s3 is the blob.Store on an S3-compatible object store such as
// MinIO, through minio-go.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/errs"
)

var _ blob.Store = (*Store)(nil)

// MinPartSize is the smallest part S3 takes (but for the last), and the
// size of each part of an upload of unknown length unless the largest
// object needs larger ones. Such an upload holds one part in memory at a
// time, so this bounds its memory; the server's cap on uploads in progress
// bounds the number of such buffers.
const MinPartSize = 5 << 20

// maxParts is S3's limit on the parts of one object.
const maxParts = 10_000

// partSize returns the smallest part size, a whole number of MiB, whose
// maxParts parts hold an object of maxObject bytes.
func partSize(maxObject int64) uint64 {
	const mib = 1 << 20
	need := (maxObject + maxParts - 1) / maxParts
	need = (need + mib - 1) / mib * mib
	return uint64(max(MinPartSize, need))
}

// Prefix is where Foxhole keeps its objects in the bucket. Walk, and so the
// sweep of orphans, looks nowhere else, so a bucket shared with other
// programs loses nothing of theirs.
const Prefix = "foxhole/files/"

// Store keeps objects in one bucket, under Prefix.
type Store struct {
	client   *minio.Client
	bucket   string
	partSize uint64
}

// Options locates the object store.
type Options struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool // HTTPS
	// MaxObjectBytes is the largest object Put must take (the largest
	// file); it sets the part size of uploads of unknown length. 0: 1 GiB.
	MaxObjectBytes int64
}

// New connects to the store and creates the bucket if it is missing.
func New(ctx context.Context, o Options) (*Store, error) {
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: o.Secure,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	if o.MaxObjectBytes <= 0 {
		o.MaxObjectBytes = 1 << 30
	}
	s := &Store{client: c, bucket: o.Bucket, partSize: partSize(o.MaxObjectBytes)}
	exists, err := c.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %q: %w", o.Bucket, err)
	}
	if !exists {
		if err := c.MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{}); err != nil {
			// Another process may have created it meanwhile.
			if exists, err2 := c.BucketExists(ctx, o.Bucket); err2 != nil || !exists {
				return nil, fmt.Errorf("create s3 bucket %q: %w", o.Bucket, err)
			}
		}
	}
	return s, nil
}

// Ping reports whether the bucket answers.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err == nil && !ok {
		err = fmt.Errorf("bucket %q is missing", s.bucket)
	}
	return err
}

// Put implements blob.Store. Content of known size goes up in one request,
// streamed from r (minio-go buffers nothing when it sends no MD5 and the
// reader cannot seek); content of unknown length goes up in parts of
// MinPartSize (larger only when MaxObjectBytes needs it), one part in
// memory at a time. A failed or cancelled upload is aborted and leaves no object.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	if !blob.ValidKey(key) {
		return 0, fmt.Errorf("invalid blob key %q", key)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size >= 0 {
		opts.DisableMultipart = true
		// Hide any Seek or ReadAt of r: minio-go would use them to retry or
		// to read sections, and the length check must see every byte.
		r = struct{ io.Reader }{blob.SizedReader(r, size)}
	} else {
		opts.PartSize = s.partSize
	}
	info, err := s.client.PutObject(ctx, s.bucket, Prefix+key, r, size, opts)
	if err != nil {
		return 0, mapErr(err)
	}
	return info.Size, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	var opts minio.GetObjectOptions
	switch {
	case n == 0:
		return io.NopCloser(eofReader{}), nil
	case n > 0:
		if err := opts.SetRange(off, off+n-1); err != nil {
			return nil, err
		}
	case off > 0:
		if err := opts.SetRange(off, 0); err != nil {
			return nil, err
		}
	}
	obj, err := s.client.GetObject(ctx, s.bucket, Prefix+key, opts)
	if err != nil {
		return nil, mapErr(err)
	}
	// GetObject is lazy; Stat surfaces a missing object now, not on first Read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, mapErr(err)
	}
	return obj, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	oi, err := s.client.StatObject(ctx, s.bucket, Prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, mapErr(err)
	}
	return blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !blob.ValidKey(key) {
		return fmt.Errorf("invalid blob key %q", key)
	}
	return mapErr(s.client.RemoveObject(ctx, s.bucket, Prefix+key, minio.RemoveObjectOptions{}))
}

// URL implements blob.Store with an S3 presigned GET.
func (s *Store) URL(ctx context.Context, key string, ttl time.Duration, o blob.URLOptions) (string, error) {
	params := url.Values{}
	if o.ContentType != "" {
		params.Set("response-content-type", o.ContentType)
	}
	if o.FileName != "" {
		params.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": o.FileName}))
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, Prefix+key, ttl, params)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Walk implements blob.Store: the objects under Prefix whose names are
// Foxhole keys, and nothing else in the bucket.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing if fn fails
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: Prefix, Recursive: true}) {
		if oi.Err != nil {
			return mapErr(oi.Err)
		}
		key := strings.TrimPrefix(oi.Key, Prefix)
		if !blob.ValidKey(key) {
			continue
		}
		if err := fn(blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// RemoveStaleUploads aborts the multipart uploads under Prefix begun
// before olderThan ago: those of a process that crashed midway, whose
// parts the store would otherwise keep (and bill) forever. An upload of
// this process is never that old while it runs: transfers have a minimum
// rate. It returns how many it removed.
func (s *Store) RemoveStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cutoff := time.Now().Add(-olderThan)
	core := minio.Core{Client: s.client}
	removed := 0
	var errList []error
	// The whole bucket's, filtered here: MinIO lists uploads by a whole
	// key or by none, not by a part of one as S3 does.
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if u.Err != nil {
			return removed, errors.Join(append(errList, mapErr(u.Err))...)
		}
		if !strings.HasPrefix(u.Key, Prefix) || !blob.ValidKey(strings.TrimPrefix(u.Key, Prefix)) || !u.Initiated.Before(cutoff) {
			continue
		}
		// By upload id: a key's content is written by one upload only, but
		// aborting that one alone is what the listing justifies.
		if err := core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil {
			errList = append(errList, fmt.Errorf("abort upload of %s: %w", u.Key, mapErr(err)))
			continue
		}
		removed++
	}
	return removed, errors.Join(append(errList, ctx.Err())...)
}

// mapErr turns minio-go's errors into blob's and errs' kinds: a missing
// object is blob.ErrNotFound, and a store that cannot be reached is
// errs.ErrUnavailable, so that clients learn to retry rather than see an
// internal error.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if code := minio.ToErrorResponse(err).Code; code == minio.NoSuchKey || code == "NotFound" {
		return blob.ErrNotFound
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", &errs.Error{Kind: errs.ErrUnavailable, Msg: "the object store is unavailable; try again later"}, err)
	}
	return err
}

// unreachable reports an error of the connection to the store rather than
// an answer from it: refused, reset, cut off midway, or a server error.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	switch minio.ToErrorResponse(err).StatusCode {
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return true
	}
	return false
}
