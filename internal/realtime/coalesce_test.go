package realtime

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/store"
)

// These tests drive presence by hand: their services gather changes for an
// hour, so their own presence loops never look, and each test calls flush
// where an interval would end. Nothing depends on timing.

// presenceServices returns n services sharing one database and one hub, as
// processes sharing them would, with the users given at token version 1.
func presenceServices(t *testing.T, n, queue int, users ...string) []*Service {
	t.Helper()
	ctx := context.Background()
	db := testDB(t, func(id string) string { return "name of " + id }, users...)
	hub := inmem.NewHub()
	var svcs []*Service
	for range n {
		s := NewService(db, hub, Options{QueueSize: queue, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour, PresenceInterval: time.Hour}, zerolog.Nop())
		t.Cleanup(func() { s.Shutdown(ctx) })
		svcs = append(svcs, s)
	}
	return svcs
}

// flush ends a presence interval of s.
func flush(s *Service) { s.pres.flush(context.Background()) }

// listener is a session run as the handlers run theirs, passing on the
// presence events it sends.
type listener struct {
	t      *testing.T
	user   string
	got    chan *Delivery
	done   chan error
	cancel func()
	once   sync.Once
}

// listen opens a session of user on s and waits until its user's join is
// marked, so that the next flush counts it. send, when not nil, sends
// every event first; it may block.
func listen(t *testing.T, s *Service, user string, send func(*Delivery)) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{t: t, user: user, got: make(chan *Delivery, 1024), done: make(chan error, 1), cancel: cancel}
	ready := readySessions(s, user)
	go func() {
		l.done <- s.Subscribe(ctx, Subscription{UserID: user, TokenVersion: 1}, sendFunc(func(d *Delivery) error {
			if send != nil {
				send(d)
			}
			if d.msg.GetEvent().GetPresence() != nil {
				l.got <- d
			}
			return nil
		}))
	}()
	t.Cleanup(l.stop)
	deadline := time.Now().Add(10 * time.Second) // only keeps a broken build from hanging
	for readySessions(s, user) == ready {
		if time.Now().After(deadline) {
			t.Fatalf("the session of %s never joined", user)
		}
		time.Sleep(time.Millisecond)
	}
	return l
}

// readySessions counts the sessions of user that have asked for presence.
func readySessions(s *Service, user string) int {
	n := 0
	s.live.each(func(sess *Session) {
		if sess.user == user && sess.presence.Load() != presenceOff {
			n++
		}
	})
	return n
}

// stop ends the session and returns once it is closed, its leave counted.
func (l *listener) stop() {
	l.once.Do(func() {
		l.cancel()
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
			l.t.Errorf("the session of %s did not end", l.user)
		}
	})
}

// next returns the next presence event the session sent.
func (l *listener) next() *Delivery {
	l.t.Helper()
	select {
	case d := <-l.got:
		return d
	case <-time.After(10 * time.Second): // only keeps a broken build from hanging
		l.t.Fatalf("%s got no presence event", l.user)
		return nil
	}
}

// ids lists the users' ids, sorted.
func ids(refs []*foxholev1.UserRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.GetId())
	}
	slices.Sort(out)
	return out
}

// wantEvent checks that d is a presence event, a snapshot or not, with
// exactly the users joined and left given, and that it names a lone change
// in user and change too, for older clients.
func wantEvent(t *testing.T, d *Delivery, snapshot bool, joined, left []string) {
	t.Helper()
	pe := d.msg.GetEvent().GetPresence()
	if pe.GetSnapshot() != snapshot || !slices.Equal(ids(pe.GetJoined()), joined) || !slices.Equal(ids(pe.GetLeft()), left) {
		t.Fatalf("presence %v; want snapshot %v, joined %v, left %v", pe, snapshot, joined, left)
	}
	for _, u := range append(pe.GetJoined(), pe.GetLeft()...) {
		if u.GetScreenName() != "name of "+u.GetId() {
			t.Errorf("user %s named %q", u.GetId(), u.GetScreenName())
		}
	}
	wantUser, wantChange := "", foxholev1.PresenceEvent_CHANGE_UNSPECIFIED
	switch {
	case len(joined) == 1 && len(left) == 0:
		wantUser, wantChange = joined[0], foxholev1.PresenceEvent_CHANGE_JOINED
	case len(left) == 1 && len(joined) == 0:
		wantUser, wantChange = left[0], foxholev1.PresenceEvent_CHANGE_LEFT
	}
	if pe.GetUser().GetId() != wantUser || pe.GetChange() != wantChange {
		t.Errorf("presence %v names %q %v; want %q %v", pe, pe.GetUser().GetId(), pe.GetChange(), wantUser, wantChange)
	}
}

