package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// TestRegisterLoginWhoami walks through a user's credentials on every
// protocol: register, whoami, logout, login from stdin and from a file,
// profile set, rotate.
func TestRegisterLoginWhoami(t *testing.T) {
	srv := startServer(t)
	for _, p := range client.Protocols {
		t.Run(string(p), func(t *testing.T) {
			newHome(t)
			g := func(args ...string) []string { return global(srv.URL, p, args...) }

			out, errOut, code := ctl(t, "", g("register", "--name", "ada-"+string(p))...)
			if code != exitOK {
				t.Fatalf("register: exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, "secret") || !strings.Contains(errOut, "not shown again") {
				t.Errorf("register printed %q and %q: want the secret and a warning to keep it", out, errOut)
			}
			_, errOut, code = ctl(t, "", g("register")...)
			if code != exitUsage || !strings.Contains(errOut, "already logged in") {
				t.Errorf("second register: exit %d, %q: want 1, already logged in", code, errOut)
			}

			me := whoamiJSON(t, g)
			if me.GetScreenName() != "ada-"+string(p) {
				t.Errorf("whoami: name %q", me.GetScreenName())
			}
			if out := mustCtl(t, "", g("whoami")...); !strings.Contains(out, me.GetId()) {
				t.Errorf("whoami printed %q: want the id %s", out, me.GetId())
			}
			secret := savedSecret(t, srv.URL)

			mustCtl(t, "", g("logout")...)
			if _, errOut, code := ctl(t, "", g("whoami")...); code != exitUsage || !strings.Contains(errOut, "register") {
				t.Errorf("whoami after logout: exit %d, %q: want 1 and a hint to register or login", code, errOut)
			}

			mustCtl(t, secret+"\n", g("login")...)
			if got := whoamiJSON(t, g); got.GetId() != me.GetId() {
				t.Errorf("after login from stdin: whoami is %s, want %s", got.GetId(), me.GetId())
			}
			file := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			mustCtl(t, "", g("logout")...)
			mustCtl(t, "", g("login", "--secret-file", file)...)
			if got := whoamiJSON(t, g); got.GetId() != me.GetId() {
				t.Errorf("after login from a file: whoami is %s, want %s", got.GetId(), me.GetId())
			}

			mustCtl(t, "", g("profile", "set", "--name", "grace-"+string(p))...)
			if got := whoamiJSON(t, g); got.GetScreenName() != "grace-"+string(p) {
				t.Errorf("after profile set: name %q", got.GetScreenName())
			}

			mustCtl(t, "", g("rotate")...)
			if savedSecret(t, srv.URL) == secret {
				t.Fatal("rotate saved the old secret")
			}
			whoamiJSON(t, g) // the new secret works
			mustCtl(t, "", g("logout")...)
			if _, errOut, code := ctl(t, secret, g("login")...); code != exitRefused || !strings.Contains(errOut, "unauthenticated") {
				t.Errorf("login with the old secret: exit %d, %q: want 2, unauthenticated", code, errOut)
			}
		})
	}
}

// TestCredentialsFile checks that the secret is kept readable by its owner
// only, one entry per server, written whole.
func TestCredentialsFile(t *testing.T) {
	srv := startServer(t)
	other := startServer(t)
	home := newHome(t)
	a := registerCLI(t, srv.URL+"/", client.Connect, "ada")
	b := registerCLI(t, other.URL, client.Connect, "bob")

	dir := filepath.Join(home, "foxhole")
	path := filepath.Join(dir, "credentials.json")
	for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + ".lock": 0o600} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("config dir holds %d entries, want only credentials.json and its lock (no temporary file left)", len(entries))
	}
	saved := readCredentials(t)
	if len(saved.Servers) != 2 ||
		saved.Servers[srv.URL].Secret != a.GetUserSecret() || saved.Servers[srv.URL].UserID != a.GetUser().GetId() ||
		saved.Servers[other.URL].Secret != b.GetUserSecret() {
		t.Errorf("credentials file holds %+v: want one entry per server, without trailing slash", saved.Servers)
	}
	mustCtl(t, "", "--server", other.URL, "logout")
	if saved := readCredentials(t); len(saved.Servers) != 1 || saved.Servers[srv.URL].Secret != a.GetUserSecret() {
		t.Errorf("after logout from one server, the file holds %+v", saved.Servers)
	}
}

func whoamiJSON(t *testing.T, g func(...string) []string) *foxholev1.User {
	t.Helper()
	out := mustCtl(t, "", g("--json", "whoami")...)
	u := &foxholev1.User{}
	if err := protojson.Unmarshal([]byte(out), u); err != nil {
		t.Fatalf("whoami --json printed %q: %v", out, err)
	}
	return u
}

func readCredentials(t *testing.T) credentialsFile {
	t.Helper()
	path, err := credentialsPath()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f credentialsFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func savedSecret(t *testing.T, server string) string {
	t.Helper()
	return readCredentials(t).Servers[server].Secret
}

// A script may run many commands in a row under the server's default
// limit on token exchanges (a burst of 30): each command reuses the token
// the previous one saved.
func TestCommandsReuseTheSavedToken(t *testing.T) {
	srv := testutil.Start(t) // default limits
	newHome(t)
	mustCtl(t, "", "--server", srv.URL, "register", "--name", "scripted")
	for i := range 40 {
		if out, errOut, code := ctl(t, "", "--server", srv.URL, "whoami"); code != exitOK {
			t.Fatalf("whoami #%d: exit %d\n%s%s", i+1, code, out, errOut)
		}
	}
}
