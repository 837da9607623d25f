package realtime

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

func benchEvent() *foxholev1.SubscribeResponse {
	return &foxholev1.SubscribeResponse{Kind: &foxholev1.SubscribeResponse_Event{Event: &foxholev1.Event{
		Id:        12345,
		CreatedAt: timestamppb.Now(),
		Payload: &foxholev1.Event_ChatMessage{ChatMessage: &foxholev1.ChatMessage{
			Sender:  &foxholev1.UserRef{Id: "0123456789abcdefghjkmnpqrs", ScreenName: "Ada"},
			Content: "hello, everyone: a message of an ordinary length",
		}},
	}}}
}

// BenchmarkEncodeEvent compares the two encodings every event goes out in:
// JSON (Connect JSON streams, WebSockets; once per event for all sockets)
// and binary (gRPC, gRPC-Web and Connect binary; once per stream).
func BenchmarkEncodeEvent(b *testing.B) {
	msg := benchEvent()
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := protojson.Marshal(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDeliver is the hub's side of fan-out: offering one broadcast to
// every session of a process, which must stay free of allocation and never
// block. Each op is one broadcast; the sessions drain their queues between
// broadcasts outside the timer.
func BenchmarkDeliver(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint("sessions=", n), func(b *testing.B) {
			var ss sessions
			all := make([]*Session, n)
			for i := range all {
				all[i] = newSession(Subscription{UserID: fmt.Sprint("u", i%(n/10))}, 4, 0)
				if err := ss.add(all[i], 0, 0); err != nil {
					b.Fatal(err)
				}
			}
			d := &Delivery{id: 1, msg: benchEvent()}
			spare := make([][]*Delivery, n) // what each run loop gives back
			b.ReportAllocs()
			for b.Loop() {
				ss.deliver(d)
				b.StopTimer()
				for i, s := range all {
					spare[i], _, _ = s.take(spare[i])
					clear(spare[i])
					<-s.wake
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkDeliverBlocks is BenchmarkDeliver at 5,000 sessions of 5,000
// users, with no blocks against each user blocking 100 others (so that
// the sender of a broadcast is blocked by about 100 of them), in the same
// run: what blocking costs on the hot path.
func BenchmarkDeliverBlocks(b *testing.B) {
	n, perUser := 5000, 100
	if testing.Short() {
		n, perUser = 500, 10
	}
	for _, blocks := range []int{0, perUser} {
		b.Run(fmt.Sprint("blocks=", blocks), func(b *testing.B) {
			var ss sessions
			all := make([]*Session, n)
			for i := range all {
				user := fmt.Sprint("u", i)
				all[i] = newSession(Subscription{UserID: user}, 4, 0)
				if err := ss.add(all[i], 0, 0); err != nil {
					b.Fatal(err)
				}
				var blocked []string
				for j := range blocks {
					blocked = append(blocked, fmt.Sprint("u", (i+1+j*(n/blocks))%n))
				}
				ss.rooms.loaded(user, nil, blocked)
			}
			d := &Delivery{id: 1, msg: benchEvent(), from: "u0"}
			if got := len(ss.rooms.blockers["u0"]); got != blocks {
				b.Fatalf("the sender is blocked by %d, want %d", got, blocks)
			}
			spare := make([][]*Delivery, n)
			b.ReportAllocs()
			for b.Loop() {
				ss.deliver(d)
				b.StopTimer()
				for i, s := range all {
					spare[i], _, _ = s.take(spare[i])
					clear(spare[i])
					select {
					case <-s.wake:
					default: // blocked the sender: not offered
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}
