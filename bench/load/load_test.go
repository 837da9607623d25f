package load_test

import (
	"context"
	"testing"
	"time"

	"foxhole.dev/foxhole/bench/load"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestUnaryScenariosAgainstARealServer(t *testing.T) {
	// Every call comes from one address: the limit per address on Register
	// and CreateToken is off, as for benchmarks, and so is the one on messages.
	srv := testutil.Start(t, func(c *config.Config) { c.AuthRate, c.MessageRate, c.MessageBurst = 0, 1e6, 1e6 })
	short := load.Options{Concurrency: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond}
	for _, protocol := range load.ProtocolNames() {
		target, err := load.NewTarget(srv.URL, protocol, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, scenario := range load.Unary {
			newOp, err := target.UnaryOp(context.Background(), scenario)
			if err != nil {
				t.Fatalf("%s: %v", scenario, err)
			}
			res, err := load.Run(context.Background(), short, newOp)
			if err != nil {
				t.Fatalf("%s over %s: %v", scenario, protocol, err)
			}
			if res.Requests == 0 || len(res.Errors) > 0 || res.P50 <= 0 || res.P99 < res.P50 {
				t.Errorf("%s over %s: %+v", scenario, protocol, res)
			}
		}
	}
}

// TestEveryTransport loads Foxhole and the baselines with the same
// targets, in every protocol over every transport, as the report does.
func TestEveryTransport(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.AuthRate = 0 })
	base, err := load.StartBaseline()
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	short := load.Options{Concurrency: 4, Duration: 200 * time.Millisecond}
	for _, transport := range load.Transports {
		for _, protocol := range load.ProtocolNames() {
			for name, at := range map[string]func(string, string, string) (*load.Target, error){"foxhole": load.NewTarget, "baseline": load.NewBaselineTarget} {
				url := map[string]string{"foxhole": srv.URL, "baseline": base.URL}[name]
				target, err := at(url, protocol, transport)
				if protocol == "grpc" && transport == "h1" {
					if err == nil {
						t.Errorf("gRPC over HTTP/1.1 accepted")
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, scenario := range []string{"profile", "token"} {
					newOp, err := target.UnaryOp(context.Background(), scenario)
					if err != nil {
						t.Fatal(err)
					}
					res, err := load.Run(context.Background(), short, newOp)
					if err != nil || res.Requests == 0 || len(res.Errors) > 0 {
						t.Errorf("%s %s over %s, %s: %+v, %v", name, scenario, protocol, transport, res, err)
					}
				}
			}
		}
	}
	if _, err := load.NewTarget(srv.URL, "connect", "h3"); err == nil {
		t.Error("an unknown transport was accepted")
	}
}

func TestOpenLoopKeepsItsRate(t *testing.T) {
	b, err := load.StartBaseline()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	target, err := load.NewBaselineTarget(b.URL, "connect", "h1")
	if err != nil {
		t.Fatal(err)
	}
	op, err := target.UnaryOp(context.Background(), "profile")
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(context.Background(), load.Options{Concurrency: 8, Duration: time.Second, Rate: 200}, op)
	if err != nil {
		t.Fatal(err)
	}
	// 200 calls were due in the measured second; the machine may be slow,
	// but the schedule, not the answers, decides how many start.
	if res.Requests < 150 || res.Requests > 250 || len(res.Errors) > 0 {
		t.Errorf("open loop at 200/s for 1s: %+v", res)
	}
}

func TestErrorsAreCountedByCode(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.AuthRate, c.MessageRate, c.MessageBurst = 0, 1e6, 1e6 })
	target, _ := load.NewTarget(srv.URL, "connect", "")
	failing := func(int) (load.Op, error) {
		return func(ctx context.Context) error {
			_, err := target.NewUser(ctx) // fine
			if err != nil {
				return err
			}
			return context.DeadlineExceeded
		}, nil
	}
	res, err := load.Run(context.Background(), load.Options{Concurrency: 2, Duration: 200 * time.Millisecond}, failing)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["deadline_exceeded"] == 0 || res.Errors["deadline_exceeded"] != res.Requests {
		t.Errorf("errors = %v of %d calls", res.Errors, res.Requests)
	}
}

func TestFileAndRealtimeScenarios(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.MessageRate, c.MessageBurst = 1000, 1000 })
	target, err := load.NewTarget(srv.URL, load.HTTPJSON, "")
	if err != nil {
		t.Fatal(err)
	}
	short := load.Options{Concurrency: 2, Duration: 300 * time.Millisecond}
	for name, newOp := range map[string]func(int) (load.Op, error){
		"upload":        target.UploadOp(context.Background(), 256<<10),
		"download":      target.DownloadOp(context.Background(), 256<<10),
		"baseline-disk": load.DiskOp(t.TempDir(), 256<<10),
	} {
		res, err := load.Run(context.Background(), short, newOp)
		if err != nil || res.Requests == 0 || len(res.Errors) > 0 {
			t.Errorf("%s: %+v, %v", name, res, err)
		}
	}

	base, err := load.StartBaseline()
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	for name, run := range map[string]struct {
		url, transport string
	}{
		"foxhole ws":     {srv.URL, "ws"},
		"foxhole stream": {srv.URL, "stream"},
		"baseline ws":    {load.WSBaselineURL(base.URL), "ws"},
	} {
		res, err := load.RunFanout(context.Background(), run.url, load.FanoutOptions{Transport: run.transport, Subscribers: 10, Interval: 20 * time.Millisecond, Broadcasts: 5})
		if err != nil || res.Requests != 50 || len(res.Errors) > 0 || res.P99 <= 0 {
			t.Errorf("%s: %+v, %v", name, res, err)
		}
	}
}

// TestFanoutOverSeveralProcesses spreads the subscribers over two servers
// sharing one Valkey and one data dir, publishing on the first: every
// broadcast reaches every subscriber once, whichever process it is on.
func TestFanoutOverSeveralProcesses(t *testing.T) {
	v := testutil.StartValkey(t)
	dir := t.TempDir()
	shared := func(c *config.Config) { c.ValkeyURL, c.MessageRate, c.MessageBurst = v.URL, 1000, 1000 }
	a := testutil.StartIn(t, dir, shared)
	b := testutil.StartIn(t, dir, shared)
	for _, transport := range []string{"ws", "stream"} {
		res, err := load.RunFanout(context.Background(), a.URL+","+b.URL, load.FanoutOptions{Transport: transport, Subscribers: 10, Interval: 20 * time.Millisecond, Broadcasts: 5})
		if err != nil || res.Requests != 50 || len(res.Errors) > 0 || res.P99 <= 0 {
			t.Errorf("%s: %+v, %v", transport, res, err)
		}
	}
}

func TestMergeSumsRounds(t *testing.T) {
	m := load.Merge([]load.Result{
		{Requests: 100, RPS: 50, P99: 3, ServerCPU: 1, Errors: map[string]int64{"unknown": 1}},
		{Requests: 300, RPS: 150, P99: 1, ServerCPU: 2},
		{Requests: 200, RPS: 100, P99: 2, ServerCPU: 1},
	})
	if m.Requests != 600 || m.RPS != 100 || m.P99 != 2 || m.ServerCPU != 4 || m.Errors["unknown"] != 1 || m.PerCPUSecond() != 150 {
		t.Errorf("merged: %+v", m)
	}
}
