package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// failingAt reads a file until offset at, then fails, as a laptop lid
// closing midway would end the upload.
type failingAt struct {
	f  *os.File
	at int64
}

func (r failingAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.at {
		n, _ := r.f.ReadAt(p[:max(0, r.at-off)], off)
		return n, errors.New("lid closed")
	}
	return r.f.ReadAt(p, off)
}

// TestFilesPutResumes: an upload foxholectl began and did not finish is
// continued by the next `files put` of the same file, from the server's
// offset: the file stored is the upload begun first, whole. Then the file
// is shared, its link serves it without a token, and unshare ends it.
func TestFilesPutResumes(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	g := func(args ...string) []string { return global(srv.URL, client.Connect, args...) }
	reg := registerCLI(t, srv.URL, client.Connect, "resumer")
	src := filepath.Join(t.TempDir(), "movie.bin")
	sum := writeContent(t, src, 20<<20+3)
	if _, errOut, code := ctl(t, "", g("files", "put", "--resume", src)...); code != exitUsage || !strings.Contains(errOut, "no interrupted upload") {
		t.Fatalf("--resume with nothing to resume: exit %d, %q", code, errOut)
	}

	// The first attempt: through foxholectl's own record, cut at 13 MiB.
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	abs, _ := filepath.Abs(src)
	server, _ := normalizeServer(srv.URL)
	e := &env{server: server, stderr: io.Discard}
	key := server + " " + reg.GetUser().GetId() + " " + abs
	c := client.New(srv.URL, client.WithSecret(reg.GetUserSecret()))
	var url string
	_, err = c.UploadResumable(context.Background(), "movie.bin", "", failingAt{f, 13 << 20}, info.Size(), client.ResumableOptions{
		Retries: -1, ChunkSize: 32 << 20,
		OnCreate: func(u string) {
			url = u
			if _, err := e.updateUploads(context.Background(), key, func(m map[string]unfinished) {
				m[key] = unfinished{URL: u, Size: info.Size(), ModTime: info.ModTime()}
			}); err != nil {
				t.Fatal(err)
			}
		},
	})
	if err == nil || url == "" {
		t.Fatalf("the first attempt: %v", err)
	}

	out := mustCtl(t, "", g("--json", "files", "put", src)...)
	stored := &foxholev1.File{}
	if err := protojson.Unmarshal([]byte(out), stored); err != nil {
		t.Fatalf("files put --json printed %q: %v", out, err)
	}
	if stored.GetId() != url[strings.LastIndex(url, "/")+1:] || stored.GetSha256() != sum {
		t.Fatalf("stored %v: want the upload begun first (%s), SHA-256 %s", stored, url, sum)
	}
	if rec, _ := e.updateUploads(context.Background(), key, nil); rec.URL != "" {
		t.Errorf("the finished upload is still recorded: %+v", rec)
	}
	if out := mustCtl(t, "", g("files", "ls")...); strings.Count(out, "movie.bin") != 1 {
		t.Errorf("files ls: %q", out)
	}

	link := strings.TrimSpace(mustCtl(t, "", g("files", "share", "--expires", "1h", stored.GetId())...))
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want, _ := os.ReadFile(src)
	if res.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("GET %s: %d, %d bytes", link, res.StatusCode, len(body))
	}
	mustCtl(t, "", g("files", "unshare", link)...)
	if res, err := http.Head(link); err != nil || res.StatusCode != 404 {
		t.Fatalf("HEAD of an unshared link: %v %v", res, err)
	}
}
