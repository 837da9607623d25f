package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
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

// acked are the writes a server acknowledged, each marked with whether
// the acknowledgement came before the backup began.
type acked struct {
	mu       sync.Mutex
	users    []ackedUser
	messages []int64 // event ids acknowledged before the backup began
	sent     int     // messages acknowledged in all
	files    []ackedFile
}

type ackedUser struct {
	secret string
	before bool
}

type ackedFile struct {
	owner   string // secret
	id      string
	content []byte
	before  bool
}

func noLimits(c *config.Config) {
	c.AuthRate = 0
	c.MessageRate, c.MessageBurst = 1e5, 1e5
	c.TransferMinRate = 0
}

// TestBackupUnderWritesRestores backs up a running server while
// registrations, messages and uploads go on; after restoring the backup
// into an empty data dir, every write acknowledged before the backup began
// is there, and the restored server passes the end-to-end battery.
func TestBackupUnderWritesRestores(t *testing.T) {
	if testutil.DatabaseURL(t, t.TempDir()) != "" {
		t.Skip("foxhole backup is for SQLite and local files; PostgreSQL has pg_dump")
	}
	srv := testutil.Start(t, noLimits)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var began atomic.Bool
	var done acked
	var wg sync.WaitGroup
	errs := make(chan error, 16)

	// Registrations.
	wg.Go(func() {
		for ctx.Err() == nil {
			c := srv.Clients(client.Connect, "")
			reg, err := c.Register(ctx, "")
			if err != nil {
				if ctx.Err() == nil {
					errs <- fmt.Errorf("Register: %w", err)
				}
				return
			}
			before := !began.Load()
			done.mu.Lock()
			done.users = append(done.users, ackedUser{reg.GetUserSecret(), before})
			done.mu.Unlock()
		}
	})
	sender := srv.Register(t, client.Connect, "sender")
	uploader := srv.Register(t, client.Connect, "uploader")
	// Messages.
	wg.Go(func() {
		c := client.New(srv.URL, client.WithSecret(sender.Secret))
		for i := 0; ctx.Err() == nil; i++ {
			res, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: fmt.Sprint("message ", i)}))
			if err != nil {
				if ctx.Err() == nil {
					errs <- fmt.Errorf("SendMessage: %w", err)
				}
				return
			}
			before := !began.Load()
			done.mu.Lock()
			done.sent++
			if before {
				done.messages = append(done.messages, res.Msg.GetEvent().GetId())
			}
			done.mu.Unlock()
		}
	})
	// Uploads.
	wg.Go(func() {
		c := client.New(srv.URL, client.WithSecret(uploader.Secret))
		for i := 0; ctx.Err() == nil; i++ {
			content := make([]byte, 16<<10+i)
			rand.Read(content)
			f, err := c.Upload(ctx, fmt.Sprintf("f%d.bin", i), "application/octet-stream", bytes.NewReader(content))
			if err != nil {
				if ctx.Err() == nil {
					errs <- fmt.Errorf("Upload: %w", err)
				}
				return
			}
			before := !began.Load()
			done.mu.Lock()
			done.files = append(done.files, ackedFile{uploader.Secret, f.GetId(), content, before})
			done.mu.Unlock()
		}
	})

	// Let the writers get going, then back up while they write.
	deadline := time.Now().Add(30 * time.Second)
	for {
		done.mu.Lock()
		n := min(len(done.users), len(done.messages), len(done.files))
		done.mu.Unlock()
		if n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writers did not get going")
		}
		time.Sleep(10 * time.Millisecond)
	}
	backupDir := filepath.Join(t.TempDir(), "backup")
	t.Setenv("FOXHOLE_DATA_DIR", srv.DataDir)
	var out, stderr bytes.Buffer
	began.Store(true)
	if code := run(context.Background(), []string{"backup", backupDir}, &out, &stderr); code != 0 {
		t.Fatalf("foxhole backup: exit %d: %s", code, stderr.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	// Writes went on during the backup; stop them.
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Restore into an empty data dir; a second restore on it is refused.
	restored := filepath.Join(t.TempDir(), "restored")
	t.Setenv("FOXHOLE_DATA_DIR", restored)
	stderr.Reset()
	if code := run(context.Background(), []string{"restore", backupDir}, &out, &stderr); code != 0 {
		t.Fatalf("foxhole restore: exit %d: %s", code, stderr.String())
	}
	if code := run(context.Background(), []string{"restore", backupDir}, &out, &stderr); code != 1 || !strings.Contains(stderr.String(), "empty data directory") {
		t.Fatalf("a restore over a data dir in use: exit %d: %s", code, stderr.String())
	}

	rs := testutil.StartIn(t, restored, noLimits)
	vctx, vcancel := context.WithTimeout(context.Background(), time.Minute)
	defer vcancel()
	var want int
	for _, u := range done.users {
		if !u.before {
			continue
		}
		want++
		if _, err := client.New(rs.URL, client.WithSecret(u.secret)).Tokens.Token(vctx); err != nil {
			t.Fatalf("a user registered before the backup cannot log in after the restore: %v", err)
		}
	}
	t.Logf("%d registrations, %d messages, %d uploads acknowledged before the backup; %d, %d, %d in all",
		want, len(done.messages), countBefore(done.files), len(done.users), done.sent, len(done.files))
	for _, f := range done.files {
		if !f.before {
			continue
		}
		var got bytes.Buffer
		if _, err := client.New(rs.URL, client.WithSecret(f.owner)).Download(vctx, f.id, &got, nil); err != nil {
			t.Fatalf("file %s uploaded before the backup: %v", f.id, err)
		}
		if !bytes.Equal(got.Bytes(), f.content) {
			t.Fatalf("file %s: content differs after the restore", f.id)
		}
	}
	// Every message: replayed from the start of the history.
	seen := map[int64]bool{}
	last := done.messages[len(done.messages)-1]
	zero := int64(0)
	sub := client.New(rs.URL, client.WithSecret(sender.Secret))
	sctx, scancel := context.WithTimeout(vctx, 30*time.Second)
	err := sub.Subscribe(sctx, client.SubscribeOptions{AfterEventID: &zero, SkipPresence: true}, func(ev *foxholev1.Event) error {
		seen[ev.GetId()] = true
		if ev.GetId() >= last {
			scancel()
		}
		return nil
	})
	scancel()
	if err != nil && sctx.Err() == nil {
		t.Fatal(err)
	}
	for _, id := range done.messages {
		if !seen[id] {
			t.Fatalf("message %d, acknowledged before the backup, is missing after the restore", id)
		}
	}

	battery(t, rs)
}

func countBefore(files []ackedFile) int {
	n := 0
	for _, f := range files {
		if f.before {
			n++
		}
	}
	return n
}

// battery is the end-to-end round over every protocol: register, profile,
// upload and download, a message heard on a stream.
func battery(t *testing.T, s *testutil.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range client.Protocols {
		u := s.Register(t, p, "battery-"+string(p))
		c := s.Clients(p, u.Token)
		if _, err := c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
			t.Fatalf("%s: GetProfile: %v", p, err)
		}
		if _, err := c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{User: &foxholev1.User{ScreenName: "renamed-" + string(p)}})); err != nil {
			t.Fatalf("%s: UpdateProfile: %v", p, err)
		}
		content := []byte("battery " + string(p))
		f, err := c.Upload(ctx, "b.txt", "text/plain", bytes.NewReader(content))
		if err != nil {
			t.Fatalf("%s: Upload: %v", p, err)
		}
		var got bytes.Buffer
		if _, err := c.Download(ctx, f.GetId(), &got, nil); err != nil || !bytes.Equal(got.Bytes(), content) {
			t.Fatalf("%s: Download: %v", p, err)
		}
		if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: f.GetId()})); err != nil {
			t.Fatalf("%s: DeleteFile: %v", p, err)
		}
		stream, err := c.Realtime.Subscribe(ctx, connect.NewRequest(&foxholev1.SubscribeRequest{SkipPresence: true}))
		if err != nil {
			t.Fatalf("%s: Subscribe: %v", p, err)
		}
		sent, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hello " + string(p)}))
		if err != nil {
			t.Fatalf("%s: SendMessage: %v", p, err)
		}
		for stream.Receive() {
			if stream.Msg().GetEvent().GetId() == sent.Msg.GetEvent().GetId() {
				break
			}
		}
		if stream.Err() != nil {
			t.Fatalf("%s: stream: %v", p, stream.Err())
		}
		stream.Close()
	}
}
