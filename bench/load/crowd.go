package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// The crowd targets.
const (
	CrowdFoxhole    = "foxhole"    // Foxhole: half WebSockets, half Connect JSON Subscribe streams on HTTP/1.1
	CrowdCentrifugo = "centrifugo" // Centrifugo's JSON protocol over WebSocket, one channel
	CrowdRelay      = "relay"      // the bare WebSocket relay baseline
)

// CrowdOptions shape a crowd run: Sessions open (PerUser to a user), then
// Broadcasts are sent every Interval by one more client, and every session
// should receive each once.
type CrowdOptions struct {
	Target string // CrowdFoxhole, CrowdCentrifugo or CrowdRelay
	// URL is Foxhole's, or the baseline server's for the relay (its relay
	// is at /baseline/ws). Unused for Centrifugo.
	URL string
	// Centrifugo is the server loaded for CrowdCentrifugo; its JoinLeave
	// says whether presence is on.
	Centrifugo *Centrifugo
	// Presence subscribes Foxhole's sessions to presence changes, as every
	// chat client does; off, they ask for none (skip_presence, or the
	// WebSocket's skipPresence=true).
	Presence bool

	Sessions   int
	PerUser    int           // sessions per user; default 10
	Broadcasts int           // default 50
	Interval   time.Duration // between broadcasts; default 100 ms
	Dials      int           // sessions opening at once; default 64
	// ReadyWait bounds the wait, after every session was dialled, until
	// all are live; default 30 s.
	ReadyWait time.Duration
	// ServerPID is the server's process, whose memory and CPU are
	// measured; 0: not measured (a server in this process).
	ServerPID int
	// Broadcasting, when set, is called as the measured broadcasts begin,
	// with how long they take to send: to profile the server meanwhile.
	Broadcasting func(time.Duration)
}

// CrowdResult is what a crowd run measured. Latencies are in
// milliseconds, from the send time each broadcast carries to its receipt.
type CrowdResult struct {
	Target     string `json:"target"`
	Presence   bool   `json:"presence"`
	Sessions   int    `json:"sessions"` // asked for
	Users      int    `json:"users"`
	Opened     int    `json:"opened"` // dialled and subscribed
	Live       int    `json:"live"`   // received a warm-up broadcast before measuring
	Broadcasts int    `json:"broadcasts"`

	Expected      int64   `json:"expected"` // Live × Broadcasts
	Delivered     int64   `json:"delivered"`
	Lost          int64   `json:"lost"`
	Duplicates    int64   `json:"duplicates"`
	PublishErrors int64   `json:"publishErrors,omitempty"`
	P50           float64 `json:"p50Ms"`
	P99           float64 `json:"p99Ms"`
	P999          float64 `json:"p999Ms"`
	PerSecond     float64 `json:"deliveriesPerSecond"`

	ReadyIn   time.Duration `json:"readyInNs"`   // from the first dial until all were live
	SettledIn time.Duration `json:"settledInNs"` // from then until the room was quiet (see settle)
	Run       time.Duration `json:"runNs"`       // from the first dial to the end of measuring

	// Server memory: RSS growth from before the first session to all of
	// them live and idle, per live session; peak RSS over the run.
	IdleBytesPerSession float64 `json:"idleBytesPerSession,omitempty"`
	PeakRSS             int64   `json:"peakRssBytes,omitempty"`

	// Presence traffic the sessions received over the run: Foxhole frames
	// and stream messages carrying a presence payload, Centrifugo join and
	// leave pushes. Per session and second: over live sessions and Run.
	PresenceMessages          int64   `json:"presenceMessages"`
	PresenceBytes             int64   `json:"presenceBytes"`
	PresenceMessagesPerSecond float64 `json:"presenceMessagesPerSessionSecond"`
	PresenceBytesPerSecond    float64 `json:"presenceBytesPerSessionSecond"`

	// CPU time used from the first measured broadcast until every delivery
	// arrived (or the wait for them ended): the server's, and this tool's
	// (which reads every session), in microseconds per delivery.
	ServerCPUPerDelivery float64 `json:"serverCpuUsPerDelivery,omitempty"`
	ToolCPUPerDelivery   float64 `json:"toolCpuUsPerDelivery,omitempty"`
}

