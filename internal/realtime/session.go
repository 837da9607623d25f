package realtime

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/errs"
)

// A transport (a server stream, a WebSocket) serves a session in four
// steps: Service.Open registers it, Session.Run sends its events to the
// transport's Sink until it ends, Session.Send sends the chat messages its
// client sends on it (beside Run), and Session.Close closes it. The domain
// sees no connection: a Sink is all it writes to.

// Subscription asks for a user's events.
type Subscription struct {
	UserID       string
	TokenVersion int64      // of the token that opened it: a rotation past it ends the session
	Expires      time.Time  // the token's expiry, which ends the session; zero: none
	Addr         netip.Addr // the client's (clientaddr.Key), for the cap per address; zero: not counted
	After        *int64     // resume after this event id; nil: live events only
	SkipPresence bool       // no presence events, not even the first snapshot
	Heartbeat    bool       // send heartbeats (server streams do; WebSockets ping instead)
	// Rooms narrows room events to these rooms, each one the user can see;
	// empty: every room the user is a member of.
	Rooms []string
}

// Sink is where a session's events go: a transport's connection. Send may
// hold an event back, with others, until Flush; the session's run loop
// flushes whenever its queue is drained, and before anything that may wait
// (a database read), so that what is held never waits for long. Neither
// keeps its argument. Both are called by Session.Run alone, one at a time,
// on Run's goroutine; one that fails ends the session with its error, or
// with why the session was ended if it was (a revoked session's write cut
// short reports ErrRevoked). Each returns within about SendTimeout: a peer
// that stops reading must not hold its session.
type Sink interface {
	// Send sends d, or holds it until Flush. d is shared by every session
	// it is offered to: Send reads it, and copies whatever it keeps.
	Send(d *Delivery) error
	// Flush sends whatever Send holds.
	Flush() error
}

// SendTimeout bounds how long one event may take to reach a subscriber's
// connection before the subscriber is dropped: a Sink's writes carry a
// deadline of about this much.
const SendTimeout = 10 * time.Second

// Rearm is how long a write deadline a Sink set stays good enough: later
// writes push it back without setting it anew for every event, so that
// each write has between SendTimeout-Rearm and SendTimeout.
const Rearm = time.Second

// replayPage is how many stored events a resume reads at a time.
const replayPage = 500

// Subscribe opens a session for sub, runs it against out until it ends,
// and closes it: Open, Run and Close in one, for a caller with nothing to
// do between them. It returns what Open or Run returns.
func (s *Service) Subscribe(ctx context.Context, sub Subscription, out Sink) error {
	sess, err := s.Open(ctx, sub)
	if err != nil {
		return err
	}
	defer sess.Close(ctx)
	return sess.Run(ctx, out)
}

// Open registers a session for sub, within the caps, so that it hears
// revocations and live events from now on; a transport opens it before it
// answers its client, so that a refusal carries its Retry-After. A session
// over a cap is refused with an *errs.Limited, and every session once
// Shutdown has begun with ErrShuttingDown. A session whose token was
// revoked already is opened ended, with ErrRevoked: its Run sends nothing.
// Every session opened must be closed.
func (s *Service) Open(ctx context.Context, sub Subscription) (*Session, error) {
	s.active.Add(1)
	select {
	case <-s.closing:
		s.active.Done()
		return nil, ErrShuttingDown
	default:
	}
	sess := newSession(sub, s.opt.QueueSize, s.opt.MaxBehind)
	sess.svc = s
	sess.slot = s.slots.Add(1) % heartbeatSlots
	if err := s.live.add(sess, s.opt.MaxSessionsUser, s.opt.MaxSessionsAddr); err != nil {
		s.active.Done()
		return nil, err
	}

	s.opt.Metrics.SessionOpened(sess.transport())
	if !sess.expires.IsZero() {
		sess.expiry = time.AfterFunc(time.Until(sess.expires), func() { sess.end(ErrExpired) })
	}
	// A rotation stored before the session was registered above was
	// announced before it could hear; the stored version tells.
	current, err := s.db.TokenVersion(ctx, sub.UserID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		sess.end(ErrRevoked)
	case err != nil:
		sess.Close(ctx)
		return nil, err
	case current != sess.version:
		sess.end(ErrRevoked)
	}
	if err := s.loadRooms(ctx, sess); err != nil {
		sess.Close(ctx)
		return nil, err
	}
	return sess, nil
}

