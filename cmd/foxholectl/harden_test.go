package main

import (
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestLoginRacingRotateKeepsTheNewSecret plays the race in its worst
// order: login checks the old secret with the server, then rotate starts
// before login saves it. Rotate must wait for login (the credentials lock)
// and rotate the secret login saved, so that the secret saved at the end
// is the one rotate printed, and works. Without the lock, rotate finished
// first and login then saved the revoked secret over the new one.
func TestLoginRacingRotateKeepsTheNewSecret(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	secret := registerCLI(t, srv.URL, client.Connect, "racer").GetUserSecret()

	checked, resume := make(chan struct{}), make(chan struct{})
	waiting := make(chan struct{}, 1)
	loginChecked = func() { close(checked); <-resume }
	lockWaiting = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { loginChecked, lockWaiting = nil, nil })

	loginDone := make(chan int, 1)
	go func() {
		_, _, code := ctl(t, secret+"\n", "--server", srv.URL, "login")
		loginDone <- code
	}()
	<-checked
	loginChecked = nil
	var rotated, rotateErr string
	rotateDone := make(chan struct{})
	go func() {
		defer close(rotateDone)
		out, errOut, code := ctl(t, "", "--server", srv.URL, "--json", "rotate")
		if code != exitOK {
			rotateErr = errOut
		}
		rotated = out
	}()
	select {
	case <-waiting: // rotate waits for login's lock
	case <-rotateDone: // nothing made it wait
	}
	close(resume)
	if code := <-loginDone; code != exitOK {
		t.Fatalf("login: exit %d", code)
	}
	<-rotateDone
	if rotateErr != "" {
		t.Fatalf("rotate: %s", rotateErr)
	}
	saved := savedSecret(t, srv.URL)
	if !strings.Contains(rotated, `"userSecret":"`+saved+`"`) {
		t.Fatalf("saved secret %q, want the one rotate printed: %s", saved, rotated)
	}
	if _, err := client.New(srv.URL, client.WithSecret(saved)).Tokens.Token(t.Context()); err != nil {
		t.Fatalf("the saved secret does not work: %v", err)
	}
}

// TestLoginAndRotateSideBySide runs them at once, round after round, in
// whatever order they happen to go: the newest secret is always saved.
func TestLoginAndRotateSideBySide(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	secret := registerCLI(t, srv.URL, client.Connect, "racer").GetUserSecret()
	for round := range 10 {
		var wg sync.WaitGroup
		var rotated, rotateErr string
		wg.Go(func() {
			out, errOut, code := ctl(t, "", "--server", srv.URL, "--json", "rotate")
			if code != exitOK {
				rotateErr = errOut
				return
			}
			rotated = strings.TrimSpace(out)
		})
		wg.Go(func() {
			// Refused when the rotation came first: that is fine.
			ctl(t, secret+"\n", "--server", srv.URL, "login")
		})
		wg.Wait()
		if rotateErr != "" {
			t.Fatalf("round %d: rotate failed: %s", round, rotateErr)
		}
		saved := savedSecret(t, srv.URL)
		if !strings.Contains(rotated, `"userSecret":"`+saved+`"`) {
			t.Fatalf("round %d: saved secret %q, want the one rotate printed: %s", round, saved, rotated)
		}
		secret = saved
	}
}

// TestUpdatesKeepOtherEntries: commands on two servers at once each write
// only their own entry, read again under the lock.
func TestUpdatesKeepOtherEntries(t *testing.T) {
	a, b := startServer(t), startServer(t)
	newHome(t)
	registerCLI(t, a.URL, client.Connect, "on-a")
	registerCLI(t, b.URL, client.Connect, "on-b")
	var wg sync.WaitGroup
	for _, srv := range []string{a.URL, b.URL} {
		wg.Go(func() {
			for range 5 {
				ctl(t, "", "--server", srv, "rotate")
			}
		})
	}
	wg.Wait()
	for _, srv := range []string{a.URL, b.URL} {
		if _, err := client.New(srv, client.WithSecret(savedSecret(t, srv))).Tokens.Token(t.Context()); err != nil {
			t.Errorf("the secret saved for %s does not work: %v", srv, err)
		}
	}
}

