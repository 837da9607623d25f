package main

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestWatchJSON watches with --json on every protocol and receives, as one
// protojson Event per line, a message another user sends; then resumes
// with --after and gets it again from the stored history.
func TestWatchJSON(t *testing.T) {
	srv := startServer(t)
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			newHome(t)
			me := registerCLI(t, srv.URL, p, "watcher-"+string(p))
			other := srv.Register(t, p, "sender-"+string(p))
			sender := client.New(srv.URL, client.WithProtocol(p), client.WithSecret(other.Secret))

			w := startCtl(t, global(srv.URL, p, "--json", "watch")...)
			waitOnline(t, sender, me.GetUser().GetId())
			text := "hello over " + string(p)
			sent, err := sender.Realtime.SendMessage(t.Context(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: text}))
			if err != nil {
				t.Fatal(err)
			}
			ev := parseEvent(t, w.stdout.waitLine(t, text))
			if ev.GetId() != sent.Msg.GetEvent().GetId() || ev.GetChatMessage().GetSender().GetId() != other.ID {
				t.Errorf("watch printed %v: want event %d from %s", ev, sent.Msg.GetEvent().GetId(), other.ID)
			}
			if code := w.stop(t); code != exitOK {
				t.Errorf("interrupted watch: exit %d: %s", code, w.stderr)
			}

			after := strconv.FormatInt(ev.GetId()-1, 10)
			w = startCtl(t, global(srv.URL, p, "--json", "watch", "--no-presence", "--after", after)...)
			if again := parseEvent(t, w.stdout.waitLine(t, text)); again.GetId() != ev.GetId() {
				t.Errorf("watch --after %s replayed %v, want event %d", after, again, ev.GetId())
			}
		})
	}
}

// TestSend sends a broadcast and a personal message, which another user
// receives.
func TestSend(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	registerCLI(t, srv.URL, client.Connect, "ada")
	bob := srv.Register(t, client.Connect, "bob")
	events := subscribe(t, client.New(srv.URL, client.WithSecret(bob.Secret)))

	if out := mustCtl(t, "", "--server", srv.URL, "send", "hello", "everyone"); !strings.HasPrefix(out, "sent #") {
		t.Errorf("send printed %q", out)
	}
	out := mustCtl(t, "", "--server", srv.URL, "--json", "send", "--to", bob.ID, "just", "for", "--you")
	sent := parseEvent(t, out)
	for _, want := range []struct{ content, to string }{{"hello everyone", ""}, {"just for --you", bob.ID}} {
		m := (<-events).GetChatMessage()
		if m.GetContent() != want.content || m.GetRecipientId() != want.to || m.GetSender().GetScreenName() != "ada" {
			t.Errorf("bob received %v, want %q to %q from ada", m, want.content, want.to)
		}
	}
	if sent.GetChatMessage().GetRecipientId() != bob.ID {
		t.Errorf("send --json printed %v", sent)
	}
}

// TestWatchResumes drops watch's connection: it says so, reconnects and
// prints every message once, those sent while it was away included.
func TestWatchResumes(t *testing.T) {
	srv := startServer(t)
	proxy := newDropProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	newHome(t)
	me := registerCLI(t, proxy.url, client.Connect, "ada")
	bob := srv.Register(t, client.Connect, "bob")
	sender := client.New(srv.URL, client.WithSecret(bob.Secret))
	send := func(text string) {
		t.Helper()
		if _, err := sender.Realtime.SendMessage(t.Context(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: text})); err != nil {
			t.Fatal(err)
		}
	}

	w := startCtl(t, "--server", proxy.url, "watch", "--no-presence")
	waitOnline(t, sender, me.GetUser().GetId())
	send("before the drop")
	w.stdout.waitLine(t, "bob: before the drop")
	proxy.drop()
	send("while away")
	w.stderr.waitLine(t, "reconnecting in")
	w.stdout.waitLine(t, "bob: while away")
	send("after the drop")
	w.stdout.waitLine(t, "bob: after the drop")
	if out := w.stdout.String(); strings.Count(out, "before the drop") != 1 || strings.Count(out, "while away") != 1 {
		t.Errorf("watch printed a message twice:\n%s", out)
	}
}

func parseEvent(t *testing.T, line string) *foxholev1.Event {
	t.Helper()
	ev := &foxholev1.Event{}
	if err := protojson.Unmarshal([]byte(line), ev); err != nil {
		t.Fatalf("not the JSON of an Event: %q: %v", line, err)
	}
	return ev
}

// subscribe returns the chat messages c's user receives, from the oldest
// stored one on.
func subscribe(t *testing.T, c *client.Client) <-chan *foxholev1.Event {
	t.Helper()
	events := make(chan *foxholev1.Event, 100)
	var zero int64
	go c.Subscribe(t.Context(), client.SubscribeOptions{AfterEventID: &zero, SkipPresence: true}, func(ev *foxholev1.Event) error {
		if ev.GetChatMessage() != nil {
			events <- ev
		}
		return nil
	})
	return events
}

// dropProxy forwards TCP connections to a server, and drops them all on
// demand, as a network failure would.
type dropProxy struct {
	url   string
	mu    sync.Mutex
	conns []net.Conn
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{url: "http://" + l.Addr().String()}
	t.Cleanup(func() { l.Close(); p.drop() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *dropProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
