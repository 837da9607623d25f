// Package realtime carries chat messages, file events and presence to
// subscribers over server streams and WebSockets alike.
//
// Messages are durable, fan-out is live: an event is stored before it is
// published, and a subscriber that resumes with a cursor gets the stored
// events after it, then joins the live tail with no gap and no duplicate.
//
// This package is the domain, and sees no connection. The transports live
// in packages of their own (stream: Subscribe over Connect, gRPC and
// gRPC-Web, and the service's other calls; ws: GET /ws) and reach it
// through the session seam alone: Service.Open, then Session.Run against
// the transport's Sink, Session.Send for what the client sends on its
// session, and Session.Close. Each event is a Delivery, encoded once for
// every session that sends it.
package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/pubsub"
	"foxhole.dev/foxhole/internal/ratelimit"
	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/text"
)

// Store is the part of the database that realtime needs.
type Store interface {
	UserByID(ctx context.Context, id string) (*store.User, error)
	UsersByID(ctx context.Context, ids []string) ([]store.User, error)
	AddEvent(ctx context.Context, e *store.Event) error
	AddRoomMessage(ctx context.Context, e *store.Event) error
	EventsAfter(ctx context.Context, userID string, after int64, limit int, rooms []string) ([]store.Event, error)
	EventsBetween(ctx context.Context, after, through int64, limit int) ([]store.Event, error)
	EventBounds(ctx context.Context) (prunedThrough, last int64, err error)
	History(ctx context.Context, user, conv string, before, after int64, limit int) ([]store.Event, error)
	Conversations(ctx context.Context, after int64) ([]string, error)
	PruneEvents(ctx context.Context, convs []string, keep int, cutoff int64) (int64, error)
	TokenVersion(ctx context.Context, id string) (int64, error)
	RoomsOf(ctx context.Context, user string) ([]string, error)
	EventByID(ctx context.Context, id int64) (*store.Event, error)
	ReviseMessage(ctx context.Context, id int64, erase bool, revise func(context.Context, *store.Event) ([]byte, *store.Event, error)) error
	AddBlock(ctx context.Context, blocker, blocked string, at int64, max int) error
	RemoveBlock(ctx context.Context, blocker, blocked string) error
	Blocks(ctx context.Context, blocker string) ([]string, error)
	Blocking(ctx context.Context, blocker, blocked string) (bool, error)
	RoomFor(ctx context.Context, roomID, user string) (*store.RoomView, error)
	Membership(ctx context.Context, roomID, user string) (*store.Room, *store.Member, error)
	MemberIDs(ctx context.Context, roomID, after string, limit int) ([]string, error)
}

// Options tune the realtime service.
type Options struct {
	Heartbeat       time.Duration // between heartbeats on server streams
	QueueSize       int           // events queued per subscriber; past them it catches up from the database
	MaxBehind       time.Duration // how long a subscriber may stay behind before ErrTooSlow; 0: 30 seconds
	MaxMessageChars int           // longest chat message
	RetainCount     int           // stored events kept per conversation
	RetainAge       time.Duration // and for how long
	Limiter         ratelimit.Limiter
	// OnRevoke, when set, hears every revocation this process learns of
	// through the hub, or from the database when it rechecks its sessions:
	// the user's tokens older than version are void.
	OnRevoke func(userID string, version int64)
	// RevocationCheck is how often the token versions of every user with a
	// session here are read back from the database, ending the sessions of
	// revoked tokens whose news the hub lost; 0: every 2 seconds.
	RevocationCheck time.Duration
	// RevocationRetryFor is how long a revocation the hub refused is
	// published again, until it takes it: past the tokens' lifetime there
	// is nothing left to revoke. 0: an hour.
	RevocationRetryFor time.Duration

	MaxBlocks int // users a user may block

	MaxSessionsUser int // open streams and WebSockets per user, in this process; 0: no limit
	MaxSessionsAddr int // and per client address

	// PresenceInterval is how long presence changes are gathered before
	// they go out as one event; 0: a second.
	PresenceInterval time.Duration
	// PresenceSnapshotMax bounds the users one presence snapshot names;
	// 0: DefaultSnapshotMax.
	PresenceSnapshotMax int

	// Metrics hears what sessions do, for the process's metrics; nil:
	// nothing does.
	Metrics Metrics
}

