package realtime

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/errs"
)

// envelope is how an event travels through the pubsub.Hub: who may see it,
// and the event itself in binary protobuf.
type envelope struct {
	Sender    string `json:"s,omitempty"`
	Recipient string `json:"r,omitempty"` // empty: everyone (or the room's members)
	Room      string `json:"m,omitempty"` // the room of a room event or message
	// Presence, when set, says that the user of the PresenceEvent in Event
	// came online or went offline: a hint, which each process checks with
	// the hub before telling its sessions.
	Presence bool   `json:"p,omitempty"`
	Event    []byte `json:"e"`
	// Revoke, when set, carries no event: it ends the user's sessions
	// opened with older tokens, in every process that hears it.
	Revoke *revocation `json:"x,omitempty"`
	// CatchUp, when set, carries no event: a process could not publish
	// some events it stored, and every process reads them back from the
	// database.
	CatchUp bool `json:"c,omitempty"`
	// Block, when set, carries no event: a user blocked another, or
	// unblocked it.
	Block *blockNews `json:"b,omitempty"`
}

// revocation says that the user's tokens older than Version are void.
type revocation struct {
	User    string `json:"u"`
	Version int64  `json:"v"`
}

// Delivery is one event as sessions receive it: decoded once per process
// and shared, read-only, by every session it is offered to, with its
// encodings, each made once, on first use, for all of them. Nothing changes
// a Delivery once it is offered: any number of transports may read it and
// write its bytes at once, and none may change them or keep them past
// Sink.Send. Offering one to a session allocates nothing, and takes no lock
// that a write holds.
type Delivery struct {
	id        int64
	sender    string
	recipient string
	room      string // a room's event: for its members (and the recipient)
	// from is the user whose message, revision or typing d carries (not
	// delivered to those who block it); empty for other events.
	from string
	msg  *foxholev1.SubscribeResponse

	jsonOnce sync.Once
	json     []byte
	binOnce  sync.Once
	bin      []byte
}

// NewDelivery returns msg as a Delivery that is not stored and is offered
// to every session as it is, as heartbeats and presence events are. msg
// must not change once the Delivery is shared.
func NewDelivery(msg *foxholev1.SubscribeResponse) *Delivery { return &Delivery{msg: msg} }

// Response returns the SubscribeResponse d carries, for a transport that
// encodes it itself. It is shared by every session d is offered to: read
// it, never change it.
func (d *Delivery) Response() *foxholev1.SubscribeResponse { return d.msg }

// JSON returns the event as the Connect JSON stream carries it, encoded once
// for every WebSocket and JSON stream that sends it. The bytes are shared:
// copy them, never change them.
func (d *Delivery) JSON() []byte {
	d.jsonOnce.Do(func() { d.json, _ = protojson.Marshal(d.msg) })
	return d.json
}

// Binary returns the event as binary protobuf, encoded once for every gRPC,
// gRPC-Web and Connect binary stream that sends it. The bytes are shared:
// copy them, never change them.
func (d *Delivery) Binary() []byte {
	d.binOnce.Do(func() { d.bin, _ = proto.Marshal(d.msg) })
	return d.bin
}

func decodeEnvelope(b []byte) (*envelope, error) {
	env := new(envelope)
	if err := json.Unmarshal(b, env); err != nil {
		return nil, err
	}
	return env, nil
}

func (env *envelope) delivery() (*Delivery, error) {
	ev := new(foxholev1.Event)
	if err := proto.Unmarshal(env.Event, ev); err != nil {
		return nil, err
	}
	return &Delivery{
		id:        ev.GetId(),
		sender:    env.Sender,
		recipient: env.Recipient,
		room:      env.Room,
		from:      fromOf(ev, env.Sender),
		msg:       &foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: ev}},
	}, nil
}

// fromOf is the user whose message, revision or typing ev carries, whom
// its blockers do not hear; "" for other events.
func fromOf(ev *foxholev1.Event, sender string) string {
	switch ev.GetPayload().(type) {
	case *foxholev1.Event_ChatMessage, *foxholev1.Event_MessageEdited, *foxholev1.Event_MessageDeleted:
		return sender
	case *foxholev1.Event_Typing:
		return ev.GetTyping().GetUser().GetId()
	}
	return ""
}