// loadRooms reads the rooms of the session's user, unless this process
// knows them already, and checks the rooms its subscription narrows to.
func (s *Service) loadRooms(ctx context.Context, sess *Session) error {
	var rooms []string
	if !s.live.rooms.ready(sess.user) || sess.rooms != nil {
		var blocked []string
		var err error
		if rooms, err = s.db.RoomsOf(ctx, sess.user); err == nil {
			blocked, err = s.db.Blocks(ctx, sess.user)
		}
		if err != nil {
			// Its other sessions here may be waiting for the same rooms:
			// they end too, and load them again as they reopen.
			s.live.endUser(sess.user, errRoomsUnread)
			return err
		}
		if s.live.rooms.loaded(sess.user, rooms, blocked) {
			s.live.userRoomsBehind(sess.user)
		}
	}
	for room := range sess.rooms {
		if slices.Contains(rooms, room) {
			continue
		}
		if _, err := s.db.RoomFor(ctx, room, sess.user); err != nil {
			return err
		}
	}
	return nil
}

// Close unregisters the session, then, if it was the user's last session
// here, announces that the user left: once that is heard, the session's
// slot is free. It is called once, after Run (if it ran) has returned.
func (sess *Session) Close(ctx context.Context) {
	s := sess.svc
	if sess.expiry != nil {
		sess.expiry.Stop()
	}
	s.live.remove(sess)
	s.opt.Metrics.SessionClosed(sess.transport())
	if sess.joined {
		s.leave(context.WithoutCancel(ctx), sess.user)
	}
	s.active.Done()
}

// Send stores a chat message from the session's user, then delivers it, as
// Service.Send does, for a transport whose client sends on its session (a
// WebSocket's frames). A session that ended, or whose token was revoked or
// expired, sends nothing, even before the news of a revocation reaches
// this process. It may be called beside Run, from another goroutine, until
// Close.
func (sess *Session) Send(ctx context.Context, content, recipientID, roomID string) (*foxholev1.Event, error) {
	return sess.svc.send(ctx, sess, sess.user, content, recipientID, roomID)
}

