package server_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// behindProxy trusts the loopback proxy, whose X-Forwarded-For names the
// client, and lifts the limit per address so that the wider ones show.
func behindProxy(c *config.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	c.AuthRate, c.AuthBurst = 1000, 1000
	c.RegisterRate56, c.RegisterRate48, c.RegisterRateGlobal = 0, 0, 0
}

// registerAs registers from client, through the trusted proxy, and returns
// the status and body.
func registerAs(t *testing.T, srv *testutil.Server, client string) (int, string) {
	t.Helper()
	status, _, body := send(t, srv.URL+"/foxhole.v1.AuthService/Register", []byte(`{}`),
		"Content-Type", "application/json", "X-Forwarded-For", "203.0.113.1, "+client)
	return status, body
}

// Every /64 of a /48 is a new client address, but the /48 and the /56 have
// limits of their own, counted before the body is read; other prefixes,
// and IPv4 clients, keep theirs.
func TestRegisterLimitedPerIPv6Prefix(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, behindProxy, func(c *config.Config) {
		c.RegisterRate48, c.RegisterBurst48 = 0.001, 3
		c.RegisterRate56, c.RegisterBurst56 = 0.001, 2
	})
	for _, tc := range []struct {
		client string
		want   int
	}{
		{"2001:db8:1:100::1", 200},
		{"2001:db8:1:101::1", 200}, // another /64 of the same /56
		{"2001:db8:1:1ff::1", 429}, // the /56's burst is spent
		{"2001:db8:1:200::1", 200}, // another /56 of the same /48
		{"2001:db8:1:300::1", 429}, // the /48's burst is spent
		{"2001:db8:2:100::1", 200}, // another /48
		{"198.51.100.7", 200},      // IPv4
	} {
		status, body := registerAs(t, srv, tc.client)
		if status != tc.want {
			t.Errorf("Register from %s: %d %s; want %d", tc.client, status, body, tc.want)
		}
		if status == 429 && !strings.Contains(body, "your network") {
			t.Errorf("Register from %s refused with %s; want it to name the network", tc.client, body)
		}
	}
}

// Past the global rate, every caller is refused, whatever its address.
func TestRegisterLimitedGlobally(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, behindProxy, func(c *config.Config) {
		c.RegisterRateGlobal, c.RegisterBurstGlobal = 0.001, 2
	})
	var secret string
	for i, addr := range []string{"198.51.100.1", "2001:db8:9::1", "198.51.100.3", "2001:db8:a::1"} {
		status, body := registerAs(t, srv, addr)
		if i == 0 {
			secret = body[strings.Index(body, `"userSecret":"`)+len(`"userSecret":"`):]
			secret = secret[:strings.IndexByte(secret, '"')]
		}
		if want := map[bool]int{true: 200, false: 429}[i < 2]; status != want {
			t.Errorf("Register %d from %s: %d %s; want %d", i, addr, status, body, want)
		}
		if status == 429 && !strings.Contains(body, "too many accounts") {
			t.Errorf("refused with %s", body)
		}
	}
	// Tokens are not accounts: CreateToken is not counted globally.
	if _, err := srv.Clients(client.Connect, "").Auth.CreateToken(context.Background(),
		connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: secret})); err != nil {
		t.Errorf("CreateToken past the global registration limit: %v", err)
	}
}

// ListPresence is limited per user: past the burst a user is refused, and
// other users and other calls are not.
func TestListPresenceRateLimitedPerUser(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t, func(c *config.Config) { c.ListRate, c.ListBurst = 0.001, 2 })
	a, b := srv.Register(t, client.Connect, "a"), srv.Register(t, client.Connect, "b")
	list := func(p client.Protocol, token string) error {
		_, err := srv.Clients(p, token).Realtime.ListPresence(context.Background(), connect.NewRequest(&foxholev1.ListPresenceRequest{}))
		return err
	}
	for i := range 2 {
		if err := list(client.Connect, a.Token); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for _, p := range testutil.Protocols {
		if err := list(p, a.Token); connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("%s: past the burst: %v; want resource_exhausted", p, err)
		}
	}
	status, _, _ := send(t, srv.URL+"/foxhole.v1.RealtimeService/ListPresence", []byte(`{}`),
		"Content-Type", "application/json", "Authorization", "Bearer "+a.Token)
	if status != http.StatusTooManyRequests {
		t.Errorf("past the burst over HTTP: %d; want 429", status)
	}
	if err := list(client.Connect, b.Token); err != nil {
		t.Errorf("another user: %v", err)
	}
	if _, err := srv.Clients(client.Connect, a.Token).Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
		t.Errorf("another call of the limited user: %v", err)
	}
}

// An account for which no token was ever created goes after
// FOXHOLE_UNUSED_ACCOUNT_TTL; one that obtained a token stays, and works.
func TestUnusedAccountsExpire(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second // below what FOXHOLE_UNUSED_ACCOUNT_TTL accepts: a test's
	srv := testutil.Start(t, func(c *config.Config) { c.UnusedAccountTTL = ttl })
	c := srv.Clients(client.Connect, "")
	reg := func() string {
		res, err := c.Auth.Register(context.Background(), connect.NewRequest(&foxholev1.RegisterRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetUserSecret()
	}
	token := func(secret string) (string, error) {
		res, err := c.Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: secret}))
		if err != nil {
			return "", err
		}
		return res.Msg.GetAccessToken(), nil
	}
	unused, used := reg(), reg()
	if _, err := token(used); err != nil {
		t.Fatal(err)
	}
	// The sweep runs every tenth of the TTL; it logs what it removed.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(srv.Logs.String(), "expired unused accounts") {
		if time.Now().After(deadline) {
			t.Fatalf("no sweep removed the unused account:\n%s", srv.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := token(unused); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("the unused account's secret after the sweep: %v; want unauthenticated", err)
	}
	tok, err := token(used)
	if err != nil {
		t.Fatalf("the used account's secret after the sweep: %v", err)
	}
	if _, err := srv.Clients(client.Connect, tok).Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
		t.Errorf("the used account after the sweep: %v", err)
	}
}

// With Valkey down, /readyz stays 200, names it, and the process serves
// from the database.
func TestReadyWithValkeyDown(t *testing.T) {
	t.Parallel()
	v := testutil.StartValkey(t)
	srv := testutil.Start(t, func(c *config.Config) { c.ValkeyURL = v.URL })
	if code, body := get(t, srv.URL+"/readyz"); code != 200 || strings.Contains(body, "degraded") {
		t.Fatalf("/readyz with Valkey up: %d %s", code, body)
	}
	u := srv.Register(t, client.Connect, "")
	v.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, srv.URL+"/readyz")
		if code != 200 {
			t.Fatalf("/readyz with Valkey down: %d %s; want 200", code, body)
		}
		if strings.Contains(body, `"degraded":["cache"]`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with Valkey down does not name it: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := srv.Clients(client.Connect, u.Token).Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
		t.Errorf("GetProfile with Valkey down: %v", err)
	}
}
