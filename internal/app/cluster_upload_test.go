package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestResumableUploadMovesBetweenProcesses starts a tus upload through one
// process, leaves a request of it hanging there mid-chunk (a phone that
// lost its network), and finishes it through another process sharing
// PostgreSQL and MinIO: the second takes the upload over at once, from the
// offset the first recorded, and the file is whole on both. A share link
// of it revoked through one process answers 404 through the other at once.
func TestResumableUploadMovesBetweenProcesses(t *testing.T) {
	c := startCluster(t, clusterOptions{processes: 2, apart: true, env: []string{"FOXHOLE_AUTH_RATE=0"}})
	p0, p1 := c.procs[0], c.procs[1]
	u := p0.Register(t, client.Connect, "commuter")
	content := make([]byte, 19<<20+17)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	id := ""
	c0 := p0.Clients(client.Connect, u.Token)
	ctx := context.Background()

	// Through p0: creation, then a chunk that stops after 9 MiB and hangs.
	req, _ := http.NewRequest("POST", p0.URL+"/files/tus/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+u.Token)
	req.Header.Set("Upload-Length", strconv.Itoa(len(content)))
	req.Header.Set("Upload-Metadata", "filename "+base64.StdEncoding.EncodeToString([]byte("big.bin")))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	loc := res.Header.Get("Location")
	id = loc[len(loc)-26:]
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ = http.NewRequest("PATCH", loc, pr)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+u.Token)
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	req.ContentLength = int64(len(content))
	hanging := make(chan int, 1)
	go func() {
		res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			hanging <- -1
			return
		}
		res.Body.Close()
		hanging <- res.StatusCode
	}()
	if _, err := pw.Write(content[:9<<20]); err != nil {
		t.Fatal(err)
	}

	// Through p1: the Go client resumes it, taking it over from p0's
	// hanging request.
	c1 := p1.Clients(client.Connect, u.Token)
	start := time.Now()
	var first int64 = -1
	f, err := c1.UploadResumable(ctx, "big.bin", "", bytes.NewReader(content), int64(len(content)), client.ResumableOptions{
		URL: p1.URL + "/files/tus/" + id, ChunkSize: 4 << 20,
		Progress: func(off, _ int64) {
			if first < 0 {
				first = off
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("taken over and finished in %v; first chunk through p1 ended at %d", time.Since(start), first)
	if first <= 4<<20 {
		t.Errorf("p1 started from %d: the bytes p0 received were not kept", first-4<<20)
	}
	if st := <-hanging; st != http.StatusLocked && st != -1 {
		t.Errorf("the hanging request was answered %d, want 423", st)
	}
	s := sha256.Sum256(content)
	if f.GetSha256() != hex.EncodeToString(s[:]) || f.GetId() != id {
		t.Fatalf("file %v", f)
	}
	// The file is whole through p0 too.
	var got bytes.Buffer
	if _, err := c0.Download(ctx, id, &got, nil); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("download through p0: %v", err)
	}
	list, err := c0.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 1 {
		t.Fatalf("ListFiles through p0: %v %v", list, err)
	}

	// A link made through p0 serves through p1, and its revocation through
	// p0 holds on p1 at once.
	sh, err := c0.File.ShareFile(ctx, connect.NewRequest(&foxholev1.ShareFileRequest{Id: id}))
	if err != nil {
		t.Fatal(err)
	}
	viaP1 := p1.URL + "/files/shared/" + sh.Msg.GetShare().GetId()
	head := func() int {
		req, _ := http.NewRequest("GET", viaP1, nil)
		req.Header.Set("Range", "bytes=0-99")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 206 && !bytes.Equal(body, content[:100]) {
			t.Fatal("the link served other bytes")
		}
		return res.StatusCode
	}
	if st := head(); st != 206 {
		t.Fatalf("link through p1: %d", st)
	}
	if _, err := c0.File.RevokeShare(ctx, connect.NewRequest(&foxholev1.RevokeShareRequest{Id: sh.Msg.GetShare().GetId()})); err != nil {
		t.Fatal(err)
	}
	if st := head(); st != 404 {
		t.Fatalf("a link revoked through p0, through p1: %d", st)
	}
}
