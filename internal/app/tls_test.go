package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// serveApp serves a on a loopback port until the test ends and returns the
// address.
func serveApp(t *testing.T, cfg config.Config) (string, *testutil.LockedBuffer) {
	t.Helper()
	logs := &testutil.LockedBuffer{}
	a, err := app.New(context.Background(), cfg, zerolog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), logs
}

// checkEveryPath calls Foxhole at base (https://...) over every protocol,
// /ws, PUT /files and the web app, trusting tc's roots.
func checkEveryPath(t *testing.T, base string, tc *tls.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var token string
	for _, p := range client.Protocols {
		c := client.New(base, client.WithProtocol(p), client.WithTLS(tc))
		if _, err := c.Register(ctx, ""); err != nil {
			t.Fatalf("%s: Register over TLS: %v", p, err)
		}
		res, err := c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
		if err != nil {
			t.Fatalf("%s: GetProfile over TLS: %v", p, err)
		}
		if p == client.GRPC {
			// gRPC needs HTTP/2: it worked, so ALPN chose h2.
			t.Logf("gRPC over TLS: profile of %s", res.Msg.GetUser().GetId())
		}
		if token, err = c.Tokens.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Clone()}}

	// The WebSocket, over HTTP/1.1 on TLS.
	wsURL := "wss" + strings.TrimPrefix(base, "https") + "/ws?token=" + token
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: h1})
	if err != nil {
		t.Fatalf("wss /ws: %v", err)
	}
	if _, _, err := ws.Read(ctx); err != nil { // the first event: the session's presence
		t.Fatalf("wss /ws read: %v", err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	// PUT /files and the download it names.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/files/hello.txt", bytes.NewReader([]byte("hello over TLS")))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/plain")
	res, err := client.HTTPSClient(tc).Do(req)
	if err != nil {
		t.Fatalf("PUT /files: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || res.ProtoMajor != 2 {
		t.Fatalf("PUT /files: %s over %s: %s", res.Status, res.Proto, body)
	}

	// The web app.
	res, err = h1.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("<html")) {
		t.Fatalf("GET / over TLS: %s", res.Status)
	}
}

// TestTLSFromFiles serves TLS with a certificate from files: every
// protocol and path works, and a certificate replaced in its files is
// served to new connections while an open one goes on.
func TestTLSFromFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.Issue(t, 100, certFile, keyFile)
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Addr = "127.0.0.1:0"
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	addr, logs := serveApp(t, cfg)
	base := "https://" + addr
	tc, err := client.LoadCA(ca.File)
	if err != nil {
		t.Fatal(err)
	}
	checkEveryPath(t, base, tc)

	// A connection open before the certificate changes.
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: tc.RootCAs, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	healthz := func() {
		t.Helper()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) {
			t.Fatalf("GET /healthz on the open connection: %q, %v", buf[:n], err)
		}
	}
	healthz()
	serial := func() int64 {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: tc.RootCAs})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 100 {
		t.Fatalf("serial %d, want 100", s)
	}

	ca.Issue(t, 200, certFile, keyFile)
	deadline := time.Now().Add(20 * time.Second)
	for serial() != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("the replaced certificate was never served; logs:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	healthz() // the open connection was not dropped
	checkEveryPath(t, base, tc)
}

// TestTLSFromACME obtains a certificate from a real ACME CA (Let's
// Encrypt's Pebble, on loopback), which validates the domain by the
// TLS-ALPN-01 challenge on the serving port itself; then every protocol
// and path works over it, and the certificate is cached in the data dir.
func TestTLSFromACME(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t, dir) // Pebble's own HTTPS certificate
	pebbleCert, pebbleKey := filepath.Join(dir, "pebble-cert.pem"), filepath.Join(dir, "pebble-key.pem")
	ca.Issue(t, 1, pebbleCert, pebbleKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pebble := backends.StartPebble(t, backends.PebbleOptions{
		TLSPort: ln.Addr().(*net.TCPAddr).Port, CertFile: pebbleCert, KeyFile: pebbleKey, CAFile: ca.File,
	})

	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Addr = addr
	cfg.TLSDomains = []string{"foxhole.test"}
	cfg.ACMEDirectory, cfg.ACMECAFile, cfg.ACMEEmail = pebble.Directory, ca.File, "ops@foxhole.test"
	serveApp(t, cfg)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pebble.Roots(t))
	tc := &tls.Config{RootCAs: pool, ServerName: "foxhole.test"}
	// The first handshake for the name obtains the certificate.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr, tc)
	if err != nil {
		t.Fatalf("first TLS handshake, which obtains the certificate: %v", err)
	}
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "foxhole.test" {
		t.Fatalf("certificate for %v", got)
	}
	conn.Close()
	checkEveryPath(t, "https://"+addr, tc)
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "acme", "foxhole.test")); err != nil {
		t.Fatalf("certificate not cached in the data dir: %v", err)
	}
	// A name not listed gets no certificate.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "other.test"}); err == nil {
		c.Close()
		t.Fatal("a handshake for a name not in FOXHOLE_TLS_DOMAINS succeeded")
	}
}
