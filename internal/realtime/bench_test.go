package realtime_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/testutil"
)

// BenchmarkFanout runs a Foxhole process with N subscribers, half on
// WebSockets and half on Connect streams (each its own HTTP/1.1 connection,
// as browsers and curl hold them), and broadcasts one message every 100 ms.
// Each op is one broadcast. It reports delivery latency from send to
// receipt (p50, p99), deliveries per second, and the server's memory per
// idle connection (its RSS growth divided by the connections).
func BenchmarkFanout(b *testing.B) {
	sizes := []int{1000, 10000}
	if testing.Short() {
		sizes = []int{100}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	srv := testutil.StartProcess(b, "FOXHOLE_MESSAGE_RATE=1000", "FOXHOLE_MESSAGE_BURST=1000", "FOXHOLE_AUTH_RATE=0", "FOXHOLE_MAX_SESSIONS_PER_ADDR=1000000")
	s := &testutil.Server{URL: srv.URL}
	p := client.ConnectJSON
	// Users with ten sessions each, like people with several tabs.
	users := make([]testutil.User, max(1, n/10))
	for i := range users {
		users[i] = s.Register(b, p, fmt.Sprint("bench", i))
	}
	talker := users[0]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var latencies []time.Duration
	var delivered atomic.Int64
	record := func(content string) {
		sent, err := strconv.ParseInt(content, 10, 64)
		if err != nil {
			return
		}
		d := time.Since(time.Unix(0, sent))
		delivered.Add(1)
		mu.Lock()
		latencies = append(latencies, d)
		mu.Unlock()
	}

	time.Sleep(200 * time.Millisecond)
	before := srv.RSS()
	h1 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	var ready sync.WaitGroup
	dial := make(chan struct{}, 64) // bound concurrent dials
	for i := range n {
		u := users[i%len(users)]
		ready.Add(1)
		dial <- struct{}{}
		if i%2 == 0 {
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?skipPresence=true&token="+u.Token, nil)
			<-dial
			if err != nil {
				b.Fatalf("dial %d: %v", i, err)
			}
			ready.Done()
			go func() {
				for {
					_, data, err := c.Read(ctx)
					if err != nil {
						return
					}
					// Cheaper than decoding the JSON: the harness must not be
					// what the benchmark measures.
					if _, rest, ok := bytes.Cut(data, []byte(`"content":"t=`)); ok {
						if ts, _, ok := bytes.Cut(rest, []byte(`"`)); ok {
							record(string(ts))
						}
					}
				}
			}()
			continue
		}
		client := foxholev1connect.NewRealtimeServiceClient(h1, srv.URL)
		req := connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true})
		req.Header().Set("Authorization", "Bearer "+u.Token)
		go func() {
			stream, err := client.Subscribe(ctx, req)
			<-dial
			ready.Done()
			if err != nil {
				b.Errorf("subscribe %d: %v", i, err)
				return
			}
			for stream.Receive() {
				record(strings.TrimPrefix(stream.Msg().GetEvent().GetChatMessage().GetContent(), "t="))
			}
		}()
	}
	ready.Wait()
	time.Sleep(time.Second) // let the last streams settle
	perConn := float64(srv.RSS()-before) / float64(n)

	rt := s.Clients(client.Connect, talker.Token).Realtime

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for b.Loop() {
		<-tick.C
		msg := fmt.Sprint("t=", time.Now().UnixNano())
		if _, err := rt.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: msg})); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N) * int64(n)
	deadline := time.Now().Add(30 * time.Second)
	for delivered.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	pct := func(q float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(perConn/1024, "KiB/conn")
	b.ReportMetric(float64(want-delivered.Load()), "lost")
}