// The text every broadcast carries: a warm-up, "crowd:w=K", or a measured
// one, "crowd:b=I,t=SENT" (I its index, SENT Unix nanoseconds).
const crowdMark = "crowd:"

// Bounds of one session: the largest frame or message it reads (a
// presence snapshot of thousands of users fits), and how long opening it
// may take.
const (
	crowdReadLimit = 4 << 20
	crowdOpenWait  = 15 * time.Second
)

// RunCrowd opens o.Sessions sessions on one target, at most o.Dials at a
// time, waits until every one that opened is live (has received one of
// the warm-up broadcasts, sent every 300 ms until all have, for at most
// o.ReadyWait), measures the server's memory, then sends o.Broadcasts and
// counts what each session receives. Every session is closed before it
// returns.
func RunCrowd(ctx context.Context, o CrowdOptions) (CrowdResult, error) {
	if o.PerUser <= 0 {
		o.PerUser = 10
	}
	if o.Broadcasts <= 0 {
		o.Broadcasts = 50
	}
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Dials <= 0 {
		o.Dials = 64
	}
	if o.ReadyWait <= 0 {
		o.ReadyWait = 30 * time.Second
	}
	if o.Sessions < 1 {
		return CrowdResult{}, errors.New("crowd: at least one session")
	}
	users := (o.Sessions + o.PerUser - 1) / o.PerUser
	res := CrowdResult{Target: o.Target, Presence: o.Presence, Sessions: o.Sessions, Users: users, Broadcasts: o.Broadcasts}
	r := newCrowdRun(o.Broadcasts)

	var d crowdDriver
	switch o.Target {
	case CrowdFoxhole:
		d = &foxholeCrowd{url: o.URL, presence: o.Presence, perUser: o.PerUser, run: r}
	case CrowdCentrifugo:
		if o.Centrifugo == nil {
			return res, errors.New("crowd: no Centrifugo given")
		}
		res.Presence = o.Centrifugo.JoinLeave
		d = &centrifugoCrowd{c: o.Centrifugo, perUser: o.PerUser}
	case CrowdRelay:
		res.Presence = false
		d = &relayCrowd{url: o.URL}
	default:
		return res, fmt.Errorf("crowd: unknown target %q", o.Target)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.prepare(ctx, users); err != nil {
		return res, err
	}
	defer d.close()
	memory := func(field string) int64 {
		if o.ServerPID <= 0 {
			return 0
		}
		return testutil.ProcessMemory(strconv.Itoa(o.ServerPID), field)
	}
	before := memory("VmRSS")

	// Open every session, o.Dials at a time; each then reads until ctx
	// ends.
	start := time.Now()
	r.counting.Store(true)
	var sessions, dialling sync.WaitGroup
	slots := make(chan struct{}, o.Dials)
	for i := range o.Sessions {
		slots <- struct{}{}
		s := &crowdSession{run: r, i: i, seen: make([]uint64, (o.Broadcasts+63)/64)}
		dialling.Add(1)
		sessions.Go(func() {
			serve, err := d.open(ctx, s)
			<-slots
			if err == nil {
				r.opened.Add(1)
			}
			dialling.Done()
			if err != nil {
				r.noteOpenError(err)
				return
			}
			serve(ctx)
			r.ended(s)
		})
	}
	dialling.Wait()
	res.Opened = int(r.opened.Load())

	// Warm up until every open session is live: live means the session
	// got a broadcast, whatever its transport told before.
	deadline := time.Now().Add(o.ReadyWait)
	for k := 1; !r.allLive() && time.Now().Before(deadline); k++ {
		if err := d.publish(ctx, fmt.Sprintf("%sw=%d", crowdMark, k)); err != nil && ctx.Err() == nil {
			r.notePublishError(err)
		}
		for wait := time.Now().Add(300 * time.Millisecond); !r.allLive() && time.Now().Before(wait); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	res.ReadyIn = time.Since(start)
	res.SettledIn = r.settle()
	res.Live = r.freeze()
	if after := memory("VmRSS"); after > 0 && res.Live > 0 {
		res.IdleBytesPerSession = float64(after-before) / float64(res.Live)
	}

	// Broadcast, each from its own goroutine so that a slow send does not
	// delay the next.
	var sends sync.WaitGroup
	var publishErrors atomic.Int64
	if o.Broadcasting != nil {
		o.Broadcasting(time.Duration(o.Broadcasts) * o.Interval)
	}
	cpu := func() (server, tool time.Duration) {
		if o.ServerPID > 0 {
			server = testutil.ProcessCPU(strconv.Itoa(o.ServerPID))
		}
		return server, testutil.ProcessCPU("self")
	}
	serverCPU, toolCPU := cpu()
	first := time.Now()
	tick := time.NewTicker(o.Interval)
	for b := range o.Broadcasts {
		if b > 0 {
			<-tick.C
		}
		sends.Go(func() {
			text := fmt.Sprintf("%sb=%d,t=%d", crowdMark, b, time.Now().UnixNano())
			if err := d.publish(ctx, text); err != nil {
				publishErrors.Add(1)
				r.notePublishError(err)
			}
		})
	}
	tick.Stop()
	sends.Wait()
	res.Expected = int64(res.Live) * int64(o.Broadcasts)
	for wait := time.Now().Add(30 * time.Second); r.delivered.Load() < res.Expected && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	res.Run = time.Since(start)
	r.counting.Store(false)
	res.PeakRSS = memory("VmHWM")
	serverEnd, toolEnd := cpu()
	if n := float64(r.delivered.Load()); n > 0 {
		res.ServerCPUPerDelivery = float64((serverEnd - serverCPU).Microseconds()) / n
		res.ToolCPUPerDelivery = float64((toolEnd - toolCPU).Microseconds()) / n
	}

	cancel()
	sessions.Wait()

	res.Delivered, res.Duplicates, res.PublishErrors = r.delivered.Load(), r.duplicates.Load(), publishErrors.Load()
	res.Lost = max(0, res.Expected-res.Delivered)
	if last := r.lastDelivery.Load(); last > 0 {
		res.PerSecond = float64(res.Delivered) / time.Unix(0, last).Sub(first).Seconds()
	}
	hist := r.histogram()
	ms := func(q float64) float64 { return float64(hist.ValueAtQuantile(q)) / 1000 }
	res.P50, res.P99, res.P999 = ms(50), ms(99), ms(99.9)
	res.PresenceMessages, res.PresenceBytes = r.presenceMessages.Load(), r.presenceBytes.Load()
	if res.Live > 0 {
		per := float64(res.Live) * res.Run.Seconds()
		res.PresenceMessagesPerSecond = float64(res.PresenceMessages) / per
		res.PresenceBytesPerSecond = float64(res.PresenceBytes) / per
	}
	if res.Opened == 0 {
		return res, fmt.Errorf("crowd: no session opened: %v", r.firstError())
	}
	return res, nil
}

// crowdRun is what the sessions of one run share.
type crowdRun struct {
	broadcasts int

	opened atomic.Int64
	mu     sync.Mutex // guards what follows
	live   int        // sessions that received a warm-up before freeze
	dead   int        // sessions that opened and ended before going live
	frozen bool
	err    error // the first open or publish error

	delivered, duplicates           atomic.Int64
	lastDelivery                    atomic.Int64 // Unix nanoseconds
	lastPresence                    atomic.Int64 // Unix nanoseconds
	counting                        atomic.Bool  // presence is counted while set
	presenceMessages, presenceBytes atomic.Int64

	shards [8]struct {
		sync.Mutex
		h *hdrhistogram.Histogram
	}
}

func newCrowdRun(broadcasts int) *crowdRun {
	r := &crowdRun{broadcasts: broadcasts}
	for i := range r.shards {
		r.shards[i].h = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	}
	return r
}

// allLive reports whether every session that opened is live or gone.
func (r *crowdRun) allLive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(r.live+r.dead) >= r.opened.Load()
}

// freeze ends the warm-up: sessions not live by now are not counted.
func (r *crowdRun) freeze() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen = true
	return r.live
}