func TestPresenceSendsNetChangesOncePerInterval(t *testing.T) {
	s := presenceServices(t, 1, 64, "watcher0", "other000", "comer000", "goer0000", "back0000")[0]
	w := listen(t, s, "watcher0", nil)
	o := listen(t, s, "other000", nil)
	listen(t, s, "back0000", nil).stop()
	flush(s)
	wantEvent(t, w.next(), true, []string{"other000", "watcher0"}, nil)
	wantEvent(t, o.next(), true, []string{"other000", "watcher0"}, nil)

	// Within one interval: one user comes and goes, one comes, one comes
	// back, goes and comes back. Only the net changes go out, as one event
	// shared by every session.
	listen(t, s, "goer0000", nil).stop()
	c := listen(t, s, "comer000", nil)
	listen(t, s, "back0000", nil).stop()
	b := listen(t, s, "back0000", nil)
	flush(s)
	d := w.next()
	wantEvent(t, d, false, []string{"back0000", "comer000"}, nil)
	if o.next() != d {
		t.Error("two sessions got two copies of one presence event")
	}
	wantEvent(t, c.next(), true, []string{"back0000", "comer000", "other000", "watcher0"}, nil)
	wantEvent(t, b.next(), true, []string{"back0000", "comer000", "other000", "watcher0"}, nil)

	// The last change wins: gone, back, gone again is gone.
	b.stop()
	listen(t, s, "back0000", nil).stop()
	c.stop()
	flush(s)
	wantEvent(t, w.next(), false, nil, []string{"back0000", "comer000"})

	// An interval with no change sends nothing: the next event is the next
	// change.
	flush(s)
	listen(t, s, "goer0000", nil)
	flush(s)
	wantEvent(t, w.next(), false, []string{"goer0000"}, nil)
}

func TestPresenceCountsTabsOnce(t *testing.T) {
	s := presenceServices(t, 1, 64, "watcher0", "twotabs0", "probe000")[0]
	w := listen(t, s, "watcher0", nil)
	flush(s)
	wantEvent(t, w.next(), true, []string{"watcher0"}, nil)

	tab1 := listen(t, s, "twotabs0", nil)
	tab2 := listen(t, s, "twotabs0", nil)
	flush(s)
	wantEvent(t, w.next(), false, []string{"twotabs0"}, nil)
	wantEvent(t, tab1.next(), true, []string{"twotabs0", "watcher0"}, nil)
	wantEvent(t, tab2.next(), true, []string{"twotabs0", "watcher0"}, nil)

	// Closing one tab of two changes nothing: the next event is the
	// probe's coming, which follows it.
	tab1.stop()
	flush(s)
	listen(t, s, "probe000", nil)
	flush(s)
	wantEvent(t, w.next(), false, []string{"probe000"}, nil)

	tab2.stop()
	flush(s)
	wantEvent(t, w.next(), false, nil, []string{"twotabs0"})
}