// Metrics hears what the service does. Its methods must be quick and safe
// for concurrent use.
type Metrics interface {
	// SessionOpened and SessionClosed count the sessions open, by
	// transport ("stream" or "websocket").
	SessionOpened(transport string)
	SessionClosed(transport string)
	// Delivered counts the events written to one session's connection.
	Delivered(n int)
	// CaughtUp counts a read of stored events for a session: a resume's
	// replay, or a session that fell behind its queue.
	CaughtUp()
	// CutOff counts a session the server ended: why is ErrTooSlow,
	// ErrRevoked or ErrExpired.
	CutOff(why error)
	// PresenceWork gives how long one interval's presence work took.
	PresenceWork(took time.Duration)
}

type noMetrics struct{}

func (noMetrics) SessionOpened(string)       {}
func (noMetrics) SessionClosed(string)       {}
func (noMetrics) Delivered(int)              {}
func (noMetrics) CaughtUp()                  {}
func (noMetrics) CutOff(error)               {}
func (noMetrics) PresenceWork(time.Duration) {}

// Service implements realtime messaging.
type Service struct {
	db   Store
	hub  pubsub.Hub
	opt  Options
	log  zerolog.Logger
	now  func() time.Time
	live sessions
	pres *presence

	publishMu   sync.Mutex    // store then publish, one write at a time: live order is id order here
	pruned      atomic.Int64  // the newest event id whose conversation Prune has looked at
	seq         *sequencer    // and across processes
	unpublished chan struct{} // signalled when a stored event could not be published
	rechecking  atomic.Bool
	recheckFail atomic.Bool // the last recheck failed (logged once)
	unsubscribe func()

	// Revocations the hub refused, by user (the newest version), published
	// again in the background until it takes them (republish).
	pendingMu sync.Mutex
	pending   map[string]pendingRevocation
	repending chan struct{}

	closing   chan struct{} // closed by Shutdown
	closeOnce sync.Once
	active    sync.WaitGroup // open sessions
	slots     atomic.Uint32  // sessions placed on the heartbeat wheel
}

var _ files.Events = (*Service)(nil)

// NewService returns a Service storing events in db and fanning them out
// through hub.
func NewService(db Store, hub pubsub.Hub, o Options, log zerolog.Logger) *Service {
	s := &Service{db: db, hub: hub, opt: o, log: log, now: time.Now, closing: make(chan struct{})}
	if s.opt.Metrics == nil {
		s.opt.Metrics = noMetrics{}
	}
	s.seq = newSequencer(db, log, s.live.deliver, func() { s.live.each((*Session).markBehind) })
	s.live.cursor = s.seq.handedOn
	s.pres = newPresence(hub, db, &s.live, o.PresenceInterval, o.PresenceSnapshotMax, s.now, log)
	s.pres.metrics = s.opt.Metrics
	s.unpublished = make(chan struct{}, 1)
	s.pending = map[string]pendingRevocation{}
	s.repending = make(chan struct{}, 1)
	if s.opt.RevocationCheck <= 0 {
		s.opt.RevocationCheck = defaultRevocationCheck
	}
	if s.opt.RevocationRetryFor <= 0 {
		s.opt.RevocationRetryFor = time.Hour
	}
	go s.callCatchUp()
	go s.republish()
	go s.checkRevocations()
	if o.Heartbeat > 0 {
		go s.heartbeats()
	}
	s.unsubscribe = hub.Subscribe(func(msg []byte) {
		env, err := decodeEnvelope(msg)
		if err == nil && env.Revoke != nil {
			s.live.revoke(env.Revoke.User, env.Revoke.Version)
			if o.OnRevoke != nil {
				o.OnRevoke(env.Revoke.User, env.Revoke.Version)
			}
			return
		}
		if err == nil && env.CatchUp {
			s.seq.lost()
			return
		}
		if err == nil && env.Block != nil {
			s.live.rooms.block(*env.Block)
			return
		}
		if err == nil && env.Presence {
			// A hint that the user came or went, checked at the next look.
			ev := new(foxholev1.Event)
			if err = proto.Unmarshal(env.Event, ev); err == nil {
				if id := ev.GetPresence().GetUser().GetId(); id != "" {
					s.pres.mark(id)
				}
				return
			}
		}
		var d *Delivery
		if err == nil {
			d, err = env.delivery()
		}
		if err != nil {
			s.log.Error().Err(err).Msg("undecodable realtime message")
			return
		}
		if d.id != 0 {
			s.seq.offer(d) // stored: put in id order first
			return
		}
		s.live.deliver(d)
	}, func() {
		// Messages may have been lost while the hub reconnected: stored
		// events come back from the database, revocations too, and who is
		// online from the hub.
		s.seq.lost()
		s.pres.reconcile()
		go s.recheckRevocations()
		go s.reloadBlocks()
	})
	return s
}

