package testutil

import (
	"os"

	"foxhole.dev/foxhole/internal/load"
)

// ResetPeakRSS resets the process's peak resident set size (Linux), so that
// PeakRSS measures from now on. It reports whether the reset worked.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS returns the process's peak resident set size in bytes since start
// or the last ResetPeakRSS (Linux; 0 elsewhere).
func PeakRSS() int64 { return load.ProcessMemory("self", "VmHWM") }

// RSS returns the process's current resident set size in bytes (Linux; 0
// elsewhere).
func RSS() int64 { return load.ProcessMemory("self", "VmRSS") }