// Run sends the session's events to out until ctx ends, the subscriber
// stays behind for longer than Options.MaxBehind (ErrTooSlow), its token
// is revoked (ErrRevoked) or expires (ErrExpired), the server shuts down
// (ErrShuttingDown: what was queued is sent first), or out fails. A
// resume (Subscription.After) that the retained history cannot serve is
// refused with an errs.ErrOutOfRange error before anything is sent.
//
// It takes everything queued at once and sends it, then looks again, and
// flushes only once the queue is empty: a session with several events
// waiting writes them together. When events were dropped because the queue
// was full, it first reads what it missed from the database, as a resume
// does; events are sent in id order, each once.
//
// A stream's goroutine waits in here for as long as the stream lasts, at
// the bottom of every middleware's frame, and the runtime shrinks a
// waiting goroutine's stack only while it uses less than a quarter of it.
// So the loop keeps to a small frame and waits on one channel, which
// everything that must wake it signals (an event, the session's end,
// Shutdown, ctx), and its work is done in begin and step.
func (sess *Session) Run(ctx context.Context, out Sink) error {
	s := sess.svc
	stop := context.AfterFunc(ctx, sess.signal)
	defer stop()
	var st runState
	var err error
	if st.last, err = s.begin(ctx, sess, out); err != nil {
		return err
	}
	for {
		// Checked first: nothing more goes out on a revoked or expired
		// credential, and a busy session still stops at Shutdown.
		if err := sess.err(); err != nil {
			s.opt.Metrics.CutOff(err)
			return err
		}
		if s.isClosing() {
			return s.drain(sess, &st, out)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		idle, err := s.step(ctx, sess, &st, out)
		if err != nil {
			return err
		}
		if idle {
			<-sess.wake
		}
	}
}

// runState is what a session's run loop remembers between steps.
type runState struct {
	last  int64       // the newest stored event sent
	batch []*Delivery // the queue's spare buffer
}

// step sends what the session has queued, catching up first if it fell
// behind. Once the queue is empty it flushes, lets go of what an idle
// session does not need, and reports that the loop may wait.
func (s *Service) step(ctx context.Context, sess *Session, st *runState, out Sink) (idle bool, err error) {
	batch, due, since := sess.take(st.batch)
	st.batch = batch
	if due {
		if time.Since(since) > sess.maxBehind {
			s.opt.Metrics.CutOff(ErrTooSlow)
			return false, ErrTooSlow
		}
		if err := s.catchUp(ctx, sess, &st.last, out); err != nil {
			return false, err
		}
	}
	if err := st.send(sess, batch, out); err != nil {
		return false, err
	}
	if len(batch) > 0 {
		s.opt.Metrics.Delivered(len(batch))
	}
	if len(batch) > 0 || due {
		return false, nil // more may have come meanwhile
	}
	// The queue is drained: what was held goes out, and the session keeps
	// no more than an idle one needs while it waits.
	if err := out.Flush(); err != nil {
		return false, sess.errOr(err)
	}
	if cap(batch) > idleQueue {
		st.batch = nil
	}
	sess.trim()
	return true, nil
}

// send sends the events of batch that come after st.last, and empties it.
func (st *runState) send(sess *Session, batch []*Delivery, out Sink) error {
	for i, d := range batch {
		batch[i] = nil
		if d.id != 0 {
			if d.id <= st.last {
				continue // replayed or caught up already
			}
			st.last = d.id
		}
		if err := out.Send(d); err != nil {
			return sess.errOr(err)
		}
	}
	return nil
}

// isClosing reports whether Shutdown has begun.
func (s *Service) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// begin checks the session's cursor, counts it in presence, and sends what
// it resumes after, if it does. It returns the newest stored event sent.
func (s *Service) begin(ctx context.Context, sess *Session, out Sink) (int64, error) {
	if sess.resume {
		pruned, last, err := s.db.EventBounds(ctx)
		if err != nil {
			return 0, err
		}
		if sess.after < pruned {
			return 0, errs.New(errs.ErrOutOfRange, "event %d is older than the retained history (events up to %d were pruned); reload instead of resuming", sess.after, pruned)
		}
		if sess.after > last {
			return 0, errs.New(errs.ErrOutOfRange, "event %d does not exist yet (newest is %d)", sess.after, last)
		}
	}

	// The session joined the live tail when it opened; now replay: every
	// event is either stored before the replay reads, or published after
	// the session is listening. Its presence snapshot, taken once its own
	// join is seen, waits in its queue meanwhile.
	sess.joined = s.join(ctx, sess.user)
	if !sess.skipPresence {
		s.pres.ready(sess)
	}
	// A session that does not resume starts at the event its opening
	// found handed on last: should it fall behind before it sends one,
	// its catch-up reads only what came after.
	last := sess.after
	if sess.resume {
		if err := s.catchUp(ctx, sess, &last, out); err != nil {
			return 0, err
		}
	}
	return last, nil
}

// drain sends what the session has queued, at Shutdown, and returns
// ErrShuttingDown; a catch-up that is due is left to the client's resume.
func (s *Service) drain(sess *Session, st *runState, out Sink) error {
	batch, _, _ := sess.take(nil)
	if err := st.send(sess, batch, out); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return sess.errOr(err)
	}
	return ErrShuttingDown
}

// catchUp sends the stored events the session's user may see after *last,
// in id order, and moves *last past them: the replay of a resume, and how
// a session that fell behind catches up. What out holds goes out before
// each read, so that nothing waits behind the database.
func (s *Service) catchUp(ctx context.Context, sess *Session, last *int64, out Sink) error {
	var rooms []string
	for room := range sess.rooms {
		rooms = append(rooms, room)
	}
	s.opt.Metrics.CaughtUp()
	for {
		if err := out.Flush(); err != nil {
			return sess.errOr(err)
		}
		evs, err := s.db.EventsAfter(ctx, sess.user, *last, replayPage, rooms)
		if err != nil {
			return err
		}
		for _, row := range evs {
			if err := sess.err(); err != nil {
				return err // revoked or expired: send no more
			}
			d, err := storedDelivery(row)
			if err != nil {
				return err
			}
			if err := out.Send(d); err != nil {
				return sess.errOr(err)
			}
			s.opt.Metrics.Delivered(1)
			*last = row.ID
		}
		if len(evs) < replayPage {
			return nil
		}
	}
}

// transport names the session's transport for metrics: server streams are
// offered heartbeats, WebSockets ping instead.
func (sess *Session) transport() string {
	if sess.heartbeat {
		return "stream"
	}
	return "websocket"
}
