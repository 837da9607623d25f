// Package testutil starts real Foxhole servers for tests and gives them
// clients for every protocol the server speaks.
package testutil

import (
	"context"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/client"
	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// Server is a Foxhole serving on a loopback port, on a real SQLite file, or
// a real PostgreSQL database when FOXHOLE_TEST_DATABASE=postgres.
type Server struct {
	URL     string
	DataDir string
	Config  config.Config
	App     *app.App
	Logs    *LockedBuffer // every log line the server wrote

	http    *httptest.Server
	stopped bool
}

// Start starts a server on a fresh data dir. edit, when given, adjusts the
// configuration first. The server stops when the test ends.
func Start(t testing.TB, edit ...func(*config.Config)) *Server {
	t.Helper()
	return StartIn(t, t.TempDir(), edit...)
}

// StartIn starts a server on the data dir given, which may hold an earlier
// server's data.
func StartIn(t testing.TB, dir string, edit ...func(*config.Config)) *Server {
	t.Helper()
	url := DatabaseURL(t, dir)
	// One process on PostgreSQL; a test that starts more sets ValkeyURL.
	s, err := Serve(dir, append([]func(*config.Config){func(c *config.Config) {
		c.DatabaseURL, c.AllowSingleProcess = url, url != ""
	}}, edit...)...)
	if err != nil {
		t.Fatalf("start foxhole: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Serve starts a server on dir (its SQLite file, unless edit names a
// database), for code that runs outside a test, such as a TestMain; the
// caller stops it.
func Serve(dir string, edit ...func(*config.Config)) (*Server, error) {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Addr = "127.0.0.1:0"
	for _, e := range edit {
		e(&cfg)
	}
	logs := &LockedBuffer{}
	a, err := app.New(context.Background(), cfg, zerolog.New(logs))
	if err != nil {
		return nil, err
	}
	hs := httptest.NewUnstartedServer(a.Handler())
	// Serve with the production http.Server settings: HTTP/1.1 and h2c.
	hs.Config = a.Server()
	hs.Start()
	return &Server{URL: hs.URL, DataDir: dir, Config: cfg, App: a, Logs: logs, http: hs}, nil
}

// FOXHOLE_TEST_DATABASE picks the database of the servers tests start:
// sqlite (the default) or postgres, on a cluster shared by the test binary.
var databases = struct {
	sync.Mutex
	byDir map[string]string
}{byDir: map[string]string{}}

// DatabaseURL returns the PostgreSQL database of the servers started on
// the data dir given when FOXHOLE_TEST_DATABASE=postgres (a fresh one for a
// new dir, the same one for a server started again on the dir, which must
// find its data), and "" (SQLite in the dir) otherwise.
func DatabaseURL(t testing.TB, dir string) string {
	t.Helper()
	switch db := os.Getenv("FOXHOLE_TEST_DATABASE"); db {
	case "", "sqlite":
		return ""
	case "postgres":
	default:
		t.Fatalf("FOXHOLE_TEST_DATABASE=%q: want sqlite or postgres", db)
	}
	databases.Lock()
	defer databases.Unlock()
	url, ok := databases.byDir[dir]
	if !ok {
		url = backends.SharedPostgres(t).NewDatabase(t)
		databases.byDir[dir] = url
	}
	return url
}

// Stop stops serving and closes the server's database. Calling it again
// does nothing.
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.App.EndSessions(ctx)
	s.http.Close()
	s.App.Close()
}

// Protocols lists every protocol Foxhole serves: Connect with JSON and with
// binary protobuf, gRPC and gRPC-Web.
var Protocols = client.Protocols

// Clients returns a client of s speaking p, sending token when it is not
// empty.
func (s *Server) Clients(p client.Protocol, token string) *client.Client {
	return client.New(s.URL, client.WithProtocol(p), client.WithToken(token))
}

// User is a registered test user.
type User struct {
	ID     string
	Secret string
	Token  string
}

// Register creates a user named name over p and obtains a token for it.
func (s *Server) Register(t testing.TB, p client.Protocol, name string) User {
	t.Helper()
	c := s.Clients(p, "")
	ctx := context.Background()
	reg, err := c.Register(ctx, name)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	tok, err := c.Tokens.Token(ctx)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return User{ID: reg.GetUser().GetId(), Secret: reg.GetUserSecret(), Token: tok}
}

// LockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type LockedBuffer = backends.LockedBuffer

// MinIO and Valkey are real servers started for a test (package backends).
type (
	MinIO  = backends.MinIO
	Valkey = backends.Valkey
)

// StartMinIO starts a real MinIO for the test (see backends.StartMinIO).
func StartMinIO(t testing.TB) *MinIO { return backends.StartMinIO(t) }

// StartValkey starts a real Valkey or Redis for the test (see
// backends.StartValkey).
func StartValkey(t testing.TB) *Valkey { return backends.StartValkey(t) }
