package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// BenchmarkIdleSessions measures what a session that receives nothing
// costs the server, per transport: a Foxhole process holds n idle sessions
// (no heartbeats, no pings, no presence within the run), and its pprof
// endpoint, read after a collection before and after they open, gives the
// goroutines, the heap and the stacks in use; resident memory comes from
// /proc. Each figure is the growth divided by n. It asserts nothing.
func BenchmarkIdleSessions(b *testing.B) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	bin := testutil.BuildFoxhole(b)
	for _, tr := range []struct {
		name string
		open func(url, token string) (io.Closer, error)
	}{
		{"websocket", openIdleWebSocket},
		{"connect-json-http1", openIdleStream(false, "application/connect+json", []byte(`{"skipPresence":true}`))},
		{"connect-h2c", openIdleStream(true, "application/connect+proto", idleRequest())},
		{"grpc-h2c", openIdleStream(true, "application/grpc+proto", idleRequest())},
	} {
		b.Run(tr.name, func(b *testing.B) {
			pprof := backends.FreeAddr(b)
			p := testutil.StartProcessIn(b, bin, filepath.Join(b.TempDir(), "data"),
				"FOXHOLE_PPROF_ADDR="+pprof, "FOXHOLE_AUTH_RATE=0",
				"FOXHOLE_MAX_SESSIONS_PER_USER=1000000", "FOXHOLE_MAX_SESSIONS_PER_ADDR=10000000",
				"FOXHOLE_HEARTBEAT_INTERVAL=1h", "FOXHOLE_WS_PING_INTERVAL=1h")
			users := make([]testutil.User, 20)
			for i := range users {
				users[i] = p.Register(b, client.ConnectJSON, fmt.Sprint("idle", i))
			}
			for b.Loop() {
				// A few sessions first, so that pools and the presence view
				// are warm before the baseline.
				warm := openIdle(b, tr.open, p.URL, users, len(users))
				time.Sleep(1500 * time.Millisecond) // a presence interval
				before := readServerStats(b, p, pprof)
				saveProfiles(b, pprof, tr.name+"-before")
				sessions := openIdle(b, tr.open, p.URL, users, n)
				time.Sleep(1500 * time.Millisecond)
				after := readServerStats(b, p, pprof)
				saveProfiles(b, pprof, tr.name+"-after")
				per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
				b.ReportMetric(per(after.goroutines, before.goroutines), "goroutines/session")
				b.ReportMetric(per(after.heap, before.heap)/1024, "heap-KiB/session")
				b.ReportMetric(per(after.stack, before.stack)/1024, "stack-KiB/session")
				b.ReportMetric(per(after.rss, before.rss)/1024, "rss-KiB/session")
				for _, c := range append(sessions, warm...) {
					c.Close()
				}
			}
		})
	}
}

type serverStats struct{ goroutines, heap, stack, rss int64 }

// idleProfiles, when set, is a directory where BenchmarkIdleSessions saves
// the server's heap and goroutine profiles with the sessions open, for
// `go tool pprof -diff_base`.
var idleProfiles = flag.String("idle-profiles", "", "save the server's profiles of BenchmarkIdleSessions in this directory")

func saveProfiles(b *testing.B, pprof, name string) {
	if *idleProfiles == "" {
		return
	}
	for _, kind := range []string{"heap", "goroutine"} {
		res, err := http.Get("http://" + pprof + "/debug/pprof/" + kind)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*idleProfiles, name+"-"+kind+".pb.gz"), body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// readServerStats collects garbage in the server, then reads its
// goroutines, heap and stacks in use, and resident memory.
func readServerStats(b *testing.B, p *testutil.Process, pprof string) serverStats {
	get := func(path string) []byte {
		res, err := http.Get("http://" + pprof + path)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			b.Fatal(err)
		}
		return body
	}
	var st serverStats
	// Collections shrink the stacks of idle goroutines, by half each: three
	// bring them near what a long-running server's idle sessions hold.
	var heap []byte
	for range 3 {
		heap = get("/debug/pprof/heap?gc=1&debug=1")
	}
	for line := range strings.Lines(string(heap)) {
		if v, ok := strings.CutPrefix(line, "# HeapInuse = "); ok {
			st.heap, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "# Stack = "); ok { // in use / from the system
			inuse, _, _ := strings.Cut(v, " ")
			st.stack, _ = strconv.ParseInt(inuse, 10, 64)
		}
	}
	first, _, _ := bytes.Cut(get("/debug/pprof/goroutine?debug=1"), []byte("\n"))
	if v, ok := bytes.CutPrefix(first, []byte("goroutine profile: total ")); ok {
		st.goroutines, _ = strconv.ParseInt(string(v), 10, 64)
	}
	st.rss = p.RSS()
	return st
}

// openIdle opens n sessions spread over the users, 32 dials at a time, and
// returns once the server has answered every one.
func openIdle(b *testing.B, open func(url, token string) (io.Closer, error), url string, users []testutil.User, n int) []io.Closer {
	out := make([]io.Closer, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	gate := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		gate <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-gate }()
			c, err := open(url, users[i%len(users)].Token)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			out[i] = c
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("open a session: %v", firstErr)
	}
	return out
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func openIdleWebSocket(url, token string) (io.Closer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws?skipPresence=true&token="+token, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	// A reader answers the server's pings and close, as clients do.
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	return closerFunc(func() error { cancel(); return c.CloseNow() }), nil
}

func idleRequest() []byte {
	b, _ := proto.Marshal(&foxholev1.SubscribeRequest{SkipPresence: true})
	return b
}

// openIdleStream opens Subscribe streams by hand, so that each returns once
// the server has sent its headers: over HTTP/2 without TLS, or HTTP/1.1
// with a connection per stream.
func openIdleStream(h2c bool, contentType string, body []byte) func(url, token string) (io.Closer, error) {
	var hc *http.Client
	if h2c {
		hc = client.HTTPClient(true)
	} else {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	}
	env := append([]byte{0, 0, 0, 0, 0}, body...)
	binary.BigEndian.PutUint32(env[1:5], uint32(len(body)))
	return func(url, token string) (io.Closer, error) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/foxhole.v1.RealtimeService/Subscribe", bytes.NewReader(env))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+token)
		if strings.HasPrefix(contentType, "application/grpc") {
			req.Header.Set("TE", "trailers")
		}
		res, err := hc.Do(req)
		if err != nil {
			cancel()
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(bufio.NewReader(io.LimitReader(res.Body, 512)))
			cancel()
			return nil, fmt.Errorf("Subscribe answered %s: %s", res.Status, msg)
		}
		return closerFunc(func() error { cancel(); return res.Body.Close() }), nil
	}
}