// TestStalePresenceSessionGetsSnapshot blocks one session's sender while
// users come and go: its queue fills, it misses changes, and once it drains
// a snapshot brings it to the final state, without cutting it off.
func TestStalePresenceSessionGetsSnapshot(t *testing.T) {
	users := []string{"stuck000", "u0000000", "u1000000", "u2000000", "u3000000", "u4000000", "u5000000", "u6000000", "u7000000"}
	const queue = 4
	s := presenceServices(t, 1, queue, users...)[0]
	release := make(chan struct{})
	blocked := make(chan struct{})
	var once sync.Once
	stuck := listen(t, s, "stuck000", func(*Delivery) {
		once.Do(func() {
			close(blocked)
			<-release // the peer stops reading
		})
	})
	flush(s)
	<-blocked // holding its snapshot

	var others []*listener
	for _, u := range users[1:] {
		others = append(others, listen(t, s, u, nil))
		flush(s)
	}
	for _, l := range others[:3] {
		l.stop()
	}
	flush(s)
	if st := stuckSession(t, s).presence.Load(); st != presenceWant {
		t.Fatalf("the stuck session's presence state is %d, want stale (%d)", st, presenceWant)
	}

	close(release)
	view := map[string]bool{}
	apply := func(d *Delivery) {
		pe := d.msg.GetEvent().GetPresence()
		if pe.GetSnapshot() {
			clear(view)
		}
		for _, u := range pe.GetLeft() {
			delete(view, u.GetId())
		}
		for _, u := range pe.GetJoined() {
			view[u.GetId()] = true
		}
	}
	wantEvent(t, stuck.next(), true, []string{"stuck000"}, nil)
	apply(stuck.next()) // the queued changes, then nothing more until…
	for range queue - 1 {
		d := stuck.next()
		if d.msg.GetEvent().GetPresence().GetSnapshot() {
			t.Fatal("a snapshot before the queued changes")
		}
		apply(d)
	}
	// …the queue has room again, and the next interval brings a snapshot.
	flush(s)
	d := stuck.next()
	if !d.msg.GetEvent().GetPresence().GetSnapshot() {
		t.Fatalf("a stale session got %v, want a snapshot", d.msg.GetEvent().GetPresence())
	}
	apply(d)
	online, err := s.Online(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(view)), ids(online); !slices.Equal(got, want) {
		t.Errorf("the stale session sees %v online; ListPresence lists %v", got, want)
	}
	select {
	case err := <-stuck.done:
		t.Fatalf("the stale session ended: %v", err)
	default:
	}
	// It is live again: the next change comes as a change.
	others[3].stop()
	flush(s)
	wantEvent(t, stuck.next(), false, nil, []string{users[4]})
}

func stuckSession(t *testing.T, s *Service) *Session {
	t.Helper()
	var found *Session
	s.live.each(func(sess *Session) {
		if sess.user == "stuck000" {
			found = sess
		}
	})
	if found == nil {
		t.Fatal("no session of stuck000")
	}
	return found
}

// TestPresenceReconcileNamesTheRenamed changes an online user's screen
// name: the next comparison with the hub lists the user again, under the
// new name.
func TestPresenceReconcileNamesTheRenamed(t *testing.T) {
	s := presenceServices(t, 1, 64, "watcher0", "renamed0")[0]
	w := listen(t, s, "watcher0", nil)
	listen(t, s, "renamed0", nil)
	flush(s)
	wantEvent(t, w.next(), true, []string{"renamed0", "watcher0"}, nil)
	if _, err := s.db.(*store.Store).UpdateScreenName(context.Background(), "renamed0", "name of renamed0, again", 1); err != nil {
		t.Fatal(err)
	}
	s.pres.reconcile()
	flush(s)
	pe := w.next().msg.GetEvent().GetPresence()
	if len(pe.GetJoined()) != 1 || pe.GetJoined()[0].GetId() != "renamed0" || pe.GetJoined()[0].GetScreenName() != "name of renamed0, again" || len(pe.GetLeft()) != 0 {
		t.Fatalf("after the rename: %v", pe)
	}
}

// TestPresenceTrustsTheHubNotTheHint runs two processes on one hub: changes
// made in one reach the other's sessions; a hint that the hub contradicts
// changes nothing; a change no hint announced (its process died, or the
// hint was lost) arrives when the view is compared with the hub.
func TestPresenceTrustsTheHubNotTheHint(t *testing.T) {
	svcs := presenceServices(t, 2, 64, "alice000", "bob00000", "ghost000")
	a, b := svcs[0], svcs[1]
	w := listen(t, b, "bob00000", nil)
	flush(b)
	wantEvent(t, w.next(), true, []string{"bob00000"}, nil)

	alice := listen(t, a, "alice000", nil)
	flush(b)
	wantEvent(t, w.next(), false, []string{"alice000"}, nil)

	// A hint that the ghost came, which the hub does not confirm.
	a.announce(context.Background(), "ghost000", foxholev1.PresenceEvent_CHANGE_JOINED)
	flush(b)
	alice.stop()
	flush(b)
	wantEvent(t, w.next(), false, nil, []string{"alice000"})

	// The ghost comes and goes with no hint; the hub's lost callback, or the
	// periodic comparison, calls reconcile.
	hub := b.hub
	if _, err := hub.Join(context.Background(), "ghost000"); err != nil {
		t.Fatal(err)
	}
	b.pres.reconcile()
	flush(b)
	wantEvent(t, w.next(), false, []string{"ghost000"}, nil)
	if _, err := hub.Leave(context.Background(), "ghost000"); err != nil {
		t.Fatal(err)
	}
	b.pres.reconcile()
	flush(b)
	wantEvent(t, w.next(), false, nil, []string{"ghost000"})
}
