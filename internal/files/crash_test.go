package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// acked is a file whose upload the server acknowledged.
type acked struct {
	id, sha string
	size    int64
}

// TestKilledMidUploadLosesNothingAcknowledged kills foxhole with SIGKILL
// while uploads run on PUT /files and on UploadFileStream (gRPC), starts it
// again on the same data, and checks that every acknowledged file is whole
// and nothing else is half there.
func TestKilledMidUploadLosesNothingAcknowledged(t *testing.T) {
	bin := testutil.BuildFoxhole(t)
	for _, b := range []string{"local", "minio"} {
		t.Run(b, func(t *testing.T) {
			env := []string{"FOXHOLE_MAX_UPLOADS_PER_USER=32", "FOXHOLE_AUTH_RATE=0"}
			if b == "minio" {
				m := testutil.StartMinIO(t)
				env = append(env, "FOXHOLE_S3_ENDPOINT="+m.Endpoint, "FOXHOLE_S3_ACCESS_KEY="+m.AccessKey,
					"FOXHOLE_S3_SECRET_KEY="+m.SecretKey, "FOXHOLE_S3_BUCKET=crash")
			}
			proc := testutil.StartProcessIn(t, bin, filepath.Join(t.TempDir(), "data"), env...)
			grpc := client.GRPC
			u := proc.Register(t, grpc, "crasher")

			// One upload is surely mid-way at the kill: it has sent some bytes
			// and waits (the server reads them after its 100 Continue).
			held, heldDone := stalledPutAt(t, proc.URL, u.Token, "held")

			var mu sync.Mutex
			var acks []acked
			enough := make(chan struct{})
			var once sync.Once
			record := func(f acked) {
				mu.Lock()
				defer mu.Unlock()
				acks = append(acks, f)
				if len(acks) == 24 {
					once.Do(func() { close(enough) })
				}
			}
			var wg sync.WaitGroup
			for w := range 6 {
				wg.Go(func() {
					c := proc.Clients(grpc, u.Token)
					rng := mathrand.New(mathrand.NewPCG(uint64(w), 1))
					for i := 0; ; i++ {
						content := randomBytes(16<<10 + rng.IntN(240<<10))
						var f acked
						var err error
						if w%2 == 0 {
							f, err = putOnce(proc.URL, u.Token, fmt.Sprintf("put-%d-%d", w, i), content)
						} else {
							f, err = streamOnce(c, fmt.Sprintf("stream-%d-%d", w, i), content)
						}
						if err != nil {
							return // the server is gone
						}
						record(f)
					}
				})
			}
			<-enough
			proc.Kill()
			wg.Wait()
			held.Close()
			<-heldDone

			proc = proc.Restart(t)
			c := proc.Clients(grpc, u.Token)
			listed := map[string]*foxholev1.File{}
			token := ""
			for {
				res, err := c.File.ListFiles(context.Background(), connect.NewRequest(&foxholev1.ListFilesRequest{PageSize: 1000, PageToken: token}))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range res.Msg.GetFiles() {
					listed[f.GetId()] = f
				}
				if token = res.Msg.GetNextPageToken(); token == "" {
					break
				}
			}
			for _, a := range acks {
				f := listed[a.id]
				if f == nil || f.GetSize() != a.size || f.GetSha256() != a.sha {
					t.Errorf("acknowledged file %s (%d bytes, %s) after the restart: %v", a.id, a.size, a.sha, f)
				}
			}
			// Every listed file, acknowledged or caught between commit and
			// answer, downloads whole.
			for id, f := range listed {
				stream, err := c.File.DownloadFile(context.Background(), connect.NewRequest(&foxholev1.DownloadFileRequest{Id: id}))
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				var n int64
				for stream.Receive() {
					h.Write(stream.Msg().GetChunk())
					n += int64(len(stream.Msg().GetChunk()))
				}
				if stream.Err() != nil || n != f.GetSize() || hex.EncodeToString(h.Sum(nil)) != f.GetSha256() {
					t.Errorf("file %s downloads %d of %d bytes (%v), sha256 %s", id, n, f.GetSize(), stream.Err(), hex.EncodeToString(h.Sum(nil)))
				}
			}
			t.Logf("%d uploads acknowledged before the kill, %d files listed after the restart", len(acks), len(listed))
			if b == "local" {
				// The restart removed the temp files of the cut-off uploads
				// before it reported ready.
				if temps, _ := filepath.Glob(filepath.Join(proc.DataDir, "blobs", "tmp", "*")); len(temps) != 0 {
					t.Errorf("temp files left after the restart: %v", temps)
				}
			}
		})
	}
}

// stalledPutAt is stalledPut against any base URL.
func stalledPutAt(t *testing.T, base, token, name string) (*io.PipeWriter, <-chan int) {
	return stalledPut(t, &testutil.Server{URL: base}, token, name)
}

func putOnce(base, token, name string, content []byte) (acked, error) {
	req, _ := http.NewRequest(http.MethodPut, base+"/files/"+name, bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return acked{}, err
	}
	defer res.Body.Close()
	var f struct {
		ID     string `json:"id"`
		Size   int64  `json:"size,string"`
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil || res.StatusCode != http.StatusCreated {
		return acked{}, fmt.Errorf("PUT: %d %v", res.StatusCode, err)
	}
	if f.Size != int64(len(content)) || f.SHA256 != sha(content) {
		return acked{}, fmt.Errorf("PUT acknowledged %d bytes %s", f.Size, f.SHA256)
	}
	return acked{id: f.ID, sha: f.SHA256, size: f.Size}, nil
}

func streamOnce(c *client.Client, name string, content []byte) (acked, error) {
	s := c.File.UploadFileStream(context.Background())
	s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: name}}})
	for off := 0; off < len(content); off += 32 << 10 {
		if err := s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: content[off:min(off+32<<10, len(content))]}}); err != nil {
			break // the answer says why
		}
	}
	res, err := s.CloseAndReceive()
	if err != nil {
		return acked{}, err
	}
	f := res.Msg.GetFile()
	if f.GetSize() != int64(len(content)) || f.GetSha256() != sha(content) {
		return acked{}, fmt.Errorf("stream acknowledged %d bytes %s", f.GetSize(), f.GetSha256())
	}
	return acked{id: f.GetId(), sha: f.GetSha256(), size: f.GetSize()}, nil
}
