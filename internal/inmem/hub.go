package inmem

import (
	"context"
	"sync"

	"foxhole.dev/foxhole/internal/pubsub"
)

var _ pubsub.Hub = (*Hub)(nil)

// Hub is the in-process pubsub.Hub. It delivers each message synchronously
// to every subscriber, in publish order; subscribers must not block (see
// pubsub.Hub).
type Hub struct {
	mu       sync.RWMutex
	subs     map[*subscriber]struct{}
	sessions map[string]int // open sessions per user
}

type subscriber struct{ fn func([]byte) }

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[*subscriber]struct{}{}, sessions: map[string]int{}}
}

// Publish implements pubsub.Hub. The publish lock keeps one order for all
// subscribers.
func (h *Hub) Publish(_ context.Context, msg []byte) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		s.fn(msg)
	}
	return nil
}

// Subscribe implements pubsub.Hub. Nothing is ever lost in process, so lost
// is never called.
func (h *Hub) Subscribe(fn func([]byte), _ func()) func() {
	s := &subscriber{fn: fn}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}
}

// Join implements pubsub.Hub.
func (h *Hub) Join(_ context.Context, userID string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[userID]++
	return h.sessions[userID] == 1, nil
}

// Leave implements pubsub.Hub.
func (h *Hub) Leave(_ context.Context, userID string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.sessions[userID] - 1
	if n <= 0 {
		delete(h.sessions, userID)
		return n == 0, nil
	}
	h.sessions[userID] = n
	return false, nil
}

// Online implements pubsub.Hub.
func (h *Hub) Online(context.Context) ([]string, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	users := make([]string, 0, len(h.sessions))
	for u := range h.sessions {
		users = append(users, u)
	}
	return users, nil
}

// OnlineAmong implements pubsub.Hub.
func (h *Hub) OnlineAmong(_ context.Context, userIDs []string) ([]string, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var online []string
	for _, u := range userIDs {
		if h.sessions[u] > 0 {
			online = append(online, u)
		}
	}
	return online, nil
}
