package s3_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/blob/blobtest"
	"foxhole.dev/foxhole/internal/blob/s3"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestContract(t *testing.T) {
	m := testutil.StartMinIO(t)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// A bucket per case, created by New as a missing bucket would be.
		s, err := s3.New(context.Background(), s3.Options{
			Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey,
			Bucket: fmt.Sprintf("contract-%d", n.Add(1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestWalkSeesOnlyFoxholeObjects(t *testing.T) {
	m := testutil.StartMinIO(t)
	ctx := context.Background()
	s, err := s3.New(ctx, s3.Options{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	// Another program's objects in the same bucket, one of them named like
	// a Foxhole key.
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"aaaa00000001", "backups/db.tar", "foxhole/other/bbbb00000001"} {
		if _, err := c.PutObject(ctx, "shared", key, strings.NewReader("theirs"), 6, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, "cccc00000001", strings.NewReader("ours"), 4); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := s.Walk(ctx, func(i blob.Info) error { seen = append(seen, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "cccc00000001" {
		t.Fatalf("Walk saw %v, want only Foxhole's own cccc00000001", seen)
	}
	if _, err := s.Stat(ctx, "aaaa00000001"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of a foreign object = %v, want ErrNotFound", err)
	}
}

// TestStaleMultipartUploadsAreRemoved leaves multipart uploads as a crashed
// process would: the old ones under Foxhole's prefix go, a young one and
// another program's stay.
func TestStaleMultipartUploadsAreRemoved(t *testing.T) {
	m := testutil.StartMinIO(t)
	ctx := context.Background()
	s, err := s3.New(ctx, s3.Options{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "stale"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	core := minio.Core{Client: c}
	begin := func(key string) {
		t.Helper()
		id, err := core.NewMultipartUpload(ctx, "stale", key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.PutObjectPart(ctx, "stale", key, id, 1, strings.NewReader("part"), 4, minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The whole bucket's, filtered here: MinIO lists uploads by a whole
	// key or by none, not by a part of one.
	incomplete := func(prefix string) []string {
		t.Helper()
		var keys []string
		for u := range c.ListIncompleteUploads(ctx, "stale", "", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			if strings.HasPrefix(u.Key, prefix) {
				keys = append(keys, u.Key)
			}
		}
		return keys
	}
	begin(s3.Prefix + "dead00000001")
	begin(s3.Prefix + "dead00000002")
	begin("backups/theirs.tar")

	// None is an hour old yet: nothing goes.
	if n, err := s.RemoveStaleUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("RemoveStaleUploads(1h) = %d, %v; want nothing removed", n, err)
	}
	if keys := incomplete(s3.Prefix); len(keys) != 2 {
		t.Fatalf("incomplete uploads after a sweep of none: %v", keys)
	}
	// Every one is older than a nanosecond.
	if n, err := s.RemoveStaleUploads(ctx, time.Nanosecond); err != nil || n != 2 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want both of Foxhole's removed", n, err)
	}
	if keys := incomplete(s3.Prefix); len(keys) != 0 {
		t.Errorf("incomplete uploads left under %s: %v", s3.Prefix, keys)
	}
	if keys := incomplete("backups/"); len(keys) != 1 {
		t.Errorf("another program's upload: %v, want it kept", keys)
	}
}

func TestPartials(t *testing.T) {
	m := testutil.StartMinIO(t)
	s, err := s3.New(context.Background(), s3.Options{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "partials"})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.RunPartials(t, s)
}
