package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// BenchmarkBurst measures the write path when sessions have several events
// queued: N subscribers on one transport, and each op a burst of B
// broadcasts offered to every session at once, as when the hub hands on a
// backlog or the machine was busy for a moment. The server runs in this
// process on a listener that counts the Write calls on its connections,
// each one write system call (writes/delivery); syscw/delivery is the
// whole process's write system calls (/proc/self/io), clients included.
func BenchmarkBurst(b *testing.B) {
	const subscribers, burst = 100, 64
	for _, tr := range []struct {
		name string
		open func(b *testing.B, url, token string, got *atomic.Int64)
	}{
		{"websocket", openBurstWebSocket},
		{"connect-json-http1", openBurstStream(client.ConnectJSON, false)},
		{"connect-h2c", openBurstStream(client.Connect, true)},
		{"grpc-h2c", openBurstStream(client.GRPC, true)},
	} {
		b.Run(tr.name, func(b *testing.B) {
			srv, a, writes := startCounting(b)
			users := make([]testutil.User, 10)
			for i := range users {
				users[i] = srv.Register(b, client.ConnectJSON, fmt.Sprint("burst", i))
			}
			var got atomic.Int64
			for i := range subscribers {
				tr.open(b, srv.URL, users[i%len(users)].Token, &got)
			}
			svc := a.Realtime()
			for svc.Sessions() < subscribers {
				time.Sleep(time.Millisecond)
			}
			content := strings.Repeat("x", 100)
			want := int64(0)
			run := func() {
				want += subscribers * burst
				svc.Burst(burst, content)
				deadline := time.Now().Add(30 * time.Second)
				for got.Load() < want {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d deliveries arrived", got.Load(), want)
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			run() // warm up: connections, buffers, encodings
			w0, s0 := writes.Load(), syscw(b)
			for b.Loop() {
				run()
			}
			deliveries := float64(b.N * subscribers * burst)
			b.ReportMetric(float64(writes.Load()-w0)/deliveries, "writes/delivery")
			b.ReportMetric(float64(syscw(b)-s0)/deliveries, "syscw/delivery")
		})
	}
}

// startCounting starts a server in this process whose connections count
// their writes into the counter returned.
func startCounting(b *testing.B) (*testutil.Server, *app.App, *atomic.Int64) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.Addr = "127.0.0.1:0"
	cfg.AuthRate = 0
	cfg.MaxSessionsUser, cfg.MaxSessionsAddr = 1e6, 1e7
	cfg.Heartbeat, cfg.WSPingInterval = time.Hour, time.Hour
	a, err := app.New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	var writes atomic.Int64
	hs := httptest.NewUnstartedServer(a.Handler())
	hs.Config = a.Server()
	hs.Listener = countingListener{Listener: hs.Listener, writes: &writes}
	hs.Start()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.EndSessions(ctx)
		hs.Close()
		a.Close()
	})
	return &testutil.Server{URL: hs.URL}, a, &writes
}

type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// syscw reads the write system calls this process has made.
func syscw(b *testing.B) int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "syscw: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Skip("no syscw in /proc/self/io")
	return 0
}

func openBurstWebSocket(b *testing.B, url, token string, got *atomic.Int64) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws?skipPresence=true&token="+token, nil)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer c.CloseNow()
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if bytes.Contains(data, []byte(`"chatMessage"`)) {
				got.Add(1)
			}
		}
	}()
}

// openBurstStream subscribes over p, on HTTP/2 without TLS (every stream on
// a few connections) or HTTP/1.1 (a connection per stream, as browsers and
// curl hold them).
func openBurstStream(p client.Protocol, h2c bool) func(*testing.B, string, string, *atomic.Int64) {
	var hc *http.Client
	if h2c {
		hc = client.HTTPClient(true)
	} else {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	}
	return func(b *testing.B, url, token string, got *atomic.Int64) {
		ctx, cancel := context.WithCancel(context.Background())
		b.Cleanup(cancel)
		rt := foxholev1connect.NewRealtimeServiceClient(hc, url, p.Options()...)
		req := connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true})
		req.Header().Set("Authorization", "Bearer "+token)
		stream, err := rt.Subscribe(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer stream.Close()
			for stream.Receive() {
				if stream.Msg().GetEvent().GetChatMessage() != nil {
					got.Add(1)
				}
			}
		}()
	}
}
