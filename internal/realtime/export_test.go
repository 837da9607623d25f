package realtime

import (
	"sync/atomic"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// burstID numbers the events of Burst past any stored one, so that no
// session takes them for events it has sent already.
var burstID atomic.Int64

func init() { burstID.Store(1 << 40) }

// Burst offers n broadcasts to every session at once, as the hub does when
// it hands on a backlog, without storing them. For benchmarks of the write
// path: n must stay below the sessions' queue, since events that were never
// stored cannot be caught up.
func (s *Service) Burst(n int, content string) {
	for range n {
		id := burstID.Add(1)
		s.live.deliver(&Delivery{id: id, sender: "bench", msg: &foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: &foxholev1.Event{
			Id: id,
			Payload: &foxholev1.Event_ChatMessage{ChatMessage: &foxholev1.ChatMessage{
				Sender:  &foxholev1.UserRef{Id: "0123456789abcdefghjkmnpqrs", ScreenName: "bench"},
				Content: content,
			}},
		}}}})
	}
}

// Sessions counts the sessions open in this process.
func (s *Service) Sessions() int { return s.live.count() }
