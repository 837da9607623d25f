package metrics

import (
	"context"
	"io"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/cache"
)

// Blobs counts the bytes stored into and read out of s.
func (m *Metrics) Blobs(s blob.Store) blob.Store { return countedBlobs{s, m} }

type countedBlobs struct {
	blob.Store
	m *Metrics
}

func (b countedBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) (int64, error) {
	n, err := b.Store.Put(ctx, key, r, size)
	if err == nil {
		b.m.Uploaded(n)
	}
	return n, err
}

func (b countedBlobs) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	rc, err := b.Store.Get(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	return &countedReader{ReadCloser: rc, m: b.m}, nil
}

type countedReader struct {
	io.ReadCloser
	m *Metrics
	n int64
}

func (r *countedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	return n, err
}

func (r *countedReader) Close() error {
	r.m.Downloaded(r.n)
	return r.ReadCloser.Close()
}

// Cache counts c's reads by hit, miss and error.
func (m *Metrics) Cache(c cache.Cache) cache.Cache { return countedCache{c, m} }

type countedCache struct {
	cache.Cache
	m *Metrics
}

func (c countedCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := c.Cache.Get(ctx, key)
	c.m.CacheRead(ok, err)
	return v, ok, err
}
