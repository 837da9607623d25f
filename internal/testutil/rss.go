package testutil

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// ResetPeakRSS resets the process's peak resident set size (Linux), so that
// PeakRSS measures from now on. It reports whether the reset worked.
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS returns the process's peak resident set size in bytes since start
// or the last ResetPeakRSS (Linux; 0 elsewhere).
func PeakRSS() int64 {
	return procStatus("VmHWM:")
}

// RSS returns the process's current resident set size in bytes (Linux; 0
// elsewhere).
func RSS() int64 {
	return procStatus("VmRSS:")
}

func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
