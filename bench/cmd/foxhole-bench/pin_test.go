package main

import (
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPlacementFlag(t *testing.T) {
	if p, err := parsePlacement(""); err != nil || p.name != "shared" || p.server != "" || p.tool != "" {
		t.Fatalf("no -pin: %+v, %v", p, err)
	}
	if p, err := parsePlacement("0:0"); err != nil || p.name != "pinned" || p.server != "0" || p.tool != "0" {
		t.Fatalf("-pin 0:0: %+v, %v", p, err)
	}
	for _, bad := range []string{"0", ":", "a:0", "0:-1", "0:9999", "1-0:0"} {
		if _, err := parsePlacement(bad); err == nil {
			t.Errorf("-pin %q accepted", bad)
		}
	}
	if got, err := cpuList("0"); err != nil || !slices.Equal(got, []int{0}) {
		t.Errorf("cpuList(0) = %v, %v", got, err)
	}
}

// Pinning moves every thread of the tool to its CPUs and back.
func TestPinToolMovesEveryThread(t *testing.T) {
	last := runtime.NumCPU() - 1
	place := placement{name: "pinned", server: "0", tool: []string{"0", "1", "2", "3"}[min(last, 3)]}
	procs := runtime.GOMAXPROCS(0)
	unpin, err := place.pinTool()
	if err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != 1 || !set.IsSet(min(last, 3)) || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("pinned: %d CPUs, GOMAXPROCS %d; want CPU %d alone", set.Count(), runtime.GOMAXPROCS(0), min(last, 3))
	}
	unpin()
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != runtime.NumCPU() || runtime.GOMAXPROCS(0) != procs {
		t.Errorf("unpinned: %d CPUs, GOMAXPROCS %d; want %d and %d", set.Count(), runtime.GOMAXPROCS(0), runtime.NumCPU(), procs)
	}
}
