package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"foxhole.dev/foxhole/bench/load"
)

// The generated part of the benchmarks page sits between these markers; the
// rest of the page is written by hand and kept.
const (
	beginMark = "<!-- foxhole-bench:begin -->"
	endMark   = "<!-- foxhole-bench:end -->"
)

// measured is what one placement of the standard set measured.
type measured struct {
	place        placement
	profile, jwt []load.Result // GetProfile and its baseline, at each level
	unary        []pair        // each unary call on each protocol and transport
	conns        []pair        // GetProfile over 1, 2, 4 and 8 connections
	register     load.Result   // 64 callers
	fanout       map[string][]load.Result
	upload, disk load.Result
	rss          int64 // the server's peak
}

// pair is a unary scenario on Foxhole and on its baseline, loaded alike.
type pair struct {
	call, protocol, transport string
	foxhole, base             load.Result
}

// ratio is Foxhole's throughput over the baseline's; perCore the same per
// second of server CPU; p99 Foxhole's p99 latency over the baseline's.
func (p pair) ratio() float64   { return p.foxhole.RPS / p.base.RPS }
func (p pair) perCore() float64 { return p.foxhole.PerCPUSecond() / p.base.PerCPUSecond() }
func (p pair) p99() float64     { return p.foxhole.P99 / p.base.P99 }

var (
	levels = []int{1, 8, 64}
	counts = []int{100, 1000}
	paths  = []string{"baseline (bare WebSocket relay)", "Foxhole WebSocket", "Foxhole Subscribe stream"}
	// The unary matrix: every protocol over every transport but gRPC over
	// HTTP/1.1, which gRPC does not speak.
	protocols  = []string{"connect-json", "connect", "grpc"}
	transports = []string{"h1", "h2", "h2x4"}
	poolSizes  = []int{1, 2, 4, 8}
	// pairRounds is how many times each side of a pair runs, in turns.
	pairRounds = 3
	calls      = map[string]string{"profile": "GetProfile", "token": "CreateToken"}
)

// transportName says in words what a transport is.
func transportName(t string) string {
	switch t {
	case "h1":
		return "HTTP/1.1, a connection per caller"
	case "h2":
		return "HTTP/2, one connection"
	}
	return "HTTP/2, " + strings.TrimPrefix(t, "h2x") + " connections"
}

const uploadSize = 16 << 20

// report runs the standard set against a foxhole it starts from bin, each
// scenario beside its baseline, twice: with the server and the baselines
// on one core and this tool on the other, then with all of them sharing
// the cores. It writes the figures, charts and the pinned server's
// profiles into page's folder.
func report(bin, page string) error {
	dir := filepath.Dir(page)
	places := []placement{{name: "shared"}}
	if runtime.NumCPU() >= 2 {
		places = []placement{{name: "pinned", server: "0", tool: "1"}, {name: "shared"}}
	}
	var runs []measured
	for i, place := range places {
		profiles := ""
		if i == 0 {
			profiles = dir
		}
		m, err := measure(bin, place, profiles)
		if err != nil {
			return fmt.Errorf("%s: %w", place.name, err)
		}
		runs = append(runs, m)
	}
	first := runs[0]
	if err := latencyChart(filepath.Join(dir, "bench-unary.png"), levels, first.profile, first.jwt); err != nil {
		return err
	}
	if err := deliveryChart(filepath.Join(dir, "bench-realtime.png"), counts, first.fanout); err != nil {
		return err
	}
	return splice(page, render(runs))
}

