package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// A busy client spreads its calls over as many connections as it is told,
// and over one when told one.
func TestConnectionsSpreadCalls(t *testing.T) {
	ctx := context.Background()
	user := register(t, serverURL, nil)
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			proxy := startProxy(t, serverURL)
			fox := client.New(proxy.url("http"), client.WithToken(user), client.WithConnections(n))
			warmUp(t, ctx, fox, n)
			callConcurrently(t, ctx, fox)
			if got, open := proxy.accepted.Load(), proxy.open.Load(); got != int32(n) || open != int32(n) {
				t.Fatalf("%d connections (%d open), want %d", got, open, n)
			}
		})
	}
}

// Every protocol works through a pool, streams included, and
// CloseIdleConnections closes every connection of it.
func TestPoolEveryProtocol(t *testing.T) {
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			proxy := startProxy(t, serverURL)
			hc := client.NewHTTPClient(proxy.url("http"), nil, 4)
			fox := client.New(proxy.url("http"), client.WithProtocol(p), client.WithHTTPClient(hc))
			if _, err := fox.Register(ctx, "pooled on "+string(p)); err != nil {
				t.Fatal(err)
			}
			warmUp(t, ctx, fox, 4)

			// A stream, then calls beside it on the other connections.
			events := make(chan string, 16)
			done := make(chan error, 1)
			go func() {
				done <- fox.Subscribe(ctx, client.SubscribeOptions{SkipPresence: true}, func(ev *foxholev1.Event) error {
					if m := ev.GetChatMessage(); m != nil && strings.HasPrefix(m.GetContent(), string(p)+":") {
						events <- m.GetContent()
					}
					return nil
				})
			}()
			for live := false; !live; {
				if _, err := fox.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: string(p) + ": ping"})); err != nil {
					t.Fatal(err)
				}
				select {
				case <-events:
					live = true
				case err := <-done:
					t.Fatalf("Subscribe ended: %v", err)
				case <-time.After(100 * time.Millisecond):
				}
			}

			content := make([]byte, 2*client.ChunkSize+5)
			rand.Read(content)
			f, err := fox.Upload(ctx, "pooled.bin", "", bytes.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := fox.Download(ctx, f.GetId(), &got, nil); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got.Bytes()) != sha256.Sum256(content) {
				t.Fatalf("downloaded %d bytes, want the %d uploaded", got.Len(), len(content))
			}
			if n := proxy.accepted.Load(); n != 4 {
				t.Fatalf("%d connections, want 4", n)
			}

			cancel()
			<-done
			// The stream's connection turns idle only once its reset has
			// gone through the transport, which may be after Subscribe
			// returned: close idle connections until none is left open.
			for deadline := time.Now().Add(10 * time.Second); proxy.open.Load() > 0; time.Sleep(10 * time.Millisecond) {
				hc.CloseIdleConnections()
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still open after CloseIdleConnections", proxy.open.Load())
				}
			}
		})
	}
}

// Over https://, the pool's connections are HTTP/2 by ALPN, trusting the
// CA given.
func TestConnectionsOverTLS(t *testing.T) {
	ctx := context.Background()
	srv, caFile := testutil.StartTLS(t, func(c *config.Config) { c.AuthRate = 0 })
	tc, err := client.LoadCA(caFile)
	if err != nil {
		t.Fatal(err)
	}
	user := register(t, srv.URL, tc)
	proxy := startProxy(t, srv.URL)
	for _, p := range client.Protocols {
		fox := client.New(proxy.url("https"), client.WithProtocol(p), client.WithTLS(tc), client.WithToken(user), client.WithConnections(4))
		warmUp(t, ctx, fox, 4)
		callConcurrently(t, ctx, fox)
	}
	if got, open := proxy.accepted.Load(), proxy.open.Load(); got != 16 || open != 16 {
		t.Fatalf("%d connections (%d open), want 4 for each of 4 clients", got, open)
	}
}

// register returns a token of a new user of the server at url.
func register(t *testing.T, url string, tc *tls.Config) string {
	t.Helper()
	ctx := context.Background()
	fox := client.New(url, client.WithTLS(tc), client.WithConnections(1))
	if _, err := fox.Register(ctx, ""); err != nil {
		t.Fatal(err)
	}
	token, err := fox.Tokens.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// warmUp makes n calls on fox one after the other, so that each of the
// pool's transports dials its connection alone. (A burst of calls on a
// transport with no connection yet dials one for each waiting call and
// keeps one, closing the others: http.Transport's doing, not the pool's.)
func warmUp(t *testing.T, ctx context.Context, fox *client.Client, n int) {
	t.Helper()
	for range n {
		if _, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
			t.Fatal(err)
		}
	}
}

// callConcurrently makes many GetProfile calls on fox from 64 goroutines
// at once.
func callConcurrently(t *testing.T, ctx context.Context, fox *client.Client) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for range 10 {
				if _, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// proxy is a TCP proxy in front of a server, which counts the connections
// clients make to it.
type proxy struct {
	ln       net.Listener
	accepted atomic.Int32 // connections accepted so far
	open     atomic.Int32 // of which still open
}

// startProxy starts a proxy to the server at serverURL; it stops when the
// test ends.
func startProxy(t *testing.T, serverURL string) *proxy {
	t.Helper()
	target := serverURL[strings.Index(serverURL, "://")+3:]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var mu sync.Mutex
	var conns []net.Conn
	stopped := false
	// track keeps c to close when the test ends, or closes it at once when
	// the test has ended.
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			c.Close()
			return false
		}
		conns = append(conns, c)
		return true
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		stopped = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			p.open.Add(1)
			wg.Go(func() {
				defer p.open.Add(-1)
				if !track(in) {
					return
				}
				out, err := net.Dial("tcp", target)
				if err != nil {
					in.Close()
					return
				}
				if !track(out) {
					in.Close()
					return
				}
				var pipes sync.WaitGroup
				pipes.Go(func() { io.Copy(out, in); out.Close() })
				pipes.Go(func() { io.Copy(in, out); in.Close() })
				pipes.Wait()
			})
		}
	})
	return p
}

// url is the proxy's URL with the scheme given.
func (p *proxy) url(scheme string) string { return scheme + "://" + p.ln.Addr().String() }
