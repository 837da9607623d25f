package load

import (
	"fmt"
	"os"
	"strings"
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