// measure runs the standard set in one placement, saving the server's
// profiles under 64 callers into profiles when it is not empty.
func measure(bin string, place placement, profiles string) (measured, error) {
	ctx := context.Background()
	m := measured{place: place, fanout: map[string][]load.Result{}}
	server, err := startLocal(bin, place)
	if err != nil {
		return m, err
	}
	defer server.stop()
	base, err := startBaseline(place)
	if err != nil {
		return m, err
	}
	defer base.stop()
	unpin, err := place.pinTool()
	if err != nil {
		return m, err
	}
	defer unpin()
	o := load.Options{Concurrency: 64, Duration: 1500 * time.Millisecond, Warmup: 500 * time.Millisecond}
	// profile saves the server's profiles over its first measured round of
	// what starts next: after the baseline's first round (a pair's) or none.
	profile := func(name string, pair bool) {
		after := o.Warmup
		if pair {
			after += o.Warmup + o.Duration
		}
		if profiles != "" {
			go saveProfiles(server, profiles, name, after, o.Duration)
		}
	}

	// Unary: every scenario beside its baseline, loaded by the same client
	// over the same transport. runPair loads the baseline and Foxhole in
	// turns, so that a change in the machine's speed (it is shared) falls
	// on both; each side's result merges its rounds.
	runPair := func(scenario, protocol, transport string, o load.Options) (pair, error) {
		pr := pair{call: calls[scenario], protocol: protocol, transport: transport}
		sides := [2]struct {
			at    func(url, protocol, transport string) (*load.Target, error)
			url   string
			cpu   func() time.Duration
			newOp func(int) (load.Op, error)
		}{{at: load.NewBaselineTarget, url: base.url, cpu: base.cpu}, {at: load.NewTarget, url: server.url, cpu: server.cpu}}
		for i := range sides {
			t, err := sides[i].at(sides[i].url, protocol, transport)
			if err != nil {
				return pr, err
			}
			if sides[i].newOp, err = t.UnaryOp(ctx, scenario); err != nil {
				return pr, err
			}
		}
		var rounds [2][]load.Result
		for range pairRounds {
			for i, side := range sides {
				o.ServerCPU = side.cpu
				r, err := load.Run(ctx, o, side.newOp)
				if err != nil {
					return pr, fmt.Errorf("%s over %s, %s: %w", scenario, protocol, transport, err)
				}
				rounds[i] = append(rounds[i], r)
			}
		}
		pr.base, pr.foxhole = load.Merge(rounds[0]), load.Merge(rounds[1])
		return pr, nil
	}

	// GetProfile at each level of callers, in Connect JSON over HTTP/1.1.
	for _, c := range levels {
		o := o
		o.Concurrency = c
		if c == levels[len(levels)-1] {
			profile("getprofile", true)
		}
		pr, err := runPair("profile", "connect-json", "h1", o)
		if err != nil {
			return m, err
		}
		m.jwt, m.profile = append(m.jwt, pr.base), append(m.profile, pr.foxhole)
	}
	for _, scenario := range []string{"profile", "token"} {
		for _, transport := range transports {
			for _, protocol := range protocols {
				if protocol == "grpc" && transport == "h1" {
					continue
				}
				if scenario == "token" && protocol == "connect-json" && transport == "h1" {
					profile("token", true)
				}
				pr, err := runPair(scenario, protocol, transport, o)
				if err != nil {
					return m, err
				}
				m.unary = append(m.unary, pr)
			}
		}
	}
	for _, n := range poolSizes {
		pr, err := runPair("profile", "connect", fmt.Sprintf("h2x%d", n), o)
		if err != nil {
			return m, err
		}
		m.conns = append(m.conns, pr)
	}

	// Register, which writes a user durably before answering.
	target, err := load.NewTarget(server.url, "connect-json", "h1")
	if err != nil {
		return m, err
	}
	newOp, err := target.UnaryOp(ctx, "register")
	if err != nil {
		return m, err
	}
	profile("register", false)
	o.ServerCPU = server.cpu
	if m.register, err = load.Run(ctx, o, newOp); err != nil {
		return m, err
	}

	// Realtime against the bare WebSocket relay.
	for _, n := range counts {
		for i, url := range []string{load.WSBaselineURL(base.url), server.url, server.url} {
			transport := map[bool]string{true: "stream", false: "ws"}[i == 2]
			r, err := load.RunFanout(ctx, url, load.FanoutOptions{Transport: transport, Subscribers: n, Interval: 100 * time.Millisecond, Broadcasts: 20})
			if err != nil {
				return m, fmt.Errorf("%s: %w", paths[i], err)
			}
			m.fanout[paths[i]] = append(m.fanout[paths[i]], r)
		}
	}

	// Uploads against raw disk writes.
	raw, err := os.MkdirTemp("", "foxhole-bench-disk-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(raw)
	o = load.Options{Concurrency: 2, Duration: 4 * time.Second, Warmup: time.Second}
	if m.disk, err = load.Run(ctx, o, load.DiskOp(raw, uploadSize)); err != nil {
		return m, err
	}
	if m.upload, err = load.Run(ctx, o, target.UploadOp(ctx, uploadSize)); err != nil {
		return m, err
	}
	m.rss = server.rss()
	return m, nil
}

// render writes the generated section of the page.
func render(runs []measured) string {
	var md strings.Builder
	fmt.Fprintf(&md, "%s\n## Load tests: `just bench`\n\n", beginMark)
	fmt.Fprintf(&md, "Measured %s by `foxhole-bench -report` on %d cores, %s of memory, %s. Every figure sits beside its baseline from the same run, ", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), memTotal(), runtime.Version())
	md.WriteString("each in two placements: **pinned**, the server (or the baseline standing in for it) on core 0 and the load tool on core 1, so that a ratio measures the server rather than its competition with the tool; and **shared**, all of them on both cores, as a single machine runs them. The baselines run in a process of their own in both.\n\n")

	md.WriteString("### Unary calls against bare handlers, like with like\n\n")
	md.WriteString("Each call beside a bare net/http handler that does the least work the call needs, answering at the same procedure path in the same protocol: GetProfile's verifies the same HS256 JWT and answers the same message; CreateToken's decodes the secret, hashes it, finds its user in a map, signs an HS256 JWT and answers the same message. Both are loaded by the same Go client (connect-go, as `client.New` calls), in the same protocol, over the same transport and number of connections, with 64 callers in a closed loop; Foxhole logs at `warn` (no access line per call); the baselines run on Foxhole's own `http.Server` settings, their garbage collector paced as Foxhole's (`FOXHOLE_GC_HEAP_FLOOR`), and each pair runs in turns, three rounds of each side, merged. **Per core** divides each server's calls by the CPU time it used in the measured time (user and system, from /proc), so that it holds whether or not the load filled the server's core. A JSON call is Connect JSON (what curl sends), binary is Connect with binary protobuf, gRPC is gRPC.\n\n")
	md.WriteString("| call | protocol | transport | cores | Foxhole calls/s | baseline calls/s | ratio | per core, Foxhole / baseline calls per CPU-second | ratio per core | p99 ms, Foxhole / baseline | p99 ratio |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := range runs[0].unary {
		for _, m := range runs {
			pr := m.unary[i]
			fmt.Fprintf(&md, "| %s | %s | %s | %s | %.0f | %.0f | %.2f | %.0f / %.0f | **%.2f** | %.2f / %.2f | %.2f |\n",
				pr.call, pr.protocol, transportName(pr.transport), m.place.name, pr.foxhole.RPS, pr.base.RPS, pr.ratio(),
				pr.foxhole.PerCPUSecond(), pr.base.PerCPUSecond(), pr.perCore(), pr.foxhole.P99, pr.base.P99, pr.p99())
		}
	}

	md.WriteString("\n### GetProfile against callers, Connect JSON over HTTP/1.1\n\n")
	md.WriteString("| callers | cores | Foxhole calls/s | baseline calls/s | ratio | ratio per core | Foxhole p50 / p99 ms | baseline p50 / p99 ms | p99 ratio |\n|---|---|---|---|---|---|---|---|---|\n")
	for i, c := range levels {
		for _, m := range runs {
			pr := pair{foxhole: m.profile[i], base: m.jwt[i]}
			fmt.Fprintf(&md, "| %d | %s | %.0f | %.0f | **%.2f** | %.2f | %.2f / %.2f | %.2f / %.2f | %.2f |\n",
				c, m.place.name, pr.foxhole.RPS, pr.base.RPS, pr.ratio(), pr.perCore(), pr.foxhole.P50, pr.foxhole.P99, pr.base.P50, pr.base.P99, pr.p99())
		}
	}
	fmt.Fprintf(&md, "\n![GetProfile latency against callers, %s](bench-unary.png)\n\n", runs[0].place.name)

	md.WriteString("### One client over several HTTP/2 connections\n\nGetProfile in Connect binary, 64 callers on one client spreading its calls over N HTTP/2 connections (`client.WithConnections(N)`), beside the baseline loaded alike.\n\n")
	md.WriteString("| connections | cores | Foxhole calls/s | baseline calls/s | ratio | ratio per core | Foxhole p99 ms |\n|---|---|---|---|---|---|---|\n")
	for i, n := range poolSizes {
		for _, m := range runs {
			pr := m.conns[i]
			fmt.Fprintf(&md, "| %d | %s | %.0f | %.0f | %.2f | %.2f | %.2f |\n", n, m.place.name, pr.foxhole.RPS, pr.base.RPS, pr.ratio(), pr.perCore(), pr.foxhole.P99)
		}
	}

	md.WriteString("\n### Register, 64 callers\n\nRegister writes a user, durably, before answering.\n\n| cores | calls/s | errors | p50 / p99 ms |\n|---|---|---|---|\n")
	for _, m := range runs {
		fmt.Fprintf(&md, "| %s | %.0f | %d | %.2f / %.2f |\n", m.place.name, m.register.RPS, errorCount(m.register), m.register.P50, m.register.P99)
	}

	md.WriteString("\n### Goals\n\nThe worst case over the protocols, per transport; per core and p99 at 64 callers.\n\n| goal | ")
	for _, m := range runs {
		fmt.Fprintf(&md, "%s | ", m.place.name)
	}
	md.WriteString("\n|---|" + strings.Repeat("---|", len(runs)) + "\n")
	// worst picks the lowest (least) or highest value over the protocols.
	worst := func(m measured, call, transport string, pick func(pair) float64, least bool) float64 {
		var vs []float64
		for _, pr := range m.unary {
			if pr.call == call && pr.transport == transport {
				vs = append(vs, pick(pr))
			}
		}
		if least {
			return slices.Min(vs)
		}
		return slices.Max(vs)
	}
	type goal struct {
		name string
		eval func(measured) string
	}
	var goals []goal
	for _, t := range []string{"h1", "h2"} {
		goals = append(goals,
			goal{"GetProfile ≥ 0.80 of the bare handler per core, " + transportName(t), func(m measured) string {
				return verdict(worst(m, "GetProfile", t, pair.perCore, true), 0.80, true)
			}},
			goal{"GetProfile p99 ≤ 1.3× the bare handler's, " + transportName(t), func(m measured) string {
				return verdict(worst(m, "GetProfile", t, pair.p99, false), 1.3, false)
			}},
			goal{"CreateToken ≥ 0.80 of the bare handler per core, " + transportName(t), func(m measured) string {
				return verdict(worst(m, "CreateToken", t, pair.perCore, true), 0.80, true)
			}})
	}
	goals = append(goals,
		goal{"Register ≥ 5,000 per second", func(m measured) string { return verdict(m.register.RPS, 5000, true) }},
		goal{"Register with 0 errors", func(m measured) string { return verdict(float64(errorCount(m.register)), 0, false) }})
	for _, g := range goals {
		fmt.Fprintf(&md, "| %s | ", g.name)
		for _, m := range runs {
			md.WriteString(g.eval(m) + " | ")
		}
		md.WriteString("\n")
	}
	md.WriteString("\n### Realtime delivery, one broadcast every 100 ms, against a bare WebSocket fan-out\n\n| subscribers | cores | path | p50 ms | p99 ms | p99 ratio | deliveries/s | lost |\n|---|---|---|---|---|---|---|---|\n")
	for i, n := range counts {
		for _, m := range runs {
			baseP99 := m.fanout[paths[0]][i].P99
			for _, path := range paths {
				r := m.fanout[path][i]
				fmt.Fprintf(&md, "| %d | %s | %s | %.2f | %.2f | %.2f | %.0f | %d |\n", n, m.place.name, path, r.P50, r.P99, r.P99/baseP99, r.RPS, r.Errors["lost"])
			}
		}
	}
	fmt.Fprintf(&md, "\n![Delivery latency against subscribers, %s](bench-realtime.png)\n\n", runs[0].place.name)

	mb := func(r load.Result) float64 { return r.RPS * uploadSize / 1e6 }
	md.WriteString("### Uploads of 16 MiB, 2 at a time, against raw disk writes\n\n| cores | raw disk write + fsync MB/s | Foxhole `PUT /files` (local disk) MB/s | ratio |\n|---|---|---|---|\n")
	for _, m := range runs {
		fmt.Fprintf(&md, "| %s | %.0f | %.0f | **%.2f** |\n", m.place.name, mb(m.disk), mb(m.upload), mb(m.upload)/mb(m.disk))
	}
	md.WriteString("\nServer peak RSS over each whole run: ")
	for i, m := range runs {
		if i > 0 {
			md.WriteString(", ")
		}
		fmt.Fprintf(&md, "%.0f MiB (%s)", float64(m.rss)/(1<<20), m.place.name)
	}
	fmt.Fprintf(&md, ". CPU and allocation profiles of the %s server under 64 callers are in `profiles/` (`getprofile`: Connect JSON over HTTP/1.1; `token`: the same; `register`; read one with `go tool pprof bin/foxhole docs/profiles/token.cpu.pprof`).\n\n", runs[0].place.name)
	md.WriteString("Reproduce: `just bench` (builds `bin/foxhole` and `bin/foxhole-bench`, then runs `bin/foxhole-bench -report docs/benchmarks.md -local bin/foxhole`). One scenario at a time: `bin/foxhole-bench -local bin/foxhole -pin 0:1 -scenario profile -protocol connect-json -transport h1 -c 64 -d 10s` (`-pin` optional; `-transport h1`, `h2` or `h2xN`; `-rate` for open loop, `-json` for machines; `-scenario baseline-jwt` or `baseline-token` for the ceilings, loaded in the same protocol over the same transport).\n")
	md.WriteString(endMark + "\n")
	return md.String()
}

