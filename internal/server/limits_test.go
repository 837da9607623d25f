package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// gzipBomb returns n zero bytes, gzipped (about a thousandth of n).
func gzipBomb(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(zero))
		zw.Write(zero[:k])
		n -= k
	}
	zw.Close()
	return b.Bytes()
}

// send posts body to url with the given headers and returns the status,
// the headers and the body.
func send(t testing.TB, url string, body []byte, header ...string) (int, http.Header, string) {
	t.Helper()
	return sendWith(t, client.HTTPClient(true), url, body, header...)
}

func sendWith(t testing.TB, hc *http.Client, url string, body []byte, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	// A gRPC status may come in the headers (trailers-only) or the trailers.
	for k, v := range res.Trailer {
		res.Header[k] = v
	}
	return res.StatusCode, res.Header, string(raw)
}

// grpcFrame wraps a message in gRPC's 5-byte prefix.
func grpcFrame(flags byte, msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

func TestHostileBodiesAreRefused(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	u := srv.Register(t, client.ConnectJSON, "uploader")
	bomb := gzipBomb(t, 64<<20)
	big := bytes.Repeat([]byte("x"), 10<<20)
	cases := []struct {
		name   string
		path   string
		body   []byte
		header []string
		status int // HTTP status, or for gRPC the grpc-status
	}{
		{"gzip bomb, Connect, health", "/grpc.health.v1.Health/Check", bomb,
			[]string{"Content-Type", "application/json", "Content-Encoding", "gzip"}, http.StatusBadRequest},
		{"gzip bomb, gRPC, health", "/grpc.health.v1.Health/Check", grpcFrame(1, bomb),
			[]string{"Content-Type", "application/grpc", "Grpc-Encoding", "gzip"}, int(connect.CodeInvalidArgument)},
		{"gzip bomb, Connect, Register", "/foxhole.v1.AuthService/Register", bomb,
			[]string{"Content-Type", "application/json", "Content-Encoding", "gzip"}, http.StatusBadRequest},
		{"10 MB, Connect, health", "/grpc.health.v1.Health/Check", big,
			[]string{"Content-Type", "application/json"}, http.StatusTooManyRequests},
		{"10 MB, gRPC, reflection", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", grpcFrame(0, big),
			[]string{"Content-Type", "application/grpc"}, int(connect.CodeResourceExhausted)},
		{"10 MB, Connect, CreateToken", "/foxhole.v1.AuthService/CreateToken", big,
			[]string{"Content-Type", "application/json"}, http.StatusTooManyRequests},
		{"gzip bomb, Connect, UploadFile (compression accepted, inflation capped)", "/foxhole.v1.FileService/UploadFile", bomb,
			[]string{"Content-Type", "application/proto", "Content-Encoding", "gzip", "Authorization", "Bearer " + u.Token}, http.StatusTooManyRequests},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := send(t, srv.URL+c.path, c.body, c.header...)
			if gs := h.Get("Grpc-Status"); gs != "" {
				status, _ = strconv.Atoi(gs)
			}
			if status != c.status {
				t.Fatalf("status %d, want %d; body %q", status, c.status, body)
			}
		})
	}
	// The server is still there, and still answers.
	if status, _ := get(t, srv.URL+"/healthz"); status != http.StatusOK {
		t.Fatalf("healthz after the attacks: %d", status)
	}
}

func TestUnknownProcedure(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	u := srv.Register(t, client.ConnectJSON, "caller")
	for _, p := range testutil.Protocols {
		for _, token := range []string{"", u.Token} {
			t.Run(string(p)+map[bool]string{true: " with token", false: " without token"}[token != ""], func(t *testing.T) {
				opts := append([]connect.ClientOption{}, p.Options()...)
				if token != "" {
					opts = append(opts, connect.WithInterceptors(client.Bearer(token)))
				}
				c := connect.NewClient[emptypb.Empty, emptypb.Empty](client.HTTPClient(true), srv.URL+"/foxhole.v1.AuthService/Nope", opts...)
				_, err := c.CallUnary(context.Background(), connect.NewRequest(&emptypb.Empty{}))
				if code := connect.CodeOf(err); code != connect.CodeUnimplemented {
					t.Fatalf("code %v (%v), want unimplemented", code, err)
				}
			})
		}
	}
	status, _, _ := post(t, srv.URL+"/foxhole.v1.Nope/Nope", "", "application/json", `{}`)
	if status != http.StatusNotFound {
		t.Fatalf("curl of an unknown procedure: %d, want 404", status)
	}
}

