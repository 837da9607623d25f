package files_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// backend is a place files can live.
type backend struct {
	name  string
	start func(t testing.TB, edit ...func(*config.Config)) *testutil.Server
}

// backends are the local disk and a real MinIO; the MinIO case is skipped
// when no minio binary is installed (CI always installs one).
var backends = []backend{
	{"local", func(t testing.TB, edit ...func(*config.Config)) *testutil.Server { return testutil.Start(t, edit...) }},
	{"minio", func(t testing.TB, edit ...func(*config.Config)) *testutil.Server {
		m := testutil.StartMinIO(t)
		return testutil.Start(t, append([]func(*config.Config){func(c *config.Config) {
			c.S3 = config.S3{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "foxhole-test"}
		}}, edit...)...)
	}},
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func fetch(t *testing.T, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func upload(t *testing.T, c *client.Client, name string, chunks ...[]byte) *foxholev1.File {
	t.Helper()
	stream := c.File.UploadFileStream(context.Background())
	if err := stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: name}}}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chunks {
		if err := stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: ch}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		t.Fatalf("UploadFileStream: %v", err)
	}
	return res.Msg.GetFile()
}

func TestEveryRPCOverEveryProtocol(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := b.start(t)
			for _, p := range testutil.Protocols {
				t.Run(string(p), func(t *testing.T) {
					ctx := context.Background()
					u := srv.Register(t, p, "owner")
					c := srv.Clients(p, u.Token)

					small := []byte("hello, foxhole\n")
					up, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "../../etc/passwd", Content: small}))
					if err != nil {
						t.Fatalf("UploadFile: %v", err)
					}
					f := up.Msg.GetFile()
					if f.GetName() != "../../etc/passwd" || f.GetSize() != int64(len(small)) || f.GetSha256() != sha(small) ||
						!strings.HasPrefix(f.GetContentType(), "text/plain") || f.GetCreatedAt() == nil || f.GetId() == "" {
						t.Errorf("UploadFile stored %v", f)
					}

					big := randomBytes(700<<10 + 3)
					sf := upload(t, c, "big.bin", big[:300<<10], big[300<<10:600<<10], big[600<<10:])
					if sf.GetSize() != int64(len(big)) || sf.GetSha256() != sha(big) || sf.GetContentType() != "application/octet-stream" {
						t.Errorf("UploadFileStream stored %v", sf)
					}

					got, err := c.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: sf.GetId()}))
					if err != nil {
						t.Fatalf("GetFile: %v", err)
					}
					if got.Msg.GetFile().GetSha256() != sf.GetSha256() || !got.Msg.GetDownloadUrlExpiresAt().AsTime().After(time.Now()) {
						t.Errorf("GetFile = %v", got.Msg)
					}
					res, body := fetch(t, got.Msg.GetDownloadUrl())
					if res.StatusCode != 200 || !bytes.Equal(body, big) {
						t.Errorf("GET download URL: %d, %d bytes (want %d)", res.StatusCode, len(body), len(big))
					}

					dl, err := c.File.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: sf.GetId()}))
					if err != nil {
						t.Fatal(err)
					}
					var buf bytes.Buffer
					first := true
					for dl.Receive() {
						if first && dl.Msg().GetFile().GetId() != sf.GetId() {
							t.Errorf("first DownloadFile message lacks the file: %v", dl.Msg().GetFile())
						}
						first = false
						buf.Write(dl.Msg().GetChunk())
					}
					if err := dl.Err(); err != nil || !bytes.Equal(buf.Bytes(), big) {
						t.Errorf("DownloadFile: %d bytes, %v", buf.Len(), err)
					}

					list, err := c.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
					if err != nil {
						t.Fatal(err)
					}
					if ids := fileIDs(list.Msg.GetFiles()); len(ids) != 2 || ids[0] != sf.GetId() || ids[1] != f.GetId() {
						t.Errorf("ListFiles = %v, want newest first [%s %s]", ids, sf.GetId(), f.GetId())
					}

					if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: sf.GetId()})); err != nil {
						t.Fatalf("DeleteFile: %v", err)
					}
					if _, err := c.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: sf.GetId()})); connect.CodeOf(err) != connect.CodeNotFound {
						t.Errorf("GetFile after delete: %v", err)
					}
					if res, _ := fetch(t, got.Msg.GetDownloadUrl()); res.StatusCode == 200 {
						t.Errorf("download URL still serves a deleted file")
					}
					if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: sf.GetId()})); connect.CodeOf(err) != connect.CodeNotFound {
						t.Errorf("second DeleteFile: %v", err)
					}
				})
			}
		})
	}
}

