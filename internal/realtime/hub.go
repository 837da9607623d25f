package realtime

import (
	"encoding/json"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// envelope is how an event travels through the pubsub.Hub: who may see it,
// and the event itself in binary protobuf.
type envelope struct {
	Sender    string `json:"s,omitempty"`
	Recipient string `json:"r,omitempty"` // empty: everyone
	Presence  bool   `json:"p,omitempty"`
	Event     []byte `json:"e"`
}

// delivery is one event decoded once per process and shared, read-only, by
// every session that receives it.
type delivery struct {
	id        int64
	sender    string
	recipient string
	presence  bool
	msg       *foxholev1.SubscribeResponse

	jsonOnce sync.Once
	json     []byte
}

// JSON returns the event as the Connect JSON stream carries it, encoded once
// for every WebSocket that sends it.
func (d *delivery) JSON() []byte {
	d.jsonOnce.Do(func() { d.json, _ = protojson.Marshal(d.msg) })
	return d.json
}

func decodeEnvelope(b []byte) (*delivery, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	ev := new(foxholev1.Event)
	if err := proto.Unmarshal(env.Event, ev); err != nil {
		return nil, err
	}
	return &delivery{
		id:        ev.GetId(),
		sender:    env.Sender,
		recipient: env.Recipient,
		presence:  env.Presence,
		msg:       &foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: ev}},
	}, nil
}

// session is one open subscription: a Subscribe stream or a WebSocket.
type session struct {
	user         string
	skipPresence bool
	queue        chan *delivery

	kickOnce sync.Once
	kicked   chan struct{} // closed when the session fell too far behind
}

// offer queues d without waiting. A session whose queue is full is kicked
// instead; presence changes, being live only, are dropped for a session
// whose queue is half full rather than counted against it.
func (s *session) offer(d *delivery) {
	if d.presence && (s.skipPresence || len(s.queue) >= cap(s.queue)/2) {
		return
	}
	select {
	case s.queue <- d:
	default:
		s.kickOnce.Do(func() { close(s.kicked) })
	}
}

// sessions are this process's open sessions, by user.
type sessions struct {
	mu     sync.RWMutex
	byUser map[string]map[*session]struct{}
	n      int
}

func (ss *sessions) add(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byUser == nil {
		ss.byUser = map[string]map[*session]struct{}{}
	}
	if ss.byUser[s.user] == nil {
		ss.byUser[s.user] = map[*session]struct{}{}
	}
	ss.byUser[s.user][s] = struct{}{}
	ss.n++
}

func (ss *sessions) remove(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if m := ss.byUser[s.user]; m != nil {
		if _, ok := m[s]; ok {
			delete(m, s)
			ss.n--
		}
		if len(m) == 0 {
			delete(ss.byUser, s.user)
		}
	}
}

// deliver offers d to every session allowed to see it. It never blocks.
func (ss *sessions) deliver(d *delivery) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	if d.recipient != "" {
		for _, u := range []string{d.recipient, d.sender} {
			for s := range ss.byUser[u] {
				s.offer(d)
			}
			if d.recipient == d.sender {
				break
			}
		}
		return
	}
	for _, m := range ss.byUser {
		for s := range m {
			s.offer(d)
		}
	}
}

func (ss *sessions) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.n
}