// verdict says whether v meets goal (at least it when atLeast, else at
// most), with the figure.
func verdict(v, goal float64, atLeast bool) string {
	met := v >= goal
	if !atLeast {
		met = v <= goal
	}
	word := "missed"
	if met {
		word = "**met**"
	}
	return fmt.Sprintf("%s (%.4g)", word, v)
}

// splice replaces the generated load-test section of page (or appends
// one).
func splice(page, section string) error { return spliceSection(page, beginMark, endMark, section) }

// saveProfiles saves a CPU profile of the server over the d that follows
// a wait of after, and its allocations, as profiles/<name>.{cpu,allocs}.pprof
// in dir.
func saveProfiles(p *process, dir, name string, after, d time.Duration) {
	time.Sleep(after)
	os.MkdirAll(filepath.Join(dir, "profiles"), 0o755)
	for _, prof := range []struct{ path, file string }{
		{fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())), name + ".cpu.pprof"},
		{"/debug/pprof/allocs", name + ".allocs.pprof"},
	} {
		res, err := http.Get("http://" + p.pprof + prof.path)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		os.WriteFile(filepath.Join(dir, "profiles", prof.file), b, 0o644)
	}
}

func errorCount(r load.Result) int64 {
	var n int64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

func latencyChart(path string, levels []int, foxhole, base []load.Result) error {
	p := plot.New()
	p.Title.Text = "Authenticated GetProfile: latency against callers"
	p.X.Label.Text = "concurrent callers"
	p.Y.Label.Text = "latency (ms)"
	line := func(rs []load.Result, pick func(load.Result) float64) plotter.XYs {
		pts := make(plotter.XYs, len(rs))
		for i, r := range rs {
			pts[i].X, pts[i].Y = float64(levels[i]), pick(r)
		}
		return pts
	}
	p50 := func(r load.Result) float64 { return r.P50 }
	p99 := func(r load.Result) float64 { return r.P99 }
	if err := plotutil.AddLinePoints(p,
		"Foxhole p50", line(foxhole, p50), "Foxhole p99", line(foxhole, p99),
		"baseline p50", line(base, p50), "baseline p99", line(base, p99)); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return save(p, path)
}

func deliveryChart(path string, counts []int, series map[string][]load.Result) error {
	p := plot.New()
	p.Title.Text = "Realtime: p99 delivery latency against subscribers"
	p.X.Label.Text = "subscribers"
	p.Y.Label.Text = "p99 delivery latency (ms)"
	var args []any
	for _, name := range []string{"baseline (bare WebSocket relay)", "Foxhole WebSocket", "Foxhole Subscribe stream"} {
		pts := make(plotter.XYs, len(series[name]))
		for i, r := range series[name] {
			pts[i].X, pts[i].Y = float64(counts[i]), r.P99
		}
		args = append(args, name, pts)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return save(p, path)
}

func save(p *plot.Plot, path string) error {
	w, err := p.WriterTo(8*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
