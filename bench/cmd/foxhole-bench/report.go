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

// report runs the standard set against a foxhole it starts from bin, each
// scenario beside its baseline, and writes the figures, charts and profiles
// into page's folder.
func report(bin, page string) error {
	ctx := context.Background()
	dir := filepath.Dir(page)
	server, err := startLocal(bin)
	if err != nil {
		return err
	}
	defer server.stop()
	var md strings.Builder
	fmt.Fprintf(&md, "%s\n## Load tests: `just bench`\n\n", beginMark)
	fmt.Fprintf(&md, "Measured %s by `foxhole-bench -report` on %d cores, %s of memory, %s. The tool and the server share the machine; every figure sits beside its baseline from the same run.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), memTotal(), runtime.Version())

	// Unary: authenticated GetProfile against the bare JWT handler.
	jwt, err := load.StartJWTBaseline()
	if err != nil {
		return err
	}
	defer jwt.Close()
	target, err := load.NewTarget(server.url, load.HTTPJSON)
	if err != nil {
		return err
	}
	levels := []int{1, 8, 64}
	var foxhole, base []load.Result
	for _, c := range levels {
		o := load.Options{Concurrency: c, Duration: 3 * time.Second, Warmup: time.Second}
		b, err := load.Run(ctx, o, jwt.Op())
		if err != nil {
			return err
		}
		newOp, err := target.UnaryOp(ctx, "profile")
		if err != nil {
			return err
		}
		var f load.Result
		if c == levels[len(levels)-1] {
			// Profile the server under the heaviest load, for the record.
			go saveProfiles(server, dir, "getprofile", 2*time.Second)
		}
		if f, err = load.Run(ctx, o, newOp); err != nil {
			return err
		}
		base, foxhole = append(base, b), append(foxhole, f)
	}
	md.WriteString("### Authenticated GetProfile against a bare net/http handler verifying the same HS256 JWT\n\n")
	md.WriteString("Both loaded the same way: JSON POSTs with a bearer token over HTTP/1.1, closed loop.\n\n")
	md.WriteString("| callers | Foxhole calls/s | baseline calls/s | ratio | Foxhole p50 / p99 ms | baseline p50 / p99 ms | p99 ratio |\n|---|---|---|---|---|---|---|\n")
	for i, c := range levels {
		f, b := foxhole[i], base[i]
		fmt.Fprintf(&md, "| %d | %.0f | %.0f | **%.2f** | %.2f / %.2f | %.2f / %.2f | %.2f |\n",
			c, f.RPS, b.RPS, f.RPS/b.RPS, f.P50, f.P99, b.P50, b.P99, f.P99/b.P99)
	}
	if err := latencyChart(filepath.Join(dir, "bench-unary.png"), levels, foxhole, base); err != nil {
		return err
	}
	md.WriteString("\n![GetProfile latency against callers](bench-unary.png)\n\n")

	// Token and registration rates, against the same bare handler: the
	// ceiling of any authenticated call on this machine.
	ceiling := base[len(base)-1]
	md.WriteString("### Credentials, 64 callers, against the bare JWT handler at 64 callers\n\n| scenario | calls/s | ratio | errors | p50 / p99 ms |\n|---|---|---|---|---|\n")
	for _, s := range []string{"token", "register"} {
		newOp, err := target.UnaryOp(ctx, s)
		if err != nil {
			return err
		}
		go saveProfiles(server, dir, s, 2*time.Second)
		r, err := load.Run(ctx, load.Options{Concurrency: 64, Duration: 4 * time.Second, Warmup: time.Second}, newOp)
		if err != nil {
			return err
		}
		fmt.Fprintf(&md, "| %s | %.0f | %.2f | %d | %.2f / %.2f |\n", s, r.RPS, r.RPS/ceiling.RPS, errorCount(r), r.P50, r.P99)
	}

	// Realtime against the bare WebSocket fan-out.
	ws, err := load.StartWSBaseline()
	if err != nil {
		return err
	}
	defer ws.Close()
	counts := []int{100, 1000}
	series := map[string][]load.Result{}
	md.WriteString("\n### Realtime delivery, one broadcast every 100 ms, against a bare WebSocket fan-out\n\n| subscribers | path | p50 ms | p99 ms | p99 ratio | deliveries/s | lost |\n|---|---|---|---|---|---|---|\n")
	for _, n := range counts {
		var baseP99 float64
		for _, run := range []struct{ name, url, transport string }{
			{"baseline (bare WebSocket relay)", ws.URL, "ws"},
			{"Foxhole WebSocket", server.url, "ws"},
			{"Foxhole Subscribe stream", server.url, "stream"},
		} {
			r, err := load.RunFanout(ctx, run.url, load.FanoutOptions{Transport: run.transport, Subscribers: n, Interval: 100 * time.Millisecond, Broadcasts: 20})
			if err != nil {
				return fmt.Errorf("%s: %w", run.name, err)
			}
			series[run.name] = append(series[run.name], r)
			if baseP99 == 0 {
				baseP99 = r.P99 // the baseline runs first
			}
			fmt.Fprintf(&md, "| %d | %s | %.2f | %.2f | %.2f | %.0f | %d |\n", n, run.name, r.P50, r.P99, r.P99/baseP99, r.RPS, r.Errors["lost"])
		}
	}
	if err := deliveryChart(filepath.Join(dir, "bench-realtime.png"), counts, series); err != nil {
		return err
	}
	md.WriteString("\n![Delivery latency against subscribers](bench-realtime.png)\n\n")

	// Uploads against raw disk writes.
	const size = 16 << 20
	raw, err := os.MkdirTemp("", "foxhole-bench-disk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(raw)
	o := load.Options{Concurrency: 2, Duration: 4 * time.Second, Warmup: time.Second}
	disk, err := load.Run(ctx, o, load.DiskOp(raw, size))
	if err != nil {
		return err
	}
	up, err := load.Run(ctx, o, target.UploadOp(ctx, size))
	if err != nil {
		return err
	}
	mb := func(r load.Result) float64 { return r.RPS * size / 1e6 }
	fmt.Fprintf(&md, "### Uploads of 16 MiB, 2 at a time, against raw disk writes\n\n| path | MB/s | ratio |\n|---|---|---|\n| raw disk write + fsync | %.0f | 1 |\n| Foxhole `PUT /files` (local disk) | %.0f | **%.2f** |\n\n", mb(disk), mb(up), mb(up)/mb(disk))
	fmt.Fprintf(&md, "Server peak RSS over the whole run: %.0f MiB. CPU and allocation profiles of the server under 64 callers are in `profiles/` (`getprofile`, `token`, `register`; read one with `go tool pprof bin/foxhole docs/profiles/token.cpu.pprof`).\n\n",
		float64(server.rss())/(1<<20))
	md.WriteString("Reproduce: `just bench` (builds `bin/foxhole` and `bin/foxhole-bench`, then runs `bin/foxhole-bench -report docs/benchmarks.md -local bin/foxhole`). One scenario at a time: `bin/foxhole-bench -local bin/foxhole -scenario profile -protocol http-json -c 64 -d 10s` (`-rate` for open loop, `-json` for machines).\n")
	md.WriteString(endMark + "\n")
	return splice(page, md.String())
}

// splice replaces the generated section of page (or appends one).
func splice(page, section string) error {
	old, err := os.ReadFile(page)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if i, j := strings.Index(s, beginMark), strings.Index(s, endMark); i >= 0 && j > i {
		s = s[:i] + section + strings.TrimPrefix(s[j+len(endMark):], "\n")
	} else {
		s += "\n" + section
	}
	return os.WriteFile(page, []byte(s), 0o644)
}

// saveProfiles saves a CPU profile of the server over the next d, and its
// allocations, as profiles/<name>.{cpu,allocs}.pprof beside the page.
func saveProfiles(p *process, dir, name string, d time.Duration) {
	time.Sleep(time.Second) // past the warm-up
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
