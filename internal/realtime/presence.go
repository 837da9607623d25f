package realtime

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/pubsub"
)

// Presence reaches sessions at most once per interval, whatever the number
// of users coming and going.
//
// When a user's first session opens or last session closes (hub.Join and
// hub.Leave decide, across every process sharing the hub), the process
// publishes a hint naming the user, and every process, this one included,
// marks the user as changed. Once per interval the process's presence loop
// asks the hub which of the changed users are online (OnlineAmong), compares
// the answer with what its sessions were last told (the view), and offers
// every session that takes presence one event with the net changes, built
// and encoded once for all of them. The hub, not the hint, says who is
// online, so hints that arrive late or out of order cost a look-up, never a
// wrong answer.
//
// A session's first presence event is a snapshot of the view, taken at the
// first interval after its own user's join was marked. A session whose queue
// is full when changes are due is stale: it is offered no more changes, but
// a fresh snapshot at the next interval its queue has room for one.
//
// A snapshot names at most snapshotMax users; past that it is truncated,
// and says so, and the client pages ListPresence for the rest.
//
// ListPresence reads the view too, not the hub: a call costs this process a
// binary search in the view sorted by id (sorted again only after it
// changed, and only when someone lists), and costs Valkey and the database
// nothing, and what it lists is what this process's streams were told.
//
// The whole view is compared with hub.Online when
// the process starts, when the hub may have lost hints (its lost callback),
// when too many users changed in one interval to name them, and every
// presenceReconcile, which also catches what no hint announces: a process
// that died without saying that its users left, a changed screen name.

const (
	// presenceReconcile is how often the whole view is compared with the hub.
	presenceReconcile = 30 * time.Second
	// maxChanged bounds the users marked in one interval; past it, the next
	// look compares everyone instead, which then costs about as much.
	maxChanged = 10_000
	// presenceLookTimeout bounds one look at the hub and the database.
	presenceLookTimeout = 30 * time.Second
	// DefaultSnapshotMax is the users a snapshot names unless configured.
	DefaultSnapshotMax = 1000
)

// A session's presence state.
const (
	presenceOff  uint32 = iota // it skips presence, or has not joined yet
	presenceWant               // a snapshot is due: it is new, or stale
	presenceLive               // it has a snapshot; changes are due
)

// presence gathers presence changes and sends them to this process's
// sessions, once per interval.
type presence struct {
	hub      pubsub.Hub
	db       Store
	log      zerolog.Logger
	now      func() time.Time
	live     *sessions
	interval time.Duration
	metrics  Metrics // set by NewService; nil: none

	mu      sync.Mutex
	changed map[string]struct{} // users whose presence may have changed
	full    bool                // compare everyone at the next look
	round   uint64              // looks begun
	wake    chan struct{}       // signalled when a look is due

	// view is who this process's sessions were last told is online. Only
	// the loop reads and writes it; the refs are never changed once shared.
	view    map[string]*foxholev1.UserRef
	failing bool // the last look failed
	// snapshotMax bounds the users one snapshot names.
	snapshotMax int

	// viewMu guards view against the loop's changes for list, which reads
	// it from other goroutines; the loop, its only writer, reads it
	// without. version counts the changes.
	viewMu  sync.RWMutex
	version uint64
	// sorted is the view in id order as of sortedVersion, built by list.
	sortMu        sync.Mutex
	sorted        []*foxholev1.UserRef
	sortedVersion uint64

	stop    context.CancelFunc
	stopped chan struct{}
}

