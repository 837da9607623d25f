package server_test

import (
	"bufio"
	"context"
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
	"foxhole.dev/foxhole/internal/server"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestStreamRequestsMustArrive opens each stream whose request is read
// before its handler runs (or, for an upload stream, before its content is
// counted) and never sends the body: the server must cut each off on its
// own. Not parallel: it shortens the declared request_timeout.
func TestStreamRequestsMustArrive(t *testing.T) {
	server.ShortenRequestTimeouts(t, 300*time.Millisecond)
	srv := testutil.Start(t, func(c *config.Config) { c.Heartbeat = 50 * time.Millisecond })
	u := srv.Register(t, client.Connect, "silent")
	for _, tc := range []struct{ name, path, contentType string }{
		{"Subscribe", "/foxhole.v1.RealtimeService/Subscribe", "application/connect+proto"},
		{"DownloadFile", "/foxhole.v1.FileService/DownloadFile", "application/connect+proto"},
		{"UploadFileStream", "/foxhole.v1.FileService/UploadFileStream", "application/connect+proto"},
		{"UploadFileStream over gRPC-Web", "/foxhole.v1.FileService/UploadFileStream", "application/grpc-web+proto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Headers, then a body that never comes.
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n", tc.path, u.Token, tc.contentType)
			// Generous: the server's own bound is far shorter.
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer to a request that never came: %v", err)
			}
			if _, err := io.ReadAll(res.Body); err != nil {
				t.Errorf("the response did not end: %v", err)
			}
		})
	}

	// Once the request has arrived the deadline is lifted: on HTTP/1.1 a
	// deadline left set would end the stream when it passed.
	c := client.New(srv.URL, client.WithProtocol(client.Connect), client.WithToken(u.Token), client.WithHTTPClient(client.HTTPClient(false)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < 5*300*time.Millisecond {
		if !stream.Receive() {
			t.Fatalf("Subscribe over HTTP/1.1 ended after %s: %v", time.Since(start), stream.Err())
		}
	}
	stream.Close()
}
