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
