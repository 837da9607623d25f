package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// tusReq sends one tus request with token and the headers given (pairs).
func tusReq(t *testing.T, method, url, token string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if b, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(b.Len())
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func tusMeta(name, typ string) string {
	md := "filename " + base64.StdEncoding.EncodeToString([]byte(name))
	if typ != "" {
		md += ",filetype " + base64.StdEncoding.EncodeToString([]byte(typ))
	}
	return md
}

// tusCreate creates an upload of length bytes and returns its URL.
func tusCreate(t *testing.T, base, token, name string, length int64) string {
	t.Helper()
	res := tusReq(t, "POST", base+"/files/tus/", token, nil, "Upload-Length", strconv.FormatInt(length, 10), "Upload-Metadata", tusMeta(name, ""))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}

// tusOffset returns the upload's offset, or -status when HEAD fails.
func tusOffset(t *testing.T, url, token string) int64 {
	t.Helper()
	res := tusReq(t, "HEAD", url, token, nil)
	if res.StatusCode != http.StatusOK {
		return -int64(res.StatusCode)
	}
	n, err := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cutPatch sends a PATCH at off whose connection breaks after n bytes of
// content, then waits until the server has recorded what arrived, and
// returns the new offset.
func cutPatch(t *testing.T, url, token string, content []byte, off, n int64) int64 {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", url, pr)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
	req.ContentLength = int64(len(content)) - off
	// Its own connection, so that breaking the body closes it.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	if _, err := pw.Write(content[off : off+n]); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(errors.New("network gone"))
	<-done
	// The server notices the cut and records what it kept.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := tusOffset(t, url, token)
		if got == off+n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset after a cut at %d: %d", off+n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pngBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(mathrand.IntN(256))
	}
	copy(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	return b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestTusResumesAfterCutConnections cuts an upload's connection twice
// midway; the offset keeps what arrived, the Go client resumes from it,
// and the finished upload is a file like any other: listed, hashed, its
// type recognised from its bytes although the client claimed another.
func TestTusResumesAfterCutConnections(t *testing.T) {
	srv := testutil.Start(t)
	u := srv.Register(t, client.Connect, "train")
	content := pngBytes(3<<20 + 123)
	res := tusReq(t, "POST", srv.URL+"/files/tus/", u.Token, nil, "Upload-Length", strconv.Itoa(len(content)),
		"Upload-Metadata", tusMeta("photo.bin", "application/octet-stream"))
	if res.StatusCode != http.StatusCreated || res.Header.Get("Upload-Expires") == "" {
		t.Fatalf("create: %d %v", res.StatusCode, res.Header)
	}
	url := res.Header.Get("Location")
	off := cutPatch(t, url, u.Token, content, 0, 1<<20+7)
	off = cutPatch(t, url, u.Token, content, off, 777_777)

	c := srv.Clients(client.Connect, u.Token)
	var first int64 = -1
	f, err := c.UploadResumable(context.Background(), "photo.bin", "", bytes.NewReader(content), int64(len(content)), client.ResumableOptions{
		URL: url, ChunkSize: 1 << 20, Checksum: true,
		Progress: func(o, _ int64) {
			if first < 0 {
				first = o
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if first != off+1<<20 {
		t.Errorf("the client's first chunk ended at %d, want %d: it did not resume from the offset", first, off+1<<20)
	}
	if f.GetSha256() != sum(content) || f.GetSize() != int64(len(content)) {
		t.Errorf("file %v, want sha %s", f, sum(content))
	}
	if f.GetContentType() != "image/png" {
		t.Errorf("content type %q, want image/png", f.GetContentType())
	}
	list, err := c.File.ListFiles(context.Background(), connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 1 || list.Msg.GetFiles()[0].GetId() != f.GetId() {
		t.Fatalf("ListFiles: %v %v", list, err)
	}
	var got bytes.Buffer
	if _, err := c.Download(context.Background(), f.GetId(), &got, nil); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("download: %v, equal %v", err, bytes.Equal(got.Bytes(), content))
	}
	// The finished upload still answers HEAD, as complete.
	if o := tusOffset(t, url, u.Token); o != int64(len(content)) {
		t.Errorf("HEAD of a finished upload: %d", o)
	}
	// Nothing unfinished is left in the store.
	if left, _ := os.ReadDir(filepath.Join(srv.DataDir, "blobs", "partial")); len(left) != 0 {
		t.Errorf("partial objects left: %v", left)
	}
}

// TestTusRefusesHostileInput: every malformed or foreign request is
// refused with its status and changes nothing.
func TestTusRefusesHostileInput(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) {
		c.MaxPendingUploads = 5
		c.FileQuotaBytes = 4 << 20
	})
	u := srv.Register(t, client.Connect, "alice")
	eve := srv.Register(t, client.Connect, "eve")
	base := srv.URL + "/files/tus/"
	create := func(length string, hdr ...string) *http.Response {
		return tusReq(t, "POST", base, u.Token, nil, append([]string{"Upload-Length", length, "Upload-Metadata", tusMeta("x", "")}, hdr...)...)
	}
	for _, c := range []struct {
		length string
		want   int
	}{
		{"-1", 400}, {"99999999999999999999", 400}, {"1e3", 400}, {"", 400}, {"+5", 400}, {"0x10", 400},
		{strconv.Itoa(5 << 20), 413}, // past the quota, before any byte
	} {
		if res := create(c.length); res.StatusCode != c.want {
			t.Errorf("Upload-Length %q: %d, want %d", c.length, res.StatusCode, c.want)
		}
	}
	if res := tusReq(t, "POST", base, u.Token, nil, "Upload-Length", "10", "Tus-Resumable", "0.2.0"); res.StatusCode != 412 {
		t.Errorf("old protocol version: %d", res.StatusCode)
	}
	if res := tusReq(t, "POST", base, "", nil, "Upload-Length", "10"); res.StatusCode != 401 {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res := create("10", "Upload-Metadata", "filename !!!"); res.StatusCode != 400 {
		t.Errorf("bad metadata: %d", res.StatusCode)
	}

	content := bytes.Repeat([]byte("0123456789"), 100)
	url := tusCreate(t, srv.URL, u.Token, "digits.txt", int64(len(content)))
	patch := func(token string, off int, body []byte, hdr ...string) *http.Response {
		return tusReq(t, "PATCH", url, token, bytes.NewReader(body), append([]string{"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off)}, hdr...)...)
	}
	if res := patch(u.Token, 0, content[:100]); res.StatusCode != 204 || res.Header.Get("Upload-Offset") != "100" {
		t.Fatalf("first chunk: %d %s", res.StatusCode, res.Header.Get("Upload-Offset"))
	}
	checks := []struct {
		what string
		res  *http.Response
		want int
	}{
		{"offset behind", patch(u.Token, 50, content[50:150]), 409},
		{"offset ahead", patch(u.Token, 200, content[200:300]), 409},
		{"negative offset", patch(u.Token, -1, content[:10]), 400},
		{"another user's upload", patch(eve.Token, 100, content[100:200]), 404},
		{"past the length", patch(u.Token, 100, make([]byte, len(content))), 413},
		{"checksum mismatch", patch(u.Token, 100, content[100:200], "Upload-Checksum", "sha256 "+base64.StdEncoding.EncodeToString(make([]byte, 32))), 460},
		{"unknown checksum", patch(u.Token, 100, content[100:200], "Upload-Checksum", "md5 AAAA"), 400},
		{"wrong content type", tusReq(t, "PATCH", url, u.Token, bytes.NewReader(content[100:200]), "Upload-Offset", "100", "Content-Type", "text/plain"), 415},
		{"another user's HEAD", tusReq(t, "HEAD", url, eve.Token, nil), 404},
		{"another user's DELETE", tusReq(t, "DELETE", url, eve.Token, nil), 404},
		{"unknown id", tusReq(t, "HEAD", base+"zzzzzzzzzzzzzzzzzzzzzzzzzz", u.Token, nil), 404},
		{"malformed id", tusReq(t, "HEAD", base+"..%2F..%2Fetc", u.Token, nil), 404},
	}
	for _, c := range checks {
		if c.res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.res.StatusCode, c.want)
		}
	}
	if o := tusOffset(t, url, u.Token); o != 100 {
		t.Fatalf("offset after refused requests: %d, want 100", o)
	}
	// A good checksum passes, and the upload finishes.
	s := sha256.Sum256(content[100:])
	if res := patch(u.Token, 100, content[100:], "Upload-Checksum", "sha256 "+base64.StdEncoding.EncodeToString(s[:])); res.StatusCode != 204 {
		t.Fatalf("last chunk: %d", res.StatusCode)
	}
	c := srv.Clients(client.Connect, u.Token)
	id := url[len(base):]
	f, err := c.File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: id}))
	if err != nil || f.Msg.GetFile().GetSha256() != sum(content) || f.Msg.GetFile().GetContentType() != "text/plain; charset=utf-8" {
		t.Fatalf("file: %v %v", f, err)
	}

	// 10,000 creations from one user: at most MaxPendingUploads exist.
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 10_000; i += 8 {
				res := create("1")
				switch res.StatusCode {
				case 201:
					created.Add(1)
				case 413, 429:
					refused.Add(1)
				default:
					t.Errorf("creation %d: %d", i, res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	if created.Load() > 5 || created.Load()+refused.Load() != 10_000 {
		t.Errorf("created %d, refused %d of 10,000 creations: want at most 5 created", created.Load(), refused.Load())
	}
}

// TestTusQuotaHoldsAcrossResumes: an upload reserves its whole length, so
// neither another upload nor a resume may store past the quota.
func TestTusQuotaHoldsAcrossResumes(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.FileQuotaBytes = 1 << 20 })
	u := srv.Register(t, client.Connect, "q")
	url := tusCreate(t, srv.URL, u.Token, "a", 700<<10)
	res := tusReq(t, "POST", srv.URL+"/files/tus/", u.Token, nil, "Upload-Length", strconv.Itoa(700<<10), "Upload-Metadata", tusMeta("b", ""))
	if res.StatusCode != 429 && res.StatusCode != 413 {
		t.Fatalf("a second upload past the quota: %d", res.StatusCode)
	}
	// Terminating the first gives its share back.
	if res := tusReq(t, "DELETE", url, u.Token, nil); res.StatusCode != 204 {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	if o := tusOffset(t, url, u.Token); o != -404 {
		t.Fatalf("HEAD after DELETE: %d", o)
	}
	tusCreate(t, srv.URL, u.Token, "b", 700<<10)

	// An empty upload is a file as soon as it is created.
	res = tusReq(t, "POST", srv.URL+"/files/tus/", u.Token, nil, "Upload-Length", "0", "Upload-Metadata", tusMeta("empty.txt", ""))
	if res.StatusCode != 201 || res.Header.Get("Upload-Offset") != "0" {
		t.Fatalf("an empty upload: %d %v", res.StatusCode, res.Header)
	}
	loc := res.Header.Get("Location")
	f, err := srv.Clients(client.Connect, u.Token).File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: loc[len(loc)-26:]}))
	if err != nil || f.Msg.GetFile().GetSize() != 0 || f.Msg.GetFile().GetSha256() != sum(nil) {
		t.Fatalf("the empty file: %v %v", f, err)
	}
}

// TestTusExpiry: an unfinished upload is removed with its bytes once it
// has had no bytes for FOXHOLE_UPLOAD_EXPIRY, on the local disk and on
// MinIO, where listing the bucket finds none of its pieces left.
func TestTusExpiry(t *testing.T) {
	for _, b := range []string{"local", "minio"} {
		t.Run(b, func(t *testing.T) {
			var m *testutil.MinIO
			if b == "minio" {
				m = testutil.StartMinIO(t)
			}
			srv := testutil.Start(t, func(c *config.Config) {
				c.UploadExpiry = time.Second
				if m != nil {
					c.S3 = config.S3{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "expiry"}
				}
			})
			unfinished := func() int {
				if m == nil {
					left, _ := os.ReadDir(filepath.Join(srv.DataDir, "blobs", "partial"))
					return len(left)
				}
				mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for oi := range mc.ListObjects(context.Background(), "expiry", minio.ListObjectsOptions{Prefix: "foxhole/", Recursive: true}) {
					if oi.Err != nil {
						t.Fatal(oi.Err)
					}
					n++
				}
				for u := range mc.ListIncompleteUploads(context.Background(), "expiry", "", true) {
					if u.Err == nil {
						n++
					}
				}
				return n
			}
			u := srv.Register(t, client.Connect, "slow")
			content := pngBytes(300 << 10)
			url := tusCreate(t, srv.URL, u.Token, "a.png", int64(len(content)))
			cutPatch(t, url, u.Token, content, 0, 100<<10)
			if n := unfinished(); n != 1 {
				t.Fatalf("objects while uploading: %d", n)
			}
			deadline := time.Now().Add(30 * time.Second)
			for tusOffset(t, url, u.Token) != -404 {
				if time.Now().After(deadline) {
					t.Fatal("the upload did not expire")
				}
				time.Sleep(100 * time.Millisecond)
			}
			for unfinished() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("bytes of an expired upload left: %d objects", unfinished())
				}
				time.Sleep(100 * time.Millisecond)
			}
			// Its quota share and pending slot are free again: a new one starts.
			tusCreate(t, srv.URL, u.Token, "b.png", 10)
		})
	}
}

// TestTusSurvivesKill kills the process with SIGKILL midway through an
// upload; started again on the same data, it resumes from the offset.
func TestTusSurvivesKill(t *testing.T) {
	proc := testutil.StartProcess(t, "FOXHOLE_AUTH_RATE=0")
	u := proc.Register(t, client.Connect, "crash")
	content := pngBytes(2<<20 + 5)
	url := tusCreate(t, proc.URL, u.Token, "c.png", int64(len(content)))
	off := cutPatch(t, url, u.Token, content, 0, 1<<20+3)
	proc.Kill()
	proc = proc.Restart(t)
	url = proc.URL + "/files/tus/" + url[len(url)-26:]
	if o := tusOffset(t, url, u.Token); o != off {
		t.Fatalf("offset after a kill: %d, want %d", o, off)
	}
	c := proc.Clients(client.Connect, u.Token)
	f, err := c.UploadResumable(context.Background(), "c.png", "", bytes.NewReader(content), int64(len(content)), client.ResumableOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if f.GetSha256() != sum(content) || f.GetContentType() != "image/png" {
		t.Fatalf("file after a kill: %v", f)
	}
}

// TestContentTypeFromBytesOnEveryPath: the bytes decide the type on
// UploadFile, UploadFileStream, PUT /files and tus; a claimed or
// name-given type stays only where the bytes say nothing more.
func TestContentTypeFromBytesOnEveryPath(t *testing.T) {
	srv := testutil.Start(t)
	u := srv.Register(t, client.Connect, "types")
	c := srv.Clients(client.Connect, u.Token)
	ctx := context.Background()
	png := pngBytes(5000)
	jpeg := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), make([]byte, 100)...)
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7 + i/13 + 0x80)
	}
	random[0] = 0x01
	cases := []struct {
		name, claimed string
		content       []byte
		want          string
	}{
		{"a.png", "application/octet-stream", png, "image/png"},
		{"a.txt", "image/jpeg", png, "image/png"},
		{"photo.jpg", "", jpeg, "image/jpeg"},
		{"random.jpg", "", random, "application/octet-stream"},
		{"data.json", "", []byte(`{"a": 1}`), "application/json"},
		{"notes.csv", "text/csv", []byte("a,b\n1,2\n"), "text/csv"},
		{"page.html", "text/plain", []byte("<!DOCTYPE html><html><body>hi</body></html>"), "text/html; charset=utf-8"},
		{"blob", "application/x-custom", random, "application/x-custom"},
	}
	upload := map[string]func(name, claimed string, b []byte) (*foxholev1.File, error){
		"UploadFile": func(name, claimed string, b []byte) (*foxholev1.File, error) {
			res, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: name, ContentType: claimed, Content: b}))
			return res.Msg.GetFile(), err
		},
		"UploadFileStream": func(name, claimed string, b []byte) (*foxholev1.File, error) {
			return c.Upload(ctx, name, claimed, bytes.NewReader(b))
		},
		"tus": func(name, claimed string, b []byte) (*foxholev1.File, error) {
			return c.UploadResumable(ctx, name, claimed, bytes.NewReader(b), int64(len(b)), client.ResumableOptions{})
		},
		"PUT": func(name, claimed string, b []byte) (*foxholev1.File, error) {
			req, _ := http.NewRequest("PUT", srv.URL+"/files/"+name, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+u.Token)
			if claimed != "" {
				req.Header.Set("Content-Type", claimed)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			defer res.Body.Close()
			if res.StatusCode != 201 {
				return nil, fmt.Errorf("PUT: %d", res.StatusCode)
			}
			var f foxholev1.File
			body, _ := io.ReadAll(res.Body)
			return &f, protojson.Unmarshal(body, &f)
		},
	}
	for path, up := range upload {
		for _, tc := range cases {
			f, err := up(tc.name, tc.claimed, tc.content)
			if err != nil {
				t.Fatalf("%s %s: %v", path, tc.name, err)
			}
			if f.GetContentType() != tc.want {
				t.Errorf("%s %s (claimed %q): %q, want %q", path, tc.name, tc.claimed, f.GetContentType(), tc.want)
			}
		}
	}
}
