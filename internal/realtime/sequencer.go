package realtime

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// sequencer hands this process's sessions every stored event in id order,
// each once, whatever the hub does: processes publish independently, so
// events from two of them may arrive out of order, and a hub may lose
// messages (a shared hub, across a reconnect). A stored event is committed
// before it is published, and ids are given in commit order, so when event
// n arrives every event before it is in the database: a gap is filled from
// there before n goes out.
//
// When the database cannot give the events of a gap, every session is
// marked behind (behind): each then reads what it missed from the database
// itself, after the newest event it sent, as a slow session does, so none
// misses an event silently. A lost-messages fill that failed is tried again
// (with a backoff) until it succeeds.
type sequencer struct {
	db      Store
	log     zerolog.Logger
	deliver func(*Delivery)
	behind  func() // marks every session behind

	// handed is the newest event id handed on, or given up to the
	// sessions' own catch-up (-1: not known yet). A session opening starts
	// its cursor there.
	handed atomic.Int64

	in      chan *Delivery // stored events from the hub, in arrival order
	missed  chan struct{}  // signalled when the hub may have lost messages
	stopped chan struct{}
	stop    context.CancelFunc
}

// sequencerQueue bounds the stored events waiting to be put in order. A
// hub that outruns it loses nothing: the overflow is read back from the
// database, as after any gap.
const sequencerQueue = 4096

// catchUpPage is how many events one gap fill reads at a time.
const catchUpPage = 500

// Bounds of the backoff between tries of a lost-messages fill that failed.
const (
	fillRetryMin = 100 * time.Millisecond
	fillRetryMax = 5 * time.Second
)

func newSequencer(db Store, log zerolog.Logger, deliver func(*Delivery), behind func()) *sequencer {
	ctx, cancel := context.WithCancel(context.Background())
	q := &sequencer{
		db: db, log: log, deliver: deliver, behind: behind,
		in:      make(chan *Delivery, sequencerQueue),
		missed:  make(chan struct{}, 1),
		stopped: make(chan struct{}),
		stop:    cancel,
	}
	// Read now, before any session opens: events stored before this point
	// reach sessions by their replay, and every later one through run.
	_, last, err := db.EventBounds(ctx)
	if err != nil {
		log.Error().Err(err).Msg("read the newest event id; live delivery starts from the first event heard")
		last = -1
	}
	q.handed.Store(last)
	go q.run(ctx, last)
	return q
}

// offer queues a stored event. It never blocks: it runs on the hub's
// goroutine.
func (q *sequencer) offer(d *Delivery) {
	select {
	case q.in <- d:
	default:
		q.lost()
	}
}

// lost says that messages may have been lost: the next step reads
// everything after the last id handed on from the database.
func (q *sequencer) lost() {
	select {
	case q.missed <- struct{}{}:
	default: // a catch-up is due already
	}
}

// close stops the sequencer and waits for it.
func (q *sequencer) close() {
	q.stop()
	<-q.stopped
}

// run hands on events after id last (-1: from the first one heard).
func (q *sequencer) run(ctx context.Context, last int64) {
	defer close(q.stopped)
	var (
		retry   *time.Timer // the next try of a failed lost-messages fill
		retryC  <-chan time.Time
		backoff time.Duration
	)
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	// fillLost reads back what the hub may have lost; on failure it tries
	// again later, marking the sessions behind only when told to: a retry
	// has nothing new to tell them.
	fillLost := func(mark bool) {
		if last < 0 {
			return
		}
		var ok bool
		if last, ok = q.fill(ctx, last, -1, mark); ok {
			backoff = 0
			return
		}
		if ctx.Err() != nil {
			return
		}
		backoff = min(max(2*backoff, fillRetryMin), fillRetryMax)
		if retry == nil {
			retry = time.NewTimer(backoff)
		} else {
			retry.Reset(backoff)
		}
		retryC = retry.C
	}
	for {
		select {
		case d := <-q.in:
			if last >= 0 && d.id <= last {
				continue // filled from the database already
			}
			if last >= 0 && d.id > last+1 {
				q.fill(ctx, last, d.id-1, true)
			}
			q.deliver(d)
			last = d.id
			q.handed.Store(last)
		case <-q.missed:
			fillLost(true)
		case <-retryC:
			retryC = nil
			fillLost(false)
		case <-ctx.Done():
			return
		}
	}
}

// fill hands on the stored events after id `after`, up to id `through`
// (-1: the newest), and returns the last id handed on or given up, and
// whether the database gave every one. When it cannot, the events it
// could not give are given up (as far as through) and, if mark is set,
// every session is marked behind to read them itself.
func (q *sequencer) fill(ctx context.Context, after, through int64, mark bool) (int64, bool) {
	for {
		rows, err := q.db.EventsBetween(ctx, after, through, catchUpPage)
		if err != nil {
			if ctx.Err() != nil {
				return max(after, through), false // closing: no session is left to tell
			}
			q.log.Error().Err(err).Int64("after", after).Int64("through", through).Msg("fill a gap in live events from the database; every session catches up by itself")
			last := max(after, through)
			// A session that opens from here on starts after the gap (it
			// was stored before the session could hear); every session
			// open now reads it itself.
			q.handed.Store(last)
			if mark {
				q.behind()
			}
			return last, false
		}
		for _, row := range rows {
			d, err := storedDelivery(row)
			if err != nil {
				q.log.Error().Err(err).Msg("undecodable stored event")
			} else {
				q.deliver(d)
			}
			after = row.ID
			q.handed.Store(after)
		}
		if len(rows) < catchUpPage {
			return max(after, through), true
		}
	}
}

// handedOn is the cursor of a session that opens now: the newest event id
// handed on, or given up to the sessions' own catch-up (0: none known).
func (q *sequencer) handedOn() int64 { return max(q.handed.Load(), 0) }
