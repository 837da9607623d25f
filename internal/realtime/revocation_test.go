package realtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/store"
)

// twoProcesses returns two services on one database and one hub, as two
// Foxhole processes sharing them are, with users alice000 and bob00000 at
// token version 1.
func twoProcesses(t *testing.T) (db *store.Store, a, b *Service) {
	t.Helper()
	ctx := context.Background()
	db = testDB(t, sameName, "alice000", "bob00000")
	hub := inmem.NewHub()
	o := Options{QueueSize: 8, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour}
	a, b = NewService(db, hub, o, zerolog.Nop()), NewService(db, hub, o, zerolog.Nop())
	for _, s := range []*Service{a, b} {
		t.Cleanup(func() { s.Shutdown(ctx) })
	}
	return db, a, b
}

func open(t *testing.T, s *Service, user string, version int64) *Session {
	t.Helper()
	sess, err := s.Open(context.Background(), Subscription{UserID: user, TokenVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(context.Background()) })
	return sess
}

// waitEnded waits for sess to be told to end; the bound only keeps a
// broken build from hanging.
func waitEnded(t *testing.T, sess *Session) {
	t.Helper()
	select {
	case <-sess.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("session was not ended")
	}
}

func TestRevocationReachesOtherProcesses(t *testing.T) {
	db, a, b := twoProcesses(t)
	ctx := context.Background()
	old := open(t, b, "alice000", 1)
	bob := open(t, b, "bob00000", 1)
	v, err := db.RotateSecret(ctx, "alice000", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := open(t, b, "alice000", v) // a token issued after the rotation
	a.Revoke(ctx, "alice000", v)

	waitEnded(t, old) // the hub delivered the revocation to the other process
	if !errors.Is(old.err(), ErrRevoked) {
		t.Errorf("session of the old token ended with %v, want ErrRevoked", old.err())
	}
	// The in-process hub delivers synchronously: by now both have heard.
	if err := fresh.err(); err != nil {
		t.Errorf("session of the new token ended: %v", err)
	}
	if err := bob.err(); err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
	if err := old.Run(ctx, sendFunc(func(*Delivery) error { return nil })); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("run of a revoked session = %v, want unauthenticated", err)
	}
}

// A session that opens while a rotation is stored but not yet announced
// (or announced before it listened) ends at once.
func TestSessionOpenedDuringRotationEnds(t *testing.T) {
	db, _, b := twoProcesses(t)
	if _, err := db.RotateSecret(context.Background(), "alice000", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := open(t, b, "alice000", 1).err(); !errors.Is(err, ErrRevoked) {
		t.Errorf("session opened with a rotated token: %v, want ErrRevoked", err)
	}
}

// A WebSocket's frame that arrives after a rotation in another process,
// before the news of it, is not sent as the user.
func TestStaleSessionSendsNothing(t *testing.T) {
	db, _, b := twoProcesses(t)
	ctx := context.Background()
	sess := open(t, b, "alice000", 1)
	if _, err := sess.Send(ctx, "before", "", ""); err != nil {
		t.Fatalf("send before the rotation: %v", err)
	}
	if _, err := db.RotateSecret(ctx, "alice000", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Send(ctx, "after", "", ""); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("send after the rotation: %v, want unauthenticated", err)
	}
	if !errors.Is(sess.err(), ErrRevoked) {
		t.Errorf("the stale session goes on: %v", sess.err())
	}
	if _, err := sess.Send(ctx, "again", "", ""); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("send on the ended session: %v, want unauthenticated", err)
	}
	evs, err := db.EventsAfter(ctx, "alice000", 0, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Errorf("%d events stored, want only the one sent before the rotation", len(evs))
	}
}

func TestExpiredSessionEndsAndSendsNothing(t *testing.T) {
	_, _, b := twoProcesses(t)
	ctx := context.Background()
	sess, err := b.Open(ctx, Subscription{UserID: "alice000", TokenVersion: 1, Expires: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctx)
	waitEnded(t, sess) // the expiry timer fired
	if !errors.Is(sess.err(), ErrExpired) {
		t.Errorf("expired session ended with %v, want ErrExpired", sess.err())
	}
	if _, err := sess.Send(ctx, "late", "", ""); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("send on an expired session: %v, want unauthenticated", err)
	}
}

// refusingHub is a hub whose Publish fails while refuse is set, as one
// whose circuit breaker is open does, counting the revocations it refused
// and those it carried.
type refusingHub struct {
	*inmem.Hub
	refuse    atomic.Bool
	refused   atomic.Int64
	mu        sync.Mutex
	carried   []revocation
	attempted chan struct{}
}

