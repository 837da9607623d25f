package realtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/inmem"
)

// slowService runs the service on a real database with a tiny queue, and
// the users given.
func slowService(t *testing.T, o Options, users ...string) *Service {
	t.Helper()
	ctx := context.Background()
	db := testDB(t, sameName, users...)
	o.QueueSize, o.MaxMessageChars, o.RetainCount, o.RetainAge = 4, 100, 1000, time.Hour
	svc := NewService(db, inmem.NewHub(), o, zerolog.Nop())
	t.Cleanup(func() { svc.Shutdown(ctx) })
	return svc
}

// sessionOf returns the one session of user.
func sessionOf(t *testing.T, svc *Service, user string) *Session {
	t.Helper()
	var found *Session
	svc.live.each(func(s *Session) {
		if s.user == user {
			found = s
		}
	})
	if found == nil {
		t.Fatalf("no session of %s", user)
	}
	return found
}

// TestSlowSubscriberCatchesUp blocks one subscriber's connection while a
// burst overflows its queue, then lets it read again: it is not cut off,
// and receives every event exactly once, in id order, the ones its queue
// had no room for read back from the database. Publishing never waits on
// it, and a subscriber that keeps up receives everything live.
func TestSlowSubscriberCatchesUp(t *testing.T) {
	ctx := context.Background()
	// Behind for an hour at most: this test never comes near.
	svc := slowService(t, Options{MaxBehind: time.Hour}, "talker00", "slow0000", "fast0000")

	release := make(chan struct{})
	slowDone := make(chan error, 1)
	slowGot := make(chan *Delivery, 1000)
	slowCtx, stopSlow := context.WithCancel(ctx)
	defer stopSlow()
	go func() {
		first := true
		slowDone <- svc.Subscribe(slowCtx, Subscription{UserID: "slow0000", TokenVersion: 1, SkipPresence: true}, sendFunc(func(d *Delivery) error {
			if first {
				first = false
				<-release // the peer stops reading for a while
			}
			slowGot <- d
			return nil
		}))
	}()
	fastGot := make(chan string, 1)
	fastCtx, stopFast := context.WithCancel(ctx)
	defer stopFast()
	go svc.Subscribe(fastCtx, Subscription{UserID: "fast0000", TokenVersion: 1, SkipPresence: true}, sendFunc(func(d *Delivery) error {
		fastGot <- d.msg.GetEvent().GetChatMessage().GetContent()
		return nil
	}))
	waitSessions(t, svc, 2)

	// Every send returns while the slow subscriber holds its first event,
	// so publishing never waits on it; the fast one takes each event before
	// the next is sent, so it never falls behind however the machine
	// schedules it. Once it has the last, every event has been offered to
	// the slow one too: the hub offers an event to every session before the
	// next.
	const n = 50
	var ids []int64
	for i := range n {
		ev, err := svc.Send(ctx, "talker00", fmt.Sprint("m", i), "", "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.GetId())
		select {
		case got := <-fastGot:
			if got != fmt.Sprint("m", i) {
				t.Fatalf("fast subscriber got %q, want m%d", got, i)
			}
		case <-time.After(10 * time.Second): // only keeps a broken build from hanging
			t.Fatalf("fast subscriber never got m%d", i)
		}
	}
	slow := sessionOf(t, svc, "slow0000")
	slow.mu.Lock()
	behind := slow.due
	slow.mu.Unlock()
	if !behind {
		t.Fatal("the slow subscriber's queue of 4 took a burst of 50")
	}

	close(release)
	for i, want := range ids {
		select {
		case d := <-slowGot:
			if d.id != want || d.msg.GetEvent().GetChatMessage().GetContent() != fmt.Sprint("m", i) {
				t.Fatalf("slow subscriber's event %d is %d (%q), want %d (m%d)", i, d.id, d.msg.GetEvent().GetChatMessage().GetContent(), want, i)
			}
		case err := <-slowDone:
			t.Fatalf("slow subscriber ended after %d events: %v", i, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("slow subscriber never got m%d", i)
		}
	}
	// Caught up: the next event arrives live, once.
	ev, err := svc.Send(ctx, "talker00", "after", "", "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-slowGot:
		if d.id != ev.GetId() {
			t.Fatalf("after catching up the slow subscriber got event %d, want %d", d.id, ev.GetId())
		}
	case err := <-slowDone:
		t.Fatalf("slow subscriber ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("slow subscriber never got the event after its catch-up")
	}
	stopSlow()
	if err := <-slowDone; !errors.Is(err, context.Canceled) {
		t.Errorf("slow subscriber ended with %v, want its own cancellation", err)
	}
	if len(slowGot) > 0 {
		t.Errorf("slow subscriber got %d events more than were sent", len(slowGot))
	}
}

// TestStuckSubscriberIsCutOff stops one subscriber's connection for good:
// its queue overflows, it stays behind past the bound (a nanosecond here,
// so that the second event dropped is already too late), and it is cut off
// with ErrTooSlow, which ends its blocked send as a connection closing
// would.
func TestStuckSubscriberIsCutOff(t *testing.T) {
	ctx := context.Background()
	svc := slowService(t, Options{MaxBehind: time.Nanosecond}, "talker00", "stuck000")
	done := make(chan error, 1)
	var got int
	var ended <-chan struct{} // set before the first event is sent
	stuck := make(chan struct{}, 1)
	go func() {
		done <- svc.Subscribe(ctx, Subscription{UserID: "stuck000", TokenVersion: 1, SkipPresence: true}, sendFunc(func(*Delivery) error {
			got++
			stuck <- struct{}{}
			<-ended // never read
			return errors.New("connection closed")
		}))
	}()
	waitSessions(t, svc, 1)
	ended = sessionOf(t, svc, "stuck000").ended
	send := func(i int) {
		if _, err := svc.Send(ctx, "talker00", fmt.Sprint("m", i), "", ""); err != nil {
			t.Fatal(err)
		}
	}
	// The first event reaches the client, which stops reading; only then
	// do the others fill its queue (before, they could fill it before the
	// session's loop had taken the first).
	send(0)
	select {
	case <-stuck:
	case <-time.After(10 * time.Second): // only keeps a broken build from hanging
		t.Fatal("the first event never reached the subscriber")
	}
	for i := 1; i < 20; i++ {
		send(i)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrTooSlow) {
			t.Fatalf("stuck subscriber ended with %v, want ErrTooSlow", err)
		}
	case <-time.After(10 * time.Second): // only keeps a broken build from hanging
		t.Fatal("stuck subscriber was not cut off")
	}
	if got != 1 {
		t.Errorf("stuck subscriber was handed %d events, want the one it never finished", got)
	}
}

func waitSessions(t *testing.T, svc *Service, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for svc.live.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions open, want %d", svc.live.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
