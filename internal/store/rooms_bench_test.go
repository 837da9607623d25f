package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// benchStores opens a fresh store on each engine for the room benchmarks:
// SQLite as it ships, and PostgreSQL durable like a production one (fsync
// on), as BenchmarkReadsUnderWrites runs it.
func benchStores(b *testing.B, run func(b *testing.B, s *Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := Open(context.Background(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		run(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		pg := backends.StartPostgres(b, "fsync=on", "full_page_writes=on")
		s, err := OpenPostgres(context.Background(), pg.NewDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		run(b, s)
	})
}

// benchBody is the size of a stored chat message: a foxhole.v1.Event of a
// short message, its sender and room.
var benchBody = make([]byte, 120)

// seedEvents appends n events straight into the events table in one
// statement, the way a long-lived deployment would have stored them one
// by one: every otherEvery-th one (0: none) to the lobby, the rest to conv
// (room, if not empty). It returns the highest id stored.
func seedEvents(ctx context.Context, b *testing.B, s *Store, n, otherEvery int, conv, room, sender string) int64 {
	b.Helper()
	var roomID any
	if room != "" {
		roomID = room
	}
	other := "FALSE"
	if otherEvery > 0 {
		other = fmt.Sprintf("i %% %d = 0", otherEvery)
	}
	if s.pg {
		_, last, err := s.EventBounds(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO events (id, sender_id, recipient_id, body, created_at, conv, room_id, kind)
			SELECT i, ?, NULL, ?, i, CASE WHEN `+other+` THEN 'lobby' ELSE ? END, CASE WHEN `+other+` THEN NULL ELSE ? END, 1
			FROM generate_series(?::bigint, ?::bigint) AS i`, sender, benchBody, conv, roomID, last+1, last+int64(n)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `UPDATE event_counter SET last = ? WHERE id = 1`, last+int64(n)); err != nil {
			b.Fatal(err)
		}
		// As autovacuum would have, long before a table grew this large.
		if _, err := s.w.ExecContext(ctx, `VACUUM ANALYZE events`); err != nil {
			b.Fatal(err)
		}
	} else if _, err := s.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO events (sender_id, recipient_id, body, created_at, conv, room_id, kind)
		SELECT ?, NULL, ?, i, CASE WHEN `+other+` THEN 'lobby' ELSE ? END, CASE WHEN `+other+` THEN NULL ELSE ? END, 1 FROM n`,
		n, sender, benchBody, conv, roomID); err != nil {
		b.Fatal(err)
	}
	_, last, err := s.EventBounds(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return last
}

// benchRoom makes a public room with the given members.
func benchRoom(ctx context.Context, b *testing.B, s *Store, id string, members ...string) {
	b.Helper()
	r := &Room{ID: id, Name: id, NameFolded: id, Visibility: Public, MemberCount: int32(len(members))}
	if _, err := s.w.NewInsert().Model(r).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	ms := make([]Member, len(members))
	for i, u := range members {
		ms[i] = Member{RoomID: id, UserID: u, State: Joined, Role: RoleMember, JoinedAt: int64(i)}
	}
	if len(ms) > 0 {
		if _, err := s.w.NewInsert().Model(&ms).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// latencies collects the durations of reads made by many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(own []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, own...)
	l.mu.Unlock()
}

// ms returns the q-quantile in milliseconds.
func (l *latencies) ms(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	return float64(l.d[min(len(l.d)-1, int(q*float64(len(l.d))))].Nanoseconds()) / 1e6
}

// historyReaders is how many goroutines read history pages at once.
const historyReaders = 16

// historyWriteRate is how many messages a second are sent into the room
// while its history is read.
const historyWriteRate = 100

// BenchmarkHistory reads 50-message pages of a room's history (History, as
// ListMessages does) from 16 goroutines at once while messages are sent
// into the room (AddRoomMessage, at most 100 a second), in a room of
// 10,000, 100,000 and 1,000,000 stored messages (one event in eleven of
// the table is the lobby's, interleaved), on SQLite and on PostgreSQL:
//
//   - newest: the latest page (no cursor);
//   - deep: the page before a random id in the oldest tenth of the room;
//   - pk-newest and pk-deep, the baseline: the same reads on the events
//     table's primary key alone (WHERE id < ? ORDER BY id DESC LIMIT 50),
//     no conversation.
//
// p50-ms and p99-ms are of each read's own duration; x10k-p99 is the p99
// divided by the same read's p99 in the 10,000-message room of the same
// run (1.0: flat). writes/s is the messages sent while the reads ran.
func BenchmarkHistory(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if testing.Short() {
		sizes = []int{10_000}
	}
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		const room, sender = "benchroom", "benchsender"
		if _, err := s.w.NewInsert().Model(testUser(sender, sender)).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		benchRoom(ctx, b, s, room, sender)
		conv := RoomConversation(room)
		p99At10k := map[string]float64{}
		stored := 0
		for _, n := range sizes {
			seedEvents(ctx, b, s, (n-stored)*11/10, 11, conv, room, sender)
			stored = n
			var first int64
			if err := s.r.NewRaw(`SELECT MIN(id) FROM events WHERE conv = ?`, conv).Scan(ctx, &first); err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
				var last atomic.Int64 // the newest event id
				writes := startRoomWriter(ctx, b, s, room, sender, &last)
				span := (last.Load() - first) / 10 // the oldest tenth
				deep := func(r *rand.Rand) int64 { return first + 60 + r.Int64N(max(1, span-60)) }
				reads := []struct {
					name string
					read func(ctx context.Context, r *rand.Rand) (int, error)
				}{
					{"newest", func(ctx context.Context, r *rand.Rand) (int, error) {
						evs, err := s.History(ctx, "reader", conv, -1, -1, 50)
						return len(evs), err
					}},
					{"deep", func(ctx context.Context, r *rand.Rand) (int, error) {
						evs, err := s.History(ctx, "reader", conv, deep(r), -1, 50)
						return len(evs), err
					}},
					{"pk-newest", func(ctx context.Context, r *rand.Rand) (int, error) {
						var evs []Event
						err := s.r.NewSelect().Model(&evs).Where("id < ?", last.Load()+1).OrderExpr("id DESC").Limit(50).Scan(ctx)
						return len(evs), err
					}},
					{"pk-deep", func(ctx context.Context, r *rand.Rand) (int, error) {
						var evs []Event
						err := s.r.NewSelect().Model(&evs).Where("id < ?", deep(r)).OrderExpr("id DESC").Limit(50).Scan(ctx)
						return len(evs), err
					}},
				}
				for _, rd := range reads {
					b.Run(rd.name, func(b *testing.B) {
						var lat latencies
						var next atomic.Int64
						var wg sync.WaitGroup
						w0 := writes.Load()
						b.ResetTimer()
						for range historyReaders {
							wg.Go(func() {
								r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
								var own []time.Duration
								for next.Add(1) <= int64(b.N) {
									t0 := time.Now()
									got, err := rd.read(ctx, r)
									own = append(own, time.Since(t0))
									if err != nil || got != 50 {
										b.Errorf("%s: %d events, %v", rd.name, got, err)
										return
									}
								}
								lat.add(own)
							})
						}
						wg.Wait()
						b.StopTimer()
						p99 := lat.ms(0.99)
						b.ReportMetric(lat.ms(0.50), "p50-ms")
						b.ReportMetric(p99, "p99-ms")
						b.ReportMetric(float64(writes.Load()-w0)/b.Elapsed().Seconds(), "writes/s")
						if n == sizes[0] {
							p99At10k[rd.name] = p99
						} else if base := p99At10k[rd.name]; base > 0 {
							b.ReportMetric(p99/base, "x10k-p99")
						}
					})
				}
			})
		}
	})
}

// startRoomWriter sends messages into room from sender, at most
// historyWriteRate a second, until b ends, keeping last at the newest id;
// it returns the count sent.
func startRoomWriter(ctx context.Context, b *testing.B, s *Store, room, sender string, last *atomic.Int64) *atomic.Int64 {
	_, newest, err := s.EventBounds(ctx)
	if err != nil {
		b.Fatal(err)
	}
	last.Store(newest)
	var sent atomic.Int64
	// Stopped between writes, not by cancelling one: a cancelled commit
	// may still land after the writer has returned.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second / historyWriteRate)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-stop:
				return
			}
			e := &Event{SenderID: sender, Body: benchBody, CreatedAt: time.Now().UnixMicro(), Conv: RoomConversation(room), RoomID: &room, Kind: KindChat}
			if err := s.AddRoomMessage(ctx, e); err != nil {
				b.Error(err)
				return
			}
			sent.Add(1)
			last.Store(e.ID)
		}
	}()
	b.Cleanup(func() { close(stop); <-done })
	return &sent
}

