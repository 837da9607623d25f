package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// Tests run foxholectl in-process through run, with the config directory
// in a temporary directory: they change the environment, so they do not
// run in parallel.

// startServer starts a Foxhole for the test without the rate limit on
// Register and CreateToken: every foxholectl run obtains a token.
func startServer(t *testing.T) *testutil.Server {
	t.Helper()
	return testutil.Start(t, func(c *config.Config) { c.AuthRate = 0 })
}

// newHome points the user's config directory to a fresh temporary
// directory and returns it.
func newHome(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	t.Setenv("FOXHOLE_SERVER", "")
	return dir
}

// ctl runs foxholectl to the end with stdin and args.
func ctl(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustCtl runs foxholectl and fails the test unless it succeeds.
func mustCtl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := ctl(t, stdin, args...)
	if code != exitOK {
		t.Fatalf("foxholectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// global returns the global flags for server and p, and args.
func global(server string, p client.Protocol, args ...string) []string {
	return append([]string{"--server", server, "--protocol", string(p)}, args...)
}

// registerCLI registers a user with foxholectl and returns the answer.
func registerCLI(t *testing.T, server string, p client.Protocol, name string) *foxholev1.RegisterResponse {
	t.Helper()
	out := mustCtl(t, "", global(server, p, "--json", "register", "--name", name)...)
	res := &foxholev1.RegisterResponse{}
	if err := protojson.Unmarshal([]byte(out), res); err != nil {
		t.Fatalf("register --json printed %q: %v", out, err)
	}
	return res
}

// closedPortURL returns the URL of a loopback port where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