// callCatchUp tells every process, through the hub, to read back from the
// database the events this one stored but could not publish: it retries
// every second until the hub takes the call, and stops at Shutdown.
func (s *Service) callCatchUp() {
	msg, _ := json.Marshal(envelope{CatchUp: true})
	for {
		select {
		case <-s.unpublished:
		case <-s.closing:
			return
		}
		for s.hub.Publish(context.Background(), msg) != nil {
			select {
			case <-time.After(time.Second):
			case <-s.closing:
				return
			}
		}
	}
}

// defaultRevocationCheck is Options.RevocationCheck's default.
const defaultRevocationCheck = 2 * time.Second

// checkRevocations rechecks the sessions' token versions every
// Options.RevocationCheck until Shutdown: a revocation whose news the hub
// lost (a publish it accepted and dropped, a subscription cut) still ends
// the sessions of the revoked token here within about that time.
func (s *Service) checkRevocations() {
	t := time.NewTicker(s.opt.RevocationCheck)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.recheckRevocations()
		case <-s.closing:
			return
		}
	}
}

// recheckRevocations ends the sessions here whose token a rotation revoked,
// reading the token versions of every user with a session here from the
// database in one query (paged by UsersByID): for when the news of a
// rotation may have been lost on its way. One runs at a time; it only
// reads, and touches no delivery.
func (s *Service) recheckRevocations() {
	if !s.rechecking.CompareAndSwap(false, true) {
		return
	}
	defer s.rechecking.Store(false)
	users := s.live.users()
	if len(users) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(s.opt.RevocationCheck, 10*time.Second))
	defer cancel()
	found, err := s.db.UsersByID(ctx, users)
	if err != nil {
		if !s.recheckFail.Swap(true) {
			s.log.Error().Err(err).Msg("recheck the token versions of open sessions; retrying")
		}
		return
	}
	if s.recheckFail.Swap(false) {
		s.log.Info().Msg("token versions of open sessions rechecked again")
	}
	for _, u := range found {
		if s.live.revoke(u.ID, u.TokenVersion) && s.opt.OnRevoke != nil {
			s.opt.OnRevoke(u.ID, u.TokenVersion)
		}
	}
	// A user not found was deleted: every token of theirs is revoked.
	if len(found) < len(users) {
		exists := make(map[string]bool, len(found))
		for _, u := range found {
			exists[u.ID] = true
		}
		for _, id := range users {
			if !exists[id] && s.live.revoke(id, math.MaxInt64) && s.opt.OnRevoke != nil {
				s.opt.OnRevoke(id, math.MaxInt64)
			}
		}
	}
}

// pendingRevocation is a revocation the hub refused, with when it was made.
type pendingRevocation struct {
	version int64
	since   time.Time
}

// maxPendingRevocations bounds the revocations kept for republishing; past
// it the oldest are left to the other processes' rechecks.
const maxPendingRevocations = 10_000

// Backoff between attempts to republish refused revocations.
const (
	republishFirst = 100 * time.Millisecond
	republishMax   = 5 * time.Second
)

// retryRevocation keeps the revocation for republish, unless a newer one
// of the user's is kept already (it supersedes this one).
func (s *Service) retryRevocation(user string, version int64) {
	s.pendingMu.Lock()
	if p, ok := s.pending[user]; !ok || p.version < version {
		if !ok && len(s.pending) >= maxPendingRevocations {
			var oldest string
			for u, p := range s.pending {
				if oldest == "" || p.since.Before(s.pending[oldest].since) {
					oldest = u
				}
			}
			delete(s.pending, oldest)
			s.log.Warn().Str("user_id", oldest).Msg("too many revocations waiting for the hub: this one is left to the other processes' rechecks")
		}
		s.pending[user] = pendingRevocation{version: version, since: s.now()}
	}
	s.pendingMu.Unlock()
	select {
	case s.repending <- struct{}{}:
	default:
	}
}

