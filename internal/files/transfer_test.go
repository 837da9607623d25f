package files_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// wantRetryLater checks a refusal for a slot: resource_exhausted with a
// Retry-After hint.
func wantRetryLater(t *testing.T, what string, err error) {
	t.Helper()
	ce := new(connect.Error)
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") == "" {
		t.Errorf("%s: %v, want resource_exhausted with Retry-After", what, err)
	}
}

// TestUploadsInProgressPerProcess fills the process's upload slots with
// slow uploads of several users: every further upload, of anyone, is
// refused before its body is read, until one ends.
func TestUploadsInProgressPerProcess(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxUploads = 2 })
	p := client.GRPC
	a, b, late := srv.Register(t, p, "a"), srv.Register(t, p, "b"), srv.Register(t, p, "late")
	w1, s1 := stalledPut(t, srv, a.Token, "one")
	w2, s2 := stalledPut(t, srv, b.Token, "two")

	c := srv.Clients(p, late.Token)
	ctx := context.Background()
	_, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "unary", Content: []byte("x")}))
	wantRetryLater(t, "UploadFile with the process's slots taken", err)
	s := c.File.UploadFileStream(ctx)
	s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "stream"}}})
	_, err = s.CloseAndReceive()
	wantRetryLater(t, "UploadFileStream with the process's slots taken", err)
	// PUT: refused without the body being asked for (no 100 Continue).
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/put", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+late.Token)
	req.Header.Set("Expect", "100-continue")
	res, err := (&http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("PUT with the process's slots taken: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}

	w1.Close()
	if st := <-s1; st != http.StatusCreated {
		t.Fatalf("first slow PUT ended with %d", st)
	}
	if _, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "later", Content: []byte("x")})); err != nil {
		t.Errorf("upload after a slot freed: %v", err)
	}
	w2.Close()
	<-s2
}

// TestTricklingTransfersAreCutOff moves a byte now and then, often enough
// for the idle deadlines: the minimum rate cuts off every path.
func TestTricklingTransfersAreCutOff(t *testing.T) {
	const window = 300 * time.Millisecond
	srv := testutil.Start(t, func(c *config.Config) {
		c.TransferMinRate = 1 << 20
		c.TransferWindow = window
	})
	p := client.GRPC
	u := srv.Register(t, p, "trickler")
	ctx := context.Background()

	t.Run("PUT", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /files/trickle HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n", u.Token)
		go func() {
			for {
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(window / 10) // the pace of the attack, not a wait for an event
			}
		}()
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a trickling PUT: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "too slow") {
			t.Errorf("trickling PUT: %d %s", res.StatusCode, body)
		}
	})

	t.Run("UploadFileStream", func(t *testing.T) {
		s := srv.Clients(p, u.Token).File.UploadFileStream(ctx)
		s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "trickle"}}})
		for s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: []byte("x")}}) == nil {
			time.Sleep(window / 10)
		}
		if _, err := s.CloseAndReceive(); connect.CodeOf(err) != connect.CodeDeadlineExceeded || !strings.Contains(err.Error(), "too slow") {
			t.Errorf("trickling stream: %v, want deadline_exceeded", err)
		}
	})
	list, err := srv.Clients(p, u.Token).File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 0 {
		t.Errorf("trickling uploads left files: %v, %v", fileIDs(list.Msg.GetFiles()), err)
	}

	// Downloads: a client that reads a little now and then. The file is
	// larger than what the sockets' buffers take at once.
	content := randomBytes(24 << 20)
	var chunks [][]byte
	for off := 0; off < len(content); off += 1 << 20 {
		chunks = append(chunks, content[off:off+1<<20])
	}
	f := upload(t, srv.Clients(p, u.Token), "big", chunks...)
	// trickle reads slowly until the server has ended the download (its
	// access log line), then takes what the sockets still hold at once.
	trickle := func(t *testing.T, r io.Reader) int {
		got, buf := 0, make([]byte, 4<<10) // with the pause below, 40 KiB a second
		for !strings.Contains(srv.Logs.String(), `/files/download/`+f.GetId()) {
			n, err := r.Read(buf)
			got += n
			if err != nil {
				return got
			}
			time.Sleep(window / 10)
		}
		n, _ := io.Copy(io.Discard, r)
		return got + int(n)
	}
	t.Run("signed link", func(t *testing.T) {
		got, err := srv.Clients(p, u.Token).File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.HTTPClient(false).Get(got.Msg.GetDownloadUrl())
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if n := trickle(t, res.Body); n >= len(content) {
			t.Errorf("a trickling reader got the whole file")
		}
	})
	t.Run("DownloadFile", func(t *testing.T) {
		c := foxholev1connectFileClient(slowReader(), srv.URL, u.Token, client.Connect)
		stream, err := c.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: f.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		got := 0
		for stream.Receive() {
			got += len(stream.Msg().GetChunk())
			time.Sleep(2 * window) // one 256 KiB chunk every two windows: under the rate
		}
		if got >= len(content) || stream.Err() == nil {
			t.Errorf("a trickling reader got %d of %d bytes, ending with %v", got, len(content), stream.Err())
		}
	})
	// A reader that keeps up gets everything.
	var sink countWriter
	if _, err := srv.Clients(p, u.Token).Download(ctx, f.GetId(), &sink, nil); err != nil || int(sink) != len(content) {
		t.Errorf("a steady download: %d bytes, %v", sink, err)
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestConcurrentUploadsStayWithinQuota starts uploads at once that
// together exceed the owner's quota: those that fit reserve their share
// before any content arrives, and the rest are refused at once.
func TestConcurrentUploadsStayWithinQuota(t *testing.T) {
	const size = 100 << 10
	srv := testutil.Start(t, func(c *config.Config) {
		c.FileQuotaBytes = 3 * size
		c.FileMinCharge = 1
		c.MaxUploadsPerUser = 8
	})
	u := srv.Register(t, client.GRPC, "hoarder")
	type held struct {
		w      *io.PipeWriter
		status <-chan int
	}
	var open []held
	refused := 0
	for i := range 6 {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/files/f%d", srv.URL, i), pr)
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+u.Token)
		req.Header.Set("Expect", "100-continue")
		hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
		status := make(chan int, 1)
		go func() {
			res, err := hc.Do(req)
			if err != nil {
				status <- 0
				return
			}
			res.Body.Close()
			status <- res.StatusCode
		}()
		// Either the server asks for the body (it reserved the upload's
		// share) or it refuses without reading any.
		wrote := make(chan error, 1)
		go func() { _, err := pw.Write([]byte("x")); wrote <- err }()
		// (A refused request's body is closed, failing the write.)
		var st int
		select {
		case err := <-wrote:
			if err == nil {
				open = append(open, held{pw, status})
				continue
			}
			st = <-status
		case st = <-status:
		}
		pw.Close()
		if st != http.StatusRequestEntityTooLarge && st != http.StatusTooManyRequests {
			t.Errorf("upload %d past the quota: %d", i, st)
		}
		refused++
	}
	if len(open) != 3 || refused != 3 {
		t.Fatalf("%d uploads started and %d were refused; want 3 and 3", len(open), refused)
	}
	for _, h := range open {
		go func() {
			h.w.Write(make([]byte, size-1))
			h.w.Close()
		}()
		if st := <-h.status; st != http.StatusCreated {
			t.Errorf("an upload within the quota: %d", st)
		}
	}
	// The quota is full: an upload of unknown length is refused too.
	if st, _ := put(t, srv, u.Token, "more", io.MultiReader(strings.NewReader("x"))); st == http.StatusCreated {
		t.Error("an upload past a full quota was stored")
	}
}