func (r *crowdRun) ended(s *crowdSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.live && !r.frozen {
		r.dead++
	}
}

func (r *crowdRun) noteOpenError(err error)    { r.note(fmt.Errorf("open: %w", err)) }
func (r *crowdRun) notePublishError(err error) { r.note(fmt.Errorf("publish: %w", err)) }

func (r *crowdRun) note(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *crowdRun) firstError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Once every session is live, the room settles before it is measured:
// late warm-ups land, and the presence traffic of the joins (snapshots and
// changes, or Centrifugo's join pushes) ends. It is quiet once no presence
// message came for crowdQuiet, waiting at most crowdSettle.
const (
	crowdQuiet  = time.Second
	crowdSettle = 30 * time.Second
)

// settle waits until the room is quiet, and returns how long it took.
func (r *crowdRun) settle() time.Duration {
	start := time.Now()
	for time.Since(start) < crowdSettle {
		last := time.Unix(0, r.lastPresence.Load())
		if time.Since(start) >= crowdQuiet && time.Since(last) >= crowdQuiet {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// presence counts one presence frame or message of n bytes.
func (r *crowdRun) presence(n int) {
	r.lastPresence.Store(time.Now().UnixNano())
	if r.counting.Load() {
		r.presenceMessages.Add(1)
		r.presenceBytes.Add(int64(n))
	}
}

// deliveredAt keeps the time of the last delivery.
func (r *crowdRun) deliveredAt(t time.Time) {
	for {
		last := r.lastDelivery.Load()
		if t.UnixNano() <= last || r.lastDelivery.CompareAndSwap(last, t.UnixNano()) {
			return
		}
	}
}

func (r *crowdRun) histogram() *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for i := range r.shards {
		r.shards[i].Lock()
		h.Merge(r.shards[i].h)
		r.shards[i].Unlock()
	}
	return h
}

// crowdSession is one session's state, used by its reading goroutine
// only.
type crowdSession struct {
	run  *crowdRun
	i    int
	live bool
	seen []uint64 // a bit per broadcast
}

// receive counts a broadcast found in p (a chat message's content, or a
// whole frame holding one), if there is one.
func (s *crowdSession) receive(p []byte) {
	at := bytes.Index(p, []byte(crowdMark))
	if at < 0 || at+len(crowdMark) >= len(p) {
		return
	}
	p = p[at+len(crowdMark):]
	r := s.run
	if p[0] == 'w' {
		if !s.live {
			r.mu.Lock()
			if !r.frozen {
				s.live = true
				r.live++
			}
			r.mu.Unlock()
		}
		return
	}
	now := time.Now()
	index, rest, ok := crowdNumber(p, "b=")
	if !ok || !s.live || index < 0 || index >= int64(r.broadcasts) {
		return
	}
	sent, _, ok := crowdNumber(rest, ",t=")
	if !ok {
		return
	}
	word, bit := index/64, uint64(1)<<(index%64)
	if s.seen[word]&bit != 0 {
		r.duplicates.Add(1)
		return
	}
	s.seen[word] |= bit
	r.delivered.Add(1)
	r.deliveredAt(now)
	shard := &r.shards[s.i%len(r.shards)]
	shard.Lock()
	_ = shard.h.RecordValue(max(1, now.Sub(time.Unix(0, sent)).Microseconds()))
	shard.Unlock()
}

// crowdNumber reads the decimal number after prefix at the start of p.
func crowdNumber(p []byte, prefix string) (int64, []byte, bool) {
	if !bytes.HasPrefix(p, []byte(prefix)) {
		return 0, nil, false
	}
	p = p[len(prefix):]
	end := 0
	for end < len(p) && end < 19 && p[end] >= '0' && p[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(string(p[:end]), 10, 64)
	return n, p[end:], err == nil
}

// crowdDriver speaks to one kind of target.
type crowdDriver interface {
	// prepare makes the users' credentials and the publisher.
	prepare(ctx context.Context, users int) error
	// open opens session s and returns once it is subscribed, or failed;
	// serve then reads it until ctx ends or it breaks, and closes it.
	open(ctx context.Context, s *crowdSession) (serve func(ctx context.Context), err error)
	// publish broadcasts text to every session.
	publish(ctx context.Context, text string) error
	close()
}

// foxholeCrowd opens every other session of a user as a WebSocket, the
// rest as Connect JSON Subscribe streams on HTTP/1.1, each stream on a
// connection of its own; broadcasts go through SendMessage.
type foxholeCrowd struct {
	url      string
	presence bool
	perUser  int
	run      *crowdRun
	tokens   []string
	pub      *client.Client
	h1       *http.Client
}

func (f *foxholeCrowd) prepare(ctx context.Context, users int) error {
	target, err := NewTarget(f.url, string(client.Connect), "")
	if err != nil {
		return err
	}
	f.tokens = make([]string, users+1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range min(16, users+1) {
		wg.Go(func() {
			for u := range next {
				user, err := target.NewUser(ctx)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				f.tokens[u] = user.Token
			}
		})
	}
	for u := range users + 1 {
		next <- u
	}
	close(next)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("register the users: %w", first)
	}
	f.h1 = client.HTTPClient(false)
	f.pub = client.New(f.url, client.WithToken(f.tokens[users]))
	return nil
}

func (f *foxholeCrowd) open(ctx context.Context, s *crowdSession) (func(context.Context), error) {
	user := s.i / f.perUser
	if s.i%2 == 1 {
		return f.openStream(ctx, s, user)
	}
	u := "ws" + strings.TrimPrefix(f.url, "http") + "/ws?token=" + f.tokens[user]
	if !f.presence {
		u += "&skipPresence=true"
	}
	dctx, cancel := context.WithTimeout(ctx, crowdOpenWait)
	defer cancel()
	c, _, err := websocket.Dial(dctx, u, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(crowdReadLimit)
	return func(ctx context.Context) {
		serveWebSocket(ctx, c, s.frame)
	}, nil
}

// serveWebSocket hands every frame c receives to frame until ctx ends,
// then closes c with a close handshake, as a browser leaving a page does
// (bounded by the library's 5 s).
func serveWebSocket(ctx context.Context, c *websocket.Conn, frame func([]byte)) {
	stop := context.AfterFunc(ctx, func() { c.Close(websocket.StatusNormalClosure, "") })
	defer stop()
	defer c.CloseNow()
	for {
		_, data, err := c.Read(context.WithoutCancel(ctx))
		if err != nil {
			return
		}
		frame(data)
	}
}

// openStream opens a Subscribe stream and returns once its headers came,
// which Foxhole sends once the session is registered.
func (f *foxholeCrowd) openStream(ctx context.Context, s *crowdSession, user int) (func(context.Context), error) {
	sctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(crowdOpenWait, cancel)
	c := client.New(f.url, client.WithProtocol(client.ConnectJSON), client.WithHTTPClient(f.h1),
		client.WithToken(f.tokens[user]), client.WithClientOptions(connect.WithCodec(crowdJSON{s})))
	stream, err := c.Realtime.Subscribe(sctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: !f.presence}))
	if err != nil {
		cancel()
		return nil, err
	}
	stream.ResponseHeader()
	if !timer.Stop() {
		stream.Close()
		cancel()
		return nil, errors.New("no answer to Subscribe in 15s")
	}
	return func(context.Context) {
		defer cancel()
		defer stream.Close()
		for stream.Receive() {
			// crowdJSON counted the message as connect-go decoded it.
		}
	}, nil
}

func (f *foxholeCrowd) publish(ctx context.Context, text string) error {
	_, err := f.pub.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: text}))
	return err
}

