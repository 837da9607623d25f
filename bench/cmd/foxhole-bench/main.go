// Command foxhole-bench loads a running Foxhole, or one it starts itself,
// with one scenario and reports throughput, errors by code and latency
// percentiles; the baseline-jwt scenario loads a bare net/http handler that
// verifies the same kind of token, the ceiling for an authenticated call.
//
//	foxhole-bench -scenario profile -protocol connect-json -c 64 -d 10s
//	foxhole-bench -local ./bin/foxhole -scenario register -rate 2000 -json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"foxhole.dev/foxhole/bench/load"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func main() {
	var (
		url      = flag.String("url", "http://127.0.0.1:8080", "Foxhole to load; for stream and ws, several processes of one service separated by commas (subscribers spread over them in turn, broadcasts sent to the first)")
		local    = flag.String("local", "", "path of a foxhole binary to start on a free port and fresh data dir instead of -url; its memory is reported")
		scenario = flag.String("scenario", "profile", "one of "+strings.Join(append(load.Unary, "upload", "download", "stream", "ws", "baseline-jwt", "baseline-ws", "baseline-disk"), ", "))
		protocol = flag.String("protocol", "connect-json", "one of "+strings.Join(load.ProtocolNames(), ", "))
		c        = flag.Int("c", 64, "concurrent callers (closed loop), or calls in flight at most (open loop)")
		d        = flag.Duration("d", 10*time.Second, "measured duration")
		warmup   = flag.Duration("warmup", 2*time.Second, "unmeasured warm-up before it")
		rate     = flag.Float64("rate", 0, "calls per second, open loop; 0: closed loop")
		size     = flag.String("size", "1MiB", "file size for upload, download and baseline-disk")
		subs     = flag.Int("subscribers", 1000, "subscribers for stream, ws and baseline-ws")
		every    = flag.Duration("every", 100*time.Millisecond, "time between broadcasts for stream, ws and baseline-ws")
		asJSON   = flag.Bool("json", false, "print the result as JSON")
		page     = flag.String("report", "", "run the standard set against -local and write its figures, charts and profiles into this page (docs/benchmarks.md)")
	)
	flag.Parse()
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
	n, err := config.ParseSize(*size)
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "foxhole-bench: -size", err)
		os.Exit(2)
	}
	fan := load.FanoutOptions{Subscribers: *subs, Interval: *every, Broadcasts: max(1, int(*d / *every))}
	if err := run(*url, *local, *scenario, *protocol, *c, *d, *warmup, *rate, n, fan, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "foxhole-bench:", err)
		os.Exit(1)
	}
}

func run(url, local, scenario, protocol string, c int, d, warmup time.Duration, rate float64, size int64, fan load.FanoutOptions, asJSON bool) error {
	if c < 1 || d <= 0 || warmup < 0 || rate < 0 {
		return fmt.Errorf("-c must be at least 1, -d positive, -warmup and -rate not negative")
	}
	ctx := context.Background()
	opts := load.Options{Concurrency: c, Duration: d, Warmup: warmup, Rate: rate}
	var server *process
	if local != "" && !strings.HasPrefix(scenario, "baseline-") {
		var err error
		if server, err = startLocal(local); err != nil {
			return err
		}
		defer server.stop()
		url = server.url
	}

	var res load.Result
	var newOp func(int) (load.Op, error)
	var err error
	switch scenario {
	case "baseline-jwt":
		b, err := load.StartJWTBaseline()
		if err != nil {
			return err
		}
		defer b.Close()
		newOp, protocol = b.Op(), load.HTTPJSON
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
			b, err := load.StartWSBaseline()
			if err != nil {
				return err
			}
			defer b.Close()
			fan.Transport, url = "ws", b.URL
		}
		if res, err = load.RunFanout(ctx, url, fan); err != nil {
			return err
		}
	default:
		t, err := load.NewTarget(url, protocol)
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
	if res.ServerRSS > 0 {
		fmt.Printf("  server RSS: %.1f MiB\n", float64(res.ServerRSS)/(1<<20))
	}
	return nil
}

// process is a foxhole started by the tool.
type process struct {
	url   string
	pprof string // address of its pprof listener
	cmd   *exec.Cmd
	dir   string
}

func startLocal(bin string) (*process, error) {
	dir, err := os.MkdirTemp("", "foxhole-bench-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pprof, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "FOXHOLE_ADDR="+addr, "FOXHOLE_PPROF_ADDR="+pprof, "FOXHOLE_DATA_DIR="+filepath.Join(dir, "data"),
		"FOXHOLE_LOG_LEVEL=warn", "FOXHOLE_LOG_FORMAT=json", "FOXHOLE_MESSAGE_RATE=100000", "FOXHOLE_MESSAGE_BURST=100000",
		// All load comes from one address, which the limit per address on
		// Register and CreateToken would refuse after its burst.
		"FOXHOLE_AUTH_RATE=0")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{url: "http://" + addr, pprof: pprof, cmd: cmd, dir: dir}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(p.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.stop()
	return nil, fmt.Errorf("%s did not become ready in 30s", bin)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (p *process) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	p.cmd.Wait()
	os.RemoveAll(p.dir)
}

// rss returns the server's peak resident set size.
func (p *process) rss() int64 {
	return testutil.ProcessMemory(strconv.Itoa(p.cmd.Process.Pid), "VmHWM")
}
