package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

const wait = 10 * time.Second

// sub is a running subscriber: every response it receives, in order.
type sub struct {
	t      *testing.T
	ch     chan *foxholev1.SubscribeResponse
	raw    chan []byte // the exact text of each response, where the transport shows it
	done   chan error  // the error that ended the subscription
	cancel func()
}

func newSub(t *testing.T, cancel func()) *sub {
	return &sub{t: t, ch: make(chan *foxholev1.SubscribeResponse, 4096), raw: make(chan []byte, 4096), done: make(chan error, 1), cancel: cancel}
}

// subscribe opens a Subscribe stream over p.
func subscribe(t *testing.T, srv *testutil.Server, p client.Protocol, token string, req *foxholev1.SubscribeRequest) *sub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := srv.Clients(p, token).Realtime.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		cancel()
		t.Fatalf("Subscribe: %v", err)
	}
	s := newSub(t, cancel)
	go func() {
		for stream.Receive() {
			s.ch <- stream.Msg()
		}
		s.done <- stream.Err()
	}()
	t.Cleanup(cancel)
	return s
}

// subscribeRaw opens a Subscribe stream the way curl would, over the Connect
// protocol with JSON, and keeps the exact text of every message.
func subscribeRaw(t *testing.T, srv *testutil.Server, token string) *sub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	body := []byte(`{}`)
	env := append([]byte{0, 0, 0, 0, 0}, body...)
	binary.BigEndian.PutUint32(env[1:5], uint32(len(body)))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/foxhole.v1.RealtimeService/Subscribe", bytes.NewReader(env))
	req.Header.Set("Content-Type", "application/connect+json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		cancel()
		t.Fatalf("raw Subscribe: %v %v", res, err)
	}
	s := newSub(t, cancel)
	go func() {
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		for {
			var head [5]byte
			if _, err := io.ReadFull(r, head[:]); err != nil {
				s.done <- err
				return
			}
			msg := make([]byte, binary.BigEndian.Uint32(head[1:]))
			if _, err := io.ReadFull(r, msg); err != nil {
				s.done <- err
				return
			}
			if head[0]&2 != 0 { // end of stream
				s.done <- fmt.Errorf("end of stream: %s", msg)
				return
			}
			var m foxholev1.SubscribeResponse
			if err := protojson.Unmarshal(msg, &m); err != nil {
				s.done <- err
				return
			}
			s.raw <- msg
			s.ch <- &m
		}
	}()
	t.Cleanup(cancel)
	return s
}

// ws is a WebSocket client of /ws.
type ws struct {
	*sub
	conn *websocket.Conn
}

func dialWS(t *testing.T, srv *testutil.Server, token, query string) (*ws, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?" + query
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		cancel()
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	w := &ws{sub: newSub(t, cancel), conn: c}
	t.Cleanup(func() { c.CloseNow(); cancel() })
	return w, nil
}

// start reads frames into w.sub until the connection ends.
func (w *ws) start() *ws {
	go func() {
		for {
			_, data, err := w.conn.Read(context.Background())
			if err != nil {
				w.done <- err
				return
			}
			var m foxholev1.SubscribeResponse
			if err := protojson.Unmarshal(data, &m); err != nil {
				w.raw <- data // an error frame
				continue
			}
			w.raw <- data
			w.ch <- &m
		}
	}()
	return w
}

func (w *ws) send(t *testing.T, frame string) {
	t.Helper()
	if err := w.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

// next returns the next event (skipping heartbeats), failing after wait.
func (s *sub) next() *foxholev1.Event {
	s.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m := <-s.ch:
			if m.GetEvent() != nil {
				return m.GetEvent()
			}
		case err := <-s.done:
			s.t.Fatalf("subscription ended: %v", err)
		case <-deadline:
			s.t.Fatal("no event in time")
		}
	}
}

// nextChat returns the next chat message, skipping other events.
func (s *sub) nextChat() *foxholev1.Event {
	s.t.Helper()
	for {
		if ev := s.next(); ev.GetChatMessage() != nil {
			return ev
		}
	}
}

// untilChat collects chat messages up to and including the one whose
// content is marker.
func (s *sub) untilChat(marker string) []*foxholev1.Event {
	s.t.Helper()
	var evs []*foxholev1.Event
	for {
		ev := s.nextChat()
		evs = append(evs, ev)
		if ev.GetChatMessage().GetContent() == marker {
			return evs
		}
	}
}