func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) {
		c.AuthRate, c.AuthBurst = 0.001, 3
	})
	for _, p := range testutil.Protocols {
		t.Run(string(p), func(t *testing.T) {
			// Each protocol comes from its own address, named by a proxy
			// the server does not trust: the header is ignored, so all of
			// them share the loopback's bucket. Hence one fresh server each.
			srv := testutil.Start(t, func(c *config.Config) { c.AuthRate, c.AuthBurst = 0.001, 3 })
			c := srv.Clients(p, "")
			var err error
			for range 4 {
				req := connect.NewRequest(&foxholev1.RegisterRequest{})
				req.Header().Set("X-Forwarded-For", "198.51.100.7")
				if _, err = c.Auth.Register(context.Background(), req); err != nil {
					break
				}
			}
			if code := connect.CodeOf(err); code != connect.CodeResourceExhausted {
				t.Fatalf("4th Register: %v, want resource_exhausted", err)
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Meta().Get("Retry-After") == "" {
				t.Fatalf("refusal without Retry-After: %v", err)
			}
			// CreateToken counts apart from Register.
			_, err = c.Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: "fxs_unknown"}))
			if code := connect.CodeOf(err); code != connect.CodeUnauthenticated {
				t.Fatalf("CreateToken after Register's limit: %v, want unauthenticated", err)
			}
		})
	}
	status, h, _ := send(t, srv.URL+"/foxhole.v1.AuthService/Register", []byte(`{}`), "Content-Type", "application/json")
	for i := 0; i < 3 && status == http.StatusOK; i++ {
		status, h, _ = send(t, srv.URL+"/foxhole.v1.AuthService/Register", []byte(`{}`), "Content-Type", "application/json")
	}
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("curl past the limit: %d, Retry-After %q; want 429 with Retry-After", status, h.Get("Retry-After"))
	}
}

func TestAuthRateLimitBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) {
		c.AuthRate, c.AuthBurst = 0.001, 1
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	register := func(client string) int {
		status, _, _ := send(t, srv.URL+"/foxhole.v1.AuthService/Register", []byte(`{}`),
			"Content-Type", "application/json", "X-Forwarded-For", "203.0.113.1, "+client)
		return status
	}
	if register("198.51.100.1") != http.StatusOK || register("198.51.100.2") != http.StatusOK {
		t.Fatal("two clients behind the proxy share one bucket")
	}
	if s := register("198.51.100.1"); s != http.StatusTooManyRequests {
		t.Fatalf("second call of one client behind the proxy: %d, want 429", s)
	}
}

func TestProbeStreamsAreCapped(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) { c.MaxProbeStreams = 2 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A reflection stream stays open while its client keeps its side open.
	reflect := func() (*http.Response, error) {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go pw.Write(grpcFrame(0, []byte{0x3a, 0x00})) // list_services: ""
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", pr)
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		return client.HTTPClient(true).Do(req)
	}
	for i := range 2 {
		res, err := reflect()
		if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Grpc-Status") != "" {
			t.Fatalf("stream %d: %v %v", i, err, res.Header)
		}
		defer res.Body.Close()
		// The first answer arrives: the stream is open and holds its slot.
		if _, err := io.ReadFull(res.Body, make([]byte, 5)); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	res, err := reflect()
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	if gs := res.Trailer.Get("Grpc-Status"); gs != strconv.Itoa(int(connect.CodeResourceExhausted)) {
		t.Fatalf("third stream: grpc-status %q, want resource_exhausted", gs)
	}
}

func TestReadyzNamesWithoutDetails(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	srv.App.Close() // the database is gone
	status, body := get(t, srv.URL+"/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"database"`) || strings.Contains(body, "sql") {
		t.Fatalf("readyz: %d %s", status, body)
	}
}

func TestHeadOnSignedDownload(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	u := srv.Register(t, client.ConnectJSON, "owner")
	c := srv.Clients(client.ConnectJSON, u.Token)
	up, err := c.File.UploadFile(context.Background(), connect.NewRequest(&foxholev1.UploadFileRequest{Name: "a.txt", Content: []byte("hello")}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.File.GetFile(context.Background(), connect.NewRequest(&foxholev1.GetFileRequest{Id: up.Msg.GetFile().GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Head(got.Msg.GetDownloadUrl())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ContentLength != 5 || res.Header.Get("ETag") == "" {
		t.Fatalf("HEAD on the download link: %d, length %d, headers %v", res.StatusCode, res.ContentLength, res.Header)
	}
}
