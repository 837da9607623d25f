package load

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// FanoutOptions shape a realtime run: Subscribers listen, one message is
// broadcast every Interval, Broadcasts times.
type FanoutOptions struct {
	Transport   string // "ws" (WebSocket /ws) or "stream" (Subscribe over Connect on HTTP/1.1)
	Subscribers int
	Interval    time.Duration
	Broadcasts  int
}

// sessionsPerUser is how many subscribers share one user.
const sessionsPerUser = 10

// marker precedes the send time (Unix nanoseconds) in every broadcast.
const marker = "t="

// RunFanout opens the subscribers on url, broadcasts through a WebSocket,
// and measures delivery latency from the time in each message to its
// receipt. The same run works against Foxhole and against the bare
// WebSocket fan-out baseline, whose /ws relays every frame to every socket.
//
// url may list several processes of one service, separated by commas: the
// subscribers are spread over them in turn, and the user is registered and
// the broadcasts sent on the first. A broadcast a subscriber receives twice
// counts once, and as a duplicate.
func RunFanout(ctx context.Context, url string, o FanoutOptions) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	urls := strings.Split(url, ",")
	url = urls[0]
	// One user per sessionsPerUser subscribers, as people open a few
	// tabs each (a user's sessions are capped), and one more to talk.
	tokens := make([]string, (o.Subscribers+sessionsPerUser-1)/sessionsPerUser+1)
	if !strings.Contains(url, "baseline") {
		t, err := NewTarget(url, HTTPJSON, "")
		if err != nil {
			return Result{}, err
		}
		for i := range tokens {
			u, err := t.NewUser(ctx)
			if err != nil {
				return Result{}, err
			}
			tokens[i] = u.Token
		}
	}

	var mu sync.Mutex
	hist := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	var delivered, duplicates atomic.Int64
	// record counts one frame received by the subscriber whose broadcasts
	// seen so far are in seen (each subscriber has its own, used by one
	// goroutine).
	record := func(seen map[int64]struct{}, frame []byte) {
		_, rest, ok := bytes.Cut(frame, []byte(marker))
		if !ok {
			return
		}
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		sent, err := strconv.ParseInt(string(rest[:end]), 10, 64)
		if err != nil {
			return
		}
		lat := time.Since(time.Unix(0, sent))
		if _, dup := seen[sent]; dup {
			duplicates.Add(1)
			return
		}
		seen[sent] = struct{}{}
		delivered.Add(1)
		mu.Lock()
		_ = hist.RecordValue(max(1, lat.Microseconds()))
		mu.Unlock()
	}

	h1 := client.HTTPClient(false)
	dial := make(chan struct{}, 64)
	var ready sync.WaitGroup
	for i := range o.Subscribers {
		ready.Add(1)
		dial <- struct{}{}
		go func() {
			sub := urls[i%len(urls)]
			seen := make(map[int64]struct{}, o.Broadcasts)
			if o.Transport == "stream" {
				req := connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true})
				stream, err := client.New(sub, client.WithHTTPClient(h1), client.WithToken(tokens[i/sessionsPerUser])).Realtime.Subscribe(ctx, req)
				<-dial
				ready.Done()
				if err != nil {
					return
				}
				for stream.Receive() {
					if c := stream.Msg().GetEvent().GetChatMessage().GetContent(); c != "" {
						record(seen, []byte(c))
					}
				}
				return
			}
			c, _, err := websocket.Dial(ctx, wsURL(sub, tokens[i/sessionsPerUser], i), nil)
			<-dial
			ready.Done()
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					return
				}
				record(seen, data)
			}
		}()
	}
	ready.Wait()
	time.Sleep(500 * time.Millisecond) // let the last subscriptions settle

	talker, _, err := websocket.Dial(ctx, wsURL(url, tokens[len(tokens)-1], -1), nil)
	if err != nil {
		return Result{}, fmt.Errorf("dial the broadcaster: %w", err)
	}
	defer talker.CloseNow()
	go func() { // the broadcaster's own copies are not counted
		for {
			if _, _, err := talker.Read(ctx); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for range o.Broadcasts {
		<-tick.C
		frame := fmt.Sprintf(`{"content":"%s%d"}`, marker, time.Now().UnixNano())
		if err := talker.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			return Result{}, err
		}
	}
	want := int64(o.Broadcasts) * int64(o.Subscribers)
	for deadline := time.Now().Add(30 * time.Second); delivered.Load() < want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	ms := func(q float64) float64 { return float64(hist.ValueAtQuantile(q)) / 1000 }
	r := Result{
		Scenario:    o.Transport,
		Concurrency: o.Subscribers,
		Requests:    delivered.Load(),
		RPS:         float64(delivered.Load()) / elapsed.Seconds(),
		P50:         ms(50), P90: ms(90), P99: ms(99), P999: ms(99.9),
	}
	if lost := want - delivered.Load(); lost > 0 {
		r.Errors = map[string]int64{"lost": lost}
	}
	if d := duplicates.Load(); d > 0 {
		if r.Errors == nil {
			r.Errors = map[string]int64{}
		}
		r.Errors["duplicate"] = d
	}
	return r, nil
}

func wsURL(url, token string, i int) string {
	u := "ws" + strings.TrimPrefix(url, "http")
	if strings.HasSuffix(u, "/baseline") {
		return u + "/ws"
	}
	return u + "/ws?skipPresence=true&token=" + token
}
