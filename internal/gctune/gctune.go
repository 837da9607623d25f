// Package gctune paces Go's garbage collector for a server whose live heap
// is small. With Go's default (GOGC=100) the heap is collected each time it
// has grown by as much as was live after the last collection: a server
// holding 10 MB collects every 10 MB allocated, many times a second under
// load, and every collection's fixed work (goroutine stacks, the binary's
// globals, the pauses) is then paid again and again for little garbage.
// Run lets the heap grow by at least a floor between collections, and by
// the live heap, Go's default, once that is the larger: memory grows by at
// most the floor over the default, and a large heap is paced as Go paces it.
package gctune

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Percent is the GOGC that lets a heap of live bytes grow by at least
// floor before its next collection, and never less than Go's default of
// 100.
func Percent(live, floor uint64) int {
	if live == 0 || floor <= live {
		return 100
	}
	return int(min(floor*100/live, 1_000_000))
}

// Run sets the collector's percentage from the live heap at start and then
// every interval, until ctx ends. It does nothing when floor is 0 or when
// GOGC is set in the environment: the operator's choice stands.
func Run(ctx context.Context, floor uint64, every time.Duration) {
	if floor == 0 || os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := 100
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			// Only a change of a tenth or more is worth telling the pacer.
			if p := Percent(sample[0].Value.Uint64(), floor); p*10 < set*9 || p*10 > set*11 {
				debug.SetGCPercent(p)
				set = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
