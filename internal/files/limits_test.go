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
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// waitFor waits for cond, an event the test cannot be told of directly
// (a line in the server's log, a file gone from disk).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stalledPut starts a PUT whose body is a pipe, and returns once the server
// is reading the body (so holds an upload slot): the client sends the body
// only after the server's 100 Continue, which net/http sends at the
// handler's first read. Closing the returned writer ends the upload.
func stalledPut(t *testing.T, srv *testutil.Server, token, name string) (*io.PipeWriter, <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/"+name, pr)
	req.Header.Set("Authorization", "Bearer "+token)
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
	if _, err := pw.Write([]byte("first bytes")); err != nil {
		t.Fatal(err)
	}
	return pw, status
}

func TestUploadsInProgressPerUser(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MaxUploadsPerUser = 2 })
	p := client.GRPC // gRPC
	u := srv.Register(t, p, "busy")
	other := srv.Register(t, p, "other")
	c := srv.Clients(p, u.Token)
	ctx := context.Background()

	w1, s1 := stalledPut(t, srv, u.Token, "one")
	w2, s2 := stalledPut(t, srv, u.Token, "two")

	// Every path is refused while both slots are taken, with a hint to retry.
	_, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "unary", Content: []byte("x")}))
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "uploads in progress") {
		t.Errorf("UploadFile with no free slot: %v", err)
	} else if ce := new(connect.Error); errors.As(err, &ce) && ce.Meta().Get("Retry-After") == "" {
		t.Errorf("refusal without Retry-After: %v", ce.Meta())
	}
	s := c.File.UploadFileStream(ctx)
	s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "stream"}}})
	if _, err := s.CloseAndReceive(); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("UploadFileStream with no free slot: %v", err)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/files/put", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+u.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("PUT with no free slot: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}

	// Another user is not affected.
	if _, err := srv.Clients(p, other.Token).File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "mine", Content: []byte("x")})); err != nil {
		t.Errorf("another user's upload: %v", err)
	}

	// A finished upload frees its slot.
	w1.Close()
	if st := <-s1; st != http.StatusCreated {
		t.Fatalf("first stalled PUT ended with %d", st)
	}
	if _, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "later", Content: []byte("x")})); err != nil {
		t.Errorf("upload after a slot freed: %v", err)
	}
	w2.Close()
	<-s2
}

func TestQuotaAndFileCount(t *testing.T) {
	ctx := context.Background()
	p := client.Connect

	t.Run("small files are charged the minimum", func(t *testing.T) {
		srv := testutil.Start(t, func(c *config.Config) {
			c.FileQuotaBytes = 16 << 10
			c.FileMinCharge = 4 << 10
		})
		u := srv.Register(t, p, "tiny")
		c := srv.Clients(p, u.Token)
		var ids []string
		for i := range 4 { // 4 × 4 KiB: the whole quota
			f, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: fmt.Sprint("e", i)}))
			if err != nil {
				t.Fatalf("empty file %d: %v", i, err)
			}
			ids = append(ids, f.Msg.GetFile().GetId())
		}
		_, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "one more"}))
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "quota") {
			t.Errorf("fifth empty file: %v, want resource_exhausted naming the quota", err)
		}
		status, body := put(t, srv, u.Token, "by put", strings.NewReader("x"))
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(body), "quota") {
			t.Errorf("PUT over the quota: %d %v", status, body)
		}
		if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: ids[0]})); err != nil {
			t.Fatal(err)
		}
		if _, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "fits again", Content: []byte("x")})); err != nil {
			t.Errorf("upload after a delete: %v", err)
		}
	})

	t.Run("file count", func(t *testing.T) {
		srv := testutil.Start(t, func(c *config.Config) { c.FileMaxCount = 2 })
		u := srv.Register(t, p, "many")
		c := srv.Clients(p, u.Token)
		for i := range 2 {
			if _, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: fmt.Sprint("f", i)})); err != nil {
				t.Fatal(err)
			}
		}
		_, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: "third"}))
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "at most 2 files") {
			t.Errorf("third file: %v, want resource_exhausted naming the file limit", err)
		}
		s := c.File.UploadFileStream(ctx)
		s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "third"}}})
		if _, err := s.CloseAndReceive(); connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("third file by stream: %v", err)
		}
	})

	t.Run("concurrent uploads cannot overshoot", func(t *testing.T) {
		srv := testutil.Start(t, func(c *config.Config) {
			c.FileQuotaBytes = 100 << 10
			c.MaxUploadsPerUser = 8
		})
		u := srv.Register(t, p, "racer")
		c := srv.Clients(p, u.Token)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: fmt.Sprint("r", i), Content: make([]byte, 40<<10)}))
			})
		}
		wg.Wait()
		list, err := c.File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		// Whatever the interleaving, exactly two 40 KiB files fit in 100 KiB.
		if n := len(list.Msg.GetFiles()); n != 2 {
			t.Errorf("%d files stored, want 2", n)
		}
		assertNoStrayBlobs(t, srv, 2)
	})
}