func (f *foxholeCrowd) close() {
	if f.h1 != nil {
		f.h1.CloseIdleConnections()
	}
}

// frame counts a Foxhole frame or message: presence, or a broadcast.
func (s *crowdSession) frame(data []byte) {
	if bytes.Contains(data, presenceKey) {
		s.run.presence(len(data))
		return
	}
	s.receive(data)
}

// presenceKey is in every Foxhole frame or message with a presence
// payload, as protojson names the field.
var presenceKey = []byte(`"presence"`)

// crowdJSON is the JSON codec of one session's Subscribe stream. It reads
// each message as the WebSockets' frames are read, finding the mark in its
// bytes, and decodes no JSON: the tool then spends the same on a message
// whatever the transport or the target, and leaves the cores to the
// server. The messages it hands connect-go stay empty.
type crowdJSON struct{ s *crowdSession }

func (crowdJSON) Name() string { return "json" }

func (crowdJSON) Marshal(m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return protojson.Marshal(msg)
}

func (c crowdJSON) Unmarshal(data []byte, _ any) error {
	c.s.frame(data)
	return nil
}

// centrifugoCrowd speaks Centrifugo's JSON protocol over WebSocket: a
// connect command with the user's token, a subscribe command to
// CentrifugoChannel; broadcasts go through the server HTTP API.
type centrifugoCrowd struct {
	c       *Centrifugo
	perUser int
	tokens  []string
	http    *http.Client
}

