package files_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/blob/local"
	"foxhole.dev/foxhole/internal/blob/s3"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestSweepSparesUploadsInProgress runs the sweep with no grace period, so
// that only the database decides what is an orphan.
func TestSweepSparesUploadsInProgress(t *testing.T) {
	ctx := context.Background()
	for _, b := range []string{"local", "minio"} {
		t.Run(b, func(t *testing.T) {
			st, err := store.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var blobs blob.Store
			var foreign func() bool // whether another program's object survived
			if b == "local" {
				blobs, err = local.New(t.TempDir(), []byte(strings.Repeat("k", 32)))
				foreign = func() bool { return true }
			} else {
				m := testutil.StartMinIO(t)
				blobs, err = s3.New(ctx, s3.Options{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "shared"})
				// Objects of another program in the same bucket, one named
				// like a Foxhole key: the sweep must never see them.
				c, _ := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
				for _, key := range []string{"aaaa00000009", "backups/db.tar"} {
					if _, err := c.PutObject(ctx, "shared", key, strings.NewReader("theirs"), 6, minio.PutObjectOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				foreign = func() bool {
					for _, key := range []string{"aaaa00000009", "backups/db.tar"} {
						if _, err := c.StatObject(ctx, "shared", key, minio.StatObjectOptions{}); err != nil {
							return false
						}
					}
					return true
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateUser(ctx, &store.User{ID: "owner0001", SecretHash: []byte("h"), ScreenName: "o"}); err != nil {
				t.Fatal(err)
			}
			svc := files.NewService(st, blobs, files.Options{MaxBytes: 1 << 20})
			now := time.Now().UnixMicro()
			put := func(key string) {
				if _, err := blobs.Put(ctx, key, strings.NewReader("content"), 7); err != nil {
					t.Fatal(err)
				}
			}
			// Content written, file row not yet committed.
			st.CreateUploadIntent(ctx, "inflight0001", "owner0001", now)
			put("inflight0001")
			// An upload given up long ago, its content left behind.
			st.CreateUploadIntent(ctx, "abandoned001", "owner0001", now-int64(2*files.IntentHorizon/time.Microsecond))
			put("abandoned001")
			// Content with neither row nor intent.
			put("orphan000001")

			if _, err := svc.Sweep(ctx, 0); err != nil {
				t.Fatal(err)
			}
			exists := func(key string) bool { _, err := blobs.Stat(ctx, key); return err == nil }
			if !exists("inflight0001") {
				t.Error("the sweep deleted the content of an upload in progress")
			}
			if exists("abandoned001") || exists("orphan000001") {
				t.Error("the sweep kept an abandoned upload's content or an orphan")
			}
			if !foreign() {
				t.Error("the sweep deleted another program's objects")
			}
			// The upload in progress commits; the abandoned one cannot.
			if err := st.CreateFile(ctx, &store.File{ID: "inflight0001", OwnerID: "owner0001", Name: "a", Size: 7, ContentType: "text/plain", SHA256: "x", CreatedAt: now}, store.FileLimits{}); err != nil {
				t.Errorf("commit of the upload in progress: %v", err)
			}
			if err := st.CreateFile(ctx, &store.File{ID: "abandoned001", OwnerID: "owner0001", Name: "b", Size: 7, ContentType: "text/plain", SHA256: "x", CreatedAt: now}, store.FileLimits{}); err == nil {
				t.Error("an abandoned upload became a file")
			}
			if _, err := svc.Sweep(ctx, 0); err != nil || !exists("inflight0001") {
				t.Errorf("the sweep after the commit: %v; content kept: %v", err, exists("inflight0001"))
			}
		})
	}
}
