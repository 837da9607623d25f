package realtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/store"
)

// receive takes n stored events from sess's queue, failing on a gap, a
// duplicate or an event out of order.
func receive(t *testing.T, sess *Session, after int64, n int) {
	t.Helper()
	last := after
	deadline := time.After(10 * time.Second) // only keeps a broken build from hanging
	for got := 0; got < n; {
		batch, due, _ := sess.take(nil)
		if due {
			t.Fatal("the session fell behind")
		}
		for _, d := range batch {
			if d.id != last+1 {
				t.Fatalf("event %d after %d: want %d", d.id, last, last+1)
			}
			last = d.id
			got++
		}
		if got >= n {
			break
		}
		select {
		case <-sess.wake:
		case <-sess.ended:
			t.Fatalf("session ended: %v", sess.err())
		case <-deadline:
			t.Fatalf("event %d never came", last+1)
		}
	}
	if last != after+int64(n) {
		t.Fatalf("got events up to %d, want %d", last, after+int64(n))
	}
}

func TestEventsFromTwoProcessesArriveInOrder(t *testing.T) {
	db, _, _ := twoProcesses(t)
	hub := inmem.NewHub()
	o := Options{QueueSize: 1024, MaxMessageChars: 100, RetainCount: 10000, RetainAge: time.Hour}
	a, b := NewService(db, hub, o, zerolog.Nop()), NewService(db, hub, o, zerolog.Nop())
	for _, s := range []*Service{a, b} {
		t.Cleanup(func() { s.Shutdown(context.Background()) })
	}
	onA, onB := open(t, a, "alice000", 1), open(t, b, "bob00000", 1)

	// Both processes store and publish at once: each publishes in its own
	// id order, but the two interleave, so events arrive out of order.
	const each = 200
	var wg sync.WaitGroup
	for _, p := range []struct {
		s    *Service
		user string
	}{{a, "alice000"}, {b, "bob00000"}} {
		wg.Go(func() {
			for i := range each {
				if _, err := p.s.Send(context.Background(), p.user, fmt.Sprint(i), ""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	receive(t, onA, 0, 2*each)
	receive(t, onB, 0, 2*each)
}

func TestLostEventsAreReadBack(t *testing.T) {
	db, a, _ := twoProcesses(t)
	sess := open(t, a, "alice000", 1)
	ctx := context.Background()
	if _, err := a.Send(ctx, "alice000", "heard", ""); err != nil {
		t.Fatal(err)
	}
	receive(t, sess, 0, 1)
	// Stored, but never published: what a hub loses across a reconnect.
	for i := range 3 {
		if err := db.AddEvent(ctx, &store.Event{SenderID: "bob00000", Body: []byte{}, CreatedAt: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	a.seq.lost()
	receive(t, sess, 1, 3)
	// And the next event published comes after them.
	if _, err := a.Send(ctx, "alice000", "after", ""); err != nil {
		t.Fatal(err)
	}
	receive(t, sess, 4, 1)
}

func TestLostRevocationsAreReadBack(t *testing.T) {
	db, a, _ := twoProcesses(t)
	sess := open(t, a, "alice000", 1)
	bob := open(t, a, "bob00000", 1)
	// Rotated, but the news never reached this process.
	if _, err := db.RotateSecret(context.Background(), "alice000", []byte("new")); err != nil {
		t.Fatal(err)
	}
	a.recheckRevocations() // what the hub's lost callback starts
	waitEnded(t, sess)
	if err := bob.err(); err != nil {
		t.Errorf("bob's session ended too: %v", err)
	}
}
