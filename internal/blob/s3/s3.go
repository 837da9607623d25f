// Package s3 is the blob.Store on an S3-compatible object store such as
// MinIO, through minio-go.
package s3

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"foxhole.dev/foxhole/internal/blob"
)

var _ blob.Store = (*Store)(nil)

// PartSize is the size of each part of a multipart upload. An upload holds
// one part in memory at a time, so this bounds its memory.
const PartSize = 16 << 20

// Store keeps objects in one bucket.
type Store struct {
	client *minio.Client
	bucket string
}

// Options locates the object store.
type Options struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool // HTTPS
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
	s := &Store{client: c, bucket: o.Bucket}
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

// Put implements blob.Store. Content of unknown length goes up in parts of
// PartSize; a failed or cancelled upload is aborted and leaves no object.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if !blob.ValidKey(key) {
		return 0, fmt.Errorf("invalid blob key %q", key)
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, r, -1, minio.PutObjectOptions{
		PartSize:    PartSize,
		ContentType: "application/octet-stream",
	})
	return info.Size, err
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
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
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
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, mapErr(err)
	}
	return blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return mapErr(s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}))
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
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, params)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Walk implements blob.Store.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing if fn fails
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			return oi.Err
		}
		if err := fn(blob.Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if code := minio.ToErrorResponse(err).Code; code == minio.NoSuchKey || code == "NotFound" {
		return blob.ErrNotFound
	}
	return err
}
