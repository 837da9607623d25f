package realtime

import (
	"fmt"
	"testing"
)

// A broadcast to more sessions than one chunk reaches every session once,
// in id order, and sessions that leave meanwhile are left out.
func TestBroadcastReachesEverySessionInOrder(t *testing.T) {
	var ss sessions
	var all []*Session
	for i := range 3*fanOutChunk + 7 {
		s := newSession(Subscription{UserID: fmt.Sprint("u", i%300)}, 16, 0)
		if err := ss.add(s, 0, 0); err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	for _, s := range all[:5] {
		ss.remove(s)
	}
	for id := int64(1); id <= 3; id++ {
		ss.deliver(&Delivery{id: id})
	}
	for i, s := range all {
		batch, _, _ := s.take(nil)
		want := 3
		if i < 5 {
			want = 0
		}
		if len(batch) != want {
			t.Fatalf("session %d got %d events, want %d", i, len(batch), want)
		}
		for j, d := range batch {
			if d.id != int64(j+1) {
				t.Fatalf("session %d got event %d in place %d", i, d.id, j+1)
			}
		}
	}
	if n := ss.count(); n != len(all)-5 {
		t.Fatalf("count %d, want %d", n, len(all)-5)
	}
}