func (cc *centrifugoCrowd) prepare(ctx context.Context, users int) error {
	cc.tokens = make([]string, users)
	key := []byte(cc.c.Secret)
	for u := range users {
		t, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "user-" + strconv.Itoa(u), "exp": time.Now().Add(2 * time.Hour).Unix(),
		}).SignedString(key)
		if err != nil {
			return err
		}
		cc.tokens[u] = t
	}
	cc.http = client.HTTPClient(false)
	return nil
}

func (cc *centrifugoCrowd) open(ctx context.Context, s *crowdSession) (func(context.Context), error) {
	dctx, cancel := context.WithTimeout(ctx, crowdOpenWait)
	defer cancel()
	c, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(cc.c.URL, "http")+"/connection/websocket",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {cc.c.URL}}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(crowdReadLimit)
	connectCmd, _ := json.Marshal(map[string]any{"id": 1, "connect": map[string]any{"token": cc.tokens[s.i/cc.perUser], "name": "foxhole-bench"}})
	subscribeCmd, _ := json.Marshal(map[string]any{"id": 2, "subscribe": map[string]any{"channel": CentrifugoChannel}})
	for id, cmd := range [][]byte{connectCmd, subscribeCmd} {
		if err := c.Write(dctx, websocket.MessageText, cmd); err != nil {
			c.CloseNow()
			return nil, err
		}
		if err := cc.await(dctx, c, s, uint32(id+1)); err != nil {
			c.CloseNow()
			return nil, err
		}
	}
	return func(ctx context.Context) {
		serveWebSocket(ctx, c, func(data []byte) {
			for line := range bytes.SplitSeq(data, []byte("\n")) {
				cc.line(ctx, c, s, line)
			}
		})
	}, nil
}

