package main

import (
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestChatInTerminal runs the foxholectl binary in a pseudo-terminal, as a
// person would: a typed line comes back as an event, /who lists the user,
// /dm reaches another user only, /quit ends the chat.
func TestChatInTerminal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "foxholectl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build foxholectl: %v\n%s", err, out)
	}
	srv := startServer(t)
	newHome(t) // the child inherits the environment, and so the credentials
	ada := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	bob := srv.Register(t, client.Connect, "bob")
	bobClient := client.New(srv.URL, client.WithSecret(bob.Secret))
	bobEvents := subscribe(t, bobClient)

	cmd := exec.Command(bin, "--server", srv.URL, "chat")
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	screen := newStream()
	go io.Copy(screen, tty) // ends when the terminal closes
	typeLine := func(line string) {
		t.Helper()
		if _, err := io.WriteString(tty, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}

	screen.waitLine(t, "Chatting as ada ("+ada.GetId()+")")
	waitOnline(t, bobClient, ada.GetId()) // live events reach the chat from now on

	typeLine("hello from a terminal")
	screen.waitLine(t, "ada: hello from a terminal")
	if m := (<-bobEvents).GetChatMessage(); m.GetContent() != "hello from a terminal" || m.GetRecipientId() != "" {
		t.Errorf("bob received %v, want the broadcast", m)
	}

	typeLine("/who")
	screen.waitLine(t, "online (")
	screen.waitLine(t, "  ada ("+ada.GetId()+")")

	typeLine("/dm " + bob.ID + " just for bob")
	screen.waitLine(t, "ada → "+bob.ID+": just for bob")
	if m := (<-bobEvents).GetChatMessage(); m.GetContent() != "just for bob" || m.GetRecipientId() != bob.ID {
		t.Errorf("bob received %v, want the personal message", m)
	}

	// Typing a direct message tells its recipient before Enter.
	typing := make(chan *foxholev1.Event, 10)
	go bobClient.Subscribe(t.Context(), client.SubscribeOptions{SkipPresence: true}, func(ev *foxholev1.Event) error {
		if ev.GetTyping() != nil {
			typing <- ev
		}
		return nil
	})
	// That stream hears typing once it is live: type on, a key every
	// little while (chat repeats typing every 3 seconds), until it does.
	io.WriteString(tty, "/dm "+bob.ID+" are you there")
	deadline := time.After(patience)
	for heard := false; !heard; {
		select {
		case ev := <-typing:
			if ev.GetTyping().GetUser().GetId() != ada.GetId() {
				t.Fatalf("bob heard %v, want ada typing", ev)
			}
			heard = true
		case <-time.After(time.Second):
			io.WriteString(tty, "?")
		case <-deadline:
			t.Fatalf("bob never heard ada typing:\n%s", screen)
		}
	}
	typeLine("")
	screen.waitLine(t, "ada → "+bob.ID+": are you there")
	if m := (<-bobEvents).GetChatMessage(); !strings.HasPrefix(m.GetContent(), "are you there") {
		t.Errorf("bob received %v, want the personal message", m)
	}

	typeLine("/dm no-such-user hi")
	screen.waitLine(t, "foxholectl: not_found: ")

	typeLine("/quit")
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("chat ended with %v after /quit:\n%s", waitErr, screen)
		}
	case <-time.After(patience):
		t.Fatalf("chat did not end after /quit:\n%s", screen)
	}
}
