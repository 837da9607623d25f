package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestShutdownDrainsInFlightCalls stops the server while a call is still
// sending its body; the call completes and Serve returns cleanly.
func TestShutdownDrainsInFlightCalls(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 30 * time.Second
	a, err := app.New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	// The call is in flight once the handler runs: net/http drops a request
	// whose headers it read just as shutdown began, so a connection being
	// active is not enough.
	active := make(chan struct{}, 1)
	h := a.Server().Handler
	a.Server().Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case active <- struct{}{}:
		default:
		}
		h.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	body, send := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/foxhole.v1.AuthService/Register", body)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		res *http.Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		done <- result{res, err}
	}()
	if _, err := send.Write([]byte(`{"screenName":`)); err != nil {
		t.Fatal(err)
	}
	<-active // the server is handling the call
	stop()   // SIGTERM

	// New connections are refused once draining starts.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepts connections while draining")
		}
		time.Sleep(10 * time.Millisecond)
	}

	send.Write([]byte(`"drained"}`))
	send.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("in-flight call failed during shutdown: %v", r.err)
	}
	defer r.res.Body.Close()
	var out struct {
		User struct{ ScreenName string } `json:"user"`
	}
	if err := json.NewDecoder(r.res.Body).Decode(&out); err != nil || r.res.StatusCode != 200 || out.User.ScreenName != "drained" {
		t.Fatalf("in-flight call: %d %+v %v", r.res.StatusCode, out, err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
}

func TestUnusableBackendsStopStartup(t *testing.T) {
	for name, edit := range map[string]func(*config.Config){
		"valkey not in this build": func(c *config.Config) { c.ValkeyURL = "redis://127.0.0.1:6379/0" },
		"s3 unreachable": func(c *config.Config) {
			c.S3 = config.S3{Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "b", Bucket: "foxhole"}
		},
	} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		edit(&cfg)
		if _, err := app.New(context.Background(), cfg, zerolog.Nop()); err == nil {
			t.Errorf("%s: app started with a backend this build lacks", name)
		}
	}
}

// TestShutdownEndsStreamsCleanly stops a server with a Subscribe stream and
// a WebSocket open: both are told the server is going away.
func TestShutdownEndsStreamsCleanly(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	a, err := app.New(context.Background(), cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	p := client.GRPC
	clients := func(token string) *client.Client {
		s := &testutil.Server{URL: base}
		return s.Clients(p, token)
	}
	reg, err := clients("").Auth.Register(context.Background(), connect.NewRequest(&foxholev1.RegisterRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := clients("").Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: reg.Msg.GetUserSecret()}))
	if err != nil {
		t.Fatal(err)
	}
	token := tok.Msg.GetAccessToken()

	stream, err := clients(token).Realtime.Subscribe(context.Background(), connect.NewRequest(&foxholev1.SubscribeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.Dial(context.Background(), "ws://"+ln.Addr().String()+"/ws?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Both sessions are open once the user's presence shows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := clients(token).Realtime.ListPresence(context.Background(), connect.NewRequest(&foxholev1.ListPresenceRequest{}))
		if err == nil && len(res.Msg.GetUsers()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sessions did not open")
		}
		time.Sleep(10 * time.Millisecond)
	}

	stop() // SIGTERM
	for stream.Receive() {
	}
	if connect.CodeOf(stream.Err()) != connect.CodeUnavailable {
		t.Errorf("stream ended with %v, want unavailable (going away)", stream.Err())
	}
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("WebSocket ended with %v, want 1001 going away", err)
			}
			break
		}
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