// published forgets a kept revocation that one of version or newer, just
// published, supersedes.
func (s *Service) published(user string, version int64) {
	s.pendingMu.Lock()
	if p, ok := s.pending[user]; ok && p.version <= version {
		delete(s.pending, user)
	}
	s.pendingMu.Unlock()
}

// republish publishes the revocations the hub refused again, with backoff
// (republishFirst doubling to republishMax, jittered), until the hub takes
// each, a newer one supersedes it, it is older than
// Options.RevocationRetryFor, or Shutdown.
func (s *Service) republish() {
	wait := republishFirst
	for {
		s.pendingMu.Lock()
		todo := maps.Clone(s.pending)
		s.pendingMu.Unlock()
		if len(todo) == 0 {
			wait = republishFirst
			select {
			case <-s.repending:
				continue
			case <-s.closing:
				return
			}
		}
		failed := false
		for user, p := range todo {
			if s.now().Sub(p.since) > s.opt.RevocationRetryFor {
				s.published(user, p.version)
				s.log.Error().Str("user_id", user).Msg("revocation never reached the hub; given up, as the tokens it revoked have expired")
				continue
			}
			if s.publishRevocation(context.Background(), user, p.version) != nil {
				failed = true
				break // the hub is down: wait before trying the others
			}
			s.published(user, p.version)
			s.log.Info().Str("user_id", user).Msg("revocation published after the hub had refused it")
		}
		if !failed {
			wait = republishFirst
			continue
		}
		select {
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		case <-s.closing:
			return
		}
		wait = min(2*wait, republishMax)
	}
}

func (s *Service) publishRevocation(ctx context.Context, user string, version int64) error {
	msg, err := json.Marshal(envelope{Revoke: &revocation{User: user, Version: version}})
	if err != nil {
		return err
	}
	return s.hub.Publish(ctx, msg)
}

// Shutdown ends every session: each sends what it has queued, then closes
// with "going away". New sessions are refused. It returns when every
// session has ended, or when ctx does.
func (s *Service) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.live.each((*Session).signal) // idle sessions wake to see it
		s.unsubscribe()
		s.seq.close()
		s.pres.close()
	})
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrShuttingDown ends sessions when the server stops.
var ErrShuttingDown = errs.New(errs.ErrUnavailable, "server is shutting down; reconnect and resume from your last event id")

// ErrTooSlow ends a session that stayed behind for longer than
// Options.MaxBehind: its client is not reading.
var ErrTooSlow = errs.New(errs.ErrResourceExhausted, "too slow: the subscriber stayed behind the events for too long; resume from your last event id")

// ErrRevoked ends the sessions of a token revoked by RotateSecret.
var ErrRevoked = errs.New(errs.ErrUnauthenticated, "access token revoked (the user secret was rotated); get a new token and resume from your last event id")

// ErrExpired ends the sessions of a token that expired.
var ErrExpired = errs.New(errs.ErrUnauthenticated, "access token expired; get a new token and resume from your last event id")

// Revoke ends every session of the user opened with a token older than
// version, in every process: RotateSecret calls it (through auth.Service's
// OnRotate) once the new version is stored. Sessions that start meanwhile
// check the stored version themselves (see Open).
func (s *Service) Revoke(ctx context.Context, userID string, version int64) {
	// This process's sessions end at once, even if the hub fails; the hub
	// carries the news to the others, and back here, harmlessly.
	s.live.revoke(userID, version)
	// The rotation is stored whatever the caller does next.
	if err := s.publishRevocation(context.WithoutCancel(ctx), userID, version); err != nil {
		s.log.Error().Err(err).Str("user_id", userID).Msg("publish revocation; retrying in the background, and other processes' rechecks end the sessions meanwhile")
		s.retryRevocation(userID, version)
		return
	}
	s.published(userID, version)
}

