package main

import (
	"strings"
	"testing"

	"foxhole.dev/foxhole/client"
)

// TestExitCodes checks the exit code and the one line on stderr of each
// kind of failure: 1 usage, 2 the server refused, 3 the server could not
// be reached.
func TestExitCodes(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	registerCLI(t, srv.URL, client.Connect, "ada")
	closed := closedPortURL(t)
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stderr string // the start of stderr
	}{
		{"help", "", []string{"help"}, exitOK, ""},
		{"command help", "", []string{"files", "get", "-h"}, exitOK, "usage: foxholectl files get"},
		{"no command", "", nil, exitUsage, "usage:"},
		{"unknown command", "", []string{"frobnicate"}, exitUsage, `foxholectl: unknown command "frobnicate"`},
		{"files without a subcommand", "", []string{"files"}, exitUsage, "foxholectl: files needs a subcommand: put, get, ls, rm"},
		{"unknown flag", "", []string{"files", "ls", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{"missing argument", "", []string{"files", "get"}, exitUsage, "foxholectl: usage: foxholectl files get"},
		{"profile without a subcommand", "", []string{"profile"}, exitUsage, "foxholectl: profile needs a subcommand: set, get"},
		{"unknown protocol", "", []string{"--protocol", "carrier-pigeon", "whoami"}, exitUsage, "foxholectl: --protocol: unknown protocol"},
		{"bad server URL", "", []string{"--server", "ftp://example.com", "whoami"}, exitUsage, "foxholectl: --server"},
		{"secret as an argument", "", []string{"login", "s3cret"}, exitUsage, "foxholectl: login takes no arguments"},
		{"no secret on stdin", "", []string{"--server", srv.URL, "login"}, exitUsage, "foxholectl: no secret given"},
		{"not logged in", "", []string{"--server", closed, "whoami"}, exitUsage, "foxholectl: not logged in to " + closed + ": run foxholectl register"},
		{"missing local file", "", []string{"--server", srv.URL, "files", "put", "/no/such/file"}, exitUsage, "foxholectl: open /no/such/file"},
		{"missing file", "", []string{"--server", srv.URL, "files", "get", "no-such-id"}, exitRefused, "foxholectl: not_found: "},
		{"unknown user", "", []string{"--server", srv.URL, "profile", "get", "no-such-user"}, exitRefused, "foxholectl: not_found: "},
		{"unknown recipient", "", []string{"--server", srv.URL, "send", "--to", "no-such-user", "hi"}, exitRefused, "foxholectl: not_found: "},
		{"wrong secret", "not-the-secret\n", []string{"--server", srv.URL, "login"}, exitRefused, "foxholectl: unauthenticated: "},
		{"unreachable register", "", []string{"--server", closed, "register"}, exitUnreachable, "foxholectl: cannot reach the server: dial tcp "},
		{"unreachable login", "a-secret\n", []string{"--server", closed, "--protocol", "grpc", "login"}, exitUnreachable, "foxholectl: cannot reach the server: "},
		{"unknown host", "", []string{"--server", "http://foxhole.invalid", "--insecure", "register"}, exitUnreachable, "foxholectl: cannot reach the server: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := ctl(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.HasPrefix(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q: want %d, %q...", code, errOut, tc.code, tc.stderr)
			}
			if code >= exitRefused && strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q: want one line", errOut)
			}
		})
	}
}
