package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// SubscribeOptions shape a Subscribe.
type SubscribeOptions struct {
	// AfterEventID replays the stored events after this id first; nil:
	// live events only, from now on.
	AfterEventID *int64
	// SkipPresence leaves out presence changes.
	SkipPresence bool
	// RoomIDs narrows room events (messages in rooms and membership
	// changes) to these rooms; empty: every room the user belongs to.
	// The lobby, direct messages and file events come either way.
	RoomIDs []string
	// OnDisconnect, when set, hears why the stream dropped and when it is
	// opened again. It must not block.
	OnDisconnect func(err error, retryIn time.Duration)
	// MaxBackoff bounds the wait between attempts; zero: 10 seconds.
	MaxBackoff time.Duration
}

// Subscribe calls fn with every event the user may see until ctx ends or
// fn returns an error. A dropped stream is opened again, after a growing
// pause with jitter, and resumes after the last stored event fn received,
// so fn sees every stored event once and in order. A stream refused for
// good (the cursor is older than the retained history, the credentials
// are gone) ends Subscribe with the server's error.
//
// Events before the first stored one fn receives can only be resumed from
// AfterEventID: a subscription with none that drops before any stored
// event arrives goes on with live events.
//
// The stream carries the lobby, direct messages, the user's file events and
// the events of every room the user belongs to (or of o.RoomIDs). A user
// who leaves a room, or is removed or banned from it, receives that event
// (RoomEvent kind LEFT, REMOVED or BANNED, naming the user) and then
// nothing more of the room, live or replayed.
func (c *Client) Subscribe(ctx context.Context, o SubscribeOptions, fn func(*foxholev1.Event) error) error {
	after := o.AfterEventID
	maxWait := o.MaxBackoff
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	wait := 100 * time.Millisecond
	for {
		received, err := c.subscribeOnce(ctx, &foxholev1.SubscribeRequest{AfterEventId: after, SkipPresence: o.SkipPresence, RoomIds: o.RoomIDs}, func(ev *foxholev1.Event) error {
			if ev.GetId() != 0 {
				id := ev.GetId()
				after = &id
			}
			return fn(ev)
		})
		var stop fnError
		switch {
		case errors.As(err, &stop):
			return stop.err
		case ctx.Err() != nil:
			return ctx.Err()
		case !c.retryable(err, received):
			return err
		}
		if received {
			wait = 100 * time.Millisecond
		}
		pause := wait/2 + rand.N(wait/2+1)
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			pause = 0 // the token was revoked or expired: a new one is fetched at once
		}
		if o.OnDisconnect != nil {
			o.OnDisconnect(err, pause)
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(2*wait, maxWait)
	}
}

// fnError carries the error of Subscribe's fn out of the stream.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// subscribeOnce runs one stream until it ends, and reports whether it
// received anything.
func (c *Client) subscribeOnce(ctx context.Context, req *foxholev1.SubscribeRequest, fn func(*foxholev1.Event) error) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(req))
	if err != nil {
		return false, err
	}
	defer stream.Close()
	received := false
	for stream.Receive() {
		received = true
		if ev := stream.Msg().GetEvent(); ev != nil {
			if err := fn(ev); err != nil {
				return true, fnError{err}
			}
		}
	}
	err = stream.Err()
	if err == nil {
		err = connect.NewError(connect.CodeUnavailable, errors.New("the server ended the stream"))
	}
	return received, err
}

// retryable tells the errors a new attempt may cure: the server or the
// network was away, or the session fell behind. A stream that worked and
// was then refused lost its token (revoked or expired): it is tried again
// when a new token can be obtained from the secret; a stream refused from
// the start is not.
func (c *Client) retryable(err error, received bool) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeResourceExhausted, connect.CodeDeadlineExceeded,
		connect.CodeAborted, connect.CodeInternal, connect.CodeUnknown, connect.CodeCanceled:
		return true
	case connect.CodeUnauthenticated:
		return received && c.Tokens != nil && c.Tokens.auth != nil
	}
	return false
}
