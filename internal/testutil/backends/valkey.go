package backends

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Valkey is a real Valkey (or Redis) server started for a test. It can be
// stopped and started again on the same port, with its data gone, as a
// crashed and restarted server would be.
type Valkey struct {
	URL  string // redis://127.0.0.1:port/0
	Addr string // 127.0.0.1:port

	t    testing.TB
	bin  string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *LockedBuffer
}

// StartValkey starts a server on a free loopback port in a temporary
// directory, with persistence off, and stops it when the test ends. The
// binary is the one named by FOXHOLE_TEST_VALKEY, else valkey-server, else
// redis-server (both speak the same protocol, and Debian packages only the
// latter); without one the test is skipped with a message saying how to
// install it (CI always has it).
func StartValkey(t testing.TB) *Valkey {
	t.Helper()
	bin := os.Getenv("FOXHOLE_TEST_VALKEY")
	if bin == "" {
		for _, name := range []string{"valkey-server", "redis-server"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
		if bin == "" {
			t.Skip("no valkey-server or redis-server binary: install one with `apt-get install redis-server` or set FOXHOLE_TEST_VALKEY")
		}
	}
	addr := FreeAddr(t)
	v := &Valkey{URL: "redis://" + addr + "/0", Addr: addr, t: t, bin: bin, dir: t.TempDir()}
	v.Start()
	t.Cleanup(v.Stop)
	return v
}

// Start starts the server again after Stop, on the same port and empty.
func (v *Valkey) Start() {
	v.t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cmd != nil {
		return
	}
	_, port, _ := net.SplitHostPort(v.Addr)
	cmd := exec.Command(v.bin,
		"--bind", "127.0.0.1", "--port", port, "--dir", v.dir,
		"--save", "", "--appendonly", "no",
	)
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		v.t.Fatalf("start %s: %v", v.bin, err)
	}
	v.cmd, v.logs = cmd, logs
	// The server is ready once it accepts a connection and answers PING.
	deadline := time.Now().Add(30 * time.Second)
	for !ping(v.Addr) {
		if time.Now().After(deadline) {
			v.t.Fatalf("%s on %s not ready after 30s; output:\n%s", v.bin, v.Addr, strings.TrimSpace(logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would: clients see their connections
// drop. Stopping a stopped server does nothing.
func (v *Valkey) Stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cmd == nil {
		return
	}
	v.cmd.Process.Kill()
	v.cmd.Wait()
	v.cmd = nil
}

// Restart stops the server and starts it again on the same port.
func (v *Valkey) Restart() {
	v.t.Helper()
	v.Stop()
	v.Start()
}

// ping reports whether a server at addr answers PING.
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := c.Read(buf)
	return strings.HasPrefix(string(buf[:n]), "+PONG")
}
