package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// chatLog is what one subscriber saw: the chat messages in the order they
// came, across a reconnection.
type chatLog struct {
	mu       sync.Mutex
	ids      []int64
	contents []string
	changed  chan struct{} // closed and replaced on every change
	resumed  bool          // reconnected to another process
	err      error         // why it stopped, when it did
}

func (l *chatLog) add(ev *foxholev1.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, ev.GetId())
	l.contents = append(l.contents, ev.GetChatMessage().GetContent())
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *chatLog) last() int64 {
	if len(l.ids) == 0 {
		return 0
	}
	return l.ids[len(l.ids)-1]
}

// waitPast waits until the log holds an id at or past id, or its stream
// stopped for good.
func (l *chatLog) waitPast(t *testing.T, id int64, deadline <-chan time.Time) {
	t.Helper()
	for {
		l.mu.Lock()
		done, err, ch := l.last() >= id, l.err, l.changed
		l.mu.Unlock()
		if done {
			return
		}
		if err != nil {
			t.Fatalf("subscriber stopped at event %d, before %d: %v", l.last(), id, err)
		}
		select {
		case <-ch:
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("subscriber (resumed: %v) still at event %d, waiting for %d; ids %v", l.resumed, l.last(), id, l.ids)
		}
	}
}

// follow subscribes on home from the first event and records every chat
// message; when home dies it resumes on fallback after the last id it saw.
// It runs until ctx ends.
func follow(ctx context.Context, l *chatLog, p client.Protocol, token string, home, fallback *testutil.Process, homeDead *atomic.Bool) {
	var after int64
	proc := home
	for {
		stream, err := proc.Clients(p, token).Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{AfterEventId: &after}))
		if err == nil {
			for stream.Receive() {
				if ev := stream.Msg().GetEvent(); ev.GetChatMessage() != nil {
					l.add(ev)
					after = ev.GetId()
				}
			}
			err = stream.Err()
		}
		if ctx.Err() != nil {
			return
		}
		if proc == home && homeDead.Load() {
			l.mu.Lock()
			l.resumed = true
			l.mu.Unlock()
			proc = fallback
			continue
		}
		l.mu.Lock()
		l.err = fmt.Errorf("stream on %s ended: %v", proc.URL, err)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		return
	}
}

