package load

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// CentrifugoInstall is the command that installs the Centrifugo the crowd
// benchmark is measured against.
const CentrifugoInstall = "go install github.com/centrifugal/centrifugo/v6@v6.9.1"

// CentrifugoChannel is the one channel every crowd session subscribes to.
const CentrifugoChannel = "crowd"

// Centrifugo is a Centrifugo server started from the centrifugo binary on
// PATH, on a free loopback port, with a configuration of its own in a
// temporary directory: connection tokens signed with HS256 by Secret (the
// user id in "sub"), the server HTTP API under /api with APIKey, and
// clients allowed to subscribe to any channel without a subscription token.
type Centrifugo struct {
	URL       string // http://127.0.0.1:port
	Secret    string // HMAC key of connection tokens
	APIKey    string // X-API-Key of the server HTTP API
	JoinLeave bool   // presence, join_leave and force_push_join_leave on for every channel

	cmd *exec.Cmd
	dir string
}

// CentrifugoConfig returns the configuration StartCentrifugo writes, for
// a server on 127.0.0.1:port: only what differs from Centrifugo's
// defaults, with the anonymous usage report off.
func CentrifugoConfig(port int, secret, apiKey string, joinLeave bool) map[string]any {
	return map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"client": map[string]any{
			"token":           map[string]any{"hmac_secret_key": secret},
			"allowed_origins": []string{fmt.Sprintf("http://127.0.0.1:%d", port)},
		},
		"http_api": map[string]any{"key": apiKey},
		"channel": map[string]any{"without_namespace": map[string]any{
			"presence":                   joinLeave,
			"join_leave":                 joinLeave,
			"force_push_join_leave":      joinLeave,
			"allow_subscribe_for_client": true,
		}},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
		"shutdown":    map[string]any{"timeout": "5s"},
	}
}

// StartCentrifugo starts a Centrifugo, with join and leave pushes (and
// presence) on every channel when joinLeave is set, and waits until its
// health endpoint answers. Without the binary it says how to install it.
func StartCentrifugo(joinLeave bool) (*Centrifugo, error) {
	bin, err := exec.LookPath("centrifugo")
	if err != nil {
		return nil, fmt.Errorf("no centrifugo on PATH: install it with `%s` and put $(go env GOPATH)/bin on PATH", CentrifugoInstall)
	}
	dir, err := os.MkdirTemp("", "foxhole-bench-centrifugo-")
	if err != nil {
		return nil, err
	}
	c := &Centrifugo{Secret: randomHex(32), APIKey: randomHex(16), JoinLeave: joinLeave, dir: dir}
	addr, err := backends.PickAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.URL = "http://" + addr
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	conf, err := json.MarshalIndent(CentrifugoConfig(port, c.Secret, c.APIKey, joinLeave), "", "  ")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, conf, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.cmd = exec.Command(bin, "--config", path)
	c.cmd.Dir = dir
	c.cmd.Stdout, c.cmd.Stderr = os.Stderr, os.Stderr
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(c.URL + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return c, nil
			}
		}
	}
	c.Close()
	return nil, errors.New("centrifugo did not answer /health in 30s")
}

// PID is the server's process id.
func (c *Centrifugo) PID() int { return c.cmd.Process.Pid }

// Close stops the server (SIGINT, then SIGKILL after 10 seconds) and
// removes its directory.
func (c *Centrifugo) Close() error {
	defer os.RemoveAll(c.dir)
	_ = c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
