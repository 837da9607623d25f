package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// placement says which CPUs the server (and the baselines, which stand in
// for it) and the load tool run on: a ratio then measures the server, not
// its competition with the tool for cores. Empty lists: anywhere, sharing.
type placement struct {
	name         string // "pinned" or "shared"
	server, tool string // CPU lists as taskset takes them, such as "0"
}

// parsePlacement reads -pin SERVER:TOOL, such as 0:1.
func parsePlacement(s string) (placement, error) {
	if s == "" {
		return placement{name: "shared"}, nil
	}
	server, tool, ok := strings.Cut(s, ":")
	if _, err := cpuList(server); !ok || err != nil {
		return placement{}, fmt.Errorf("-pin %q: want SERVER_CPUS:TOOL_CPUS, such as 0:1", s)
	}
	if _, err := cpuList(tool); err != nil {
		return placement{}, fmt.Errorf("-pin %q: %w", s, err)
	}
	return placement{name: "pinned", server: server, tool: tool}, nil
}

// command runs name on the server's CPUs.
func (p placement) command(name string, args ...string) *exec.Cmd {
	if p.server == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", p.server, name}, args...)...)
}

// pinTool moves every thread of this process to the tool's CPUs and sets
// GOMAXPROCS to their number; undo puts both back.
func (p placement) pinTool() (undo func(), err error) {
	if p.tool == "" {
		return func() {}, nil
	}
	cpus, err := cpuList(p.tool)
	if err != nil {
		return nil, err
	}
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, err
	}
	for _, c := range cpus {
		set.Set(c)
	}
	procs := runtime.GOMAXPROCS(len(cpus))
	if err := setAffinity(&set); err != nil {
		runtime.GOMAXPROCS(procs)
		return nil, err
	}
	return func() {
		_ = setAffinity(&old)
		runtime.GOMAXPROCS(procs)
	}, nil
}

// setAffinity applies set to every thread of the process. Threads started
// meanwhile inherit the mask of the thread that starts them, so a second
// pass catches any the first missed.
func setAffinity(set *unix.CPUSet) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin thread %d: %w", tid, err)
			}
		}
	}
	return nil
}

// cpuList reads a list of CPUs such as "1" or "0,2-3".
func cpuList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if isRange && err == nil {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= runtime.NumCPU() {
			return nil, fmt.Errorf("CPU list %q: want numbers below %d such as 0 or 0,2-3", s, runtime.NumCPU())
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