func TestStalledUploadsAreCutOff(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv := testutil.Start(t, func(c *config.Config) { c.UploadIdleTimeout = idle })
	p := client.GRPC // gRPC over h2c
	u := srv.Register(t, p, "staller")
	ctx := context.Background()

	t.Run("PUT", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "PUT /files/stalled HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n", u.Token)
		conn.Write(make([]byte, 1000))
		// Nothing more is sent; the server must answer on its own.
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a stalled PUT: %v", err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "stalled") {
			t.Errorf("stalled PUT: %d %s", res.StatusCode, body)
		}
	})

	t.Run("UploadFileStream over gRPC", func(t *testing.T) {
		s := srv.Clients(p, u.Token).File.UploadFileStream(ctx)
		s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "stalled"}}})
		s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: make([]byte, 1000)}})
		// The request stays open: only the server's read deadline on this
		// HTTP/2 stream can end the call.
		conn, err := s.Conn()
		if err != nil {
			t.Fatal(err)
		}
		err = conn.Receive(&foxholev1.UploadFileStreamResponse{})
		if connect.CodeOf(err) != connect.CodeDeadlineExceeded || !strings.Contains(err.Error(), "stalled") {
			t.Errorf("stalled stream: %v, want deadline_exceeded", err)
		}
		conn.CloseRequest()
	})

	list, err := srv.Clients(p, u.Token).File.ListFiles(ctx, connect.NewRequest(&foxholev1.ListFilesRequest{}))
	if err != nil || len(list.Msg.GetFiles()) != 0 {
		t.Errorf("stalled uploads left files: %v, %v", fileIDs(list.Msg.GetFiles()), err)
	}
	assertNoStrayBlobs(t, srv, 0)

	// A slow but steady upload is not cut off: each chunk renews the deadline.
	s := srv.Clients(p, u.Token).File.UploadFileStream(ctx)
	s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Metadata{Metadata: &foxholev1.FileMetadata{Name: "steady"}}})
	for range 4 {
		s.Send(&foxholev1.UploadFileStreamRequest{Data: &foxholev1.UploadFileStreamRequest_Chunk{Chunk: []byte("x")}})
		time.Sleep(idle / 2) // the pace of a slow client, not a wait for an event
	}
	if _, err := s.CloseAndReceive(); err != nil {
		t.Errorf("steady upload over %s: %v", 2*idle, err)
	}
}

// slowReader is an HTTP/2 client whose streams take little data before the
// server must wait for it to read, so that a download stalls at once.
func slowReader() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols: &p,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerStream:     64 << 10,
			MaxReceiveBufferPerConnection: 64 << 10,
		},
	}}
}

func TestStalledDownloadsAreCutOff(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.DownloadTimeout = 300 * time.Millisecond })
	p := client.GRPC // gRPC over h2c
	u := srv.Register(t, p, "reader")
	ctx := context.Background()
	content := randomBytes(8 << 20)
	chunks := [][]byte{}
	for off := 0; off < len(content); off += 64 << 10 {
		chunks = append(chunks, content[off:off+64<<10])
	}
	f := upload(t, srv.Clients(p, u.Token), "big", chunks...)

	c := foxholev1connectFileClient(slowReader(), srv.URL, u.Token, p)
	stream, err := c.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: f.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("first chunk: %v", stream.Err())
	}
	// Stop reading until the server has given up on this stream.
	waitFor(t, "the server to end the stalled download", func() bool {
		return strings.Contains(srv.Logs.String(), `"path":"/foxhole.v1.FileService/DownloadFile"`)
	})
	got := len(stream.Msg().GetChunk())
	for stream.Receive() {
		got += len(stream.Msg().GetChunk())
	}
	if stream.Err() == nil || got >= len(content) {
		t.Errorf("stalled download got %d of %d bytes and ended with %v; want it cut off", got, len(content), stream.Err())
	}
	stream.Close()

	// A client that reads gets everything.
	stream, err = srv.Clients(p, u.Token).File.DownloadFile(ctx, connect.NewRequest(&foxholev1.DownloadFileRequest{Id: f.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	got = 0
	for stream.Receive() {
		got += len(stream.Msg().GetChunk())
	}
	if stream.Err() != nil || got != len(content) {
		t.Errorf("download: %d bytes, %v", got, stream.Err())
	}
}

func TestUploadErrorsHideInternals(t *testing.T) {
	srv := testutil.Start(t)
	u := srv.Register(t, client.ConnectJSON, "garbler")
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A chunked body whose second chunk size is not hexadecimal: net/http's
	// error names its parser's internals.
	fmt.Fprintf(conn, "PUT /files/garbled HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", u.Token)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode < 400 || res.StatusCode >= 500 || !strings.Contains(string(body), "upload interrupted") ||
		strings.Contains(string(body), "chunk") || strings.Contains(string(body), "invalid byte") {
		t.Errorf("garbled body: %d %s; want a client error in Foxhole's own words", res.StatusCode, body)
	}
	assertNoStrayBlobs(t, srv, 0)
}

func foxholev1connectFileClient(hc *http.Client, url, token string, p client.Protocol) foxholev1connect.FileServiceClient {
	return client.New(url, client.WithHTTPClient(hc), client.WithProtocol(p), client.WithToken(token)).File
}