// await reads until the reply to command id, handling whatever comes
// before it.
func (cc *centrifugoCrowd) await(ctx context.Context, c *websocket.Conn, s *crowdSession, id uint32) error {
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if !bytes.HasPrefix(line, []byte(`{"id":`)) {
				cc.line(ctx, c, s, line)
				continue
			}
			var reply struct {
				ID    uint32 `json:"id"`
				Error *struct {
					Code    uint32 `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(line, &reply); err != nil {
				return fmt.Errorf("centrifugo reply %.200q: %w", line, err)
			}
			if reply.Error != nil {
				return fmt.Errorf("centrifugo refused command %d: %d %s", reply.ID, reply.Error.Code, reply.Error.Message)
			}
			if reply.ID == id {
				return nil
			}
		}
	}
}

// line handles one reply of a frame: a ping ({}) is answered with a
// pong ({}), a join or leave push counted as presence, a publication
// received.
func (cc *centrifugoCrowd) line(ctx context.Context, c *websocket.Conn, s *crowdSession, line []byte) {
	switch {
	case len(line) == 0:
	case string(line) == "{}":
		_ = c.Write(ctx, websocket.MessageText, line)
	case bytes.Contains(line, []byte(`"join":`)) || bytes.Contains(line, []byte(`"leave":`)):
		s.run.presence(len(line))
	default:
		s.receive(line)
	}
}

func (cc *centrifugoCrowd) publish(ctx context.Context, text string) error {
	body, _ := json.Marshal(map[string]any{"channel": CentrifugoChannel, "data": map[string]string{"text": text}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cc.c.URL+"/api/publish", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", cc.c.APIKey)
	res, err := cc.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || bytes.Contains(answer, []byte(`"error"`)) {
		return fmt.Errorf("centrifugo publish answered %d: %.200s", res.StatusCode, answer)
	}
	return nil
}

func (cc *centrifugoCrowd) close() {
	if cc.http != nil {
		cc.http.CloseIdleConnections()
	}
}

// relayCrowd loads the bare WebSocket relay, which sends every frame to
// every socket; broadcasts are frames from one more socket.
type relayCrowd struct {
	url string
	pub *websocket.Conn
}

func (rc *relayCrowd) wsURL() string {
	return "ws" + strings.TrimPrefix(WSBaselineURL(rc.url), "http") + "/ws"
}

func (rc *relayCrowd) prepare(ctx context.Context, users int) error {
	dctx, cancel := context.WithTimeout(ctx, crowdOpenWait)
	defer cancel()
	c, _, err := websocket.Dial(dctx, rc.wsURL(), nil)
	if err != nil {
		return fmt.Errorf("dial the relay: %w", err)
	}
	rc.pub = c
	go func() { // the publisher's own copies are not counted
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	return nil
}

func (rc *relayCrowd) open(ctx context.Context, s *crowdSession) (func(context.Context), error) {
	dctx, cancel := context.WithTimeout(ctx, crowdOpenWait)
	defer cancel()
	c, _, err := websocket.Dial(dctx, rc.wsURL(), nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(crowdReadLimit)
	return func(ctx context.Context) { serveWebSocket(ctx, c, s.receive) }, nil
}

func (rc *relayCrowd) publish(ctx context.Context, text string) error {
	return rc.pub.Write(ctx, websocket.MessageText, []byte(`{"content":"`+text+`"}`))
}

func (rc *relayCrowd) close() {
	if rc.pub != nil {
		rc.pub.CloseNow()
	}
}

// RaiseFileLimit raises this process's open-file limit to its hard limit,
// which the processes it starts inherit, and fails when even that is
// below need.
func RaiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("the open-file hard limit is %d, and this run needs %d in each process: raise it (ulimit -Hn as root, LimitNOFILE= in systemd, nofile in /etc/security/limits.conf)", lim.Max, need)
	}
	lim.Cur = lim.Max
	// Set even when Go already raised it for itself: an explicit call is
	// what makes the processes this one starts inherit it.
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}
