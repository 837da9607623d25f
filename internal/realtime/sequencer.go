package realtime

import (
	"context"

	"github.com/rs/zerolog"
)

// sequencer hands this process's sessions every stored event in id order,
// each once, whatever the hub does: processes publish independently, so
// events from two of them may arrive out of order, and a hub may lose
// messages (a shared hub, across a reconnect). A stored event is committed
// before it is published, and ids are given in commit order, so when event
// n arrives every event before it is in the database: a gap is filled from
// there before n goes out.
type sequencer struct {
	db      Store
	log     zerolog.Logger
	deliver func(*Delivery)

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

func newSequencer(db Store, log zerolog.Logger, deliver func(*Delivery)) *sequencer {
	ctx, cancel := context.WithCancel(context.Background())
	q := &sequencer{
		db: db, log: log, deliver: deliver,
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
	for {
		select {
		case d := <-q.in:
			if last >= 0 && d.id <= last {
				continue // filled from the database already
			}
			if last >= 0 && d.id > last+1 {
				q.fill(ctx, last, d.id-1)
			}
			q.deliver(d)
			last = d.id
		case <-q.missed:
			if last >= 0 {
				last = q.fill(ctx, last, -1)
			}
		case <-ctx.Done():
			return
		}
	}
}

// fill hands on the stored events after id `after`, up to id `through`
// (-1: the newest), and returns the last id handed on. An event the
// database cannot give now is skipped: sessions that need it resume.
func (q *sequencer) fill(ctx context.Context, after, through int64) int64 {
	for {
		rows, err := q.db.EventsBetween(ctx, after, through, catchUpPage)
		if err != nil {
			if ctx.Err() == nil {
				q.log.Error().Err(err).Int64("after", after).Msg("fill a gap in live events from the database")
			}
			return max(after, through)
		}
		for _, row := range rows {
			d, err := storedDelivery(row)
			if err != nil {
				q.log.Error().Err(err).Msg("undecodable stored event")
			} else {
				q.deliver(d)
			}
			after = row.ID
		}
		if len(rows) < catchUpPage {
			return max(after, through)
		}
	}
}