// TestClusterLosesNothingWhenAProcessIsKilled runs three Foxhole processes,
// each on its own data dir, on one PostgreSQL, one Valkey and one MinIO.
// Clients of each process register, upload and send messages while a
// subscriber on each process records the chat; one process is killed with
// SIGKILL midway, and its subscriber resumes on another. Every acknowledged
// registration signs in on the survivors, every acknowledged upload is
// listed and downloads whole, and every subscriber saw every acknowledged
// message once, in id order, and the same messages as the others.
func TestClusterLosesNothingWhenAProcessIsKilled(t *testing.T) {
	procs := startCluster(t, clusterOptions{processes: 3, apart: true,
		env: []string{"FOXHOLE_AUTH_RATE=0", "FOXHOLE_MESSAGE_RATE=100000", "FOXHOLE_MESSAGE_BURST=100000"}}).procs
	const victim = 1
	var victimDead atomic.Bool
	proto := func(i int) client.Protocol { return testutil.Protocols[i%len(testutil.Protocols)] }

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A subscriber on each process, following the chat from the start,
	// until the end of the test: the writers stop earlier.
	subCtx, stopSubs := context.WithCancel(context.Background())
	defer stopSubs()
	logs := make([]*chatLog, len(procs))
	var subs sync.WaitGroup
	for i, proc := range procs {
		u := proc.Register(t, proto(i), fmt.Sprintf("listener%d", i))
		logs[i] = &chatLog{changed: make(chan struct{})}
		dead := new(atomic.Bool)
		if i == victim {
			dead = &victimDead
		}
		subs.Go(func() { follow(subCtx, logs[i], proto(i), u.Token, proc, procs[(i+1)%len(procs)], dead) })
	}

	type upload struct {
		owner  testutil.User
		id     string
		sha256 string
		size   int
	}
	type message struct {
		id      int64
		content string
	}
	const (
		regs = iota
		uploads
		messages
		kinds
	)
	var (
		mu         sync.Mutex
		users      []testutil.User
		files      []upload
		msgs       []message
		counts     [3][kinds]int // acknowledged per process before the kill
		after      [kinds]int    // acknowledged after the kill
		unexpected []error       // failures other than the victim's after its death
		killNow    = make(chan struct{})
		enough     = make(chan struct{})
		killOnce   sync.Once
		enoughOnce sync.Once
	)
	const each = 8                // acknowledged writes of each kind per process before the kill, and after it
	ack := func(proc, kind int) { // with mu held
		if victimDead.Load() {
			after[kind]++
		} else {
			counts[proc][kind]++
		}
		if !slices.ContainsFunc(counts[:], func(c [kinds]int) bool { return slices.Min(c[:]) < each }) {
			killOnce.Do(func() { close(killNow) })
		}
		if slices.Min(after[:]) >= each {
			enoughOnce.Do(func() { close(enough) })
		}
	}
	// failed records a call's failure, after which its worker stops: the
	// victim's calls fail once it is dead; any other failure is one too
	// many.
	failed := func(proc int, what string, err error) {
		if ctx.Err() != nil || proc == victim && victimDead.Load() {
			return
		}
		mu.Lock()
		unexpected = append(unexpected, fmt.Errorf("%s on process %d: %w", what, proc, err))
		mu.Unlock()
	}

	var wg sync.WaitGroup
	for i, proc := range procs {
		sender := proc.Register(t, proto(i), fmt.Sprintf("sender%d", i))
		owner := proc.Register(t, proto(i), fmt.Sprintf("owner%d", i))
		for w := range 2 {
			p := proto(i + w)
			wg.Go(func() { // registrations
				c := proc.Clients(p, "")
				for ctx.Err() == nil {
					res, err := c.Auth.Register(ctx, connect.NewRequest(&foxholev1.RegisterRequest{}))
					if err != nil {
						failed(i, "Register", err)
						return
					}
					mu.Lock()
					users = append(users, testutil.User{ID: res.Msg.GetUser().GetId(), Secret: res.Msg.GetUserSecret()})
					ack(i, regs)
					mu.Unlock()
				}
			})
			wg.Go(func() { // uploads
				c := proc.Clients(p, owner.Token)
				for n := 0; ctx.Err() == nil; n++ {
					content := bytes.Repeat(fmt.Appendf(nil, "process %d worker %d file %d\n", i, w, n), 1+n%50)
					res, err := c.File.UploadFile(ctx, connect.NewRequest(&foxholev1.UploadFileRequest{Name: fmt.Sprintf("f%d-%d-%d.txt", i, w, n), Content: content}))
					if err != nil {
						failed(i, "UploadFile", err)
						return
					}
					sum := sha256.Sum256(content)
					f := upload{owner, res.Msg.GetFile().GetId(), hex.EncodeToString(sum[:]), len(content)}
					if got := res.Msg.GetFile().GetSha256(); got != f.sha256 {
						t.Errorf("upload %s acknowledged with sha256 %s, want %s", f.id, got, f.sha256)
					}
					mu.Lock()
					files = append(files, f)
					ack(i, uploads)
					mu.Unlock()
				}
			})
			wg.Go(func() { // messages
				c := proc.Clients(p, sender.Token)
				for n := 0; ctx.Err() == nil; n++ {
					content := fmt.Sprintf("process %d worker %d message %d", i, w, n)
					res, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: content}))
					if err != nil {
						failed(i, "SendMessage", err)
						return
					}
					mu.Lock()
					msgs = append(msgs, message{res.Msg.GetEvent().GetId(), content})
					ack(i, messages)
					mu.Unlock()
				}
			})
		}
	}

	deadline := time.After(40 * time.Second) // only keeps a broken build from hanging
	select {
	case <-killNow:
	case <-deadline:
		t.Fatal("too few writes acknowledged before the kill")
	}
	victimDead.Store(true)
	procs[victim].Kill() // mid-write: every worker on it has a call in flight
	select {
	case <-enough:
	case <-deadline:
		t.Fatal("too few writes acknowledged after the kill")
	}
	cancel()
	wg.Wait()
	for _, err := range unexpected {
		t.Error(err)
	}
	survivors := []*testutil.Process{procs[0], procs[2]}

	// Every acknowledged registration signs in on each survivor.
	for _, proc := range survivors {
		c := proc.Clients(proto(0), "")
		for _, u := range users {
			if _, err := c.Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: u.Secret})); err != nil {
				t.Fatalf("registration %s was acknowledged, but its secret fails on %s: %v", u.ID, proc.URL, err)
			}
		}
	}

	// Every acknowledged upload is listed with its sha256 and downloads
	// whole, from each survivor.
	for _, proc := range survivors {
		listed := map[string]string{} // id: sha256
		owners := map[string]testutil.User{}
		for _, f := range files {
			owners[f.owner.ID] = f.owner
		}
		for _, owner := range owners {
			c := proc.Clients(proto(1), owner.Token)
			token := ""
			for {
				page, err := c.File.ListFiles(context.Background(), connect.NewRequest(&foxholev1.ListFilesRequest{PageSize: 1000, PageToken: token}))
				if err != nil {
					t.Fatalf("ListFiles on %s: %v", proc.URL, err)
				}
				for _, f := range page.Msg.GetFiles() {
					listed[f.GetId()] = f.GetSha256()
				}
				if token = page.Msg.GetNextPageToken(); token == "" {
					break
				}
			}
		}
		for _, f := range files {
			if got, ok := listed[f.id]; !ok || got != f.sha256 {
				t.Fatalf("upload %s was acknowledged with sha256 %s; listed on %s: %v %q", f.id, f.sha256, proc.URL, ok, got)
			}
			stream, err := proc.Clients(proto(2), f.owner.Token).File.DownloadFile(context.Background(), connect.NewRequest(&foxholev1.DownloadFileRequest{Id: f.id}))
			if err != nil {
				t.Fatal(err)
			}
			h, n := sha256.New(), 0
			for stream.Receive() {
				h.Write(stream.Msg().GetChunk())
				n += len(stream.Msg().GetChunk())
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("download %s from %s: %v", f.id, proc.URL, err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != f.sha256 || n != f.size {
				t.Fatalf("download %s from %s: %d bytes, sha256 %s; want %d, %s", f.id, proc.URL, n, got, f.size, f.sha256)
			}
		}
	}

	// Every subscriber saw every acknowledged message once, in id order,
	// and the same messages as the others up to the newest acknowledged.
	want := map[int64]string{}
	var newest int64
	for _, m := range msgs {
		want[m.id] = m.content
		newest = max(newest, m.id)
	}
	var first []int64
	for i, l := range logs {
		l.waitPast(t, newest, deadline)
		l.mu.Lock()
		ids, contents, resumed := slices.Clone(l.ids), slices.Clone(l.contents), l.resumed
		l.mu.Unlock()
		if i == victim && !resumed {
			t.Fatalf("the subscriber of the killed process did not resume elsewhere")
		}
		seen := 0
		for k, id := range ids {
			if k > 0 && id <= ids[k-1] {
				t.Fatalf("subscriber %d: event %d after %d: out of order or twice", i, id, ids[k-1])
			}
			if c, ok := want[id]; ok {
				if contents[k] != c {
					t.Fatalf("subscriber %d: event %d holds %q, acknowledged as %q", i, id, contents[k], c)
				}
				seen++
			}
		}
		if seen != len(want) {
			t.Fatalf("subscriber %d saw %d of the %d acknowledged messages", i, seen, len(want))
		}
		upTo := ids[:slices.IndexFunc(ids, func(id int64) bool { return id >= newest })+1]
		if first == nil {
			first = upTo
		} else if !slices.Equal(first, upTo) {
			t.Fatalf("subscriber %d saw other messages than subscriber 0: %v against %v", i, upTo, first)
		}
	}
	stopSubs()
	subs.Wait()
	t.Logf("%d registrations, %d uploads and %d messages acknowledged (%d, %d, %d after the kill); all there after it; %d chat events per subscriber",
		len(users), len(files), len(msgs), after[regs], after[uploads], after[messages], len(first))
}
