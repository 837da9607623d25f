// Package pubsub defines the hub that carries live events between
// Foxhole's realtime sessions, and who is online. The embedded default lives
// in process (inmem.Hub); a shared hub lets several processes deliver
// each other's events.
package pubsub

import "context"

// Hub fans messages out to every subscriber, in every process sharing it,
// and counts each user's open sessions.
type Hub interface {
	// Publish delivers msg to every subscriber. It never waits on a slow
	// subscriber. Messages from one publisher arrive in publish order.
	Publish(ctx context.Context, msg []byte) error
	// Subscribe calls fn with every message published from now on, until
	// unsubscribe is called. fn must return quickly and not keep msg past
	// the call unless it copies it.
	//
	// A shared hub can lose its connection to the others; messages
	// published meanwhile are gone. Each time the subscription is
	// established again after such a gap, the hub calls lost, so that the
	// subscriber can catch up from its source of truth; messages published
	// after lost is called are delivered. lost must not block. A hub that
	// cannot lose messages (the in-process one) never calls it.
	Subscribe(fn func(msg []byte), lost func()) (unsubscribe func())
	// Join records one more open session of the user and reports whether
	// it is the user's first.
	Join(ctx context.Context, userID string) (first bool, err error)
	// Leave records that one session of the user closed and reports
	// whether it was the user's last.
	Leave(ctx context.Context, userID string) (last bool, err error)
	// Online lists the users with at least one open session.
	Online(ctx context.Context) ([]string, error)
	// OnlineAmong lists those of userIDs (which holds no repeats) that have
	// at least one open session: Online for a few users, at a cost in
	// proportion to them rather than to everyone online.
	OnlineAmong(ctx context.Context, userIDs []string) ([]string, error)
}
