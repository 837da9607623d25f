package client

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// Conversation names one conversation: a room (RoomID), the direct
// conversation with another user (PeerID), or, with neither, the lobby
// everyone shares. At most one is set.
type Conversation struct {
	RoomID string
	PeerID string
}

// Lobby is the conversation everyone shares.
var Lobby = Conversation{}

// InRoom is the conversation of a room.
func InRoom(roomID string) Conversation { return Conversation{RoomID: roomID} }

// Direct is the direct conversation with a user.
func Direct(userID string) Conversation { return Conversation{PeerID: userID} }

var errBothConversations = errors.New("a conversation is a room or a peer, not both")

func (cv Conversation) check() error {
	if cv.RoomID != "" && cv.PeerID != "" {
		return errBothConversations
	}
	return nil
}

// Send sends a message to the conversation: a room's members (the caller
// must be one), one user, or the lobby. It returns the stored event.
func (c *Client) Send(ctx context.Context, to Conversation, content string) (*foxholev1.Event, error) {
	if err := to.check(); err != nil {
		return nil, err
	}
	res, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{
		Content: content, RoomId: to.RoomID, RecipientId: to.PeerID,
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetEvent(), nil
}

// Page picks one page of a conversation's history. With neither cursor,
// it is the latest page.
type Page struct {
	// BeforeEventID: the page that ends just before this event (scrolling
	// back).
	BeforeEventID *int64
	// AfterEventID: the page that starts just after this event; 0 is the
	// oldest page retained. Not with BeforeEventID.
	AfterEventID *int64
	// Size: the most events, 1 to 200; 0 means 50.
	Size int32
}

// ListMessages returns one page of a conversation's stored history, in
// ascending id order: chat messages and, in a room, its membership
// changes. HasMore says whether stored events lie beyond the page in the
// direction of travel: older ones, unless AfterEventID is set.
func (c *Client) ListMessages(ctx context.Context, cv Conversation, p Page) (*foxholev1.ListMessagesResponse, error) {
	if err := cv.check(); err != nil {
		return nil, err
	}
	res, err := c.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{
		RoomId: cv.RoomID, PeerId: cv.PeerID,
		BeforeEventId: p.BeforeEventID, AfterEventId: p.AfterEventID, PageSize: p.Size,
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// History walks a conversation's history backwards, newest first, from
// the latest event (or from just before p.BeforeEventID), fetching a page
// of p.Size events at a time as the loop goes on; break out of the loop
// to stop. A page refused for the rate of calls (resource_exhausted) is
// asked for again after the wait the server names. Another error ends the
// walk: it is yielded with a nil event. p.AfterEventID is ignored.
//
//	for ev, err := range fox.History(ctx, client.InRoom(id), client.Page{}) {
//		if err != nil { return err }
//		...
//	}
func (c *Client) History(ctx context.Context, cv Conversation, p Page) iter.Seq2[*foxholev1.Event, error] {
	return func(yield func(*foxholev1.Event, error) bool) {
		page := Page{BeforeEventID: p.BeforeEventID, Size: p.Size}
		for {
			res, err := c.ListMessages(ctx, cv, page)
			for tries := 0; err != nil && tries < maxLimitedTries; tries++ {
				wait, ok := retryAfter(err)
				if !ok {
					break
				}
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					yield(nil, ctx.Err())
					return
				}
				res, err = c.ListMessages(ctx, cv, page)
			}
			if err != nil {
				yield(nil, err)
				return
			}
			events := res.GetEvents()
			for i := len(events) - 1; i >= 0; i-- {
				if !yield(events[i], nil) {
					return
				}
			}
			if !res.GetHasMore() || len(events) == 0 {
				return
			}
			oldest := events[0].GetId()
			page.BeforeEventID = &oldest
		}
	}
}

// maxLimitedTries bounds how many times in a row History asks again for a
// page refused for the rate of calls.
const maxLimitedTries = 10

// retryAfter returns how long the server asks a call refused for the rate
// of calls to wait, capped at a minute; ok is false for other errors.
func retryAfter(err error) (wait time.Duration, ok bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
		return 0, false
	}
	wait = time.Second
	if n, perr := strconv.Atoi(ce.Meta().Get("Retry-After")); perr == nil && n > 0 {
		wait = time.Duration(n) * time.Second
	}
	return min(wait, time.Minute), true
}
