package gctune_test

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/gctune"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{8 << 20, 64 << 20, 800},   // a small heap grows by the floor
		{64 << 20, 64 << 20, 100},  // Go's default from the floor on
		{512 << 20, 64 << 20, 100}, // a large heap is paced as Go paces it
		{0, 64 << 20, 100},         // nothing measured yet
		{1, 1 << 40, 1_000_000},    // bounded
	} {
		if got := gctune.Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// currentPercent reads GOGC as the runtime has it.
func currentPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestRunRaisesThePercentForASmallHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC() // so that the live heap is measured
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gctune.Run(ctx, 1<<40, time.Millisecond); close(done) }()
	// A test binary's live heap is far below a floor of 1 TiB.
	for deadline := time.Now().Add(10 * time.Second); currentPercent() <= 100; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d", currentPercent())
		}
	}
	cancel()
	<-done
}

func TestRunLeavesAnOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	gctune.Run(ctx, 1<<40, time.Millisecond) // returns at once
	if p := currentPercent(); p != 150 {
		t.Errorf("GOGC = %d, want the operator's 150", p)
	}
}
