package load_test

import (
	"context"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/load"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestUnaryScenariosAgainstARealServer(t *testing.T) {
	srv := testutil.Start(t)
	short := load.Options{Concurrency: 4, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond}
	for _, protocol := range load.ProtocolNames() {
		target, err := load.NewTarget(srv.URL, protocol)
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

func TestOpenLoopKeepsItsRate(t *testing.T) {
	b, err := load.StartJWTBaseline()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, err := load.Run(context.Background(), load.Options{Concurrency: 8, Duration: time.Second, Rate: 200}, b.Op())
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
	srv := testutil.Start(t)
	target, _ := load.NewTarget(srv.URL, "connect-proto")
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