func (h *refusingHub) Publish(ctx context.Context, msg []byte) error {
	env, _ := decodeEnvelope(msg)
	if env == nil || env.Revoke == nil {
		return h.Hub.Publish(ctx, msg)
	}
	if h.refuse.Load() {
		h.refused.Add(1)
		select {
		case h.attempted <- struct{}{}:
		default:
		}
		return errors.New("circuit breaker open")
	}
	h.mu.Lock()
	h.carried = append(h.carried, *env.Revoke)
	h.mu.Unlock()
	return h.Hub.Publish(ctx, msg)
}

// TestRefusedRevocationIsRepublished: a revocation the hub refused is
// published again in the background until it goes through, and the newer
// of two revocations of a user supersedes the older one. The other
// process does not recheck on its own here, so only the hub can end its
// session.
func TestRefusedRevocationIsRepublished(t *testing.T) {
	ctx := context.Background()
	db := testDB(t, sameName, "alice000", "bob00000")
	mem := inmem.NewHub()
	hub := &refusingHub{Hub: mem, attempted: make(chan struct{}, 1)}
	o := Options{QueueSize: 8, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour, RevocationCheck: time.Hour}
	a, b := NewService(db, hub, o, zerolog.Nop()), NewService(db, mem, o, zerolog.Nop())
	for _, s := range []*Service{a, b} {
		t.Cleanup(func() { s.Shutdown(ctx) })
	}
	old := open(t, b, "alice000", 1)

	hub.refuse.Store(true)
	v1, err := db.RotateSecret(ctx, "alice000", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	a.Revoke(ctx, "alice000", v1)
	v2, err := db.RotateSecret(ctx, "alice000", []byte("newer"))
	if err != nil {
		t.Fatal(err)
	}
	a.Revoke(ctx, "alice000", v2)
	// Refused by Revoke itself, then retried in the background.
	for hub.refused.Load() < 4 {
		select {
		case <-hub.attempted:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d attempts to publish the revocation", hub.refused.Load())
		}
	}
	if err := old.err(); err != nil {
		t.Fatalf("the session ended while the hub refused every revocation: %v", err)
	}
	hub.refuse.Store(false)
	waitEnded(t, old)
	if !errors.Is(old.err(), ErrRevoked) {
		t.Errorf("session ended with %v, want ErrRevoked", old.err())
	}
	// Once through, nothing is left to publish: only the newest went.
	for range 100 {
		a.pendingMu.Lock()
		n := len(a.pending)
		a.pendingMu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if len(hub.carried) != 1 || hub.carried[0].Version != v2 {
		t.Errorf("published %+v, want only version %d", hub.carried, v2)
	}
}

// TestLostRevocationEndsSessionsByRecheck: a revocation the hub took and
// lost ends the other process's session of the old token by the periodic
// recheck alone.
func TestLostRevocationEndsSessionsByRecheck(t *testing.T) {
	ctx := context.Background()
	db := testDB(t, sameName, "alice000", "bob00000")
	o := Options{QueueSize: 8, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour, RevocationCheck: 100 * time.Millisecond}
	// Each on a hub of its own: nothing published by one reaches the other.
	var heard atomic.Int64
	o.OnRevoke = func(_ string, v int64) { heard.Store(v) }
	b := NewService(db, inmem.NewHub(), o, zerolog.Nop())
	t.Cleanup(func() { b.Shutdown(ctx) })
	old, bob := open(t, b, "alice000", 1), open(t, b, "bob00000", 1)
	v, err := db.RotateSecret(ctx, "alice000", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := open(t, b, "alice000", v)
	waitEnded(t, old)
	if err := bob.err(); err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
	if err := fresh.err(); err != nil {
		t.Errorf("the new token's session ended: %v", err)
	}
	for i := 0; heard.Load() != v; i++ { // told right after the session ends
		if i == 200 {
			t.Fatalf("OnRevoke heard version %d, want %d", heard.Load(), v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeletedUserEndsSessionsByRecheck: a user whose row is gone (a
// deleted account) whose news the hub lost: the recheck finds no user,
// which counts as revoked, and ends its sessions.
func TestDeletedUserEndsSessionsByRecheck(t *testing.T) {
	ctx := context.Background()
	db := testDB(t, sameName, "alice000", "bob00000")
	o := Options{QueueSize: 8, MaxMessageChars: 100, RetainCount: 1000, RetainAge: time.Hour, RevocationCheck: 100 * time.Millisecond}
	b := NewService(db, inmem.NewHub(), o, zerolog.Nop())
	t.Cleanup(func() { b.Shutdown(ctx) })
	alice, bob := open(t, b, "alice000", 1), open(t, b, "bob00000", 1)
	h := []byte("no secret")
	u, err := db.UserByID(ctx, "alice000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.BeginDeletion(ctx, "alice000", u.SecretHash, h, "ghost000"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "alice000"); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, alice)
	if err := bob.err(); err != nil {
		t.Errorf("another user's session ended: %v", err)
	}
}