func fileIDs(files []*foxholev1.File) []string {
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.GetId()
	}
	return ids
}

func TestOthersCannotSeeFiles(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := b.start(t)
			p := client.Connect
			ctx := context.Background()
			alice, mallory := srv.Register(t, p, "alice"), srv.Register(t, p, "mallory")
			a, m := srv.Clients(p, alice.Token), srv.Clients(p, mallory.Token)
			f := upload(t, a, "secret.txt", []byte("alice's diary"))

			calls := map[string]error{}
			_, calls["GetFile"] = m.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()}))
			_, calls["DeleteFile"] = m.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: f.GetId()}))
			dl, err := m.File.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: f.GetId()}))
			if err == nil {
				for dl.Receive() {
					t.Error("mallory received a chunk of alice's file")
				}
				err = dl.Err()
			}
			calls["DownloadFile"] = err
			for name, err := range calls {
				if connect.CodeOf(err) != connect.CodeNotFound {
					t.Errorf("%s of another user's file: %v, want not_found", name, err)
				}
			}
			list, err := m.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
			if err != nil || len(list.Msg.GetFiles()) != 0 {
				t.Errorf("mallory lists %v, %v", list.Msg.GetFiles(), err)
			}
			// Alice still has it.
			if _, err := a.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()})); err != nil {
				t.Errorf("alice's file gone after mallory's attempts: %v", err)
			}
		})
	}
}

func TestSignedDownloadURLs(t *testing.T) {
	srv := testutil.Start(t)
	p := client.ConnectJSON
	u := srv.Register(t, p, "owner")
	c := srv.Clients(p, u.Token)
	content := randomBytes(100 << 10)
	f := upload(t, c, "photo.png", content)
	got, err := c.File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	link := got.Msg.GetDownloadUrl()

	res, body := fetch(t, link)
	if res.StatusCode != 200 || res.Header.Get("Content-Length") != fmt.Sprint(len(content)) ||
		res.Header.Get("ETag") != `"`+f.GetSha256()+`"` || res.Header.Get("Content-Type") != f.GetContentType() ||
		!bytes.Equal(body, content) {
		t.Errorf("GET: %d %v (%d bytes)", res.StatusCode, res.Header, len(body))
	}
	res, body = fetch(t, link, "Range", "bytes=1000-1999")
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[1000:2000]) ||
		res.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", len(content)) {
		t.Errorf("Range: %d %v (%d bytes)", res.StatusCode, res.Header, len(body))
	}
	res, body = fetch(t, link, "Range", fmt.Sprintf("bytes=-%d", 10))
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[len(content)-10:]) {
		t.Errorf("suffix Range: %d (%d bytes)", res.StatusCode, len(body))
	}
	if res, _ := fetch(t, link, "If-None-Match", `"`+f.GetSha256()+`"`); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %d, want 304", res.StatusCode)
	}

	parsed, _ := url.Parse(link)
	q := parsed.Query()
	tamper := func(edit func(path string, q url.Values) string) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = append([]string(nil), v...)
		}
		return srv.URL + edit(parsed.Path, q2)
	}
	other := upload(t, c, "other", []byte("x"))
	for name, bad := range map[string]string{
		"other id": tamper(func(p string, q url.Values) string {
			return strings.Replace(p, f.GetId(), other.GetId(), 1) + "?" + q.Encode()
		}),
		"later expiry": tamper(func(p string, q url.Values) string { q.Set("expires", "9999999999"); return p + "?" + q.Encode() }),
		"expired":      tamper(func(p string, q url.Values) string { q.Set("expires", "1"); return p + "?" + q.Encode() }),
		"wrong signature": tamper(func(p string, q url.Values) string {
			q.Set("signature", strings.Repeat("0", 64))
			return p + "?" + q.Encode()
		}),
		"no signature": tamper(func(p string, q url.Values) string { q.Del("signature"); return p + "?" + q.Encode() }),
		"traversal":    srv.URL + "/files/download/..%2F..%2Ffoxhole.db?" + q.Encode(),
	} {
		res, body := fetch(t, bad)
		if res.StatusCode != http.StatusNotFound || bytes.Contains(body, content[:16]) {
			t.Errorf("%s: %d, want 404", name, res.StatusCode)
		}
	}
}

