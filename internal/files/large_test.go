package files_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestLargeFile streams 1 GiB up and down on each path and backend, and
// checks that memory does not grow with the file. It runs when
// FOXHOLE_TEST_LARGE=1 (CI sets it), so that `go test ./...` stays fast.
func TestLargeFile(t *testing.T) {
	if os.Getenv("FOXHOLE_TEST_LARGE") != "1" {
		t.Skip("set FOXHOLE_TEST_LARGE=1 to stream 1 GiB files (CI does)")
	}
	const size = 1 << 30
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := b.start(t, func(c *config.Config) { c.FileMaxBytes = 2 << 30 })
			p := client.GRPC
			u := srv.Register(t, p, "large")
			c := srv.Clients(p, u.Token)

			runtime.GC()
			testutil.ResetPeakRSS()
			before := testutil.RSS()

			// PUT /files/{name}, then the download URL.
			h := sha256.New()
			body := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), size), h)
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/large.bin", body)
			req.Header.Set("Authorization", "Bearer "+u.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("PUT 1 GiB: %d", res.StatusCode)
			}
			want := hex.EncodeToString(h.Sum(nil))
			list, err := c.File.ListFiles(context.Background(), connect.NewRequest(&foxholev1.ListFilesRequest{}))
			if err != nil || len(list.Msg.GetFiles()) != 1 {
				t.Fatal(err)
			}
			f := list.Msg.GetFiles()[0]
			if f.GetSize() != size || f.GetSha256() != want {
				t.Fatalf("stored %d bytes with sha256 %s, want %d and %s", f.GetSize(), f.GetSha256(), size, want)
			}
			got, err := c.File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			res, err = http.Get(got.Msg.GetDownloadUrl())
			if err != nil {
				t.Fatal(err)
			}
			h.Reset()
			n, err := io.Copy(h, res.Body)
			res.Body.Close()
			if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
				t.Fatalf("download URL gave %d bytes (%v), sha256 mismatch: %v", n, err, hex.EncodeToString(h.Sum(nil)) != want)
			}

			// UploadFileStream, then DownloadFile.
			stream := c.File.UploadFileStream(context.Background())
			stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "large-stream.bin"}}})
			src := rand.NewChaCha8([32]byte{1})
			chunk := make([]byte, 1<<20)
			for sent := 0; sent < size; sent += len(chunk) {
				src.Read(chunk)
				if err := stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: chunk}}); err != nil {
					t.Fatal(err)
				}
			}
			up, err := stream.CloseAndReceive()
			if err != nil || up.Msg.GetFile().GetSha256() != want {
				t.Fatalf("UploadFileStream 1 GiB: %v, %v", up, err)
			}
			dl, err := c.File.DownloadFile(context.Background(), connect.NewRequest(&foxholev1.DownloadFileRequest{Id: up.Msg.GetFile().GetId()}))
			if err != nil {
				t.Fatal(err)
			}
			h.Reset()
			n = 0
			for dl.Receive() {
				h.Write(dl.Msg().GetChunk())
				n += int64(len(dl.Msg().GetChunk()))
			}
			if dl.Err() != nil || n != size || hex.EncodeToString(h.Sum(nil)) != want {
				t.Fatalf("DownloadFile gave %d bytes, %v", n, dl.Err())
			}

			growth := testutil.PeakRSS() - before
			t.Logf("4 GiB moved; peak RSS grew by %d MiB", growth>>20)
			// Client and server share this process; both stream, so the peak
			// stays far below the file size.
			if growth > 256<<20 {
				t.Errorf("peak RSS grew by %d MiB moving 1 GiB files: memory grows with file size", growth>>20)
			}
		})
	}
}