// Send stores a chat message from sender, then delivers it: to recipientID
// alone, or to the members of roomID (the sender must be one), or, with
// neither, to everyone. The caller has counted the message against the
// sender's rate with AllowMessage: the server does so for SendMessage,
// before the request's body is read, as its policy declares.
func (s *Service) Send(ctx context.Context, senderID, content, recipientID, roomID string) (*foxholev1.Event, error) {
	return s.send(ctx, nil, senderID, content, recipientID, roomID)
}

// send is Send for a caller that is a session (Session.Send: a WebSocket
// sending frames) when sess is not nil: a session that ended, or whose
// token was revoked or expired, sends nothing, even before the revocation
// reaches this process.
func (s *Service) send(ctx context.Context, sess *Session, senderID, content, recipientID, roomID string) (*foxholev1.Event, error) {
	if sess != nil {
		if err := sess.err(); err != nil {
			return nil, err
		}
	}
	if recipientID != "" && roomID != "" {
		return nil, errs.Invalidf("room_id", "must not be set with recipient_id: a message goes to a room or to a user")
	}
	if err := s.checkContent(content); err != nil {
		return nil, err
	}
	if sess != nil {
		if err := s.AllowMessage(ctx, senderID); err != nil {
			return nil, err
		}
	}
	sender, err := s.db.UserByID(ctx, senderID)
	if err != nil {
		return nil, err
	}
	if sess != nil {
		// The row is read anyway: checking its token version costs nothing
		// and closes the window before a rotation's news arrives.
		switch {
		case sender.TokenVersion != sess.version:
			sess.end(ErrRevoked)
			return nil, ErrRevoked
		case !sess.expires.IsZero() && !time.Now().Before(sess.expires):
			sess.end(ErrExpired)
			return nil, ErrExpired
		}
	}
	if recipientID != "" {
		if err := s.mayWrite(ctx, senderID, recipientID); err != nil {
			return nil, err
		}
	}
	ev := &foxholev1.Event{Payload: &foxholev1.Event_ChatMessage{ChatMessage: &foxholev1.ChatMessage{
		Sender:      &foxholev1.UserRef{Id: sender.ID, ScreenName: sender.ScreenName},
		Content:     content,
		RecipientId: recipientID,
		RoomId:      roomID,
	}}}
	r := Route{Sender: senderID, Recipient: recipientID, Room: roomID, Kind: store.KindChat}
	err = s.Write(ctx, func(ctx context.Context, b *Batch) error {
		row, err := b.Add(ev, r)
		if err != nil {
			return err
		}
		if roomID != "" {
			return s.db.AddRoomMessage(ctx, row)
		}
		return s.db.AddEvent(ctx, row)
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// AllowMessage counts one message of user against the rate of messages per
// user, which every path that sends one shares; past it, it answers
// errs.Limited.
func (s *Service) AllowMessage(ctx context.Context, user string) error {
	if s.opt.Limiter == nil {
		return nil
	}
	ok, retry, err := s.opt.Limiter.Allow(ctx, "message:"+user)
	if err != nil {
		return err
	}
	if !ok {
		return &errs.Limited{Msg: "too many messages; slow down", RetryAfter: retry}
	}
	return nil
}

// checkContent enforces the message rules: 1 to MaxMessageChars characters,
// not all white space, no control characters but newline and tab.
func (s *Service) checkContent(c string) error {
	return text.Rule{Field: "content", Required: true, Max: s.opt.MaxMessageChars, Lines: true}.Check(c)
}

// Route says who may see a stored event, and where its history is.
type Route struct {
	Sender string
	// Recipient is a direct message's recipient, a file event's owner, or
	// the user a room event names (who hears of it, member or not).
	Recipient string
	Room      string // the room of a room event or message
	Kind      store.EventKind
}

// conv is the conversation of an event routed so.
func (r Route) conv() string {
	switch {
	case r.Room != "":
		return store.RoomConversation(r.Room)
	case r.Kind == store.KindFile:
		return store.FileConversation(r.Recipient)
	case r.Recipient != "":
		return store.DirectConversation(r.Sender, r.Recipient)
	}
	return store.Lobby
}

// Batch gathers the events one Write stores.
type Batch struct {
	now  time.Time
	outs []batched
}

type batched struct {
	ev  *foxholev1.Event
	row *store.Event
	env envelope
}

// Add stamps ev with the write's time and returns the row that stores it,
// routed by r, for the write to store. Once the write has succeeded, ev
// has the row's id and is published.
func (b *Batch) Add(ev *foxholev1.Event, r Route) (*store.Event, error) {
	ev.CreatedAt = timestamppb.New(b.now)
	body, err := proto.Marshal(ev)
	if err != nil {
		return nil, err
	}
	row := &store.Event{SenderID: r.Sender, Body: body, CreatedAt: b.now.UnixMicro(), Conv: r.conv(), Kind: r.Kind}
	if r.Recipient != "" {
		row.RecipientID = &r.Recipient
	}
	if r.Room != "" {
		row.RoomID = &r.Room
	}
	b.outs = append(b.outs, batched{ev: ev, row: row, env: envelope{Sender: r.Sender, Recipient: r.Recipient, Room: r.Room}})
	return row, nil
}

// Write runs write, which stores (in one transaction) the rows of the
// events it adds to its Batch, then gives each event its id and publishes
// them. Writes are made one at a time here, so that this process publishes
// its events in id order. When write fails, nothing is published.
func (s *Service) Write(ctx context.Context, write func(context.Context, *Batch) error) error {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	b := &Batch{now: s.now()}
	if err := write(ctx, b); err != nil {
		return err
	}
	// The events are durable; a failed publish only delays them: this
	// process's sessions read them back from the database now, and the
	// others once the hub takes a catch-up call (or at the next event they
	// hear). A hub that fails logs that itself, once; this would be once
	// per event.
	failed := false
	for _, o := range b.outs {
		o.ev.Id = o.row.ID
		if o.row.ID == 0 {
			continue // not stored: the write left it out
		}
		if err := s.publish(context.WithoutCancel(ctx), o.ev, o.env); err != nil {
			s.log.Debug().Err(err).Int64("event_id", o.ev.Id).Msg("publish stored event")
			failed = true
		}
	}
	if failed {
		s.seq.lost()
		select {
		case s.unpublished <- struct{}{}:
		default: // a catch-up call is due already
		}
	}
	return nil
}

// PublishRoom delivers ev, an event that is not stored, to the members of
// room in every process (and to recipient, if set).
func (s *Service) PublishRoom(ctx context.Context, ev *foxholev1.Event, room, recipient string) {
	ev.CreatedAt = timestamppb.New(s.now())
	if err := s.publish(ctx, ev, envelope{Room: room, Recipient: recipient}); err != nil {
		s.log.Warn().Err(err).Str("room_id", room).Msg("publish a live room event")
	}
}

func (s *Service) publish(ctx context.Context, ev *foxholev1.Event, env envelope) error {
	b, err := proto.Marshal(ev)
	if err != nil {
		return err
	}
	env.Event = b
	msg, err := json.Marshal(env)
	if err != nil {
		return err
	}
	return s.hub.Publish(ctx, msg)
}

// FileCreated implements files.Events: the owner's sessions hear of it.
func (s *Service) FileCreated(ctx context.Context, f *store.File) {
	s.fileEvent(ctx, f, foxholev1.FileEvent_KIND_CREATED)
}

// FileDeleted implements files.Events.
func (s *Service) FileDeleted(ctx context.Context, f *store.File) {
	s.fileEvent(ctx, f, foxholev1.FileEvent_KIND_DELETED)
}

func (s *Service) fileEvent(ctx context.Context, f *store.File, kind foxholev1.FileEvent_Kind) {
	ev := &foxholev1.Event{Payload: &foxholev1.Event_FileEvent{FileEvent: &foxholev1.FileEvent{Kind: kind, File: files.FileProto(f)}}}
	err := s.Write(context.WithoutCancel(ctx), func(ctx context.Context, b *Batch) error {
		row, err := b.Add(ev, Route{Sender: f.OwnerID, Recipient: f.OwnerID, Kind: store.KindFile})
		if err != nil {
			return err
		}
		return s.db.AddEvent(ctx, row)
	})
	if err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Str("file_id", f.ID).Msg("store file event")
	}
}

// ListOnline returns at most n of the users connected now, as this
// process's presence sees them (its streams' presence events converge to
// it), those whose ids follow after, in id order, and whether more follow.
// It asks neither the hub nor the database.
func (s *Service) ListOnline(n int, after string) (users []*foxholev1.UserRef, more bool) {
	return s.pres.list(n, after)
}

// Online lists every user connected now, as ListOnline does.
func (s *Service) Online(context.Context) ([]*foxholev1.UserRef, error) {
	users, _ := s.pres.list(math.MaxInt, "")
	return users, nil
}

// heartbeatSlots is how many slots the heartbeat wheel has: each turn of
// Options.Heartbeat visits every slot once, so that the streams'
// heartbeats spread over the interval instead of all going out at once.
const heartbeatSlots = 16

// heartbeats offers every server stream a heartbeat once per interval:
// one ticker for the process instead of one per stream. A slot's
// heartbeat is one event, encoded once for all its streams; a stream whose
// queue is full has traffic enough and skips it.
func (s *Service) heartbeats() {
	t := time.NewTicker(max(s.opt.Heartbeat/heartbeatSlots, time.Millisecond))
	defer t.Stop()
	for slot := uint32(0); ; slot = (slot + 1) % heartbeatSlots {
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
		d := NewDelivery(&foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Heartbeat{
			Heartbeat: &foxholev1.Heartbeat{Time: timestamppb.New(s.now())},
		}})
		s.live.each(func(sess *Session) {
			if sess.heartbeat && sess.slot == slot {
				sess.offerLive(d)
			}
		})
	}
}

func storedDelivery(row store.Event) (*Delivery, error) {
	ev := new(foxholev1.Event)
	if err := proto.Unmarshal(row.Body, ev); err != nil {
		return nil, fmt.Errorf("decode stored event %d: %w", row.ID, err)
	}
	ev.Id = row.ID
	d := &Delivery{id: row.ID, sender: row.SenderID, from: fromOf(ev, row.SenderID), msg: &foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: ev}}}
	if row.RecipientID != nil {
		d.recipient = *row.RecipientID
	}
	if row.RoomID != nil {
		d.room = *row.RoomID
	}
	return d, nil
}

