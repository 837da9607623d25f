package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
				if _, err := p.s.Send(context.Background(), p.user, fmt.Sprint(i), "", ""); err != nil {
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
	if _, err := a.Send(ctx, "alice000", "heard", "", ""); err != nil {
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
	if _, err := a.Send(ctx, "alice000", "after", "", ""); err != nil {
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

// failingReads is the real store, except that EventsBetween, the read the
// sequencer fills gaps with, fails while fail is above zero, counting down.
type failingReads struct {
	*store.Store
	fail      atomic.Int64
	succeeded atomic.Int64 // EventsBetween calls that read
}

func (f *failingReads) EventsBetween(ctx context.Context, after, through int64, limit int) ([]store.Event, error) {
	if f.fail.Add(-1) >= 0 {
		return nil, errors.New("injected read failure")
	}
	f.succeeded.Add(1)
	return f.Store.EventsBetween(ctx, after, through, limit)
}

// TestSequencerReadFailuresMarkSessionsBehind makes the sequencer's reads
// fail while the hub loses messages and while live events arrive after a
// gap: the running subscriber gets every event anyway, once each and in
// order, read back by its own catch-up; the sequencer keeps trying, and
// once its reads work it hands on lost events itself again.
func TestSequencerReadFailuresMarkSessionsBehind(t *testing.T) {
	ctx := context.Background()
	db := &failingReads{Store: testDB(t, sameName, "alice000", "bob00000")}
	svc := NewService(db, inmem.NewHub(), Options{QueueSize: 64, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour}, zerolog.Nop())
	t.Cleanup(func() { svc.Shutdown(ctx) })

	got := make(chan int64, 100)
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- svc.Subscribe(subCtx, Subscription{UserID: "alice000", TokenVersion: 1, SkipPresence: true}, sendFunc(func(d *Delivery) error {
			if d.id != 0 {
				got <- d.id
			}
			return nil
		}))
	}()
	waitSessions(t, svc, 1)
	var last int64
	expect := func(through int64) {
		t.Helper()
		for last < through {
			select {
			case id := <-got:
				if id != last+1 {
					t.Fatalf("the subscriber got event %d after %d, want %d", id, last, last+1)
				}
				last = id
			case err := <-done:
				t.Fatalf("the subscriber ended after event %d: %v", last, err)
			case <-time.After(20 * time.Second): // only keeps a broken build from hanging
				t.Fatalf("the subscriber never got event %d", last+1)
			}
		}
	}
	storeUnpublished := func(n int) {
		t.Helper()
		for i := range n {
			if err := db.AddEvent(ctx, &store.Event{SenderID: "bob00000", Body: []byte{}, CreatedAt: int64(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send := func() {
		t.Helper()
		if _, err := svc.Send(ctx, "bob00000", "hi", "", ""); err != nil {
			t.Fatal(err)
		}
	}

	send()
	expect(1)

	db.fail.Store(1 << 40) // the sequencer's reads fail from here
	// The hub lost events 2-4 (stored, never published) and says so.
	storeUnpublished(3)
	svc.seq.lost()
	expect(4)
	// Events 5 and 6 lost, then 7 arrives live: a gap the sequencer
	// cannot fill.
	storeUnpublished(2)
	send()
	expect(7)

	// Reads work again: the sequencer's retry of the failed lost-messages
	// fill succeeds, with nothing more told.
	db.fail.Store(0)
	deadline := time.Now().Add(30 * time.Second)
	for db.succeeded.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sequencer did not try its failed read again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// And it hands on lost events itself again.
	storeUnpublished(2)
	svc.seq.lost()
	expect(9)
	send()
	expect(10)
	if n := len(got); n > 0 {
		t.Fatalf("the subscriber got %d events more than were stored", n)
	}
}
