package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// Online is who a subscriber was told is online: the snapshot that opens
// its stream's presence, with every change since applied. It equals what
// ListPresence answers once the server's changes have reached it. The zero
// value is ready; Users is nil until the snapshot arrives.
//
// A snapshot names at most a bounded number of users (the server's
// FOXHOLE_PRESENCE_SNAPSHOT_MAX). When it names fewer than are online,
// Truncated is set, and Users holds only those it names until Complete
// lists the rest.
type Online struct {
	Users     map[string]string // screen name by user id
	Truncated bool              // the last snapshot named only some users; call Complete
}

// Apply applies one presence event. A change before the snapshot is an
// error: the server never sends one.
func (o *Online) Apply(pe *foxholev1.PresenceEvent) error {
	if pe.GetSnapshot() {
		o.Users = map[string]string{}
		o.Truncated = pe.GetTruncated()
	} else if o.Users == nil {
		return fmt.Errorf("a presence change before the snapshot: %v", pe)
	}
	for _, u := range pe.GetLeft() {
		delete(o.Users, u.GetId())
	}
	for _, u := range pe.GetJoined() {
		o.Users[u.GetId()] = u.GetScreenName()
	}
	return nil
}

// Complete replaces Users with every user ListPresence lists, page by
// page, through the process whose stream o follows, and clears Truncated.
// Call it after a truncated snapshot, from the goroutine that applies the
// stream's events, before applying the next: the process updates the view
// ListPresence reads before it sends its streams the change, so the events
// that follow the listing, applied on top of it, are never older than it.
func (o *Online) Complete(ctx context.Context, c *Client) error {
	users, err := c.ListOnline(ctx)
	if err != nil {
		return err
	}
	o.Users = make(map[string]string, len(users))
	for _, u := range users {
		o.Users[u.GetId()] = u.GetScreenName()
	}
	o.Truncated = false
	return nil
}

// ListOnline lists every user online, paging ListPresence.
func (c *Client) ListOnline(ctx context.Context) ([]*foxholev1.UserRef, error) {
	return c.listPresence(ctx, "")
}

// listPresence pages ListPresence: everyone online, or the members of the
// room online.
func (c *Client) listPresence(ctx context.Context, roomID string) ([]*foxholev1.UserRef, error) {
	var users []*foxholev1.UserRef
	token := ""
	for {
		res, err := c.Realtime.ListPresence(ctx, connect.NewRequest(&foxholev1.ListPresenceRequest{PageToken: token, RoomId: roomID}))
		if err != nil {
			return nil, err
		}
		users = append(users, res.Msg.GetUsers()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return users, nil
		}
	}
}
