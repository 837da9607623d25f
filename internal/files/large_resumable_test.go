package files_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// pattern is size bytes of random-looking content that can be read at any
// offset: each 64 KiB block comes from a generator seeded by its index.
type pattern struct {
	size int64
	mu   sync.Mutex
	blk  int64
	buf  [64 << 10]byte
}

func newPattern(size int64) *pattern { return &pattern{size: size, blk: -1} }

func (p *pattern) ReadAt(b []byte, off int64) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(b) && off < p.size {
		blk := off / int64(len(p.buf))
		if blk != p.blk {
			var seed [32]byte
			binary.LittleEndian.PutUint64(seed[:], uint64(blk))
			rand.NewChaCha8(seed).Read(p.buf[:])
			p.blk = blk
		}
		in := off % int64(len(p.buf))
		k := copy(b[n:], p.buf[in:min(int64(len(p.buf)), in+p.size-off)])
		n += k
		off += int64(k)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// cutAt fails the first read that reaches past at, once: the connection
// of the request reading it breaks there.
type cutAt struct {
	io.ReaderAt
	at   int64
	done bool
}

var errCutOff = errors.New("network gone")

func (c *cutAt) ReadAt(b []byte, off int64) (int, error) {
	if !c.done && off+int64(len(b)) > c.at {
		c.done = true
		n, _ := c.ReaderAt.ReadAt(b[:max(0, c.at-off)], off)
		return n, errCutOff
	}
	return c.ReaderAt.ReadAt(b, off)
}

// TestLargeResumable uploads 1 GiB over tus with its connection cut three
// times, resuming from the server's offset each time, on each backend,
// and checks the hash and that memory stays flat. In the same run it
// times PUT /files and tus with 8 MiB and 1 MiB chunks on the same bytes,
// both over HTTP/1.1.
// It runs when FOXHOLE_TEST_LARGE=1 (`just test-large`).
func TestLargeResumable(t *testing.T) {
	if os.Getenv("FOXHOLE_TEST_LARGE") != "1" {
		t.Skip("set FOXHOLE_TEST_LARGE=1 to upload 1 GiB files (CI does)")
	}
	const size = 1 << 30
	content := newPattern(size)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(content, 0, size)); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := b.start(t, func(c *config.Config) { c.FileMaxBytes = 2 << 30 })
			u := srv.Register(t, client.Connect, "large")
			c := srv.Clients(client.Connect, u.Token)
			ctx := context.Background()
			forget := func(id string) {
				if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: id})); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			testutil.ResetPeakRSS()
			before := testutil.RSS()

			// Cut three times, each time resumed from the server's offset.
			url := ""
			var resumedFrom []int64
			o := client.ResumableOptions{Retries: -1, OnCreate: func(u string) { url = u }}
			var f *foxholev1.File
			var err error
			for _, cut := range []int64{100<<20 + 12345, 500<<20 + 1, 900 << 20} {
				_, err = c.UploadResumable(ctx, "large.bin", "", &cutAt{ReaderAt: content, at: cut}, size, o)
				if !errors.Is(err, errCutOff) {
					t.Fatalf("the upload cut at %d: %v", cut, err)
				}
				o.URL = url
				first := int64(-1)
				o.Progress = func(off, _ int64) {
					if first < 0 {
						first = off
						resumedFrom = append(resumedFrom, off)
					}
				}
			}
			if f, err = c.UploadResumable(ctx, "large.bin", "", content, size, o); err != nil {
				t.Fatal(err)
			}
			if f.GetSha256() != want || f.GetSize() != size {
				t.Fatalf("stored %d bytes, sha256 %s, want %s", f.GetSize(), f.GetSha256(), want)
			}
			t.Logf("cut 3 times; the first chunk after each resume ended at %v MiB", mib(resumedFrom))
			for i, off := range resumedFrom[1:] {
				if off <= []int64{100 << 20, 500 << 20}[i] {
					t.Errorf("resume %d continued to %d: not from the offset the server kept", i+2, off)
				}
			}
			forget(f.GetId())

			// Throughput: PUT, then tus with 8 MiB and 1 MiB chunks, same bytes.
			timed := func(what string, up func() string) time.Duration {
				start := time.Now()
				id := up()
				d := time.Since(start)
				forget(id)
				t.Logf("%s: 1 GiB in %v, %.0f MiB/s", what, d.Round(time.Millisecond), float64(size>>20)/d.Seconds())
				return d
			}
			put := timed("PUT /files", func() string {
				req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/large.bin", io.NewSectionReader(content, 0, size))
				req.ContentLength = size
				req.Header.Set("Authorization", "Bearer "+u.Token)
				res, err := http.DefaultClient.Do(req)
				if err != nil || res.StatusCode != http.StatusCreated {
					t.Fatalf("PUT: %v %v", res, err)
				}
				res.Body.Close()
				list, err := c.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
				if err != nil {
					t.Fatal(err)
				}
				return list.Msg.GetFiles()[0].GetId()
			})
			// Over HTTP/1.1, as the PUT goes, so that the protocols are
			// compared and not the transports.
			h1 := client.New(srv.URL, client.WithHTTPClient(&http.Client{}), client.WithToken(u.Token))
			tusRun := func(chunk int64) func() string {
				return func() string {
					f, err := h1.UploadResumable(ctx, "large.bin", "", content, size, client.ResumableOptions{ChunkSize: chunk})
					if err != nil || f.GetSha256() != want {
						t.Fatalf("tus: %v %v", f, err)
					}
					return f.GetId()
				}
			}
			tus8 := timed("tus, 8 MiB chunks", tusRun(8<<20))
			tus1 := timed("tus, 1 MiB chunks", tusRun(1<<20))
			t.Logf("tus throughput / PUT throughput: %.2f with 8 MiB chunks, %.2f with 1 MiB chunks", put.Seconds()/tus8.Seconds(), put.Seconds()/tus1.Seconds())

			growth := testutil.PeakRSS() - before
			t.Logf("5 GiB uploaded; peak RSS grew by %d MiB", growth>>20)
			if growth > 256<<20 {
				t.Errorf("peak RSS grew by %d MiB: memory grows with file size", growth>>20)
			}
		})
	}
}

func mib(offs []int64) []int64 {
	out := make([]int64, len(offs))
	for i, o := range offs {
		out[i] = o >> 20
	}
	return out
}