func newPresence(hub pubsub.Hub, db Store, live *sessions, interval time.Duration, snapshotMax int, now func() time.Time, log zerolog.Logger) *presence {
	if interval <= 0 {
		interval = time.Second
	}
	if snapshotMax <= 0 {
		snapshotMax = DefaultSnapshotMax
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &presence{
		hub: hub, db: db, log: log, now: now, live: live, interval: interval,
		changed:     map[string]struct{}{},
		full:        true, // whoever is online in other processes already
		wake:        make(chan struct{}, 1),
		view:        map[string]*foxholev1.UserRef{},
		snapshotMax: snapshotMax,
		stop:        cancel,
		stopped:     make(chan struct{}),
	}
	p.signal()
	go p.run(ctx)
	return p
}

// signal makes a look due. It never blocks.
func (p *presence) signal() {
	select {
	case p.wake <- struct{}{}:
	default: // due already
	}
}

// mark records that the user's presence may have changed. It never blocks:
// the hub's callback calls it.
func (p *presence) mark(userID string) {
	p.mu.Lock()
	p.markLocked(userID)
	p.mu.Unlock()
	p.signal()
}

func (p *presence) markLocked(userID string) {
	if len(p.changed) < maxChanged {
		p.changed[userID] = struct{}{}
	} else {
		p.full = true
	}
}

// reconcile makes the next look compare everyone.
func (p *presence) reconcile() {
	p.mu.Lock()
	p.full = true
	p.mu.Unlock()
	p.signal()
}

// ready asks for sess's first snapshot, once its user's join is marked.
func (p *presence) ready(sess *Session) {
	p.mu.Lock()
	sess.snapshotAfter.Store(p.round)
	sess.presence.Store(presenceWant)
	p.mu.Unlock()
	p.signal()
}

// close stops the loop and waits for it.
func (p *presence) close() {
	p.stop()
	<-p.stopped
}

// run looks once per interval while anything is due, and compares everyone
// every presenceReconcile.
func (p *presence) run(ctx context.Context) {
	defer close(p.stopped)
	reconcile := time.NewTicker(presenceReconcile)
	defer reconcile.Stop()
	for {
		select {
		case <-p.wake:
		case <-reconcile.C:
			p.reconcile()
			continue
		case <-ctx.Done():
			return
		}
		// Whatever is marked within the interval goes out together.
		t := time.NewTimer(p.interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		start := time.Now()
		p.flush(ctx)
		if p.metrics != nil {
			p.metrics.PresenceWork(time.Since(start))
		}
	}
}

// flush brings the view up to date and offers it to the sessions: the
// changes to those that have a snapshot, a snapshot to those that need one.
func (p *presence) flush(ctx context.Context) {
	p.mu.Lock()
	changed, full := p.changed, p.full
	p.changed, p.full = map[string]struct{}{}, false
	p.round++
	round := p.round
	p.mu.Unlock()

	lctx, cancel := context.WithTimeout(ctx, presenceLookTimeout)
	joined, left, err := p.look(lctx, changed, full)
	cancel()
	switch {
	case err != nil && ctx.Err() == nil:
		// Look again at the next interval. Sessions still get snapshots of
		// the view as it stands.
		if !p.failing {
			p.log.Warn().Err(err).Msg("presence: read who is online; trying again every interval")
		}
		p.failing = true
		p.mu.Lock()
		p.full = p.full || full
		for u := range changed {
			p.markLocked(u)
		}
		p.mu.Unlock()
		p.signal()
	case err == nil && p.failing:
		p.failing = false
		p.log.Info().Msg("presence: reading who is online again")
	}

	var diff, snap *Delivery
	if len(joined)+len(left) > 0 {
		diff = presenceDelivery(p.now(), joined, left, false)
	}
	retry := false
	p.live.each(func(s *Session) {
		switch s.presence.Load() {
		case presenceWant:
			if s.snapshotAfter.Load() >= round {
				return // its join may not be in this look; it signalled for the next
			}
			if snap == nil {
				snap = p.snapshot()
			}
			if s.offerLive(snap) {
				s.presence.Store(presenceLive)
			} else {
				retry = true
			}
		case presenceLive:
			if diff != nil && !s.offerLive(diff) {
				// Stale: a fresh snapshot replaces what it missed.
				s.presence.Store(presenceWant)
				retry = true
			}
		}
	})
	if retry {
		p.signal()
	}
}

// look compares the view with the hub, for the changed users or, when full,
// for everyone, updates it, and returns who joined and who left. A user the
// hub has but the database has not is not online, as in Service.Online.
func (p *presence) look(ctx context.Context, changed map[string]struct{}, full bool) (joined, left []*foxholev1.UserRef, err error) {
	var online []string
	switch {
	case full:
		online, err = p.hub.Online(ctx)
	case len(changed) > 0:
		ids := make([]string, 0, len(changed))
		for u := range changed {
			ids = append(ids, u)
		}
		online, err = p.hub.OnlineAmong(ctx, ids)
	default:
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	// Names are read for newcomers, and for everyone when full, so that a
	// changed screen name reaches sessions as a join under the new name.
	var fetch []string
	for _, u := range online {
		if _, known := p.view[u]; full || !known {
			fetch = append(fetch, u)
		}
	}
	users, err := p.db.UsersByID(ctx, fetch)
	if err != nil {
		return nil, nil, err
	}
	p.viewMu.Lock()
	defer func() {
		if len(joined)+len(left) > 0 {
			p.version++
		}
		p.viewMu.Unlock()
	}()
	isOnline := make(map[string]bool, len(online))
	for _, u := range online {
		// One the view has keeps its name; one read counts once found.
		_, known := p.view[u]
		isOnline[u] = known && !full
	}
	for _, u := range users {
		isOnline[u.ID] = true
		if old, ok := p.view[u.ID]; !ok || old.ScreenName != u.ScreenName {
			ref := &foxholev1.UserRef{Id: u.ID, ScreenName: u.ScreenName}
			p.view[u.ID] = ref
			joined = append(joined, ref)
		}
	}
	gone := func(u string) {
		if ref, ok := p.view[u]; ok && !isOnline[u] {
			delete(p.view, u)
			left = append(left, ref)
		}
	}
	if full {
		for u := range p.view {
			gone(u)
		}
	} else {
		for u := range changed {
			gone(u)
		}
	}
	return joined, left, nil
}

// snapshot is the view as one event: all of it, or snapshotMax users of it
// and the mark that it is truncated.
func (p *presence) snapshot() *Delivery {
	all := make([]*foxholev1.UserRef, 0, min(len(p.view), p.snapshotMax))
	for _, ref := range p.view {
		if len(all) == p.snapshotMax {
			break
		}
		all = append(all, ref)
	}
	d := presenceDelivery(p.now(), all, nil, true)
	if len(all) < len(p.view) {
		d.msg.GetEvent().GetPresence().Truncated = true
	}
	return d
}

// list returns at most n users of the view whose ids follow after, in id
// order, and whether more follow them. It is safe to call from any goroutine.
func (p *presence) list(n int, after string) (users []*foxholev1.UserRef, more bool) {
	p.sortMu.Lock()
	p.viewMu.RLock()
	if p.sorted == nil || p.sortedVersion != p.version {
		all := make([]*foxholev1.UserRef, 0, len(p.view))
		for _, ref := range p.view {
			all = append(all, ref)
		}
		v := p.version
		p.viewMu.RUnlock()
		slices.SortFunc(all, func(a, b *foxholev1.UserRef) int { return strings.Compare(a.Id, b.Id) })
		p.sorted, p.sortedVersion = all, v
	} else {
		p.viewMu.RUnlock()
	}
	sorted := p.sorted // never changed once built
	p.sortMu.Unlock()
	i, found := slices.BinarySearchFunc(sorted, after, func(r *foxholev1.UserRef, id string) int { return strings.Compare(r.Id, id) })
	if found {
		i++
	}
	end := len(sorted)
	if n < end-i {
		end = i + n
	}
	return sorted[i:end:end], end < len(sorted)
}

// presenceDelivery is one presence event, shared by every session it is
// offered to, in no particular order. user and change repeat a lone change
// for clients written before joined and left.
func presenceDelivery(at time.Time, joined, left []*foxholev1.UserRef, snapshot bool) *Delivery {
	pe := &foxholev1.PresenceEvent{Joined: joined, Left: left, Snapshot: snapshot}
	switch {
	case len(joined) == 1 && len(left) == 0:
		pe.User, pe.Change = joined[0], foxholev1.PresenceEvent_CHANGE_JOINED
	case len(left) == 1 && len(joined) == 0:
		pe.User, pe.Change = left[0], foxholev1.PresenceEvent_CHANGE_LEFT
	}
	return NewDelivery(&foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: &foxholev1.Event{
		CreatedAt: timestamppb.New(at),
		Payload:   &foxholev1.Event_Presence{Presence: pe},
	}}})
}

// sessionPresence is a session's part in presence: see the presence* states.
type sessionPresence struct {
	presence      atomic.Uint32
	snapshotAfter atomic.Uint64 // its snapshot comes from a look begun after this one
}

// online returns the user as presence lists it, or nil when it is offline.
func (p *presence) online(id string) *foxholev1.UserRef {
	p.viewMu.RLock()
	defer p.viewMu.RUnlock()
	return p.view[id]
}
