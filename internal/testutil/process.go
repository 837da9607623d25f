package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"foxhole.dev/foxhole/client"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// Process is a foxhole binary running as its own process, so that its
// memory can be measured apart from the clients', and so that it can be
// killed outright and started again on the same data, as a crash would.
type Process struct {
	URL     string
	PID     int
	DataDir string
	Logs    *LockedBuffer // everything the process wrote

	bin  string
	env  []string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// StartProcess builds cmd/foxhole and runs it on a free loopback port with a
// fresh data dir and the given extra environment (KEY=value). It stops when
// the test ends.
func StartProcess(t testing.TB, env ...string) *Process {
	t.Helper()
	return StartProcessIn(t, BuildFoxhole(t), filepath.Join(t.TempDir(), "data"), env...)
}

// BuildFoxhole builds cmd/foxhole into a temporary directory and returns the
// binary's path.
func BuildFoxhole(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "foxhole")
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	build := exec.Command("go", "build", "-o", bin, "./cmd/foxhole")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build foxhole: %v\n%s", err, out)
	}
	return bin
}

// StartProcessIn runs the foxhole binary bin on a free loopback port on the
// data dir given, which may hold an earlier process's data, with the extra
// environment (KEY=value), and returns once it is ready. It is stopped with
// an interrupt when the test ends, unless it was killed before.
func StartProcessIn(t testing.TB, bin, dir string, env ...string) *Process {
	t.Helper()
	addr := backends.FreeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "FOXHOLE_ADDR="+addr, "FOXHOLE_DATA_DIR="+dir, "FOXHOLE_LOG_LEVEL=warn", "FOXHOLE_LOG_FORMAT=json")
	if url := DatabaseURL(t, dir); url != "" {
		// One process on PostgreSQL; a test that starts more passes
		// FOXHOLE_VALKEY_URL.
		cmd.Env = append(cmd.Env, "FOXHOLE_DATABASE_URL="+url, "FOXHOLE_ALLOW_SINGLE_PROCESS=1")
	}
	cmd.Env = append(cmd.Env, env...)
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{URL: "http://" + addr, PID: cmd.Process.Pid, DataDir: dir, Logs: logs, bin: bin, env: env, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-p.done
	})
	backends.WaitHealthy(t, p.URL+"/readyz", logs)
	return p
}

// Kill ends the process with SIGKILL, as a crash or the OOM killer would:
// nothing is flushed, nothing is closed. It returns once the process is
// gone.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Restart starts the same binary again on the same data dir and
// environment, on a new port, and returns once it is ready.
func (p *Process) Restart(t testing.TB) *Process {
	t.Helper()
	return StartProcessIn(t, p.bin, p.DataDir, p.env...)
}

// Clients returns clients for the process speaking proto, sending token
// when it is not empty.
func (p *Process) Clients(proto client.Protocol, token string) *client.Client {
	return (&Server{URL: p.URL}).Clients(proto, token)
}

// Register creates a user named name over proto and obtains a token for it.
func (p *Process) Register(t testing.TB, proto client.Protocol, name string) User {
	t.Helper()
	return (&Server{URL: p.URL}).Register(t, proto, name)
}

// RSS returns the process's resident set size in bytes.
func (p *Process) RSS() int64 {
	return ProcessMemory(strconv.Itoa(p.PID), "VmRSS")
}

// PeakRSS returns the process's peak resident set size in bytes (VmHWM).
func (p *Process) PeakRSS() int64 {
	return ProcessMemory(strconv.Itoa(p.PID), "VmHWM")
}
