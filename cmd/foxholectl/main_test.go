package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// Tests run foxholectl in-process through run, with the config directory
// in a temporary directory: they change the environment, so they do not
// run in parallel.

// patience bounds every wait, so that a broken test fails instead of
// hanging; no test asserts how long anything takes.
const patience = 60 * time.Second

// startServer starts a Foxhole for the test without the rate limit on
// Register and CreateToken: every foxholectl run obtains a token.
func startServer(t *testing.T) *testutil.Server {
	t.Helper()
	return testutil.Start(t, func(c *config.Config) { c.AuthRate = 0 })
}

// newHome points the user's config directory to a fresh temporary
// directory and returns it.
func newHome(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv("FOXHOLE_SERVER", "")
	return dir
}

// ctl runs foxholectl to the end with stdin and args.
func ctl(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustCtl runs foxholectl and fails the test unless it succeeds.
func mustCtl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := ctl(t, stdin, args...)
	if code != exitOK {
		t.Fatalf("foxholectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// global returns the global flags for server and p, and args.
func global(server string, p client.Protocol, args ...string) []string {
	return append([]string{"--server", server, "--protocol", string(p)}, args...)
}

// registerCLI registers a user with foxholectl and returns the answer.
func registerCLI(t *testing.T, server string, p client.Protocol, name string) *foxholev1.RegisterResponse {
	t.Helper()
	out := mustCtl(t, "", global(server, p, "--json", "register", "--name", name)...)
	res := &foxholev1.RegisterResponse{}
	if err := protojson.Unmarshal([]byte(out), res); err != nil {
		t.Fatalf("register --json printed %q: %v", out, err)
	}
	return res
}

// background runs foxholectl until the test cancels it or it ends.
type background struct {
	stdout, stderr *stream
	cancel         context.CancelFunc
	done           chan int // the exit code
}

func startCtl(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	b := &background{stdout: newStream(), stderr: newStream(), cancel: cancel, done: make(chan int, 1)}
	go func() { b.done <- run(ctx, args, strings.NewReader(""), b.stdout, b.stderr) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop interrupts the command and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(patience):
		t.Fatalf("foxholectl did not end when interrupted\nstdout: %s\nstderr: %s", b.stdout, b.stderr)
		return -1
	}
}

// stream collects output and lets a test wait for lines in it.
type stream struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed at the next write
	read    int           // where the next waitLine looks from
}

func newStream() *stream { return &stream{changed: make(chan struct{})} }

func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.buf.Write(p)
}

func (s *stream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitLine waits for a whole line containing text, after the lines
// returned before, and returns it without its line ending.
func (s *stream) waitLine(t *testing.T, text string) string {
	t.Helper()
	deadline := time.After(patience)
	for {
		s.mu.Lock()
		rest := s.buf.String()[s.read:]
		changed := s.changed
		for off := 0; ; {
			end := strings.IndexByte(rest[off:], '\n')
			if end < 0 {
				break
			}
			line := strings.TrimRight(rest[off:off+end], "\r")
			off += end + 1
			if strings.Contains(line, text) {
				s.read += off
				s.mu.Unlock()
				return line
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no line with %q in:\n%s", text, s)
		}
	}
}

// eventually waits until ok holds, checking again every few milliseconds.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOnline waits until the user id is online, that is until a session
// of theirs is open and hears live events.
func waitOnline(t *testing.T, c *client.Client, id string) {
	t.Helper()
	eventually(t, id+" online", func() bool {
		res, err := c.Realtime.ListPresence(t.Context(), connect.NewRequest(&foxholev1.ListPresenceRequest{}))
		if connect.CodeOf(err) == connect.CodeResourceExhausted { // polled past the limit
			return false
		}
		if err != nil {
			t.Fatalf("ListPresence: %v", err)
		}
		for _, u := range res.Msg.GetUsers() {
			if u.GetId() == id {
				return true
			}
		}
		return false
	})
}

// closedPortURL returns the URL of a loopback port where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
