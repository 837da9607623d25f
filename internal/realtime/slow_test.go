package realtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/pubsub/memory"
	"foxhole.dev/foxhole/internal/store"
)

// TestSlowConsumerIsCutOff runs the service on a real database with one
// subscriber whose connection stops taking events and one that keeps up:
// publishing never waits, the stuck one is cut off with ErrTooSlow, and the
// other receives everything.
func TestSlowConsumerIsCutOff(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range []string{"talker00", "stuck000", "fast0000"} {
		if err := db.CreateUser(ctx, &store.User{ID: id, SecretHash: []byte(id), ScreenName: id, TokenVersion: 1}); err != nil {
			t.Fatal(err)
		}
	}
	svc := NewService(db, memory.New(), Options{QueueSize: 4, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour}, zerolog.Nop())

	release := make(chan struct{})
	stuckDone := make(chan error, 1)
	var stuckGot int
	go func() {
		stuckDone <- svc.Subscribe(ctx, Subscription{UserID: "stuck000", TokenVersion: 1, SkipPresence: true}, func(*delivery) error {
			stuckGot++
			if stuckGot == 1 {
				<-release // the peer stops reading
			}
			return nil
		})
	}()
	fastGot := make(chan string, 1)
	fastCtx, stopFast := context.WithCancel(ctx)
	defer stopFast()
	go svc.Subscribe(fastCtx, Subscription{UserID: "fast0000", TokenVersion: 1, SkipPresence: true}, func(d *delivery) error {
		fastGot <- d.msg.GetEvent().GetChatMessage().GetContent()
		return nil
	})
	waitSessions(t, svc, 2)

	// Every send returns while the stuck subscriber holds its first event,
	// so publishing never waits on it; the fast one takes each event before
	// the next is sent, so it never falls behind however the machine
	// schedules it.
	const n = 50
	for i := range n {
		if _, err := svc.Send(ctx, "talker00", fmt.Sprint("m", i), ""); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-fastGot:
			if got != fmt.Sprint("m", i) {
				t.Fatalf("fast subscriber got %q, want m%d", got, i)
			}
		case <-time.After(10 * time.Second): // only keeps a broken build from hanging
			t.Fatalf("fast subscriber never got m%d", i)
		}
	}
	close(release)
	select {
	case err := <-stuckDone:
		if !errors.Is(err, ErrTooSlow) {
			t.Fatalf("stuck subscriber ended with %v, want ErrTooSlow", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stuck subscriber was not cut off")
	}
	if stuckGot >= n {
		t.Errorf("stuck subscriber got all %d events", stuckGot)
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
