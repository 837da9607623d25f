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

// BenchmarkRoomFanout is BenchmarkFanout's harness with N users (1,000 and
// 5,000), one session each (half WebSockets, half Connect streams), every
// one of them a member of one public room: N members all online. It sends,
// every 100 ms, in turn a lobby broadcast and a message into the room,
// both reaching the same N sessions of the same process, and reports the
// delivery latency of each (lobby-p50-ms, room-p99-ms...) and
// room/lobby-p99, the room's p99 over the lobby's. Each op is one message.
func BenchmarkRoomFanout(b *testing.B) {
	sizes := []int{1000, 5000}
	if testing.Short() {
		sizes = []int{200}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchRoomFanout(b, n) })
	}
}

func benchRoomFanout(b *testing.B, n int) {
	srv := testutil.StartProcess(b, "FOXHOLE_MESSAGE_RATE=1000", "FOXHOLE_MESSAGE_BURST=1000", "FOXHOLE_AUTH_RATE=0",
		"FOXHOLE_MAX_SESSIONS_PER_ADDR=1000000", "FOXHOLE_MAX_ROOM_MEMBERS=100000")
	s := &testutil.Server{URL: srv.URL}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// N users, registered and joined to the room from a few goroutines.
	users := make([]testutil.User, n)
	users[0] = s.Register(b, client.Connect, "bench0")
	talker := s.Clients(client.Connect, users[0].Token)
	room, err := talker.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{
		Name: "bench", Visibility: foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC}))
	if err != nil {
		b.Fatal(err)
	}
	roomID := room.Msg.GetRoom().GetId()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)); i < n; i = int(next.Add(1)) {
				c := s.Clients(client.Connect, "")
				reg, err := c.Register(ctx, fmt.Sprint("bench", i))
				if err != nil {
					b.Errorf("register %d: %v", i, err)
					return
				}
				tok, err := c.Tokens.Token(ctx)
				if err != nil {
					b.Errorf("token %d: %v", i, err)
					return
				}
				users[i] = testutil.User{ID: reg.GetUser().GetId(), Token: tok}
				if _, err := s.Clients(client.Connect, tok).Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: roomID})); err != nil {
					b.Errorf("join %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	var mu sync.Mutex
	lat := map[byte][]time.Duration{}
	var delivered atomic.Int64
	record := func(content string) {
		if len(content) < 3 || content[1] != '=' {
			return
		}
		sent, err := strconv.ParseInt(content[2:], 10, 64)
		if err != nil {
			return
		}
		d := time.Since(time.Unix(0, sent))
		delivered.Add(1)
		mu.Lock()
		lat[content[0]] = append(lat[content[0]], d)
		mu.Unlock()
	}

	h1 := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1}}
	var ready sync.WaitGroup
	dial := make(chan struct{}, 64) // bound concurrent dials
	for i, u := range users {
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
					if _, rest, ok := bytes.Cut(data, []byte(`"content":"`)); ok {
						if ts, _, ok := bytes.Cut(rest, []byte(`"`)); ok {
							record(string(ts))
						}
					}
				}
			}()
			continue
		}
		rc := foxholev1connect.NewRealtimeServiceClient(h1, srv.URL)
		req := connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true})
		req.Header().Set("Authorization", "Bearer "+u.Token)
		go func() {
			stream, err := rc.Subscribe(ctx, req)
			<-dial
			ready.Done()
			if err != nil {
				b.Errorf("subscribe %d: %v", i, err)
				return
			}
			for stream.Receive() {
				record(stream.Msg().GetEvent().GetChatMessage().GetContent())
			}
		}()
	}
	ready.Wait()
	time.Sleep(time.Second) // let the last streams settle

	rt := talker.Realtime
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for b.Loop() {
		<-tick.C
		req := &foxholev1.SendMessageRequest{Content: fmt.Sprint("l=", time.Now().UnixNano())}
		if sent%2 == 1 {
			req = &foxholev1.SendMessageRequest{Content: fmt.Sprint("r=", time.Now().UnixNano()), RoomId: roomID}
		}
		if _, err := rt.SendMessage(ctx, connect.NewRequest(req)); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	want := int64(sent) * int64(n)
	deadline := time.Now().Add(30 * time.Second)
	for delivered.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	mu.Lock()
	defer mu.Unlock()
	pct := func(kind byte, q float64) float64 {
		l := lat[kind]
		if len(l) == 0 {
			return 0
		}
		slices.Sort(l)
		return float64(l[min(len(l)-1, int(q*float64(len(l))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct('l', 0.50), "lobby-p50-ms")
	b.ReportMetric(pct('l', 0.99), "lobby-p99-ms")
	b.ReportMetric(pct('r', 0.50), "room-p50-ms")
	b.ReportMetric(pct('r', 0.99), "room-p99-ms")
	if p := pct('l', 0.99); p > 0 {
		b.ReportMetric(pct('r', 0.99)/p, "room/lobby-p99")
	}
	b.ReportMetric(float64(want-delivered.Load()), "lost")
}
