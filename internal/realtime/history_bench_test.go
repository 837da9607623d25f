package realtime_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// BenchmarkListMessages reads 50-message pages of a room's history with
// ListMessages over Connect, on a real server on SQLite, from 16 clients
// at once while a member sends a message into the room every 10 ms, in a
// room of 10,000 and 1,000,000 stored messages (one event in eleven the
// lobby's, interleaved): the latest page (newest) and the page before a
// random id in the oldest tenth of the room (deep). The baseline, in the
// same run, is the same call on the room of 10,000: x10k-p99 is a read's
// p99 over the same read's at 10,000. The messages are copied into the
// events table while the server is stopped (the body of one real message,
// repeated), as a long-lived deployment would have stored them.
// (store's BenchmarkHistory runs the same reads on both engines, with the
// events primary key as a second baseline.)
func BenchmarkListMessages(b *testing.B) {
	sizes := []int{10_000, 1_000_000}
	if testing.Short() {
		sizes = []int{10_000}
	}
	if testutil.DatabaseURL(b, b.TempDir()) != "" {
		b.Skip("SQLite only: store's BenchmarkHistory covers PostgreSQL")
	}
	dir := b.TempDir()
	limits := func(c *config.Config) {
		c.ListRate, c.ListBurst = 1e6, 1e6
		c.MessageRate, c.MessageBurst = 1e6, 1e6
		c.EventRetainCount = 1 << 30 // the room keeps every message
	}
	srv := testutil.StartIn(b, dir, limits)
	ctx := context.Background()
	u := srv.Register(b, client.Connect, "reader")
	c := srv.Clients(client.Connect, u.Token)
	room, err := c.Rooms.CreateRoom(ctx, connect.NewRequest(&foxholev1.CreateRoomRequest{Name: "history"}))
	if err != nil {
		b.Fatal(err)
	}
	roomID := room.Msg.GetRoom().GetId()
	if _, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{
		Content: "a message of about the length people write in a chat, give or take", RoomId: roomID})); err != nil {
		b.Fatal(err)
	}
	srv.Stop()

	p99At10k := map[string]float64{}
	stored := 1
	for _, n := range sizes {
		seedRoom(b, dir, roomID, (n-stored)*11/10)
		stored = n
		srv := testutil.StartIn(b, dir, limits)
		c := srv.Clients(client.Connect, u.Token)
		var first int64
		page, err := c.Realtime.ListMessages(ctx, connect.NewRequest(&foxholev1.ListMessagesRequest{RoomId: roomID, AfterEventId: new(int64)}))
		if err != nil {
			b.Fatal(err)
		}
		first = page.Msg.GetEvents()[0].GetId()
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			// The writer: a message into the room every 10 ms.
			stop, done := make(chan struct{}), make(chan struct{})
			var sent atomic.Int64
			var last atomic.Int64
			go func() {
				defer close(done)
				t := time.NewTicker(10 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-t.C:
					case <-stop:
						return
					}
					res, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "written meanwhile", RoomId: roomID}))
					if err != nil {
						b.Error(err)
						return
					}
					sent.Add(1)
					last.Store(res.Msg.GetEvent().GetId())
				}
			}()
			defer func() { close(stop); <-done }()
			for last.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			span := (last.Load() - first) / 10
			reads := []struct {
				name string
				req  func(r *rand.Rand) *foxholev1.ListMessagesRequest
			}{
				{"newest", func(*rand.Rand) *foxholev1.ListMessagesRequest {
					return &foxholev1.ListMessagesRequest{RoomId: roomID, PageSize: 50}
				}},
				{"deep", func(r *rand.Rand) *foxholev1.ListMessagesRequest {
					before := first + 60 + r.Int64N(max(1, span-60))
					return &foxholev1.ListMessagesRequest{RoomId: roomID, PageSize: 50, BeforeEventId: &before}
				}},
			}
			for _, rd := range reads {
				b.Run(rd.name, func(b *testing.B) {
					var mu sync.Mutex
					var lat []time.Duration
					var next atomic.Int64
					var wg sync.WaitGroup
					s0 := sent.Load()
					b.ResetTimer()
					for range 16 {
						wg.Go(func() {
							r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
							var own []time.Duration
							for next.Add(1) <= int64(b.N) {
								t0 := time.Now()
								res, err := c.Realtime.ListMessages(ctx, connect.NewRequest(rd.req(r)))
								own = append(own, time.Since(t0))
								if err != nil || len(res.Msg.GetEvents()) != 50 {
									b.Errorf("%s: %v", rd.name, err)
									return
								}
							}
							mu.Lock()
							lat = append(lat, own...)
							mu.Unlock()
						})
					}
					wg.Wait()
					b.StopTimer()
					slices.Sort(lat)
					pct := func(q float64) float64 {
						return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e6
					}
					b.ReportMetric(pct(0.50), "p50-ms")
					b.ReportMetric(pct(0.99), "p99-ms")
					b.ReportMetric(float64(sent.Load()-s0)/b.Elapsed().Seconds(), "writes/s")
					if n == sizes[0] {
						p99At10k[rd.name] = pct(0.99)
					} else if base := p99At10k[rd.name]; base > 0 {
						b.ReportMetric(pct(0.99)/base, "x10k-p99")
					}
				})
			}
		})
		srv.Stop()
	}
}

// seedRoom appends n events to the SQLite database in dir, its server
// stopped: every eleventh a lobby broadcast, the rest messages into room,
// each with the body of the room's first message.
func seedRoom(b *testing.B, dir, room string, n int) {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "foxhole.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?),
		m AS (SELECT sender_id, body, created_at FROM events WHERE conv = ? AND kind = 1 ORDER BY id LIMIT 1)
		INSERT INTO events (sender_id, recipient_id, body, created_at, conv, room_id, kind)
		SELECT m.sender_id, NULL, m.body, m.created_at + i, CASE WHEN i % 11 = 0 THEN 'lobby' ELSE ? END, CASE WHEN i % 11 = 0 THEN NULL ELSE ? END, 1
		FROM n, m ORDER BY i`, n, "r:"+room, "r:"+room, room)
	if err != nil {
		b.Fatal(err)
	}
}