// put uploads body the way curl -T does.
func put(t *testing.T, srv *testutil.Server, token, name string, body io.Reader, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/"+name, body)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestPutFiles(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.FileMaxBytes = 1 << 20 })
	p := client.ConnectJSON
	u := srv.Register(t, p, "curl")

	status, f := put(t, srv, u.Token, "notes%2F..%2F..%2Fx.txt", strings.NewReader("plain text"))
	if status != http.StatusCreated || f["name"] != "notes/../../x.txt" || f["size"] != "10" || !strings.HasPrefix(f["contentType"].(string), "text/plain") {
		t.Errorf("PUT: %d %v", status, f)
	}
	status, f = put(t, srv, u.Token, "data.json", strings.NewReader(`{"a":1}`), "Content-Type", "application/json")
	if status != http.StatusCreated || f["contentType"] != "application/json" {
		t.Errorf("PUT with a content type: %d %v", status, f)
	}
	status, f = put(t, srv, u.Token, "empty", strings.NewReader(""))
	if status != http.StatusCreated || f["sha256"] != sha(nil) || f["size"] != nil && f["size"] != "0" {
		t.Errorf("PUT of an empty body: %d %v", status, f)
	}
	status, f = put(t, srv, u.Token, "too-big", bytes.NewReader(make([]byte, 1<<20+1)))
	if status != http.StatusRequestEntityTooLarge || f["error"] == nil {
		t.Errorf("PUT over the limit: %d %v", status, f)
	}
	// Without a Content-Length, the limit is found while streaming.
	status, f = put(t, srv, u.Token, "too-big-chunked", io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), strings.NewReader("x")))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PUT over the limit: %d %v", status, f)
	}
	status, f = put(t, srv, u.Token, "bad", strings.NewReader("x"), "Content-Type", "not a type")
	if status != http.StatusBadRequest {
		t.Errorf("PUT with a bad content type: %d %v", status, f)
	}
	status, _ = put(t, srv, "", "anonymous", strings.NewReader("x"))
	if status != http.StatusUnauthorized {
		t.Errorf("PUT without a token: %d", status)
	}

	list, err := srv.Clients(p, u.Token).File.ListFiles(context.Background(), connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 3 {
		t.Errorf("after PUTs, ListFiles = %v, %v; want the 3 accepted files", fileIDs(list.Msg.GetFiles()), err)
	}
	assertNoStrayBlobs(t, srv, 3)
}

// assertNoStrayBlobs checks that the local store holds exactly want objects
// and no temporary files.
func assertNoStrayBlobs(t *testing.T, srv *testutil.Server, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		objects, _ := filepath.Glob(filepath.Join(srv.DataDir, "blobs", "??", "*"))
		temps, _ := filepath.Glob(filepath.Join(srv.DataDir, "blobs", "tmp", "*"))
		if len(objects) == want && len(temps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("blob store holds %d objects (want %d) and %d temporary files", len(objects), want, len(temps))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCutOffUploadsStoreNothing(t *testing.T) {
	srv := testutil.Start(t)
	p := client.GRPC
	u := srv.Register(t, p, "flaky")
	ctx := context.Background()

	// A PUT whose connection drops halfway through its declared length.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /files/half HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n", u.Token)
	conn.Write(make([]byte, 400000))
	conn.Close()

	// An upload stream cancelled midway.
	sctx, cancel := context.WithCancel(ctx)
	stream := srv.Clients(p, u.Token).File.UploadFileStream(sctx)
	stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "cancelled"}}})
	stream.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: make([]byte, 200000)}})
	cancel()
	stream.CloseAndReceive()

	assertNoStrayBlobs(t, srv, 0)
	list, err := srv.Clients(p, u.Token).File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 0 {
		t.Errorf("cut-off uploads left files: %v, %v", fileIDs(list.Msg.GetFiles()), err)
	}
}

