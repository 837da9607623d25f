package ws

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"foxhole.dev/foxhole/internal/realtime"
)

// A WebSocket's writes go through a corkConn. coder/websocket writes each
// frame into a bufio.Writer and flushes it at the end of the frame: a write
// system call per event. While the session's run loop sends a batch, the
// corkConn gathers the frames instead, and they leave in one write when the
// run loop has nothing more queued (or early, past corkLimit). Frames are
// still exactly one SubscribeResponse each; only the writes are fewer.
//
// Other goroutines write too: pings (keepAlive), pongs and close frames
// (the library), error frames (the reader). A control frame never waits: it
// takes whatever is gathered with it, at once. An error frame written
// during a batch goes out with the batch.

// corkLimit is the most a WebSocket gathers before it writes.
const corkLimit = 64 << 10

// Buffers of a hijacked WebSocket. net/http's are 4 KiB each and an idle
// socket would hold them for its life; these are as small as the frames
// they carry allow. The writer holds any control frame (at most 127 bytes)
// whole, so that it reaches the corkConn in one piece: every frame starts
// on an empty buffer, since the library flushes at the end of each.
const (
	socketReadBuffer  = 512
	socketWriteBuffer = 512
)

// corkPool holds the buffers of batches being gathered: a socket holds one
// only while its run loop is sending.
var corkPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// socketWriter is the ResponseWriter websocket.Accept upgrades: its Hijack
// hands the library a corkConn and small buffers of its own.
type socketWriter struct {
	http.ResponseWriter
	conn *corkConn // set by Hijack
}

func (w *socketWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *socketWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	if n := brw.Reader.Buffered(); n > 0 {
		// Frames the client sent right after its handshake.
		b, _ := brw.Reader.Peek(n)
		w.conn.unread = bytes.Clone(b)
	}
	return w.conn, bufio.NewReadWriter(bufio.NewReaderSize(w.conn, socketReadBuffer), bufio.NewWriterSize(w.conn, socketWriteBuffer)), nil
}

// corkConn is a WebSocket's connection: see above.
type corkConn struct {
	net.Conn
	unread []byte // read before the hijack, to be read first (by the one reader)

	mu      sync.Mutex // one write at a time, in order
	holding bool       // the run loop is sending a batch
	buf     *[]byte    // what is gathered, while holding
	armed   time.Time  // when the write deadline was last set
}

func (c *corkConn) Read(p []byte) (int, error) {
	if len(c.unread) > 0 {
		n := copy(p, c.unread)
		if c.unread = c.unread[n:]; len(c.unread) == 0 {
			c.unread = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// Write gathers p while the run loop holds the cork, unless p is a control
// frame or the batch has grown past corkLimit: then what is gathered goes
// out now, p with it.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return c.write(p)
	}
	*c.buf = append(*c.buf, p...)
	if isControlFrame(p) || len(*c.buf) >= corkLimit {
		if _, err := c.write(*c.buf); err != nil {
			return 0, err
		}
		*c.buf = (*c.buf)[:0]
	}
	return len(p), nil
}

// isControlFrame reports whether p is a whole ping, pong or close frame,
// as the server sends them: FIN, the opcode, no mask, a payload of at most
// 125 bytes. The library writes each one whole, in one piece, since every
// frame starts on an empty buffer that holds it. A piece of a long data
// frame that happened to look like one would go out early, in order, which
// costs a write and nothing else.
func isControlFrame(p []byte) bool {
	return len(p) >= 2 && (p[0] == 0x88 || p[0] == 0x89 || p[0] == 0x8a) && p[1] < 126 && len(p) == 2+int(p[1])
}

// write writes p to the connection, within realtime.SendTimeout: a peer
// that stops reading is dropped. The deadline is set anew only once it is
// older than realtime.Rearm, and never lifted: it bounds writes alone, and
// an idle socket's has passed harmlessly by the time it writes again,
// which sets it anew.
func (c *corkConn) write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(c.armed) > realtime.Rearm {
		_ = c.Conn.SetWriteDeadline(now.Add(realtime.SendTimeout))
		c.armed = now
	}
	return c.Conn.Write(p)
}

// hold starts gathering the frames written.
func (c *corkConn) hold() {
	c.mu.Lock()
	if !c.holding {
		c.holding = true
		c.buf = corkPool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// release writes what is gathered, and stops gathering.
func (c *corkConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return nil
	}
	c.holding = false
	var err error
	if len(*c.buf) > 0 {
		_, err = c.write(*c.buf)
	}
	if cap(*c.buf) <= 2*corkLimit {
		*c.buf = (*c.buf)[:0]
		corkPool.Put(c.buf)
	}
	c.buf = nil
	return err
}

// socketSink sends a WebSocket's events, each as one text frame.
type socketSink struct {
	ctx  context.Context
	c    *websocket.Conn
	conn *corkConn
}

// Send implements realtime.Sink: d's shared JSON goes into one text frame,
// gathered by the cork until Flush.
func (o *socketSink) Send(d *realtime.Delivery) error {
	o.conn.hold()
	return o.c.Write(o.ctx, websocket.MessageText, d.JSON())
}

// Flush implements realtime.Sink: the frames gathered go out in one write.
func (o *socketSink) Flush() error { return o.conn.release() }
