package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

func TestEveryCallOnEveryProtocol(t *testing.T) {
	ctx := context.Background()
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			fox := client.New(serverURL, client.WithProtocol(p))
			reg, err := fox.Register(ctx, "user on "+string(p))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
				t.Fatal(err)
			}

			content := make([]byte, 3*client.ChunkSize+17)
			rand.Read(content)
			f, err := fox.Upload(ctx, "blob.bin", "", bytes.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			var started *foxholev1.File
			if _, err := fox.Download(ctx, f.GetId(), &got, func(f *foxholev1.File) { started = f }); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got.Bytes()) != sha256.Sum256(content) || started.GetSize() != int64(len(content)) {
				t.Fatalf("downloaded %d bytes (announced %d), want the %d uploaded", got.Len(), started.GetSize(), len(content))
			}

			// After a rotation the client goes on with the new secret; a
			// client holding the old one is refused.
			secret, err := fox.RotateSecret(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
				t.Fatalf("after rotation: %v", err)
			}
			old := client.New(serverURL, client.WithProtocol(p), client.WithSecret(reg.GetUserSecret()))
			if _, err := old.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("old secret: %v, want unauthenticated", err)
			}
			again := client.New(serverURL, client.WithProtocol(p), client.WithSecret(secret))
			if _, err := again.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
				t.Fatalf("new secret: %v", err)
			}
		})
	}
}

func TestTokenIsRenewedBeforeItExpires(t *testing.T) {
	ctx := context.Background()
	var exchanges atomic.Int32
	counter := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if strings.HasSuffix(req.Spec().Procedure, "/CreateToken") {
				exchanges.Add(1)
			}
			return next(ctx, req)
		}
	})
	fox := client.New(serverURL, client.WithClientOptions(connect.WithInterceptors(counter)))
	if _, err := fox.Register(ctx, "renewer"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	client.SetClock(fox.Tokens, func() time.Time { return now })
	getProfile := func() {
		t.Helper()
		if _, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
			t.Fatal(err)
		}
	}
	getProfile()
	getProfile()
	if n := exchanges.Load(); n != 1 {
		t.Fatalf("%d exchanges for two calls with a fresh token, want 1", n)
	}
	now = fox.Tokens.Expires().Add(-30 * time.Second) // within its last minute
	getProfile()
	if n := exchanges.Load(); n != 2 {
		t.Fatalf("%d exchanges, want a second one for a token about to expire", n)
	}
}

func TestRefusedTokenIsReplacedOnce(t *testing.T) {
	ctx := context.Background()
	fox := client.New(serverURL)
	reg, err := fox.Register(ctx, "refused")
	if err != nil {
		t.Fatal(err)
	}
	// Another device rotates the secret; this client's token is void, and
	// so is its secret: the call is refused after one fresh attempt.
	other := client.New(serverURL, client.WithSecret(reg.GetUserSecret()))
	if _, err := other.RotateSecret(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("got %v, want unauthenticated", err)
	}
}

// A subscriber whose token is revoked is ended by the server; Subscribe
// obtains a token for the new secret and resumes where it was: every
// message arrives once, in order.
func TestSubscribeResumesAfterRevocation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listener := client.New(serverURL, client.WithProtocol(client.ConnectJSON))
	if _, err := listener.Register(ctx, "listener"); err != nil {
		t.Fatal(err)
	}
	talker := client.New(serverURL, client.WithProtocol(client.GRPC))
	if _, err := talker.Register(ctx, "talker"); err != nil {
		t.Fatal(err)
	}
	send := func(text string) {
		t.Helper()
		if _, err := talker.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: text})); err != nil {
			t.Fatal(err)
		}
	}

	events := make(chan string, 16)
	var mu sync.Mutex
	var drops []error
	done := make(chan error, 1)
	go func() {
		done <- listener.Subscribe(ctx, client.SubscribeOptions{
			SkipPresence: true,
			OnDisconnect: func(err error, _ time.Duration) { mu.Lock(); drops = append(drops, err); mu.Unlock() },
		}, func(ev *foxholev1.Event) error {
			if m := ev.GetChatMessage(); m != nil && m.GetSender().GetScreenName() == "talker" {
				events <- m.GetContent()
			}
			return nil
		})
	}()
	// The stream is live once a message sent now arrives.
	for live := false; !live; {
		send("ping")
		select {
		case <-events:
			live = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	for len(events) > 0 {
		<-events
	}
	send("one")
	if got := <-events; got != "one" {
		t.Fatalf("got %q, want one", got)
	}
	if _, err := listener.RotateSecret(ctx); err != nil {
		t.Fatal(err)
	}
	send("two")
	send("three")
	for _, want := range []string{"two", "three"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case err := <-done:
			t.Fatalf("Subscribe ended: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("no %q after the rotation", want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe: %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(drops) == 0 || connect.CodeOf(drops[0]) != connect.CodeUnauthenticated {
		t.Fatalf("disconnects %v, want the revocation first", drops)
	}
}

func TestSubscribeEndsWhenRefusedForGood(t *testing.T) {
	fox := client.New(serverURL, client.WithToken("not-a-token"))
	err := fox.Subscribe(context.Background(), client.SubscribeOptions{}, func(*foxholev1.Event) error { return nil })
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("got %v, want unauthenticated", err)
	}
}
