// Package load drives a running Foxhole (or a baseline server) and measures
// throughput and latency: closed loop (a fixed number of callers, each
// calling again as soon as it is answered) or open loop (calls started at a
// fixed rate whatever the answers, so that latency under a given load is
// honest and does not hide queueing).
package load

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/HdrHistogram/hdrhistogram-go"
)

// Op is one call. It returns the call's error, nil on success.
type Op func(ctx context.Context) error

// Options shape a run.
type Options struct {
	Concurrency int           // callers (closed loop) or the bound on calls in flight (open loop)
	Duration    time.Duration // measured time
	Warmup      time.Duration // unmeasured time before it
	Rate        float64       // calls per second; 0: closed loop
	// ServerCPU, when set, reads the CPU time the server has used so far;
	// Run reads it as the measured time starts and ends.
	ServerCPU func() time.Duration
}

// Result is what a run measured. Latencies are in milliseconds.
type Result struct {
	Scenario    string           `json:"scenario"`
	Protocol    string           `json:"protocol,omitempty"`
	Concurrency int              `json:"concurrency"`
	Rate        float64          `json:"targetRate,omitempty"`
	Requests    int64            `json:"requests"`
	RPS         float64          `json:"rps"`
	Errors      map[string]int64 `json:"errors,omitempty"` // by Connect code
	P50         float64          `json:"p50Ms"`
	P90         float64          `json:"p90Ms"`
	P99         float64          `json:"p99Ms"`
	P999        float64          `json:"p999Ms"`
	ServerRSS   int64            `json:"serverRssBytes,omitempty"`
	// ServerCPU is the CPU time the server used in the measured time, in
	// seconds, when Options.ServerCPU was set.
	ServerCPU float64 `json:"serverCpuSeconds,omitempty"`
}

// PerCPUSecond is how many calls the server answered for each second of
// CPU it used: its throughput per core, whether or not the load filled
// the core. 0 when the server's CPU was not measured.
func (r Result) PerCPUSecond() float64 {
	if r.ServerCPU <= 0 {
		return 0
	}
	return float64(r.Requests) / r.ServerCPU
}

// Run calls the ops made by newOp (one per caller) as o says. Only calls
// started after the warm-up count. In open loop a call's latency runs from
// when it was due, not when a caller got to it.
func Run(ctx context.Context, o Options, newOp func(caller int) (Op, error)) (Result, error) {
	ops := make([]Op, max(1, o.Concurrency))
	for i := range ops {
		op, err := newOp(i)
		if err != nil {
			return Result{}, err
		}
		ops[i] = op
	}
	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second)) // calls in flight at the end may finish
	defer cancel()

	var mu sync.Mutex
	hist := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	errs := map[string]int64{}
	var count int64
	record := func(due time.Time, err error) {
		if due.Before(measureFrom) {
			return
		}
		lat := time.Since(due)
		mu.Lock()
		defer mu.Unlock()
		count++
		if err != nil {
			errs[codeOf(err)]++
			return
		}
		_ = hist.RecordValue(max(1, lat.Microseconds()))
	}

	var cpu [2]time.Duration
	cpuRead := make(chan struct{})
	go func() {
		defer close(cpuRead)
		if o.ServerCPU == nil {
			return
		}
		for i, at := range []time.Time{measureFrom, end} {
			time.Sleep(time.Until(at))
			cpu[i] = o.ServerCPU()
		}
	}()

	var wg sync.WaitGroup
	if o.Rate <= 0 {
		for _, op := range ops {
			wg.Go(func() {
				for {
					due := time.Now()
					if !due.Before(end) {
						return
					}
					record(due, op(ctx))
				}
			})
		}
	} else {
		// A scheduler releases one call every interval; callers take them in
		// turn. The queue is bounded: past it the schedule is the bottleneck
		// and latency shows it.
		due := make(chan time.Time, 100_000)
		go func() {
			defer close(due)
			interval := time.Duration(float64(time.Second) / o.Rate)
			next := start
			for next.Before(end) {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				select {
				case due <- next:
				case <-ctx.Done():
					return
				}
				next = next.Add(interval)
			}
		}()
		for _, op := range ops {
			wg.Go(func() {
				for t := range due {
					record(t, op(ctx))
				}
			})
		}
	}
	wg.Wait()
	<-cpuRead

	ms := func(q float64) float64 { return float64(hist.ValueAtQuantile(q)) / 1000 }
	r := Result{
		Concurrency: len(ops),
		Rate:        o.Rate,
		Requests:    count,
		RPS:         float64(count) / o.Duration.Seconds(),
		P50:         ms(50),
		P90:         ms(90),
		P99:         ms(99),
		P999:        ms(99.9),
	}
	if len(errs) > 0 {
		r.Errors = errs
	}
	if cpu[1] > cpu[0] {
		r.ServerCPU = (cpu[1] - cpu[0]).Seconds()
	}
	return r, nil
}

// codeOf names an error by its Connect code; errors from outside Connect
// (a context ending, a bare HTTP status) get the code that fits them.
func codeOf(err error) string {
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		return ce.Code().String()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded.String()
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled.String()
	}
	return connect.CodeUnknown.String()
}

// ErrorCodes returns the codes of r's errors, most frequent first.
func (r Result) ErrorCodes() []string {
	codes := make([]string, 0, len(r.Errors))
	for c := range r.Errors {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { return r.Errors[codes[i]] > r.Errors[codes[j]] })
	return codes
}

// Merge sums runs of one scenario into one result: calls, errors and
// server CPU add up, the rate is the runs' mean, and the latencies are
// those of the run of median p99.
func Merge(rs []Result) Result {
	if len(rs) == 0 {
		return Result{}
	}
	byP99 := slices.Clone(rs)
	slices.SortFunc(byP99, func(a, b Result) int { return cmp.Compare(a.P99, b.P99) })
	m := byP99[len(byP99)/2]
	m.Requests, m.RPS, m.ServerCPU, m.Errors = 0, 0, 0, nil
	for _, r := range rs {
		m.Requests += r.Requests
		m.RPS += r.RPS / float64(len(rs))
		m.ServerCPU += r.ServerCPU
		for code, n := range r.Errors {
			if m.Errors == nil {
				m.Errors = map[string]int64{}
			}
			m.Errors[code] += n
		}
	}
	return m
}