// BenchmarkReplayRooms is the cost of the membership check on a resume's
// replay: EventsAfter, in pages of 500 as Subscribe reads them, over the
// last 10,000 events of a table of 100,000, for a user in 0, 50 and 500
// rooms (the default limit of rooms per user). Half the events are the
// lobby's, the rest are spread over 1,000 rooms, so the user in 50 rooms
// sees the lobby's and a twentieth of the rest, the user in 500 half of
// it. Each op replays for all three users, in turn; roomsN-ms is the
// median replay of the user in N rooms, roomsN-ns/event that per event it
// returned (they return 5,000, 5,250 and 7,500 events), and rooms50/rooms0
// the ratio of the medians.
func BenchmarkReplayRooms(b *testing.B) {
	total, replay, rooms := 100_000, 10_000, 1000
	if testing.Short() {
		total, replay, rooms = 10_000, 2_000, 1000
	}
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		users := map[int]string{0: "member0", 50: "member50", 500: "member500"}
		for _, u := range users {
			if _, err := s.w.NewInsert().Model(testUser(u, u)).Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
		for i := range rooms {
			var members []string
			for n, u := range users {
				if i < n {
					members = append(members, u)
				}
			}
			benchRoom(ctx, b, s, fmt.Sprintf("room%d", i), members...)
		}
		// Every other event the lobby's, the rest round-robin over the
		// rooms, interleaved as they would be over time.
		seedEvents(ctx, b, s, total, 0, Lobby, "", "someone")
		if _, err := s.w.ExecContext(ctx, `UPDATE events SET
			room_id = CASE WHEN id % 2 = 0 THEN NULL ELSE 'room' || ((id / 2) % ?) END,
			conv = CASE WHEN id % 2 = 0 THEN 'lobby' ELSE 'r:room' || ((id / 2) % ?) END`, rooms, rooms); err != nil {
			b.Fatal(err)
		}
		if s.pg {
			if _, err := s.w.ExecContext(ctx, `VACUUM ANALYZE events`); err != nil {
				b.Fatal(err)
			}
		}
		_, last, err := s.EventBounds(ctx)
		if err != nil {
			b.Fatal(err)
		}
		replayAll := func(user string) (events int) {
			for after := last - int64(replay); ; {
				evs, err := s.EventsAfter(ctx, user, after, 500, nil)
				if err != nil {
					b.Fatal(err)
				}
				events += len(evs)
				if len(evs) < 500 {
					return events
				}
				after = evs[len(evs)-1].ID
			}
		}
		// The three users' replays in turn, in a rotating order, so that
		// each meets the same load on a shared machine; medians of each.
		counts := []int{0, 50, 500}
		events := map[int]int{}
		for _, n := range counts {
			events[n] = replayAll(users[n]) // once untimed: no case reads a cold cache
		}
		took := map[int][]time.Duration{}
		i := 0
		for b.Loop() {
			for j := range counts {
				n := counts[(i+j)%len(counts)]
				t0 := time.Now()
				replayAll(users[n])
				took[n] = append(took[n], time.Since(t0))
			}
			i++
		}
		median := func(n int) float64 {
			d := slices.Clone(took[n])
			slices.Sort(d)
			return float64(d[len(d)/2].Nanoseconds()) / 1e6
		}
		for _, n := range counts {
			b.ReportMetric(median(n), fmt.Sprintf("rooms%d-ms", n))
			b.ReportMetric(median(n)*1e6/float64(max(1, events[n])), fmt.Sprintf("rooms%d-ns/event", n))
		}
		b.ReportMetric(median(50)/median(0), "rooms50/rooms0")
		b.ReportMetric(median(500)/median(0), "rooms500/rooms0")
	})
}

