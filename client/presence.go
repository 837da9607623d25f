package client

import (
	"fmt"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// Online is who a subscriber was told is online: the snapshot that opens
// its stream's presence, with every change since applied. It equals what
// ListPresence answers once the server's changes have reached it. The zero
// value is ready; Users is nil until the snapshot arrives.
type Online struct {
	Users map[string]string // screen name by user id
}

// Apply applies one presence event. A change before the snapshot is an
// error: the server never sends one.
func (o *Online) Apply(pe *foxholev1.PresenceEvent) error {
	if pe.GetSnapshot() {
		o.Users = map[string]string{}
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
