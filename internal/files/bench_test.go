package files_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"connectrpc.com/connect"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// The file benchmarks move the same bytes through Foxhole and through the
// baselines below them, in the same run: the disk itself (write + fsync,
// read back) and minio-go talking to MinIO directly. docs/benchmarks.md
// reports Foxhole's figures as ratios to these.

func benchSizes(b *testing.B) []int64 {
	if testing.Short() {
		return []int64{1 << 20}
	}
	return []int64{1 << 20, 256 << 20}
}

func sizeName(n int64) string { return fmt.Sprintf("%dMiB", n>>20) }

// measureRSS reports the growth of peak RSS over the benchmark as
// "peak-RSS-MiB" (client and server share the process).
func measureRSS(b *testing.B) func() {
	runtime.GC()
	testutil.ResetPeakRSS()
	base := testutil.RSS()
	return func() { b.ReportMetric(float64(testutil.PeakRSS()-base)/(1<<20), "peak-RSS-MiB") }
}

func BenchmarkUpload(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			srv := be.start(b, func(c *config.Config) { c.FileMaxBytes = 1 << 30 })
			p := client.GRPC
			u := srv.Register(b, p, "bench")
			c := srv.Clients(p, u.Token)
			for _, size := range benchSizes(b) {
				b.Run("put/"+sizeName(size), func(b *testing.B) {
					b.SetBytes(size)
					defer measureRSS(b)()
					for b.Loop() {
						req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/bench.bin", testutil.Content(size))
						req.Header.Set("Authorization", "Bearer "+u.Token)
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						var f foxholev1.File
						body, _ := io.ReadAll(res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusCreated || protojson.Unmarshal(body, &f) != nil {
							b.Fatalf("PUT: %d %s", res.StatusCode, body)
						}
						forget(b, c, f.GetId())
					}
				})
				b.Run("stream/"+sizeName(size), func(b *testing.B) {
					b.SetBytes(size)
					defer measureRSS(b)()
					chunk := make([]byte, 1<<20)
					for b.Loop() {
						stream := c.File.UploadFileStream(context.Background())
						stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "bench.bin"}}})
						src := testutil.Content(size)
						for {
							n, err := io.ReadFull(src, chunk)
							if n > 0 {
								if err := stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: chunk[:n]}}); err != nil {
									b.Fatal(err)
								}
							}
							if err != nil {
								break
							}
						}
						res, err := stream.CloseAndReceive()
						if err != nil {
							b.Fatal(err)
						}
						forget(b, c, res.Msg.GetFile().GetId())
					}
				})
			}
		})
	}
}

// forget deletes an uploaded file outside the timed part, so that every
// upload writes to a disk as full as the raw baseline's (which rewrites one
// file).
func forget(b *testing.B, c *client.Client, id string) {
	b.StopTimer()
	defer b.StartTimer()
	if _, err := c.File.DeleteFile(context.Background(), connect.NewRequest(&foxholev1.DeleteFileRequest{Id: id})); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkDownload(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			srv := be.start(b, func(c *config.Config) { c.FileMaxBytes = 1 << 30 })
			p := client.GRPC
			u := srv.Register(b, p, "bench")
			c := srv.Clients(p, u.Token)
			for _, size := range benchSizes(b) {
				stream := c.File.UploadFileStream(context.Background())
				stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "bench.bin"}}})
				all, _ := io.ReadAll(testutil.Content(size))
				for off := 0; off < len(all); off += 1 << 20 {
					stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: all[off:min(len(all), off+1<<20)]}})
				}
				all = nil
				up, err := stream.CloseAndReceive()
				if err != nil {
					b.Fatal(err)
				}
				id := up.Msg.GetFile().GetId()
				b.Run("url/"+sizeName(size), func(b *testing.B) {
					got, err := c.File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: id}))
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(size)
					defer measureRSS(b)()
					for b.Loop() {
						res, err := http.Get(got.Msg.GetDownloadUrl())
						if err != nil {
							b.Fatal(err)
						}
						if n, _ := io.Copy(io.Discard, res.Body); n != size {
							b.Fatalf("downloaded %d bytes", n)
						}
						res.Body.Close()
					}
				})
				b.Run("stream/"+sizeName(size), func(b *testing.B) {
					b.SetBytes(size)
					defer measureRSS(b)()
					for b.Loop() {
						dl, err := c.File.DownloadFile(context.Background(), connect.NewRequest(&foxholev1.DownloadFileRequest{Id: id}))
						if err != nil {
							b.Fatal(err)
						}
						var n int64
						for dl.Receive() {
							n += int64(len(dl.Msg().GetChunk()))
						}
						if dl.Err() != nil || n != size {
							b.Fatalf("downloaded %d bytes: %v", n, dl.Err())
						}
					}
				})
			}
		})
	}
}

// BenchmarkRawDisk is the physical limit: the same bytes written to a file
// on the same disk (then fsynced, as Foxhole does) and read back.
func BenchmarkRawDisk(b *testing.B) {
	dir := b.TempDir()
	for _, size := range benchSizes(b) {
		path := filepath.Join(dir, "raw.bin")
		b.Run("write/"+sizeName(size), func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, 1<<20)
			for b.Loop() {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(f, testutil.Content(size), buf); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
		b.Run("read/"+sizeName(size), func(b *testing.B) {
			b.SetBytes(size)
			buf := make([]byte, 1<<20)
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.CopyBuffer(io.Discard, f, buf); n != size {
					b.Fatalf("read %d bytes", n)
				}
				f.Close()
			}
		})
	}
}

// BenchmarkMinIOClient is the object store's limit: minio-go putting and
// getting the same bytes with no Foxhole in between.
func BenchmarkMinIOClient(b *testing.B) {
	m := testutil.StartMinIO(b)
	ctx := context.Background()
	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		b.Fatal(err)
	}
	if err := mc.MakeBucket(ctx, "raw", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, size := range benchSizes(b) {
		b.Run("put/"+sizeName(size), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := mc.PutObject(ctx, "raw", "raw.bin", testutil.Content(size), -1, minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("get/"+sizeName(size), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				obj, err := mc.GetObject(ctx, "raw", "raw.bin", minio.GetObjectOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.Copy(io.Discard, obj); n != size {
					b.Fatalf("got %d bytes", n)
				}
				obj.Close()
			}
		})
	}
}