// Session is one open subscription, whatever the transport that carries
// it (a Subscribe stream, a WebSocket). Service.Open opens it; Run sends
// its events to the transport's Sink until it ends; Send sends chat
// messages as its user, beside Run; Close closes it. Every Session opened
// is closed exactly once, after its Run (if any: Run is called at most
// once) has returned; no method may be called after Close.
//
// Its queue holds what the hub handed it and its run loop has not taken
// yet, at most limit events. The queue never makes the hub wait and never
// loses a stored event: one that finds it full is dropped and the session
// marked behind, and its run loop reads what it missed from the database
// before it goes on (every event the hub hands on is stored first). A
// session that stays behind for longer than maxBehind is ended with
// ErrTooSlow: its client is not reading.
type Session struct {
	svc     *Service // that opened it
	user    string
	addr    netip.Addr // the client's; the zero Addr is not counted
	version int64      // the token version it was opened with
	expires time.Time  // the token's expiry; zero: none
	// The flags share a word with slot, so that a Session fits in 256 bytes.
	heartbeat    bool   // offered heartbeats (server streams)
	resume       bool   // Run first replays the stored events after event id after
	skipPresence bool   // no presence events, not even the first snapshot
	joined       bool   // counted in presence (set and read by its own goroutine)
	slot         uint32 // its slot on the heartbeat wheel
	after        int64  // the event id it resumes after, when resume is set; else the one it opened after
	// rooms, when not nil, narrows the room events it is offered to these
	// rooms (Subscription.Rooms); it never changes once opened.
	rooms map[string]struct{}
	sessionPresence

	mu        sync.Mutex
	queue     []*Delivery   // handed on, not yet taken; nil while idle
	limit     int           // longest the queue may grow
	due       bool          // an event was dropped: catch up before the queue
	since     time.Time     // when it fell behind, and has not caught up since
	maxBehind time.Duration // how long it may stay behind
	wake      chan struct{} // signalled when the queue stops being empty, and when the session must end

	endOnce sync.Once
	ended   chan struct{} // closed when the session must end, for why
	why     error

	expiry *time.Timer // ends the session when its token expires
	index  int         // its place in sessions.all
}

// defaultMaxBehind is how long a session may stay behind unless Options
// say otherwise.
const defaultMaxBehind = 30 * time.Second

// idleQueue is the most queue capacity a session keeps once it is idle:
// what a burst grew beyond it is let go.
const idleQueue = 8

func newSession(sub Subscription, limit int, maxBehind time.Duration) *Session {
	if maxBehind <= 0 {
		maxBehind = defaultMaxBehind
	}
	s := &Session{
		user:         sub.UserID,
		addr:         sub.Addr,
		version:      sub.TokenVersion,
		expires:      sub.Expires,
		heartbeat:    sub.Heartbeat,
		skipPresence: sub.SkipPresence,
		limit:        max(limit, 1),
		maxBehind:    maxBehind,
		wake:         make(chan struct{}, 1),
		ended:        make(chan struct{}),
	}
	if sub.After != nil {
		s.resume, s.after = true, *sub.After
	}
	if len(sub.Rooms) > 0 {
		s.rooms = make(map[string]struct{}, len(sub.Rooms))
		for _, r := range sub.Rooms {
			s.rooms[r] = struct{}{}
		}
	}
	return s
}

// wants reports whether the session takes the events of room.
func (s *Session) wants(room string) bool {
	if s.rooms == nil {
		return true
	}
	_, ok := s.rooms[room]
	return ok
}

// end asks the session to end with err. The first reason wins. It never
// blocks, so the hub's callback and timers may call it.
func (s *Session) end(err error) {
	s.endOnce.Do(func() {
		s.why = err
		close(s.ended)
		s.signal() // the run loop waits on wake alone
	})
}

// err is why the session must end, or nil while it may go on.
func (s *Session) err() error {
	select {
	case <-s.ended:
		return s.why
	default:
		return nil
	}
}

// errOr is why the session must end, if it must, else err: a send that
// failed because the session was ended reports why.
func (s *Session) errOr(err error) error {
	if why := s.err(); why != nil {
		return why
	}
	return err
}

// signal wakes the run loop. It never blocks.
func (s *Session) signal() {
	select {
	case s.wake <- struct{}{}:
	default: // woken already
	}
}