// join and leave count the user's sessions and announce the first and the
// last, once per user however many tabs it opens. join reports whether the
// session was counted, and so must leave.
func (s *Service) join(ctx context.Context, userID string) bool {
	first, err := s.hub.Join(ctx, userID)
	if err != nil {
		s.log.Debug().Err(err).Msg("presence join")
		return false
	}
	if first {
		s.announce(ctx, userID, foxholev1.PresenceEvent_CHANGE_JOINED)
	}
	return true
}

func (s *Service) leave(ctx context.Context, userID string) {
	last, err := s.hub.Leave(ctx, userID)
	if err != nil {
		s.log.Debug().Err(err).Msg("presence leave")
		return
	}
	if last {
		s.announce(ctx, userID, foxholev1.PresenceEvent_CHANGE_LEFT)
	}
}

// announce tells every process, this one first (even if the hub fails),
// that the user's presence changed. Each checks with the hub and tells its
// sessions at its next presence interval.
func (s *Service) announce(ctx context.Context, userID string, change foxholev1.PresenceEvent_Change) {
	s.pres.mark(userID)
	ev := &foxholev1.Event{
		CreatedAt: timestamppb.New(s.now()),
		Payload:   &foxholev1.Event_Presence{Presence: &foxholev1.PresenceEvent{User: &foxholev1.UserRef{Id: userID}, Change: change}},
	}
	if err := s.publish(ctx, ev, envelope{Presence: true}); err != nil {
		s.log.Debug().Err(err).Msg("publish presence")
	}
}

// Prune deletes stored events beyond the retention limits: older than
// RetainAge, or past the newest RetainCount of their conversation. It looks
// at the conversations with events stored since it last looked.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	_, last, err := s.db.EventBounds(ctx)
	if err != nil {
		return 0, err
	}
	convs, err := s.db.Conversations(ctx, s.pruned.Load())
	if err != nil {
		return 0, err
	}
	n, err := s.db.PruneEvents(ctx, convs, s.opt.RetainCount, s.now().Add(-s.opt.RetainAge).UnixMicro())
	if err == nil {
		s.pruned.Store(last)
	}
	return n, err
}
