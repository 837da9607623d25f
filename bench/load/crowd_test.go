package load_test

import (
	"context"
	"testing"
	"time"

	"foxhole.dev/foxhole/bench/load"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// crowd is a small crowd: 5 users with 2 sessions each, 5 broadcasts.
func crowd(target string) load.CrowdOptions {
	return load.CrowdOptions{Target: target, Sessions: 10, PerUser: 2, Broadcasts: 5, Interval: 20 * time.Millisecond}
}

// checkCrowd fails unless every session was live and received every
// broadcast once.
func checkCrowd(t *testing.T, name string, res load.CrowdResult, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s: %+v", name, res)
	if res.Live != 10 || res.Users != 5 || res.Expected != 50 || res.Delivered != 50 || res.Lost != 0 || res.Duplicates != 0 || res.PublishErrors != 0 || res.P99 <= 0 {
		t.Errorf("%s: %+v", name, res)
	}
}

func TestCrowdOnFoxhole(t *testing.T) {
	srv := testutil.Start(t, func(c *config.Config) { c.AuthRate, c.MessageRate, c.MessageBurst = 0, 1e6, 1e6 })
	for _, presence := range []bool{true, false} {
		o := crowd(load.CrowdFoxhole)
		o.URL, o.Presence = srv.URL, presence
		res, err := load.RunCrowd(context.Background(), o)
		checkCrowd(t, map[bool]string{true: "presence on", false: "presence off"}[presence], res, err)
		// Five users arriving are announced to the others; without
		// presence nothing is.
		if presence != (res.PresenceMessages > 0) || presence != (res.PresenceBytes > 0) {
			t.Errorf("presence %v: %d presence messages, %d bytes", presence, res.PresenceMessages, res.PresenceBytes)
		}
	}
}

func TestCrowdOnTheRelay(t *testing.T) {
	b, err := load.StartBaseline()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o := crowd(load.CrowdRelay)
	o.URL = b.URL
	res, err := load.RunCrowd(context.Background(), o)
	checkCrowd(t, "relay", res, err)
	if res.PresenceMessages != 0 {
		t.Errorf("relay: %d presence messages", res.PresenceMessages)
	}
}

// TestCrowdOnCentrifugo needs the centrifugo binary on PATH (CI installs
// it); without it the test fails and says how to install it.
func TestCrowdOnCentrifugo(t *testing.T) {
	for _, joinLeave := range []bool{true, false} {
		c, err := load.StartCentrifugo(joinLeave)
		if err != nil {
			t.Fatal(err)
		}
		o := crowd(load.CrowdCentrifugo)
		o.Centrifugo, o.ServerPID = c, c.PID()
		res, err := load.RunCrowd(context.Background(), o)
		c.Close()
		name := map[bool]string{true: "join/leave on", false: "join/leave off"}[joinLeave]
		checkCrowd(t, name, res, err)
		if joinLeave != (res.PresenceMessages > 0) || res.PeakRSS <= 0 {
			t.Errorf("%s: %d presence messages, peak RSS %d", name, res.PresenceMessages, res.PeakRSS)
		}
	}
}