// TestForgedLinesPrintEscaped: a message and a screen name carrying a
// newline and bidirectional overrides print as one line, escaped, in watch;
// --json prints them exactly.
func TestForgedLinesPrintEscaped(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	me := registerCLI(t, srv.URL, client.Connect, "watcher").GetUser()
	sender := client.New(srv.URL)
	if _, err := sender.Register(t.Context(), "mallory\u202e\u2066"); err != nil {
		t.Fatal(err)
	}
	forged := "hi\n12:00:00 #999 admin: send me your secret\t\u202egnp.exe\u200f"

	w := startCtl(t, "--server", srv.URL, "watch", "--after", "0")
	js := startCtl(t, "--server", srv.URL, "--json", "watch", "--no-presence", "--after", "0") // replays what it missed
	waitOnline(t, sender, me.GetId())
	if _, err := sender.Realtime.SendMessage(t.Context(), connect.NewRequest(&foxholev1.SendMessageRequest{Content: forged})); err != nil {
		t.Fatal(err)
	}
	line := w.stdout.waitLine(t, "mallory")
	want := `mallory\u202e\u2066: hi\n12:00:00 #999 admin: send me your secret\t\u202egnp.exe\u200f`
	if !strings.HasSuffix(line, want) {
		t.Errorf("watch printed %q, want it to end with %q", line, want)
	}
	if w.stop(t); strings.Contains(w.stdout.String(), "\n12:00:00 #999") || strings.ContainsAny(w.stdout.String(), "\u202e\u2066\u200f\t") {
		t.Errorf("watch printed the forged line raw:\n%s", w.stdout)
	}
	ev := parseEvent(t, js.stdout.waitLine(t, "chatMessage"))
	if got := ev.GetChatMessage().GetContent(); got != forged {
		t.Errorf("watch --json printed content %q, want %q exactly", got, forged)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é, 日本":    "plain text, é, 日本",
		"a\nb\tc\rd":           `a\nb\tc\rd`,
		"\x1b[31mred\x7f":      `\x1b[31mred\x7f`,
		"\u0085next\u2028line": `\u0085next\u2028line`,
		"\u202aa\u202eb\u2066c\u2069d\u200ee\u200ff\u061cg": `\u202aa\u202eb\u2066c\u2069d\u200ee\u200ff\u061cg`,
		"bad \xff byte": `bad \xff byte`,
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPlainHTTPOnlyToThisMachine: http:// (also a URL without a scheme)
// to another host is refused with exit 1 and one line saying why, unless
// --insecure; loopback is fine.
func TestPlainHTTPOnlyToThisMachine(t *testing.T) {
	newHome(t)
	closed := closedPortURL(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--server", "http://foxhole.example", "whoami"}, exitUsage, "foxholectl: --server http://foxhole.example: refusing to send your secret in clear over http://"},
		{[]string{"--server", "foxhole.example:8080", "register"}, exitUsage, "foxholectl: --server http://foxhole.example:8080: refusing"},
		{[]string{"--server", "http://10.0.0.1:8080", "login"}, exitUsage, "foxholectl: --server http://10.0.0.1:8080: refusing"},
		{[]string{"--server", "http://foxhole.invalid", "--insecure", "register"}, exitUnreachable, "foxholectl: cannot reach the server: "},
		{[]string{"--insecure", "--server", "foxhole.invalid", "register"}, exitUnreachable, "foxholectl: cannot reach the server: "},
		{[]string{"--server", "https://foxhole.invalid", "register"}, exitUnreachable, "foxholectl: cannot reach the server: "},
		{[]string{"--server", closed, "register"}, exitUnreachable, "foxholectl: cannot reach the server: "},
		{[]string{"--server", strings.Replace(closed, "127.0.0.1", "localhost", 1), "whoami"}, exitUsage, "foxholectl: not logged in"},
		{[]string{"--server", "http://127.1.2.3:1", "whoami"}, exitUsage, "foxholectl: not logged in"},
		{[]string{"--server", "http://[::1]:1", "whoami"}, exitUsage, "foxholectl: not logged in"},
	} {
		_, errOut, code := ctl(t, "a-secret\n", tc.args...)
		if code != tc.code || !strings.HasPrefix(errOut, tc.stderr) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q…, one line", tc.args, code, errOut, tc.code, tc.stderr)
		}
	}
	// FOXHOLE_SERVER is held to the same rule.
	t.Setenv("FOXHOLE_SERVER", "foxhole.example")
	if _, errOut, code := ctl(t, "", "whoami"); code != exitUsage || !strings.Contains(errOut, "refusing") {
		t.Errorf("FOXHOLE_SERVER=foxhole.example: exit %d, %q", code, errOut)
	}
}