func send(t *testing.T, srv *testutil.Server, p client.Protocol, token, content, to string) *foxholev1.Event {
	t.Helper()
	res, err := srv.Clients(p, token).Realtime.SendMessage(context.Background(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: content, RecipientId: to}))
	if err != nil {
		t.Fatalf("SendMessage(%.40q): %v", content, err)
	}
	return res.Msg.GetEvent()
}

func contents(evs []*foxholev1.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.GetChatMessage().GetContent())
	}
	return out
}

func TestOneConversationOnEveryTransport(t *testing.T) {
	srv := testutil.Start(t)
	type member struct {
		name string
		user testutil.User
		sub  *sub
		say  func(text string)
	}
	var members []*member
	for _, p := range testutil.Protocols {
		u := srv.Register(t, p, string(p))
		m := &member{name: string(p), user: u, sub: subscribe(t, srv, p, u.Token, &foxholev1.SubscribeRequest{SkipPresence: true})}
		m.say = func(text string) { send(t, srv, p, u.Token, text, "") }
		members = append(members, m)
	}
	wu := srv.Register(t, client.ConnectJSON, "websocket")
	w, err := dialWS(t, srv, wu.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	members = append(members, &member{name: "websocket", user: wu, sub: w.sub, say: func(text string) {
		w.send(t, fmt.Sprintf(`{"type": "message", "content": %q}`, text))
	}})
	cu := srv.Register(t, client.ConnectJSON, "curl")
	raw := subscribeRaw(t, srv, cu.Token)
	members = append(members, &member{name: "curl", user: cu, sub: raw, say: func(text string) { send(t, srv, client.ConnectJSON, cu.Token, text, "") }})

	// Wait until every subscriber is listening: a marker reaches everyone.
	members[0].say("ready")
	for _, m := range members {
		m.sub.untilChat("ready")
	}

	for _, m := range members {
		text := "hello from " + m.name
		m.say(text)
		// One at a time, so that every subscriber sees the same order.
		for _, other := range members {
			if got := other.sub.nextChat(); got.GetChatMessage().GetContent() != text {
				t.Fatalf("%s got %q, want %q", other.name, got.GetChatMessage().GetContent(), text)
			} else if got.GetId() == 0 || got.GetChatMessage().GetSender().GetId() != m.user.ID {
				t.Errorf("%s: event %v lacks an id or its sender", other.name, got)
			}
		}
	}

	// The WebSocket frame is exactly the text the Connect JSON stream carries.
	members[0].say("same bytes")
	var wsText, streamText []byte
	for wsText == nil || !bytes.Contains(wsText, []byte("same bytes")) {
		wsText = <-w.raw
	}
	for streamText == nil || !bytes.Contains(streamText, []byte("same bytes")) {
		streamText = <-raw.raw
	}
	if !bytes.Equal(wsText, streamText) {
		t.Errorf("WebSocket frame %s differs from the Connect JSON message %s", wsText, streamText)
	}
}

func TestPersonalMessagesReachOnlyTheirPair(t *testing.T) {
	srv := testutil.Start(t)
	p := client.Connect
	alice, bob, carol := srv.Register(t, p, "alice"), srv.Register(t, p, "bob"), srv.Register(t, p, "carol")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	aliceTabs := []*sub{subscribe(t, srv, p, alice.Token, quiet), subscribe(t, srv, client.GRPC, alice.Token, quiet)}
	bobTabs := []*sub{subscribe(t, srv, p, bob.Token, quiet), subscribe(t, srv, client.GRPCWeb, bob.Token, quiet)}
	carolSub := subscribe(t, srv, p, carol.Token, quiet)
	all := append(append(slices.Clone(aliceTabs), bobTabs...), carolSub)
	send(t, srv, p, carol.Token, "ready", "")
	for _, s := range all {
		s.untilChat("ready")
	}

	secret := send(t, srv, p, alice.Token, "psst, bob", bob.ID)
	if secret.GetChatMessage().GetRecipientId() != bob.ID {
		t.Fatalf("SendMessage returned %v", secret)
	}
	send(t, srv, p, carol.Token, "marker", "")
	for i, s := range append(slices.Clone(aliceTabs), bobTabs...) {
		if got := contents(s.untilChat("marker")); !slices.Equal(got, []string{"psst, bob", "marker"}) {
			t.Errorf("session %d of the pair got %q", i, got)
		}
	}
	if got := contents(carolSub.untilChat("marker")); !slices.Equal(got, []string{"marker"}) {
		t.Errorf("carol got %q; the personal message leaked", got)
	}

	// Replay keeps the same rule.
	zero := int64(0)
	replay := func(u testutil.User) []string {
		s := subscribe(t, srv, p, u.Token, &foxholev1.SubscribeRequest{AfterEventId: &zero, SkipPresence: true})
		return contents(s.untilChat("marker"))
	}
	if got := replay(carol); slices.Contains(got, "psst, bob") {
		t.Errorf("carol's replay holds the personal message: %q", got)
	}
	if got := replay(bob); !slices.Contains(got, "psst, bob") {
		t.Errorf("bob's replay lacks the personal message: %q", got)
	}

	_, err := srv.Clients(p, alice.Token).Realtime.SendMessage(context.Background(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hi", RecipientId: "nobody"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("message to an unknown user: %v, want not_found", err)
	}
}

func TestOfflineRecipientGetsMessageOnResume(t *testing.T) {
	srv := testutil.Start(t)
	p := client.ConnectJSON
	alice, bob := srv.Register(t, p, "alice"), srv.Register(t, p, "bob")

	bobSub := subscribe(t, srv, p, bob.Token, &foxholev1.SubscribeRequest{SkipPresence: true})
	first := send(t, srv, p, alice.Token, "while you were here", bob.ID)
	bobSub.nextChat()
	bobSub.cancel() // bob goes offline

	send(t, srv, p, alice.Token, "while you were away", bob.ID)
	after := first.GetId()
	back := subscribe(t, srv, p, bob.Token, &foxholev1.SubscribeRequest{AfterEventId: &after, SkipPresence: true})
	if got := back.nextChat().GetChatMessage().GetContent(); got != "while you were away" {
		t.Errorf("bob resumed to %q", got)
	}
}

func TestResumeHasNoGapAndNoDuplicate(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MessageRate, c.MessageBurst = 1000, 1000 })
	p := client.GRPC
	u := srv.Register(t, p, "resumer")
	talker := srv.Register(t, p, "talker")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}

	s := subscribe(t, srv, p, u.Token, quiet)
	var seen []int64
	for i := range 3 {
		send(t, srv, p, talker.Token, fmt.Sprint("before ", i), "")
		seen = append(seen, s.nextChat().GetId())
	}
	s.cancel()
	for i := range 3 {
		send(t, srv, p, talker.Token, fmt.Sprint("away ", i), "")
	}

	// Resume while messages keep arriving, so that the replay and the live
	// tail overlap.
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 30 {
			send(t, srv, p, talker.Token, fmt.Sprint("during ", i), "")
		}
	})
	last := seen[len(seen)-1]
	r := subscribe(t, srv, p, u.Token, &foxholev1.SubscribeRequest{AfterEventId: &last, SkipPresence: true})
	wg.Wait()
	send(t, srv, p, talker.Token, "end", "")
	got := r.untilChat("end")

	var want []string
	for i := range 3 {
		want = append(want, fmt.Sprint("away ", i))
	}
	for i := range 30 {
		want = append(want, fmt.Sprint("during ", i))
	}
	want = append(want, "end")
	if !slices.Equal(contents(got), want) {
		t.Errorf("after resume got %q\nwant %q", contents(got), want)
	}
	prev := last
	for _, ev := range got {
		if ev.GetId() <= prev {
			t.Errorf("event %d after %d: ids not increasing", ev.GetId(), prev)
		}
		prev = ev.GetId()
	}
}

func TestMessagesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	p := client.Connect
	srv := testutil.StartIn(t, dir)
	u := srv.Register(t, p, "durable")
	ack := send(t, srv, p, u.Token, "remember me", "")
	srv.Stop()

	srv = testutil.StartIn(t, dir)
	before := ack.GetId() - 1
	s := subscribe(t, srv, p, u.Token, &foxholev1.SubscribeRequest{AfterEventId: &before, SkipPresence: true})
	if ev := s.nextChat(); ev.GetId() != ack.GetId() || ev.GetChatMessage().GetContent() != "remember me" {
		t.Errorf("after restart replayed %v", ev)
	}
}

func TestCursorOutsideHistory(t *testing.T) {
	dir := t.TempDir()
	p := client.ConnectJSON
	keep3 := func(c *config.Config) { c.EventRetainCount = 3 }
	srv := testutil.StartIn(t, dir, keep3)
	u := srv.Register(t, p, "historian")
	var ids []int64
	for i := range 10 {
		ids = append(ids, send(t, srv, p, u.Token, fmt.Sprint("m", i), "").GetId())
	}
	srv.Stop()
	srv = testutil.StartIn(t, dir, keep3) // prunes at start

	open := func(after int64) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		stream, err := srv.Clients(p, u.Token).Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{AfterEventId: &after, SkipPresence: true}))
		if err != nil {
			return err
		}
		defer stream.Close()
		for stream.Receive() {
			if stream.Msg().GetEvent() != nil {
				return nil
			}
		}
		return stream.Err()
	}
	deadline := time.Now().Add(wait)
	for {
		err := open(ids[0])
		if connect.CodeOf(err) == connect.CodeOutOfRange {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor older than the retained history: %v, want out_of_range", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := open(ids[7]); err != nil {
		t.Errorf("cursor within the history: %v", err)
	}
	if err := open(ids[9] + 100); connect.CodeOf(err) != connect.CodeOutOfRange {
		t.Errorf("cursor past the newest event: %v, want out_of_range", err)
	}
}

