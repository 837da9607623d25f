package files

import (
	"context"
	"errors"
	"os"
	"time"

	"foxhole.dev/foxhole/internal/errs"
)

// Deadlines set the read and write deadlines of a request's connection
// (http.ResponseController's; on HTTP/2, of the request's own stream).
// Connect handlers see no ResponseWriter, so the server passes these in the
// context of UploadFileStream and DownloadFile: a client that stops sending
// or stops reading is cut off instead of holding a stream, a buffer and a
// file open forever.
type Deadlines struct {
	Read  func(time.Time) error
	Write func(time.Time) error
}

type deadlinesKey struct{}

// WithDeadlines returns a context carrying d.
func WithDeadlines(ctx context.Context, d Deadlines) context.Context {
	return context.WithValue(ctx, deadlinesKey{}, d)
}

func noDeadline(time.Time) error { return nil }

// deadlinesFrom returns the context's deadline setters; where there are
// none (the handler called directly), setting one does nothing.
func deadlinesFrom(ctx context.Context) Deadlines {
	d, _ := ctx.Value(deadlinesKey{}).(Deadlines)
	if d.Read == nil {
		d.Read = noDeadline
	}
	if d.Write == nil {
		d.Write = noDeadline
	}
	return d
}

// idle is a deadline renewed before each read of an upload: it reports
// whether a failed read was the client going quiet for too long.
type idle struct {
	set     func(time.Time) error
	timeout time.Duration
	at      time.Time
}

func (i *idle) renew() {
	if i.timeout > 0 {
		i.at = time.Now().Add(i.timeout)
		_ = i.set(i.at) // unsupported: the upload just has no idle limit
	}
}

// clear lifts the deadline once the content has been read whole. After a
// failed read it stays: the connection is done for.
func (i *idle) clear() {
	if i.timeout > 0 {
		_ = i.set(time.Time{})
	}
}

// expired turns a read error caused by the deadline into the error the
// client sees; other errors come back nil.
func (i *idle) expired(err error) error {
	if i.timeout > 0 && (errors.Is(err, os.ErrDeadlineExceeded) || !i.at.IsZero() && !time.Now().Before(i.at)) {
		return errs.New(context.DeadlineExceeded, "upload stalled: no data for %s; nothing was stored", i.timeout)
	}
	return nil
}

// errInterrupted is what a client whose upload broke off sees. The cause
// (a reset stream, a malformed chunk) stays in the server's log: its text
// names internals the client has no use for.
var errInterrupted = errs.New(context.Canceled, "upload interrupted before the end of its content; nothing was stored")