func TestBadUploads(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) {
		c.FileUnaryMaxBytes = 64 << 10
		c.FileQuotaBytes = 300 << 10
	})
	for _, p := range testutil.Protocols {
		t.Run(string(p), func(t *testing.T) {
			ctx := context.Background()
			u := srv.Register(t, p, "bad")
			c := srv.Clients(p, u.Token)
			unary := func(name string, content []byte) error {
				_, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: name, Content: content}))
				return err
			}
			cases := []struct {
				name string
				err  error
				want connect.Code
			}{
				{"empty name", unary("", []byte("x")), connect.CodeInvalidArgument},
				{"10,000-character name", unary(strings.Repeat("n", 10000), []byte("x")), connect.CodeInvalidArgument},
				{"256-byte name", unary(strings.Repeat("é", 128), []byte("x")), connect.CodeInvalidArgument},
				{"control character", unary("a\x00b", []byte("x")), connect.CodeInvalidArgument},
				{"newline", unary("a\nb", []byte("x")), connect.CodeInvalidArgument},
				{"over the unary limit", unary("big", make([]byte, 64<<10+1)), connect.CodeResourceExhausted},
			}
			for _, tc := range cases {
				if got := connect.CodeOf(tc.err); got != tc.want {
					t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
				}
			}
			if err := unary("big", make([]byte, 64<<10+1)); !strings.Contains(err.Error(), "UploadFileStream") {
				t.Errorf("over-limit message %q does not point to the streaming paths", err)
			}
			if err := unary("255 bytes is fine "+strings.Repeat("é", 118), []byte("x")); err != nil {
				t.Errorf("255-byte name refused: %v", err)
			}
			if err := unary("empty file", nil); err != nil {
				t.Errorf("empty file refused: %v", err)
			}

			// Streams that do not start with metadata, or repeat it.
			s := c.File.UploadFileStream(ctx)
			s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: []byte("x")}})
			if _, err := s.CloseAndReceive(); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("stream without metadata: %v", err)
			}
			s = c.File.UploadFileStream(ctx)
			md := &foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "twice"}}}
			s.Send(md)
			s.Send(md)
			if _, err := s.CloseAndReceive(); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("stream with metadata twice: %v", err)
			}

			// The quota (300 KiB) holds across uploads.
			// Chunks stay under the stream's message limit (128 KiB here).
			chunk := make([]byte, 50<<10)
			upload(t, c, "q1", chunk, chunk, chunk, chunk)
			s = c.File.UploadFileStream(ctx)
			s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "q2"}}})
			for range 4 {
				s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: chunk}})
			}
			if _, err := s.CloseAndReceive(); connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Errorf("upload over the quota: %v", err)
			}

			list, err := c.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
			if err != nil || len(list.Msg.GetFiles()) != 3 {
				t.Errorf("files after bad uploads: %v, %v; want the 3 good ones", fileIDs(list.Msg.GetFiles()), err)
			}
			for _, req := range []*foxholev1.ListFilesRequest{{PageSize: 1001}, {PageSize: -1}, {PageToken: "garbage!"}, {PageToken: "MTIz"}} {
				if _, err := c.File.ListFiles(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("ListFiles(%v): %v, want invalid_argument", req, err)
				}
			}
		})
	}
}

func TestListFilesPagingIsStable(t *testing.T) {
	srv := testutil.Start(t)
	p := client.Connect
	u := srv.Register(t, p, "pager")
	c := srv.Clients(p, u.Token)
	ctx := context.Background()
	var ids []string
	for i := range 25 {
		ids = append(ids, upload(t, c, fmt.Sprint("f", i), []byte{byte(i)}).GetId())
	}
	present := map[string]bool{} // present throughout the listing
	for _, id := range ids[:24] {
		present[id] = true
	}
	seen := map[string]int{}
	token := ""
	for page := 0; ; page++ {
		res, err := c.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{PageSize: 10, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Msg.GetFiles() {
			seen[f.GetId()]++
		}
		if page == 0 {
			// Between pages: a new file arrives, a listed one and an unlisted one go.
			upload(t, c, "late", []byte("new"))
			c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: ids[24]}))
			c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: ids[0]}))
			delete(present, ids[0])
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	for id := range present {
		if seen[id] != 1 {
			t.Errorf("file %s present throughout was listed %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("file %s listed %d times", id, n)
		}
	}
}

func TestSweepRemovesOrphans(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.StartIn(t, dir)
	p := client.ConnectJSON
	u := srv.Register(t, p, "sweeper")
	kept := upload(t, srv.Clients(p, u.Token), "kept", []byte("keep me"))
	srv.Stop()

	// Content without metadata, as a crash between the two writes leaves it.
	orphan := filepath.Join(dir, "blobs", "zz", "zzzzzzzzzzzzzzzz")
	os.MkdirAll(filepath.Dir(orphan), 0o700)
	os.WriteFile(orphan, []byte("orphan"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(orphan, old, old)

	srv = testutil.StartIn(t, dir) // sweeps at start
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(orphan); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("orphaned content not swept")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := srv.Clients(p, u.Token).File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: kept.GetId()})); err != nil {
		t.Errorf("sweep touched a real file: %v", err)
	}
}
