package main

import (
	"cmp"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"

	"foxhole.dev/foxhole/bench/load"
)

// The crowd section of the benchmarks page sits between these markers.
const (
	crowdBegin = "<!-- foxhole-bench:crowd:begin -->"
	crowdEnd   = "<!-- foxhole-bench:crowd:end -->"
)

// crowdVariant is one target of the crowd set.
type crowdVariant struct {
	name     string
	target   string
	presence bool // Foxhole's presence events, Centrifugo's join and leave pushes
	// once: run once whatever -runs says. Centrifugo with join/leave takes
	// minutes to bring 5,000 sessions or more live, and no goal reads it.
	once bool
}

var crowdVariants = []crowdVariant{
	{"Foxhole, presence on", load.CrowdFoxhole, true, false},
	{"Foxhole, presence off", load.CrowdFoxhole, false, false},
	{"Centrifugo, join/leave on", load.CrowdCentrifugo, true, true},
	{"Centrifugo, join/leave off", load.CrowdCentrifugo, false, false},
	{"bare WebSocket relay", load.CrowdRelay, false, false},
}

// crowdRunLimit bounds one target's run at one size, dialling included.
const crowdRunLimit = 10 * time.Minute

// crowdRow is what one variant measured at one size, or why it could not.
type crowdRow struct {
	sessions int
	variant  crowdVariant
	runs     []load.CrowdResult // by p99
	res      load.CrowdResult   // the run of median p99
	err      error              // the first run that failed; any failure fails the row
}

// add records one run.
func (r *crowdRow) add(res load.CrowdResult, err error) {
	if err != nil {
		r.err = cmp.Or(r.err, err)
		return
	}
	r.runs = append(r.runs, res)
	slices.SortFunc(r.runs, func(a, b load.CrowdResult) int { return cmp.Compare(a.P99, b.P99) })
	r.res = r.runs[len(r.runs)/2]
}

// parseSessions reads -sessions, such as 200,1000.
func parseSessions(s string) ([]int, error) {
	var counts []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sessions %q: want session counts such as 1000,2000", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// crowd runs every variant at every session count, each on a server
// process of its own (Foxhole from bin, Centrifugo from PATH, the relay
// in this tool's own binary), and writes the table, the chart and the
// goals into page's crowd section. With targets (such as "foxhole") it
// runs only theirs and writes nothing; with profiles, it saves a CPU
// profile of each Foxhole server while it broadcasts there.
func crowd(bin, page string, counts []int, runs int, targets, profiles string) error {
	// Each process holds a descriptor per session, and a few hundred more.
	if err := load.RaiseFileLimit(slices.Max(counts) + 1024); err != nil {
		return err
	}
	centrifugo, err := exec.LookPath("centrifugo")
	if err != nil {
		return fmt.Errorf("no centrifugo on PATH: install it with `%s` and put $(go env GOPATH)/bin on PATH", load.CentrifugoInstall)
	}
	var rows []crowdRow
	failed := 0
	only := strings.Split(targets, ",")
	for _, n := range counts {
		// Every variant runs once per round, so that what drifts on the
		// machine over the rounds falls on all of them alike.
		size := make([]crowdRow, len(crowdVariants))
		for round := range runs {
			for i, v := range crowdVariants {
				if targets != "" && !slices.Contains(only, v.target) || v.once && round > 0 {
					continue
				}
				res, err := crowdOnce(bin, n, v, profiles)
				size[i].sessions, size[i].variant = n, v
				size[i].add(res, err)
				if err != nil {
					fmt.Printf("%6d  %-28s error: %v\n", n, v.name, err)
					continue
				}
				fmt.Printf("%6d  %-28s live %d/%d in %.1fs, quiet %.1fs later  delivered %d/%d  lost %d  dup %d  p50 %.1f ms  p99 %.1f ms  p99.9 %.1f ms  %.0f deliveries/s  CPU µs/delivery: server %.2f, tool %.2f  %.1f KiB/idle session  peak %.0f MiB  presence %.2f msgs %.0f B /session/s\n",
					n, v.name, res.Live, res.Sessions, res.ReadyIn.Seconds(), res.SettledIn.Seconds(), res.Delivered, res.Expected, res.Lost, res.Duplicates,
					res.P50, res.P99, res.P999, res.PerSecond, res.ServerCPUPerDelivery, res.ToolCPUPerDelivery,
					res.IdleBytesPerSession/1024, float64(res.PeakRSS)/(1<<20), res.PresenceMessagesPerSecond, res.PresenceBytesPerSecond)
			}
		}
		for _, r := range size {
			if r.variant.name == "" {
				continue // not run
			}
			rows = append(rows, r)
			if r.err != nil {
				failed++
			}
		}
	}
	if targets != "" {
		return nil
	}
	if err := crowdChart(filepath.Join(filepath.Dir(page), "bench-crowd.png"), rows); err != nil {
		return err
	}
	if err := spliceSection(page, crowdBegin, crowdEnd, renderCrowd(counts, runs, rows, centrifugoVersion(centrifugo))); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d crowd rows had a failed run; the page says which", failed, len(rows))
	}
	return nil
}

