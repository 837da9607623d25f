package files

import (
	"context"
	"errors"
	"os"
	"time"

	"foxhole.dev/foxhole/internal/errs"
)

// Idle is a read deadline renewed before each read of an upload's content:
// it bounds how long the client may go quiet, and reports whether a failed
// read was the client going quiet for too long.
type Idle struct {
	set     func(time.Time) error
	timeout time.Duration
	at      time.Time
}

// NewIdle returns an Idle that sets deadlines with set (the connection's
// read deadline), timeout apart; timeout 0: no idle limit.
func NewIdle(set func(time.Time) error, timeout time.Duration) Idle {
	return Idle{set: set, timeout: timeout}
}

// Renew sets the deadline timeout from now. Call it before each read.
func (i *Idle) Renew() {
	if i.timeout > 0 {
		i.at = time.Now().Add(i.timeout)
		_ = i.set(i.at) // unsupported: the upload just has no idle limit
	}
}

// Clear lifts the deadline once the content has been read whole. After a
// failed read it stays: the connection is done for.
func (i *Idle) Clear() {
	if i.timeout > 0 {
		_ = i.set(time.Time{})
	}
}

// Expired turns a read error caused by the deadline into the error the
// client sees; other errors come back nil.
func (i *Idle) Expired(err error) error {
	if i.timeout > 0 && (errors.Is(err, os.ErrDeadlineExceeded) || !i.at.IsZero() && !time.Now().Before(i.at)) {
		return errs.New(context.DeadlineExceeded, "upload stalled: no data for %s; nothing was stored", i.timeout)
	}
	return nil
}

// ErrInterrupted is what a client whose upload broke off sees. The cause
// (a reset stream, a malformed chunk) stays in the server's log: its text
// names internals the client has no use for.
var ErrInterrupted = errs.New(context.Canceled, "upload interrupted before the end of its content; nothing was stored")

// Pace fails a transfer that moves too little: fewer than a minimum number
// of bytes per second, measured over a window. The first window is a grace
// period (a connection warming up, a phone between cells); after each one
// the count starts again, so a transfer that was fast once may not then
// trickle. A transfer that stops altogether is the idle deadlines'
// business; Pace is for one that keeps a slot by sending a byte now and
// then.
type Pace struct {
	min    int64 // bytes per second; 0: no minimum
	window time.Duration
	what   string // "upload", "download"
	start  time.Time
	n      int64
	failed bool
}

// NewPace returns the Pace of one upload or download (what names it in
// the error), at the service's configured minimum.
func (s *Service) NewPace(what string) *Pace {
	return &Pace{min: s.opt.MinRate, window: s.opt.RateWindow, what: what, start: time.Now()}
}

// Add counts n more bytes moved, and fails when the window that just
// ended moved fewer than the minimum.
func (p *Pace) Add(n int) error {
	if p == nil || p.min <= 0 || p.window <= 0 {
		return nil
	}
	p.n += int64(n)
	elapsed := time.Since(p.start)
	if elapsed < p.window {
		return nil
	}
	if p.n < int64(float64(p.min)*elapsed.Seconds()) {
		p.failed = true
		msg := "%s too slow: fewer than %d bytes a second over %s"
		if p.what == "upload" {
			msg += "; nothing was stored"
		}
		return errs.New(context.DeadlineExceeded, msg, p.what, p.min, p.window)
	}
	p.start, p.n = time.Now(), 0
	return nil
}

// DownloadWriteTimeout is the longest a client may take to accept one
// write of a download (FOXHOLE_DOWNLOAD_WRITE_TIMEOUT); 0: none.
func (s *Service) DownloadWriteTimeout() time.Duration { return s.opt.DownloadTimeout }

// Failed reports whether the transfer was cut off for moving too slowly.
func (p *Pace) Failed() bool { return p != nil && p.failed }

// Bound returns how long one write (or read) may block: d, but no longer
// than the window, since a transfer stuck that long in one write is
// already below the minimum rate. 0 stays 0 (no bound).
func (p *Pace) Bound(d time.Duration) time.Duration {
	if p == nil || p.min <= 0 || p.window <= 0 || d <= 0 {
		return d
	}
	return min(d, p.window)
}
