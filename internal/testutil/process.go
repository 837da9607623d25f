package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"foxhole.dev/foxhole/internal/load"
)

// Process is a foxhole binary running as its own process, so that its
// memory can be measured apart from the clients'.
type Process struct {
	URL string
	PID int
}

// StartProcess builds cmd/foxhole and runs it on a free loopback port with a
// fresh data dir and the given extra environment (KEY=value). It stops when
// the test ends.
func StartProcess(t testing.TB, env ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "foxhole")
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	build := exec.Command("go", "build", "-o", bin, "./cmd/foxhole")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build foxhole: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "FOXHOLE_ADDR="+addr, "FOXHOLE_DATA_DIR="+filepath.Join(dir, "data"), "FOXHOLE_LOG_LEVEL=warn", "FOXHOLE_LOG_FORMAT=json")
	cmd.Env = append(cmd.Env, env...)
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	waitHealthy(t, "http://"+addr+"/readyz", logs)
	return &Process{URL: "http://" + addr, PID: cmd.Process.Pid}
}

// RSS returns the process's resident set size in bytes.
func (p *Process) RSS() int64 {
	return load.ProcessMemory(strconv.Itoa(p.PID), "VmRSS")
}