// crowdOnce starts a fresh server for v and runs n sessions against it.
func crowdOnce(bin string, n int, v crowdVariant, profiles string) (load.CrowdResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), crowdRunLimit)
	defer cancel()
	o := load.CrowdOptions{Target: v.target, Presence: v.presence, Sessions: n}
	switch v.target {
	case load.CrowdFoxhole:
		p, err := startLocal(bin, placement{name: "shared"})
		if err != nil {
			return load.CrowdResult{}, err
		}
		defer p.stop()
		o.URL, o.ServerPID = p.url, p.cmd.Process.Pid
		if profiles != "" {
			name := fmt.Sprintf("crowd-%d-presence-%t", n, v.presence)
			o.Broadcasting = func(d time.Duration) {
				go saveProfiles(p, profiles, name, 0, d)
				go saveToolProfile(filepath.Join(profiles, "profiles", name+".tool.cpu.pprof"), d)
			}
		}
	case load.CrowdCentrifugo:
		c, err := load.StartCentrifugo(v.presence)
		if err != nil {
			return load.CrowdResult{}, err
		}
		defer c.Close()
		o.Centrifugo, o.ServerPID = c, c.PID()
	case load.CrowdRelay:
		p, err := startBaseline(placement{name: "shared"})
		if err != nil {
			return load.CrowdResult{}, err
		}
		defer p.stop()
		o.URL, o.ServerPID = p.url, p.cmd.Process.Pid
	}
	return load.RunCrowd(ctx, o)
}

// centrifugoVersion reads the module version built into the binary.
func centrifugoVersion(bin string) string {
	if info, err := buildinfo.ReadFile(bin); err == nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "of unknown version"
}

