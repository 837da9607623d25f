package testutil

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// ProcessMemory reads a size field of /proc/<pid>/status, such as "VmRSS"
// (resident now) or "VmHWM" (peak resident), in bytes. pid "self" is this
// process. It returns 0 where /proc is missing.
func ProcessMemory(pid, field string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// ResetPeakRSS resets the process's peak resident set size (Linux), so that
// PeakRSS measures from now on. It reports whether the reset worked.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS returns the process's peak resident set size in bytes since start
// or the last ResetPeakRSS (Linux; 0 elsewhere).
func PeakRSS() int64 { return ProcessMemory("self", "VmHWM") }

// RSS returns the process's current resident set size in bytes (Linux; 0
// elsewhere).
func RSS() int64 { return ProcessMemory("self", "VmRSS") }

// ProcessCPU returns the CPU time (user and system) the process pid (or
// "self") has used so far (Linux; 0 elsewhere).
func ProcessCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces; fields 14 and 15
	// (utime, stime) follow it, in clock ticks of 1/100 s.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	var user, sys int64
	fmt.Sscan(f[11], &user)
	fmt.Sscan(f[12], &sys)
	return time.Duration(user+sys) * 10 * time.Millisecond
}