// BenchmarkHistorySizes is BenchmarkHistory with the sizes side by side
// in one run, so that a machine whose load changes over the run (shared
// cores) weighs on each alike: one events table holds three rooms of
// 10,000, 100,000 and 1,000,000 messages, interleaved (of every 111
// events, 1 is the small room's, 10 the middle one's, 100 the large
// one's), and each of the 16 readers reads the three rooms in turn while
// messages are sent into them (100 a second in all). newest and deep are
// as in BenchmarkHistory; p50-ms-rK-N and p99-ms-rK-N are of the room of N
// messages; large/small-p50 and -p99 are the 1,000,000-message room's over
// the 10,000-message room's, of the same reads in the same seconds.
func BenchmarkHistorySizes(b *testing.B) {
	blocks, names := 10_000, [3]string{"10k", "100k", "1M"}
	if testing.Short() {
		blocks, names = 100, [3]string{"100", "1k", "10k"}
	}
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := context.Background()
		const sender = "benchsender"
		if _, err := s.w.NewInsert().Model(testUser(sender, sender)).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		rooms := [3]string{"rsmall", "rmiddle", "rlarge"}
		for _, r := range rooms {
			benchRoom(ctx, b, s, r, sender)
		}
		seedEvents(ctx, b, s, blocks*111, 0, "", "", sender)
		if _, err := s.w.ExecContext(ctx, `UPDATE events SET
			room_id = CASE WHEN id % 111 = 0 THEN 'rsmall' WHEN id % 111 <= 10 THEN 'rmiddle' ELSE 'rlarge' END,
			conv = CASE WHEN id % 111 = 0 THEN 'r:rsmall' WHEN id % 111 <= 10 THEN 'r:rmiddle' ELSE 'r:rlarge' END`); err != nil {
			b.Fatal(err)
		}
		if s.pg {
			if _, err := s.w.ExecContext(ctx, `VACUUM ANALYZE events`); err != nil {
				b.Fatal(err)
			}
		}
		// A deep cursor of room i is an id from lowest[i] (60 messages
		// in) to oldestTenth[i] (a tenth of the room in).
		var lowest, oldestTenth [3]int64
		for i, r := range rooms {
			nth := func(n int) (id int64) {
				if err := s.r.NewRaw(`SELECT id FROM events WHERE conv = ? ORDER BY id LIMIT 1 OFFSET ?`, RoomConversation(r), n).Scan(ctx, &id); err != nil {
					b.Fatal(err)
				}
				return id
			}
			lowest[i] = nth(60)
			oldestTenth[i] = max(lowest[i]+1, nth(blocks*[]int{1, 10, 100}[i]/10))
		}
		// The writer, into the three rooms in turn.
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(time.Second / historyWriteRate)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-t.C:
				case <-stop:
					return
				}
				room := rooms[i%3]
				e := &Event{SenderID: sender, Body: benchBody, CreatedAt: time.Now().UnixMicro(), Conv: RoomConversation(room), RoomID: &room, Kind: KindChat}
				if err := s.AddRoomMessage(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		}()
		b.Cleanup(func() { close(stop); <-done })
		for _, deep := range []bool{false, true} {
			b.Run(map[bool]string{false: "newest", true: "deep"}[deep], func(b *testing.B) {
				var lat [3]latencies
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for g := range historyReaders {
					wg.Go(func() {
						r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
						var own [3][]time.Duration
						for k := g; next.Add(1) <= int64(b.N); k++ {
							i := k % 3
							before := int64(-1)
							if deep {
								before = lowest[i] + r.Int64N(oldestTenth[i]-lowest[i])
							}
							t0 := time.Now()
							evs, err := s.History(ctx, "reader", RoomConversation(rooms[i]), before, -1, 50)
							own[i] = append(own[i], time.Since(t0))
							if err != nil || len(evs) != 50 {
								b.Errorf("%d events, %v", len(evs), err)
								return
							}
						}
						for i := range own {
							lat[i].add(own[i])
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				for i, name := range names {
					b.ReportMetric(lat[i].ms(0.50), fmt.Sprintf("p50-ms-r%d-%s", i+1, name))
					b.ReportMetric(lat[i].ms(0.99), fmt.Sprintf("p99-ms-r%d-%s", i+1, name))
				}
				b.ReportMetric(lat[2].ms(0.50)/lat[0].ms(0.50), "large/small-p50")
				b.ReportMetric(lat[2].ms(0.99)/lat[0].ms(0.99), "large/small-p99")
			})
		}
	})
}