// TestSignedLinkDownloadsAreCapped opens downloads of one signed link that
// do not read: past the owner's cap, the link answers 429 before any
// content, and so does the owner's own DownloadFile.
func TestSignedLinkDownloadsAreCapped(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxDownloadsUser = 2 })
	p := client.GRPC
	u := srv.Register(t, p, "sharer")
	ctx := context.Background()
	content := randomBytes(32 << 20)
	var chunks [][]byte
	for off := 0; off < len(content); off += 1 << 20 {
		chunks = append(chunks, content[off:off+1<<20])
	}
	f := upload(t, srv.Clients(p, u.Token), "shared", chunks...)
	got, err := srv.Clients(p, u.Token).File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: f.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	link := got.Msg.GetDownloadUrl()
	get := func() *http.Response {
		t.Helper()
		res, err := client.HTTPClient(false).Get(link) // a connection of its own each
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	held := []*http.Response{get(), get()}
	for _, res := range held {
		if res.StatusCode != http.StatusOK {
			t.Fatalf("download within the cap: %d", res.StatusCode)
		}
	}
	res := get()
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("a third download of the link: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	stream, err := srv.Clients(p, u.Token).File.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: f.GetId()}))
	if err == nil {
		if stream.Receive() {
			t.Error("the owner's DownloadFile past the cap sent content")
		}
		err = stream.Err()
		stream.Close()
	}
	wantRetryLater(t, "DownloadFile past the owner's cap", err)
	// Another user is not affected.
	other := srv.Register(t, p, "other")
	g := upload(t, srv.Clients(p, other.Token), "theirs", []byte("x"))
	var sink countWriter
	if _, err := srv.Clients(p, other.Token).Download(ctx, g.GetId(), &sink, nil); err != nil {
		t.Errorf("another user's download: %v", err)
	}

	held[0].Body.Close()
	waitFor(t, "a slot to free", func() bool {
		res := get()
		defer res.Body.Close()
		if res.StatusCode == http.StatusOK {
			n, _ := io.Copy(io.Discard, res.Body)
			return n == int64(len(content))
		}
		return false
	})
	held[1].Body.Close()
}