func TestFileEventsReachTheOwnerOnly(t *testing.T) {
	srv := testutil.Start(t)
	p := client.Connect
	owner, other := srv.Register(t, p, "owner"), srv.Register(t, p, "other")
	quiet := &foxholev1.SubscribeRequest{SkipPresence: true}
	o, x := subscribe(t, srv, p, owner.Token, quiet), subscribe(t, srv, p, other.Token, quiet)
	c := srv.Clients(p, owner.Token)
	up, err := c.File.UploadFile(context.Background(), connect.NewRequest(&foxholev1.UploadFileRequest{Name: "a.txt", Content: []byte("a")}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.File.DeleteFile(context.Background(), connect.NewRequest(&foxholev1.DeleteFileRequest{Id: up.Msg.GetFile().GetId()})); err != nil {
		t.Fatal(err)
	}
	for _, want := range []foxholev1.FileEvent_Kind{foxholev1.FileEvent_KIND_CREATED, foxholev1.FileEvent_KIND_DELETED} {
		ev := o.next()
		if ev.GetFileEvent().GetKind() != want || ev.GetFileEvent().GetFile().GetId() != up.Msg.GetFile().GetId() || ev.GetId() == 0 {
			t.Errorf("owner got %v, want file event %v", ev, want)
		}
	}
	send(t, srv, p, owner.Token, "marker", "")
	for _, ev := range x.untilChat("marker") {
		if ev.GetFileEvent() != nil {
			t.Errorf("another user saw a file event: %v", ev)
		}
	}
}

func TestWebSocketFrames(t *testing.T) {
	srv := testutil.Start(t)
	p := client.ConnectJSON
	u := srv.Register(t, p, "framer")
	other := srv.Register(t, p, "other")
	w, err := dialWS(t, srv, u.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	bad := []string{
		`not json`,
		`{"content": 5}`,
		`{}`,
		`{"content": ""}`,
		`{"content": "   "}`,
		`{"content": "bell\u0007"}`,
		`{"content": "` + strings.Repeat("x", 4097) + `"}`,
		`{"content": "hi", "recipientId": "nobody"}`,
		`{"content": "hi", "recipientId": "a", "recipient_id": "b"}`,
		`{"content": "a"} {"content": "b"}`,
		`[]`,
		`null`,
	}
	for _, frame := range bad {
		w.send(t, frame)
		select {
		case raw := <-w.raw:
			var e struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(raw, &e) != nil || (e.Error.Code != "invalid_argument" && e.Error.Code != "not_found") || e.Error.Message == "" {
				t.Errorf("frame %.40q answered %s", frame, raw)
			}
		case err := <-w.done:
			t.Fatalf("frame %.40q closed the connection: %v", frame, err)
		case <-time.After(wait):
			t.Fatalf("frame %.40q got no answer", frame)
		}
	}
	if err := w.conn.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if raw := <-w.raw; !bytes.Contains(raw, []byte("invalid_argument")) {
		t.Errorf("binary frame answered %s", raw)
	}
	// Still open: good frames work, with either spelling of the recipient.
	w.send(t, `{"content": "multi\nline\ttext", "recipient_id": "`+other.ID+`"}`)
	if ev := w.nextChat(); ev.GetChatMessage().GetContent() != "multi\nline\ttext" || ev.GetChatMessage().GetRecipientId() != other.ID {
		t.Errorf("good frame after bad ones: %v", ev)
	}
}

func TestWebSocketRefusesBadDials(t *testing.T) {
	srv := testutil.Start(t)
	u := srv.Register(t, client.ConnectJSON, "dialer")
	for name, dial := range map[string]func() (*http.Response, error){
		"no token": func() (*http.Response, error) {
			_, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
			return res, err
		},
		"bad token": func() (*http.Response, error) {
			_, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token=forged", nil)
			return res, err
		},
		"foreign origin": func() (*http.Response, error) {
			_, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token="+u.Token,
				&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
			return res, err
		},
	} {
		res, err := dial()
		if err == nil || res == nil || (res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusForbidden) {
			t.Errorf("%s: dial succeeded or got %v", name, res)
		}
	}
	// The query token works for browsers, and is never logged.
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?token="+u.Token, nil)
	if err != nil {
		t.Fatalf("dial with the token in the query: %v", err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if strings.Contains(srv.Logs.String(), u.Token) {
		t.Error("the query token reached the log")
	}
}

func TestHeartbeatsKeepIdleStreamsAlive(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.Heartbeat = time.Second })
	for _, p := range testutil.Protocols {
		u := srv.Register(t, p, "idle")
		s := subscribe(t, srv, p, u.Token, &foxholev1.SubscribeRequest{SkipPresence: true})
		select {
		case m := <-s.ch:
			if m.GetHeartbeat().GetTime() == nil {
				t.Errorf("%s: first message on an idle stream is %v, want a heartbeat", string(p), m)
			}
		case err := <-s.done:
			t.Fatalf("%s: stream ended: %v", string(p), err)
		case <-time.After(wait):
			t.Fatalf("%s: no heartbeat in %v", string(p), wait)
		}
	}
}

func TestMessageRateLimit(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MessageRate, c.MessageBurst = 0.01, 2 })
	p := client.ConnectJSON
	u := srv.Register(t, p, "chatty")
	w, err := dialWS(t, srv, u.Token, "skipPresence=true")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	send(t, srv, p, u.Token, "one", "")
	w.send(t, `{"content": "two"}`)
	w.send(t, `{"content": "three"}`)
	var sawLimit bool
	for !sawLimit {
		select {
		case raw := <-w.raw:
			sawLimit = bytes.Contains(raw, []byte(`"resource_exhausted"`))
		case <-time.After(wait):
			t.Fatal("third message in the burst was not refused")
		}
	}
	_, err = srv.Clients(p, u.Token).Realtime.SendMessage(context.Background(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: "four"}))
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("SendMessage past the limit: %v, want resource_exhausted", err)
	}
	// The socket stays open after being refused.
	w.send(t, `{"content": ""}`)
	for {
		select {
		case raw := <-w.raw:
			if bytes.Contains(raw, []byte("invalid_argument")) {
				return
			}
		case err := <-w.done:
			t.Fatalf("socket closed after the limit: %v", err)
		case <-time.After(wait):
			t.Fatal("socket stopped answering after the limit")
		}
	}
}

func TestWebSocketFrameSizeLimit(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.WSMaxFrameBytes = 4 << 10 })
	u := srv.Register(t, client.ConnectJSON, "big talker")
	w, err := dialWS(t, srv, u.Token, "")
	if err != nil {
		t.Fatal(err)
	}
	w.start()
	// One byte over the limit: the server reads the whole frame before it
	// refuses it, so that closing leaves nothing unread, which would reset
	// the connection under the close frame.
	w.send(t, `{"content": "`+strings.Repeat("x", 4<<10+1-len(`{"content": ""}`))+`"}`)
	for {
		select {
		case err := <-w.done:
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Errorf("oversized frame closed the socket with %v, want 1009", err)
			}
			return
		case <-w.raw:
		case <-time.After(wait):
			t.Fatal("oversized frame did not close the socket")
		}
	}
}
