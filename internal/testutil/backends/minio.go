// Package backends starts the real servers Foxhole's tests run against
// (MinIO, Valkey), on free loopback ports, skipping a test with an install
// hint when a binary is missing. It imports nothing of Foxhole, so that the
// packages those servers back can use it in their own tests.
package backends

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// MinIO is a real MinIO server started for a test.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string

	stop func()
}

// Stop kills the MinIO server now, as an outage would. Later calls do
// nothing.
func (m *MinIO) Stop() { m.stop() }

// StartMinIO starts a MinIO server on a free loopback port in a temporary
// directory, and stops it when the test ends. The binary is the one named
// by FOXHOLE_TEST_MINIO, else `minio` on PATH; without one the test is
// skipped with a message saying how to install it (CI always has it).
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := os.Getenv("FOXHOLE_TEST_MINIO")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("minio"); err != nil {
			t.Skip("no minio binary: install one with `go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c` or set FOXHOLE_TEST_MINIO")
		}
	}
	addr, console := FreeAddr(t), FreeAddr(t)
	m := &MinIO{Endpoint: addr, AccessKey: "foxholetest", SecretKey: "foxholetest-secret"}
	dir := t.TempDir()
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"HOME="+dir,
	)
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(m.stop)
	WaitHealthy(t, "http://"+addr+"/minio/health/cluster", logs) // ready to serve requests, not just alive
	return m
}

// FreeAddr returns a loopback address with a port free at the time of the call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := PickAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// PickAddr is FreeAddr for servers started outside any one test, such as
// the load tool's.
func PickAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitHealthy polls url until it answers 200, or fails the test after a
// minute with the output in logs.
func WaitHealthy(t testing.TB, url string, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not healthy after 60s; output:\n%s", url, strings.TrimSpace(logs.String()))
}
