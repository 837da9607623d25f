package ws

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// recordingConn records every write made to it, each as one piece.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordingConn) SetWriteDeadline(time.Time) error { return nil }

func (c *recordingConn) took() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

// Frames as coder/websocket starts them: a text frame and a ping.
var (
	textFrame = []byte{0x81, 3, 'a', 'b', 'c'}
	pingFrame = []byte{0x89, 1, '1'}
)

func TestIsControlFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    []byte
		want bool
	}{
		{"ping", pingFrame, true},
		{"pong", []byte{0x8a, 0}, true},
		{"close", append([]byte{0x88, 2}, 0x03, 0xe8), true},
		{"text", textFrame, false},
		{"piece of a frame", []byte{0x89, 5, 'a'}, false},
		{"byte", []byte{0x89}, false},
	} {
		if got := isControlFrame(tc.p); got != tc.want {
			t.Errorf("%s: isControlFrame = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCorkGathersFramesUntilReleased(t *testing.T) {
	rc := &recordingConn{}
	c := &corkConn{Conn: rc}

	// Not holding: each write goes out as it comes.
	c.Write(textFrame)
	if got := rc.took(); len(got) != 1 {
		t.Fatalf("a frame written while not holding took %d writes, want 1", len(got))
	}

	// Holding: frames wait, then leave in one write, in order.
	c.hold()
	for range 3 {
		c.Write(textFrame)
	}
	if got := rc.took(); len(got) != 0 {
		t.Fatalf("held frames went out in %d writes before the release", len(got))
	}
	if err := c.release(); err != nil {
		t.Fatal(err)
	}
	got := rc.took()
	if want := bytes.Repeat(textFrame, 3); len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("release wrote %q, want one write of %q", got, want)
	}
	if err := c.release(); err != nil || len(rc.took()) != 0 {
		t.Fatalf("a second release wrote again (%v)", err)
	}

	// A control frame takes what is gathered with it, at once.
	c.hold()
	c.Write(textFrame)
	c.Write(pingFrame)
	got = rc.took()
	if want := append(bytes.Clone(textFrame), pingFrame...); len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("a ping while holding wrote %q, want one write of %q", got, want)
	}
	c.Write(textFrame)
	c.release()
	if got := rc.took(); len(got) != 1 || !bytes.Equal(got[0], textFrame) {
		t.Fatalf("after the ping, release wrote %q", got)
	}

	// A batch past corkLimit goes out early, and the rest at the release.
	c.hold()
	big := append([]byte{0x81, 127, 0, 0, 0, 0, 0, 0, 0x40, 0}, make([]byte, 16<<10)...)
	for range 5 {
		c.Write(big)
	}
	if got := rc.took(); len(got) != 1 || len(got[0]) != 4*len(big) {
		t.Fatalf("a batch past the limit went out as %d writes", len(got))
	}
	c.release()
	if got := rc.took(); len(got) != 1 || len(got[0]) != len(big) {
		t.Fatalf("the rest of the batch went out as %d writes", len(got))
	}
}

func TestCorkReadsWhatNetHTTPReadFirst(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	c := &corkConn{Conn: server, unread: []byte("early")}
	go client.Write([]byte(" late"))
	buf := make([]byte, 3)
	var got []byte
	for len(got) < len("early late") {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "early late" {
		t.Errorf("read %q, want the bytes read before the hijack first", got)
	}
}

// TestCorkedSocketStaysOneEventPerFrame runs a real WebSocket through
// socketWriter: events sent while the cork is held arrive as frames of
// their own, exactly as sent, and a ping sent meanwhile from another
// goroutine is answered without the cork being released.
func TestCorkedSocketStaysOneEventPerFrame(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // only keeps a broken build from hanging
	defer cancel()
	accepted := make(chan *websocket.Conn, 1)
	conns := make(chan *corkConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &socketWriter{ResponseWriter: w}
		c, err := websocket.Accept(sw, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- c
		conns <- sw.conn
	}))
	defer srv.Close()
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseNow()
	c, conn := <-accepted, <-conns
	defer c.CloseNow()
	c.CloseRead(ctx) // reads the pong

	// A large event arrives in pieces of the library's buffer, and holds
	// bytes that, at the start of a piece, look like a frame's first byte.
	events := []string{`{"event":{"id":"1"}}`, `{"event":{"id":"2"}}`, strings.Repeat("{\"x\":\"\u0089\"}", 300)}
	for _, e := range events {
		conn.hold()
		if err := c.Write(ctx, websocket.MessageText, []byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, len(events))
	go func() {
		for {
			_, data, err := client.Read(ctx) // answers pings too
			if err != nil {
				return
			}
			got <- string(data)
		}
	}()
	// Still held: the ping must not wait for the release, and takes the
	// events with it.
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping while the cork was held: %v", err)
	}
	for i, want := range events {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("frame %d is %.40q…, want %.40q…", i, g, want)
			}
		case <-ctx.Done():
			t.Fatalf("frame %d never came", i)
		}
	}
	if err := conn.release(); err != nil {
		t.Fatal(err)
	}
}