// offer queues a stored event without waiting. When the queue is full the
// event is dropped and the session marked behind, to catch up from the
// database; one behind for longer than maxBehind is ended.
func (s *Session) offer(d *Delivery) {
	s.mu.Lock()
	if len(s.queue) < s.limit {
		wake := len(s.queue) == 0
		s.queue = append(s.queue, d)
		s.mu.Unlock()
		if wake {
			s.signal()
		}
		return
	}
	now := time.Now()
	if s.since.IsZero() {
		s.since = now
	}
	tooLong := now.Sub(s.since) > s.maxBehind
	s.due = true
	s.mu.Unlock()
	if tooLong {
		s.end(ErrTooSlow)
	}
	s.signal()
}

// markBehind makes the session catch up from the database before it sends
// what it has queued, as if the queue had dropped an event: the sequencer
// could not read events that the session may need.
func (s *Session) markBehind() {
	s.mu.Lock()
	if s.since.IsZero() {
		s.since = time.Now()
	}
	s.due = true
	s.mu.Unlock()
	s.signal()
}

// offerLive queues an event that is not stored (presence, a heartbeat)
// unless the queue is full, and reports whether it did. A session that
// misses one is not behind: the caller makes up for it.
func (s *Session) offerLive(d *Delivery) bool {
	s.mu.Lock()
	if len(s.queue) >= s.limit {
		s.mu.Unlock()
		return false
	}
	wake := len(s.queue) == 0
	s.queue = append(s.queue, d)
	s.mu.Unlock()
	if wake {
		s.signal()
	}
	return true
}

// take hands the run loop everything queued, leaving spare (emptied) as
// the queue, and says whether events were dropped since the last take, so
// that a catch-up is due, and since when the session has been behind. A
// take with none dropped since the one before means the session caught up.
func (s *Session) take(spare []*Delivery) (batch []*Delivery, due bool, since time.Time) {
	s.mu.Lock()
	batch, s.queue = s.queue, spare[:0]
	due, s.due = s.due, false
	if !due {
		s.since = time.Time{}
	}
	since = s.since
	s.mu.Unlock()
	return batch, due, since
}

// trim lets go of the queue's room beyond idleQueue while it is empty.
func (s *Session) trim() {
	s.mu.Lock()
	if len(s.queue) == 0 && cap(s.queue) > idleQueue {
		s.queue = nil
	}
	s.mu.Unlock()
}

// sessions are this process's open sessions, by user and all together,
// and how many each client address holds.
type sessions struct {
	// cursor, when set, gives a session that is not resuming the event id
	// it starts after: events up to it were handed on before it could
	// hear, and a catch-up reads only those after it.
	cursor func() int64

	mu     sync.RWMutex
	byUser map[string]map[*Session]struct{}
	byAddr map[netip.Addr]int
	all    []*Session // in no order; a session's index is its place here

	rooms roomIndex // the rooms of the users with a session here
}

// sessionRetry is the Retry-After of a session refused by a cap: a slot
// frees only when another session ends, which a client cannot see, so it
// is told to wait a few seconds rather than to hammer.
const sessionRetry = 5 * time.Second

// add registers s unless its user already holds maxUser sessions or its
// address maxAddr (zero: no limit), which is an *errs.Limited. The caps are
// counted in this process only: sessions live in the process that serves
// their connection, and a load balancer spreading one client over several
// processes gives it at most that many times the cap, never unbounded.
func (ss *sessions) add(s *Session, maxUser, maxAddr int) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if maxUser > 0 && len(ss.byUser[s.user]) >= maxUser {
		return &errs.Limited{Msg: fmt.Sprintf("too many open sessions for this user (at most %d streams and WebSockets); close one first", maxUser), RetryAfter: sessionRetry}
	}
	if maxAddr > 0 && s.addr.IsValid() && ss.byAddr[s.addr] >= maxAddr {
		return &errs.Limited{Msg: fmt.Sprintf("too many open sessions from this address (at most %d streams and WebSockets); close one first", maxAddr), RetryAfter: sessionRetry}
	}
	if ss.byUser == nil {
		ss.byUser = map[string]map[*Session]struct{}{}
		ss.byAddr = map[netip.Addr]int{}
	}
	if ss.byUser[s.user] == nil {
		ss.byUser[s.user] = map[*Session]struct{}{}
		ss.rooms.track(s.user)
	}
	ss.byUser[s.user][s] = struct{}{}
	if !s.resume && ss.cursor != nil {
		// Read under the lock that delivery takes to find the sessions:
		// an event handed on after this is offered to the session, or
		// read back by a catch-up that starts here.
		s.after = ss.cursor()
	}
	if s.addr.IsValid() {
		ss.byAddr[s.addr]++
	}
	s.index = len(ss.all)
	ss.all = append(ss.all, s)
	return nil
}

