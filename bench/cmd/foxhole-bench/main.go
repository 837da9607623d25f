// Command foxhole-bench loads a running Foxhole, or one it starts itself,
// with one scenario and reports throughput, errors by code and latency
// percentiles. The baseline-* scenarios load bare handlers doing the least
// work of each kind of call (verifying a token, signing one, relaying
// frames, writing a file), the ceilings Foxhole is measured against. The
// crowd set holds thousands of sessions on Foxhole, on Centrifugo and on
// the bare relay, and measures delivery, memory and presence traffic.
//
//	foxhole-bench -scenario profile -protocol connect-json -c 64 -d 10s
//	foxhole-bench -local ./bin/foxhole -pin 0:1 -scenario register -rate 2000 -json
//	foxhole-bench -local ./bin/foxhole -crowd docs/benchmarks.md -sessions 200,1000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"foxhole.dev/foxhole/bench/load"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/gctune"
	"foxhole.dev/foxhole/internal/testutil"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

func main() {
	var (
		url      = flag.String("url", "http://127.0.0.1:8080", "Foxhole to load; for stream and ws, several processes of one service separated by commas (subscribers spread over them in turn, broadcasts sent to the first)")
		local    = flag.String("local", "", "path of a foxhole binary to start on a free port and fresh data dir instead of -url; its memory is reported")
		scenario = flag.String("scenario", "profile", "one of "+strings.Join(append(load.Unary, "upload", "download", "stream", "ws", "baseline-jwt", "baseline-token", "baseline-ws", "baseline-disk"), ", "))
		protocol = flag.String("protocol", "connect-json", "one of "+strings.Join(load.ProtocolNames(), ", "))
		over     = flag.String("transport", "", "for the unary scenarios and their baselines: h1 (HTTP/1.1, a connection per caller), h2 (HTTP/2, one connection) or h2xN (HTTP/2, N connections); empty: h1 for http-json, else h2")
		c        = flag.Int("c", 64, "concurrent callers (closed loop), or calls in flight at most (open loop)")
		d        = flag.Duration("d", 10*time.Second, "measured duration")
		warmup   = flag.Duration("warmup", 2*time.Second, "unmeasured warm-up before it")
		rate     = flag.Float64("rate", 0, "calls per second, open loop; 0: closed loop")
		size     = flag.String("size", "1MiB", "file size for upload, download and baseline-disk")
		subs     = flag.Int("subscribers", 1000, "subscribers for stream, ws and baseline-ws")
		every    = flag.Duration("every", 100*time.Millisecond, "time between broadcasts for stream, ws and baseline-ws")
		asJSON   = flag.Bool("json", false, "print the result as JSON")
		pin      = flag.String("pin", "", "SERVER:TOOL CPU lists, such as 0:1: the server -local starts (or the baseline) runs on the first, this tool on the second; empty: both anywhere")
		page     = flag.String("report", "", "run the standard set against -local and write its figures, charts and profiles into this page (docs/benchmarks.md), pinned and sharing the cores")
		serve    = flag.String("serve-baseline", "", "serve the baselines on this address until interrupted (the report starts them this way)")
		crowdTo  = flag.String("crowd", "", "run the crowd set with -local (Foxhole with presence on and off, Centrifugo with join/leave on and off, the bare relay; centrifugo must be on PATH) and write its section of this page (docs/benchmarks.md)")
		sessions = flag.String("sessions", "1000,2000,5000,10000", "session counts of -crowd, separated by commas")
		runs     = flag.Int("runs", 3, "with -crowd: runs of each target at each size; the page shows the run of median p99")
		targets  = flag.String("targets", "", "with -crowd: only these targets (foxhole, centrifugo, relay; separated by commas), printed but not written into the page; empty: all")
		profiles = flag.String("profiles", "", "with -crowd: save a CPU profile of each Foxhole server while it broadcasts, as profiles/crowd-<sessions>-<presence>.cpu.pprof in this folder")
	)
	flag.Parse()
	if *serve != "" {
		if err := serveBaseline(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *page != "" {
		if *local == "" {
			fmt.Fprintln(os.Stderr, "foxhole-bench: -report needs -local")
			os.Exit(2)
		}
		if err := report(*local, *page); err != nil {
			fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *crowdTo != "" {
		counts, err := parseSessions(*sessions)
		if err != nil {
			fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
			os.Exit(2)
		}
		if *local == "" {
			fmt.Fprintln(os.Stderr, "foxhole-bench: -crowd needs -local")
			os.Exit(2)
		}
		if err := crowd(*local, *crowdTo, counts, max(1, *runs), *targets, *profiles); err != nil {
			fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
			os.Exit(1)
		}
		return
	}
	n, err := config.ParseSize(*size)
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "foxhole-bench: -size", err)
		os.Exit(2)
	}
	place, err := parsePlacement(*pin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
		os.Exit(2)
	}
	fan := load.FanoutOptions{Subscribers: *subs, Interval: *every, Broadcasts: max(1, int(*d / *every))}
	if err := run(*url, *local, place, *scenario, *protocol, *over, *c, *d, *warmup, *rate, n, fan, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
		os.Exit(1)
	}
}

func run(url, local string, place placement, scenario, protocol, transport string, c int, d, warmup time.Duration, rate float64, size int64, fan load.FanoutOptions, asJSON bool) error {
	if c < 1 || d <= 0 || warmup < 0 || rate < 0 {
		return fmt.Errorf("-c must be at least 1, -d positive, -warmup and -rate not negative")
	}
	ctx := context.Background()
	opts := load.Options{Concurrency: c, Duration: d, Warmup: warmup, Rate: rate}
	var server *process
	var err error
	switch {
	case strings.HasPrefix(scenario, "baseline-") && scenario != "baseline-disk":
		if server, err = startBaseline(place); err != nil {
			return err
		}
		defer server.stop()
	case local != "" && scenario != "baseline-disk":
		if server, err = startLocal(local, place); err != nil {
			return err
		}
		defer server.stop()
		url = server.url
	}
	unpin, err := place.pinTool()
	if err != nil {
		return err
	}
	defer unpin()

	var res load.Result
	var newOp func(int) (load.Op, error)
	switch scenario {
	case "baseline-jwt", "baseline-token":
		// Loaded exactly as Foxhole would be, in the same protocol over
		// the same transport.
		t, err := load.NewBaselineTarget(server.url, protocol, transport)
		if err != nil {
			return err
		}
		if newOp, err = t.UnaryOp(ctx, map[string]string{"baseline-jwt": "profile", "baseline-token": "token"}[scenario]); err != nil {
			return err
		}
	case "baseline-disk":
		dir, err := os.MkdirTemp("", "foxhole-bench-disk-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		newOp, protocol = load.DiskOp(dir, size), "disk"
	case "baseline-ws", "stream", "ws":
		fan.Transport, protocol = scenario, "websocket"
		if scenario == "stream" {
			protocol = "connect"
		}
		if scenario == "baseline-ws" {
			fan.Transport, url = "ws", load.WSBaselineURL(server.url)
		}
		if res, err = load.RunFanout(ctx, url, fan); err != nil {
			return err
		}
	default:
		t, err := load.NewTarget(url, protocol, transport)
		if err != nil {
			return err
		}
		switch scenario {
		case "upload":
			newOp = t.UploadOp(ctx, size)
		case "download":
			newOp = t.DownloadOp(ctx, size)
		default:
			if newOp, err = t.UnaryOp(ctx, scenario); err != nil {
				return err
			}
		}
	}
	if newOp != nil {
		if server != nil {
			opts.ServerCPU = server.cpu
		}
		if res, err = load.Run(ctx, opts, newOp); err != nil {
			return err
		}
	}
	res.Scenario, res.Protocol = scenario, protocol
	if server != nil {
		res.ServerRSS = server.rss()
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("%s over %s, %d callers", res.Scenario, res.Protocol, res.Concurrency)
	if res.Rate > 0 {
		fmt.Printf(", open loop at %.0f/s", res.Rate)
	}
	fmt.Printf("\n  %d calls, %.0f/s\n  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f\n",
		res.Requests, res.RPS, res.P50, res.P90, res.P99, res.P999)
	for _, code := range res.ErrorCodes() {
		fmt.Printf("  errors %s: %d\n", code, res.Errors[code])
	}
	if res.ServerCPU > 0 {
		fmt.Printf("  server CPU: %.2f s, %.0f calls per CPU-second\n", res.ServerCPU, res.PerCPUSecond())
	}
	if res.ServerRSS > 0 {
		fmt.Printf("  server RSS: %.1f MiB\n", float64(res.ServerRSS)/(1<<20))
	}
	return nil
}

// process is a foxhole, or the baselines, started by the tool.
type process struct {
	url   string
	pprof string // address of its pprof listener; empty for the baselines
	cmd   *exec.Cmd
	dir   string
}

// startLocal starts the foxhole binary bin on a free port and a fresh data
// dir, where place puts the server.
func startLocal(bin string, place placement) (*process, error) {
	dir, err := os.MkdirTemp("", "foxhole-bench-")
	if err != nil {
		return nil, err
	}
	addr, err := backends.PickAddr()
	if err != nil {
		return nil, err
	}
	pprof, err := backends.PickAddr()
	if err != nil {
		return nil, err
	}
	cmd := place.command(bin)
	cmd.Env = append(os.Environ(), "FOXHOLE_ADDR="+addr, "FOXHOLE_PPROF_ADDR="+pprof, "FOXHOLE_DATA_DIR="+filepath.Join(dir, "data"),
		"FOXHOLE_LOG_LEVEL=warn", "FOXHOLE_LOG_FORMAT=json", "FOXHOLE_MESSAGE_RATE=100000", "FOXHOLE_MESSAGE_BURST=100000",
		// All load comes from one address, which the limit per address on
		// Register and CreateToken would refuse after its burst, and the cap
		// on sessions per address past 256 streams and WebSockets.
		"FOXHOLE_AUTH_RATE=0", "FOXHOLE_MAX_SESSIONS_PER_ADDR=10000000")
	p := &process{url: "http://" + addr, pprof: pprof, cmd: cmd, dir: dir}
	return p, p.start(p.url + "/readyz")
}

// startBaseline runs the baselines in a process of their own, this tool
// serving them, where place puts the server: the same footing as Foxhole.
func startBaseline(place placement) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := backends.PickAddr()
	if err != nil {
		return nil, err
	}
	p := &process{url: "http://" + addr, cmd: place.command(self, "-serve-baseline", addr)}
	return p, p.start(p.url + "/healthz")
}

// start starts p and waits until ready answers 200.
func (p *process) start(ready string) error {
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(ready); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	p.stop()
	return fmt.Errorf("%s did not become ready in 30s", p.cmd.Path)
}

// serveBaseline serves the baselines on addr until SIGINT or SIGTERM. Its
// garbage collector is paced as Foxhole's is, by FOXHOLE_GC_HEAP_FLOOR, so
// that a ratio compares the handlers and not two ways of pacing the
// collector.
func serveBaseline(addr string) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := load.ServeBaseline(ln)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go gctune.Run(ctx, uint64(cfg.GCHeapFloor), time.Second)
	<-ctx.Done()
	return srv.Close()
}

func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// cpu returns the CPU time, user and system, the process has used so far.
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command's name, which closes with the last ')':
	// state is the first, utime and stime the 12th and 13th, in ticks of
	// 1/100 s.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// rss returns the server's peak resident set size.
func (p *process) rss() int64 {
	return testutil.ProcessMemory(strconv.Itoa(p.cmd.Process.Pid), "VmHWM")
}
