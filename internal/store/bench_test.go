package store

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"foxhole.dev/foxhole/internal/testutil/backends"
)

// BenchmarkCreateUser registers users from many goroutines at once, through
// the group commit (CreateUser) and with one transaction per insert, on
// each engine: whether the group commit pays for itself on PostgreSQL,
// whose concurrent commits already share WAL flushes, is measured here
// rather than assumed.
//
// PostgreSQL runs with fsync on here, unlike in the other tests, so that a
// commit costs what it costs in production. Users are made as Register
// makes them, with a random id and a random secret hash, so that each
// insert lands on random pages of both indexes, as it does in production.
func BenchmarkCreateUser(b *testing.B) {
	durable := []struct {
		name  string
		newDB func(t testing.TB) func(context.Context) (*Store, error)
	}{engines[0], {"postgres", func(t testing.TB) func(context.Context) (*Store, error) {
		url := backends.StartPostgres(t, "fsync=on", "full_page_writes=on").NewDatabase(t)
		return func(ctx context.Context) (*Store, error) { return OpenPostgres(ctx, url) }
	}}}
	for _, e := range durable {
		for _, batched := range []bool{true, false} {
			name := map[bool]string{true: "group commit", false: "one commit each"}[batched]
			b.Run(e.name+"/"+name, func(b *testing.B) {
				s, err := e.newDB(b)(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				b.SetParallelism(32) // registrations arrive from many clients
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						u := randomUser()
						var err error
						if batched {
							err = s.CreateUser(ctx, u)
						} else {
							_, err = s.w.NewInsert().Model(u).Exec(ctx)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// randomUser returns a user as Register makes one.
func randomUser() *User {
	h := make([]byte, 32)
	crand.Read(h)
	now := time.Now().UnixMicro()
	return &User{ID: NewID(), SecretHash: h, ScreenName: "anon-" + NewID()[:8], TokenVersion: 1, CreatedAt: now, UpdatedAt: now}
}

// walBytesPerRow is what SQLite appends to its WAL per registration, measured
// on a users table of about 50,000 rows, the size a 10-second load run
// leaves: 2.5 frames of a 4 KiB page and its 24-byte header, because both
// index entries of a user (its random id and its random secret hash) land
// on pages of their own. A batch of 64 rows is about 650 KB.
const walBytesPerRow = 25 * (4096 + 24) / 10

// walBytes bounds the file BenchmarkFsyncBatches appends to before it starts
// again from its beginning, as SQLite's WAL does after a checkpoint: about
// the 1000 pages of SQLite's default wal_autocheckpoint.
const walBytes = 4 << 20

// BenchmarkFsyncBatches is the ceiling of a durable group commit on this
// disk: what CreateUser on SQLite would reach if committing a batch cost
// nothing but appending its bytes to a log and syncing the log, the way a
// WAL commit under synchronous=FULL ends. It writes in b.TempDir(), the
// filesystem of the data dir when TMPDIR points there.
//
// "batch=N" appends batches of N rows, one after the other: one write of
// N*walBytesPerRow bytes, then one fsync (the call SQLite makes here:
// modernc's build has no fdatasync); the sizes are those the group commit
// forms under 64 callers. "64 callers" is the group commit itself without
// SQL: 64 goroutines each hand a row to one writer, which takes every row
// queued (up to maxBatch), writes them at once, syncs, and answers each; it
// is run with fsync and with fdatasync. Compare rows/s with
// BenchmarkCreateUser and with the load tool's register scenario in the
// same run.
func BenchmarkFsyncBatches(b *testing.B) {
	for _, n := range []int{1, 8, 32, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			log := newBenchLog(b)
			buf := make([]byte, n*walBytesPerRow)
			b.ResetTimer()
			for range b.N {
				if err := log.append(buf, (*os.File).Sync); err != nil {
					b.Fatal(err)
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/s, "batches/s")
			b.ReportMetric(float64(b.N*n)/s, "rows/s")
		})
	}
	for _, flush := range []struct {
		name  string
		flush func(*os.File) error
	}{{"fsync", (*os.File).Sync}, {"fdatasync", datasync}} {
		b.Run("64 callers/"+flush.name, func(b *testing.B) {
			benchGroupFsync(b, 64, flush.flush)
		})
	}
}

// benchLog is a file appended to from its beginning again once it holds
// walBytes, so that its blocks are allocated after the first lap, as a
// WAL's are.
type benchLog struct {
	f   *os.File
	off int64
}

func newBenchLog(b *testing.B) *benchLog {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return &benchLog{f: f}
}

func (l *benchLog) append(p []byte, flush func(*os.File) error) error {
	if l.off+int64(len(p)) > walBytes {
		l.off = 0
	}
	if _, err := l.f.WriteAt(p, l.off); err != nil {
		return err
	}
	l.off += int64(len(p))
	return flush(l.f)
}

// benchGroupFsync runs b.N rows through a group commit of callers
// goroutines and one writer that makes each batch durable with flush.
func benchGroupFsync(b *testing.B, callers int, flush func(*os.File) error) {
	log := newBenchLog(b)
	reqs := make(chan chan error, maxBatch)
	var batches, rows atomic.Int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		buf := make([]byte, maxBatch*walBytesPerRow)
		for first := range reqs {
			batch := []chan error{first}
		fill:
			for len(batch) < maxBatch {
				select {
				case r, ok := <-reqs:
					if !ok {
						break fill
					}
					batch = append(batch, r)
				default:
					break fill
				}
			}
			err := log.append(buf[:len(batch)*walBytesPerRow], flush)
			batches.Add(1)
			rows.Add(int64(len(batch)))
			for _, done := range batch {
				done <- err
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range callers {
		wg.Go(func() {
			done := make(chan error, 1)
			for next.Add(1) <= int64(b.N) {
				reqs <- done
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s := b.Elapsed().Seconds()
	close(reqs)
	<-writerDone
	b.ReportMetric(float64(rows.Load())/s, "rows/s")
	b.ReportMetric(float64(batches.Load())/s, "batches/s")
	b.ReportMetric(float64(rows.Load())/float64(max(1, batches.Load())), "rows/batch")
}

// BenchmarkReadsUnderWrites times the reads the services make on every call
// while registrations and messages are being written, on SQLite as it ships
// and on PostgreSQL (fsync on) with its one pool for reads and writes
// against a second pool, of the same size, for reads alone: whether
// PostgreSQL's readers need a pool of their own, as SQLite's do, is measured
// here (docs/scaling.md).
//
// A read is one of, in turn: TokenVersion (every authenticated call),
// UserByID (GetProfile, SendMessage), a ListFiles page of 100 (the default
// page), and an EventsAfter (resume) or EventsBetween (gap fill) page from
// 50 events back. As many readers run at once as a PostgreSQL pool has
// connections, then twice as many. Through the timed reads, 16 goroutines
// register users (CreateUser, the group commit) and 16 send messages
// (AddEvent, one at a time under a lock, as the realtime service does), at
// most benchRegRate and benchMsgRate a second.
//
// ns/op is wall time per read with all readers together; p50 and p99 are of
// each read's own duration. writes/s counts both kinds of writes made while
// the reads ran, events/s the messages alone.
func BenchmarkReadsUnderWrites(b *testing.B) {
	readers := []int{pgPoolSize(), 2 * pgPoolSize()}
	b.Run("sqlite", func(b *testing.B) {
		for _, n := range readers {
			b.Run(fmt.Sprintf("%d readers", n), func(b *testing.B) {
				benchReadsUnderWrites(b, n, func(b *testing.B) *Store {
					s, err := Open(context.Background(), b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					return s
				})
			})
		}
	})
	b.Run("postgres", func(b *testing.B) {
		pg := backends.StartPostgres(b, "fsync=on", "full_page_writes=on")
		for _, n := range readers {
			b.Run(fmt.Sprintf("%d readers", n), func(b *testing.B) {
				b.Run("one pool", func(b *testing.B) {
					benchReadsUnderWrites(b, n, func(b *testing.B) *Store {
						s, err := OpenPostgres(context.Background(), pg.NewDatabase(b))
						if err != nil {
							b.Fatal(err)
						}
						return s
					})
				})
				b.Run("reader pool", func(b *testing.B) {
					benchReadsUnderWrites(b, n, func(b *testing.B) *Store {
						url := pg.NewDatabase(b)
						s, err := OpenPostgres(context.Background(), url)
						if err != nil {
							b.Fatal(err)
						}
						cfg, err := pgConfig(url)
						if err != nil {
							b.Fatal(err)
						}
						cfg.RuntimeParams["default_transaction_read_only"] = "on"
						s.r = bun.NewDB(pgPool(cfg), pgdialect.New())
						if err := s.Ping(context.Background()); err != nil {
							b.Fatal(err)
						}
						return s
					})
				})
			})
		}
	})
}

// Sizes of the data BenchmarkReadsUnderWrites reads.
const (
	benchUsers      = 1000
	benchFileOwners = 20
	benchFilesEach  = 150
	benchEvents     = 100

	benchWriters = 16  // goroutines registering, and as many sending messages
	benchRegRate = 400 // registrations a second, at most
	benchMsgRate = 100 // messages a second, at most
)

// benchReadsUnderWrites runs BenchmarkReadsUnderWrites with that many
// readers on the store open makes, opened and filled anew for every b.N the
// benchmark tries.
func benchReadsUnderWrites(b *testing.B, readers int, open func(*testing.B) *Store) {
	s := open(b)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	users := make([]User, benchUsers)
	for i := range users {
		users[i] = *testUser(fmt.Sprintf("r%06d", i), "reader")
	}
	if _, err := s.w.NewInsert().Model(&users).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	for o := range benchFileOwners {
		files := make([]File, benchFilesEach)
		for i := range files {
			files[i] = File{ID: fmt.Sprintf("f%03d-%04d", o, i), OwnerID: users[o].ID,
				Name: fmt.Sprintf("file %d", i), Size: int64(1000 + i), ContentType: "application/octet-stream",
				SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", CreatedAt: int64(i)}
		}
		if _, err := s.w.NewInsert().Model(&files).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var lastEvent atomic.Int64 // the highest event id stored
	for i := range benchEvents {
		e := &Event{SenderID: users[i%len(users)].ID, Body: make([]byte, 64), CreatedAt: int64(i)}
		if err := s.AddEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
		lastEvent.Store(e.ID)
	}

	// The writers, from before the timed reads until after them.
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var registered, sent atomic.Int64
	var nextUser atomic.Int64
	var publishMu sync.Mutex // the realtime service stores one event at a time
	// pace hands out rate turns a second; a turn no writer is free to take
	// is lost, so a store that cannot keep up writes less.
	pace := func(rate int) <-chan struct{} {
		turns := make(chan struct{}, benchWriters)
		wg.Go(func() {
			t := time.NewTicker(time.Second / time.Duration(rate))
			defer t.Stop()
			for {
				select {
				case <-t.C:
					select {
					case turns <- struct{}{}:
					default:
					}
				case <-wctx.Done():
					return
				}
			}
		})
		return turns
	}
	regTurns, msgTurns := pace(benchRegRate), pace(benchMsgRate)
	for range benchWriters {
		wg.Go(func() {
			for {
				select {
				case <-regTurns:
				case <-wctx.Done():
					return
				}
				u := testUser(fmt.Sprintf("w%09d", nextUser.Add(1)), "writer")
				if err := s.CreateUser(wctx, u); err == nil {
					registered.Add(1)
				} else if wctx.Err() == nil {
					b.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			body := make([]byte, 64)
			for {
				select {
				case <-msgTurns:
				case <-wctx.Done():
					return
				}
				publishMu.Lock()
				e := &Event{SenderID: users[rand.IntN(len(users))].ID, Body: body, CreatedAt: time.Now().UnixMicro()}
				err := s.AddEvent(wctx, e)
				publishMu.Unlock()
				if err == nil {
					sent.Add(1)
					lastEvent.Store(e.ID)
				} else if wctx.Err() == nil {
					b.Error(err)
					return
				}
			}
		})
	}
	defer wg.Wait()
	defer stop()
	time.Sleep(200 * time.Millisecond) // until the write load is steady

	reads := []func(ctx context.Context, r *rand.Rand) error{
		func(ctx context.Context, r *rand.Rand) error {
			_, err := s.TokenVersion(ctx, users[r.IntN(len(users))].ID)
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			_, err := s.UserByID(ctx, users[r.IntN(len(users))].ID)
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			fs, err := s.ListFiles(ctx, users[r.IntN(benchFileOwners)].ID, nil, 100)
			if err == nil && len(fs) != 100 {
				err = fmt.Errorf("ListFiles: %d files, want 100", len(fs))
			}
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			_, err := s.EventsAfter(ctx, users[r.IntN(len(users))].ID, lastEvent.Load()-50, 500, nil)
			return err
		},
		func(ctx context.Context, r *rand.Rand) error {
			_, err := s.EventsBetween(ctx, lastEvent.Load()-50, -1, 500)
			return err
		},
	}
	var mu sync.Mutex
	var durations []time.Duration
	b.SetParallelism(max(1, readers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	reg0, sent0 := registered.Load(), sent.Load()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		var own []time.Duration
		for i := r.IntN(len(reads)); pb.Next(); i++ {
			t0 := time.Now()
			if err := reads[i%len(reads)](ctx, r); err != nil {
				b.Error(err)
				return
			}
			own = append(own, time.Since(t0))
		}
		mu.Lock()
		durations = append(durations, own...)
		mu.Unlock()
	})
	elapsed := time.Since(start).Seconds()
	reg, msgs := registered.Load()-reg0, sent.Load()-sent0
	b.StopTimer()

	slices.Sort(durations)
	percentile := func(p int) float64 {
		if len(durations) == 0 {
			return 0
		}
		return float64(durations[(len(durations)-1)*p/100].Nanoseconds())
	}
	b.ReportMetric(percentile(50), "p50-ns/read")
	b.ReportMetric(percentile(99), "p99-ns/read")
	b.ReportMetric(float64(reg+msgs)/elapsed, "writes/s")
	b.ReportMetric(float64(msgs)/elapsed, "events/s")
}