func (ss *sessions) remove(s *Session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	m := ss.byUser[s.user]
	if _, ok := m[s]; !ok {
		return
	}
	delete(m, s)
	if len(m) == 0 {
		delete(ss.byUser, s.user)
		ss.rooms.untrack(s.user)
	}
	if s.addr.IsValid() {
		if ss.byAddr[s.addr]--; ss.byAddr[s.addr] <= 0 {
			delete(ss.byAddr, s.addr)
		}
	}
	last := ss.all[len(ss.all)-1]
	ss.all[s.index], last.index = last, s.index
	ss.all[len(ss.all)-1] = nil
	ss.all = ss.all[:len(ss.all)-1]
}

// revoke ends the user's sessions opened with a token older than version,
// and reports whether there was one. It never blocks.
func (ss *sessions) revoke(user string, version int64) bool {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	ended := false
	for s := range ss.byUser[user] {
		if s.version < version {
			s.end(ErrRevoked)
			ended = true
		}
	}
	return ended
}

// users lists the users with a session here.
func (ss *sessions) users() []string {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	users := make([]string, 0, len(ss.byUser))
	for u := range ss.byUser {
		users = append(users, u)
	}
	return users
}

// fanOutChunk is the most sessions one goroutine offers a broadcast to.
//
// Offering an event wakes the session's goroutine, which then waits its
// turn behind the others woken before it. On a busy machine, offering to
// thousands of sessions took the offering goroutine past the runtime's
// 10 ms time slice; preempted, it waited behind every session it had
// woken, tens of milliseconds, before the rest of the room heard of the
// event (seen in execution traces at 5,000 sessions). So the offers go in
// chunks of about a millisecond, each chunk's goroutine starting the next:
// a goroutine just started runs next on its core, ahead of the sessions
// woken, so the offers go on in one sequence and none is preempted. (Chunks
// offered side by side on every core woke sessions faster than they could
// batch their writes, and at 10,000 sessions cost more than they saved.)
const fanOutChunk = 512

// deliver offers d to every session allowed to see it, and returns once
// every one has it, so that the next event is offered after it. It never
// waits on a session.
func (ss *sessions) deliver(d *Delivery) {
	if d.room != "" {
		ss.deliverRoom(d)
		return
	}
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	ss.rooms.mu.RLock()
	defer ss.rooms.mu.RUnlock()
	blockers := ss.rooms.blockersOf(d.from)
	if d.recipient != "" {
		for _, u := range []string{d.recipient, d.sender} {
			if _, blocks := blockers[u]; !blocks {
				for s := range ss.byUser[u] {
					s.offer(d)
				}
			}
			if d.recipient == d.sender {
				break
			}
		}
		return
	}
	offerAll(d, ss.all, blockers)
}

// offerAll offers d to every session of to but those of the users in skip,
// a chunk of fanOutChunk at a time, and returns once every one has it.
func offerAll(d *Delivery, to []*Session, skip map[string]struct{}) {
	var chunks sync.WaitGroup
	var offer func(rest []*Session)
	offer = func(rest []*Session) {
		chunk := rest[:min(len(rest), fanOutChunk)]
		for _, s := range chunk {
			if len(skip) > 0 {
				if _, ok := skip[s.user]; ok {
					continue
				}
			}
			s.offer(d)
		}
		if rest = rest[len(chunk):]; len(rest) > 0 {
			chunks.Go(func() { offer(rest) })
		}
	}
	offer(to)
	chunks.Wait()
}

// each calls fn with every session. fn must not block.
func (ss *sessions) each(fn func(*Session)) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	for _, s := range ss.all {
		fn(s)
	}
}

func (ss *sessions) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return len(ss.all)
}