// renderCrowd writes the generated part of the crowd section.
func renderCrowd(counts []int, runs int, rows []crowdRow, centrifugo string) string {
	var md strings.Builder
	md.WriteString(crowdBegin + "\n")
	fmt.Fprintf(&md, "Measured %s by `foxhole-bench -crowd` on %d cores, %s of memory, %s, against Centrifugo %s. ",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), memTotal(), runtime.Version(), centrifugo)
	md.WriteString("The tool shares the machine with the server it loads (nothing is pinned: the sessions need both cores), so every target is measured under the same competition for the cores. ")
	md.WriteString("The tool reads every target's messages alike: it finds its mark in each frame's or message's bytes and decodes no JSON, so what it takes from the cores per delivery does not depend on the target (the CPU columns show it). ")
	md.WriteString("10 sessions per user; 50 broadcasts, one every 100 ms; each target on a fresh server process. ")
	fmt.Fprintf(&md, "Each target ran %d times at each size, in rounds (Centrifugo with join/leave once: it takes minutes to bring 5,000 sessions or more live, and no goal reads it); a row is the run of median p99, and the p99 of every run follows it, since a machine whose two cores are all but full scatters the tail from one run to the next. ", runs)
	md.WriteString("CPU per delivery is counted from the first broadcast until the last delivery, for the server and for the tool.\n\n")
	md.WriteString("| sessions | target | live | lost | dup | p50 ms | p99 ms | p99 ms, every run | p99.9 ms | deliveries/s | server CPU µs / delivery | tool CPU µs / delivery | KiB per idle session | peak RSS MiB | presence msgs / session / s | presence bytes / session / s |\n")
	md.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(&md, "| %d | %s | error: %s |%s\n", r.sessions, r.variant.name, strings.ReplaceAll(r.err.Error(), "|", "/"), strings.Repeat(" |", 13))
			continue
		}
		s := r.res
		every := make([]string, len(r.runs))
		for i, run := range r.runs {
			every[i] = fmt.Sprintf("%.0f", run.P99)
		}
		fmt.Fprintf(&md, "| %d | %s | %d | %d | %d | %.1f | %.1f | %s | %.1f | %.0f | %.2f | %.2f | %.1f | %.0f | %.2f | %.0f |\n",
			r.sessions, r.variant.name, s.Live, s.Lost, s.Duplicates, s.P50, s.P99, strings.Join(every, ", "), s.P999, s.PerSecond,
			s.ServerCPUPerDelivery, s.ToolCPUPerDelivery, s.IdleBytesPerSession/1024, float64(s.PeakRSS)/(1<<20), s.PresenceMessagesPerSecond, s.PresenceBytesPerSecond)
	}
	md.WriteString("\n![p99 delivery latency against sessions, one line per target](bench-crowd.png)\n\n")

	md.WriteString("#### Goals\n\n| goal | sessions | figures | status |\n|---|---|---|---|\n")
	find := func(n int, name string) (load.CrowdResult, bool) {
		for _, r := range rows {
			if r.sessions == n && r.variant.name == name && r.err == nil {
				return r.res, true
			}
		}
		return load.CrowdResult{}, false
	}
	on, off := crowdVariants[0].name, crowdVariants[1].name
	centOn, centOff := crowdVariants[2].name, crowdVariants[3].name
	for _, n := range []int{5000, 10000} {
		for _, name := range []string{on, off} {
			goal := name + ": all live, 0 lost, 0 duplicates"
			r, ok := find(n, name)
			if !ok {
				fmt.Fprintf(&md, "| %s | %d | not measured | — |\n", goal, n)
				continue
			}
			status := "missed"
			if r.Live == r.Sessions && r.Lost == 0 && r.Duplicates == 0 {
				status = "**met**"
			}
			fmt.Fprintf(&md, "| %s | %d | live %d of %d, %d lost, %d duplicates | %s |\n", goal, n, r.Live, r.Sessions, r.Lost, r.Duplicates, status)
		}
	}
	for _, n := range counts {
		f, okF := find(n, on)
		c, okC := find(n, centOff)
		if !okF || !okC {
			fmt.Fprintf(&md, "| %s p99 ≤ %s p99 | %d | not measured | — |\n", on, centOff, n)
		} else {
			fmt.Fprintf(&md, "| %s p99 ≤ %s p99 | %d | %.1f vs %.1f ms | %s |\n", on, centOff, n, f.P99, c.P99, verdict(f.P99/c.P99, 1, false))
		}
	}
	for _, n := range counts {
		f, okF := find(n, on)
		c, okC := find(n, centOff)
		cOn, okOn := find(n, centOn)
		if !okF || !okC || c.IdleBytesPerSession <= 0 {
			fmt.Fprintf(&md, "| %s memory per idle session ≤ %s's | %d | not measured | — |\n", on, centOff, n)
			continue
		}
		also := ""
		if okOn {
			also = fmt.Sprintf("; %.1f KiB with join/leave on", cOn.IdleBytesPerSession/1024)
		}
		fmt.Fprintf(&md, "| %s memory per idle session ≤ %s's | %d | %.1f vs %.1f KiB%s | %s |\n", on, centOff, n,
			f.IdleBytesPerSession/1024, c.IdleBytesPerSession/1024, also, verdict(f.IdleBytesPerSession/c.IdleBytesPerSession, 1, false))
	}
	md.WriteString("\nThe ratio in each status is Foxhole's figure over Centrifugo's.\n\n")
	md.WriteString("Reproduce: `just bench-crowd` (installs Centrifugo when it is missing, builds `bin/foxhole` and `bin/foxhole-bench`, then runs `bin/foxhole-bench -crowd docs/benchmarks.md -local bin/foxhole`); `-sessions 200,1000` for a quick run at other sizes.\n")
	md.WriteString(crowdEnd + "\n")
	return md.String()
}

// crowdChart plots p99 delivery latency against sessions, a line per
// variant, on a logarithmic latency axis.
func crowdChart(path string, rows []crowdRow) error {
	p := plot.New()
	p.Title.Text = "A crowd of sessions: p99 delivery latency"
	p.X.Label.Text = "sessions (10 per user)"
	p.Y.Label.Text = "p99 delivery latency (ms, log scale)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	var args []any
	for _, v := range crowdVariants {
		var pts plotter.XYs
		for _, r := range rows {
			if r.variant.name == v.name && r.err == nil && r.res.P99 > 0 {
				pts = append(pts, plotter.XY{X: float64(r.sessions), Y: r.res.P99})
			}
		}
		if len(pts) > 0 {
			args = append(args, v.name, pts)
		}
	}
	if len(args) == 0 {
		return errors.New("crowd: nothing to chart")
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return save(p, path)
}

// spliceSection replaces what lies between begin and end in page (the
// markers included) with section, or appends section when the page has
// no such markers. splice does the same for the load tests' own markers,
// which it names itself.
func spliceSection(page, begin, end, section string) error {
	old, err := os.ReadFile(page)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if i, j := strings.Index(s, begin), strings.Index(s, end); i >= 0 && j > i {
		s = s[:i] + section + strings.TrimPrefix(s[j+len(end):], "\n")
	} else {
		s += "\n" + section
	}
	return os.WriteFile(page, []byte(s), 0o644)
}

// saveToolProfile saves a CPU profile of this tool, which reads every
// session, over the next d, to path.
func saveToolProfile(path string, d time.Duration) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	if pprof.StartCPUProfile(f) == nil {
		time.Sleep(d)
		pprof.StopCPUProfile()
	}
}
