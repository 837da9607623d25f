package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestEditAndDeleteCommands edits and deletes messages with foxholectl
// while watch prints another user's edit, typing and deletion; history
// shows the edited message, then its tombstone.
func TestEditAndDeleteCommands(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	ada := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	bobUser := srv.Register(t, client.Connect, "bob")
	bob := client.New(srv.URL, client.WithSecret(bobUser.Secret))
	ctx := t.Context()
	cli := func(args ...string) string {
		t.Helper()
		return mustCtl(t, "", append([]string{"--server", srv.URL}, args...)...)
	}

	w := startCtl(t, "--server", srv.URL, "watch", "--no-presence")
	waitOnline(t, bob, ada.GetId())
	said, err := bob.Send(ctx, client.Direct(ada.GetId()), "helo")
	if err != nil {
		t.Fatal(err)
	}
	w.stdout.waitLine(t, "→ you: helo")
	if _, err := bob.EditMessage(ctx, said.GetId(), "hello"); err != nil {
		t.Fatal(err)
	}
	w.stdout.waitLine(t, fmt.Sprintf("#%d edited: hello", said.GetId()))
	if err := bob.SendTyping(ctx, client.Direct(ada.GetId())); err != nil {
		t.Fatal(err)
	}
	w.stdout.waitLine(t, " bob is typing…")
	if err := bob.DeleteMessage(ctx, said.GetId()); err != nil {
		t.Fatal(err)
	}
	w.stdout.waitLine(t, fmt.Sprintf("#%d [deleted] by bob", said.GetId()))

	sent := parseEvent(t, cli("--json", "send", "--to", bobUser.ID, "mine"))
	id := fmt.Sprint(sent.GetId())
	if out := cli("edit", id, "mine,", "fixed"); out != "edited #"+id+"\n" {
		t.Errorf("edit printed %q", out)
	}
	ev := parseEvent(t, cli("--json", "edit", "#"+id, "mine, fixed again"))
	if m := ev.GetChatMessage(); m.GetContent() != "mine, fixed again" || m.GetEditedAt() == nil {
		t.Errorf("edit --json printed %v", ev)
	}
	if out := cli("history", "--peer", bobUser.ID); !strings.Contains(out, "#"+id+" ada → "+bobUser.ID+": mine, fixed again (edited)\n") {
		t.Errorf("history after the edit:\n%s", out)
	}
	if out := cli("rm-message", id); out != "deleted #"+id+"\n" {
		t.Errorf("rm-message printed %q", out)
	}
	out := cli("history", "--peer", bobUser.ID)
	if !strings.Contains(out, "#"+id+" ada → "+bobUser.ID+": [deleted]\n") || strings.Contains(out, "fixed") || strings.Contains(out, "helo") {
		t.Errorf("history after the deletions:\n%s", out)
	}
	if _, errOut, code := ctl(t, "", "--server", srv.URL, "rm-message", id); code != exitRefused || !strings.HasPrefix(errOut, "foxholectl: not_found: ") {
		t.Errorf("rm-message again: exit %d, %q", code, errOut)
	}
	if _, errOut, code := ctl(t, "", "--server", srv.URL, "edit", id, "back"); code != exitRefused || !strings.HasPrefix(errOut, "foxholectl: failed_precondition: ") {
		t.Errorf("edit a deleted message: exit %d, %q", code, errOut)
	}
}

// TestBlockCommands blocks a user, lists the block, sees the user's
// direct messages refused, and unblocks.
func TestBlockCommands(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	ada := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	bobUser := srv.Register(t, client.Connect, "bob")
	bob := client.New(srv.URL, client.WithSecret(bobUser.Secret))
	ctx := t.Context()
	cli := func(args ...string) string {
		t.Helper()
		return mustCtl(t, "", append([]string{"--server", srv.URL}, args...)...)
	}

	if out := cli("blocked"); out != "" {
		t.Errorf("blocked with none printed %q", out)
	}
	if out := cli("block", bobUser.ID); out != "blocked "+bobUser.ID+"\n" {
		t.Errorf("block printed %q", out)
	}
	if out := cli("blocked"); out != fmt.Sprintf("USER_ID%sNAME\n%s  bob\n", strings.Repeat(" ", len(bobUser.ID)-5), bobUser.ID) {
		t.Errorf("blocked printed %q", out)
	}
	if u := cli("--json", "blocked"); !strings.Contains(u, `"id":"`+bobUser.ID+`"`) {
		t.Errorf("blocked --json printed %q", u)
	}
	if _, err := bob.Send(ctx, client.Direct(ada.GetId()), "let me in"); err == nil {
		t.Error("a blocked user's direct message went through")
	}
	if out := cli("unblock", bobUser.ID); out != "unblocked "+bobUser.ID+"\n" {
		t.Errorf("unblock printed %q", out)
	}
	if out := cli("blocked"); out != "" {
		t.Errorf("blocked after unblocking printed %q", out)
	}
	if _, err := bob.Send(ctx, client.Direct(ada.GetId()), "thanks"); err != nil {
		t.Errorf("a direct message after unblocking: %v", err)
	}
	if _, errOut, code := ctl(t, "", "--server", srv.URL, "block", ada.GetId()); code != exitRefused || !strings.HasPrefix(errOut, "foxholectl: invalid_argument: ") {
		t.Errorf("block oneself: exit %d, %q", code, errOut)
	}
}

// TestChatTyping types into chat as a program would, a part of a line at
// a time: a direct message being typed tells the peer, and the peer's
// typing prints in the chat.
func TestChatTyping(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	ada := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	bobUser := srv.Register(t, client.Connect, "bob")
	bob := client.New(srv.URL, client.WithSecret(bobUser.Secret))

	bobEvents := make(chan *foxholev1.Event, 100)
	go bob.Subscribe(t.Context(), client.SubscribeOptions{SkipPresence: true}, func(ev *foxholev1.Event) error {
		bobEvents <- ev
		return nil
	})
	in, typed := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	stdout, stderr := newStream(), newStream()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--server", srv.URL, "chat"}, in, stdout, stderr) }()
	t.Cleanup(func() {
		typed.Close()
		cancel()
		<-done
	})
	stderr.waitLine(t, "Chatting as ada")
	waitOnline(t, bob, ada.GetId())

	io.WriteString(typed, "/dm "+bobUser.ID+" hel")
	deadline := time.After(patience)
	for waiting := true; waiting; {
		select {
		case ev := <-bobEvents:
			if ev.GetChatMessage() != nil {
				t.Fatalf("bob received %v before ada's typing", ev)
			}
			waiting = ev.GetTyping().GetUser().GetId() != ada.GetId()
		case <-deadline:
			t.Fatal("bob never heard ada typing")
		}
	}
	io.WriteString(typed, "lo\n")
	stdout.waitLine(t, "ada → "+bobUser.ID+": hello")

	if err := bob.SendTyping(t.Context(), client.Direct(ada.GetId())); err != nil {
		t.Fatal(err)
	}
	stdout.waitLine(t, " bob is typing…")
}

// TestTypingAtMostEvery3s: typing to one conversation goes out at most
// every 3 seconds; the lobby, and a line whose text has not begun, send
// none.
func TestTypingAtMostEvery3s(t *testing.T) {
	now := time.Unix(1000, 0)
	var sent []string
	ty := &typer{now: func() time.Time { return now }, send: func(_ context.Context, cv client.Conversation) error {
		sent = append(sent, cv.RoomID+cv.PeerID)
		return nil
	}}
	for _, step := range []struct {
		after   time.Duration
		partial string
	}{
		{0, "hello everyone"}, {0, "/dm u1"}, {0, "/dm u1 "}, {0, "/dm u1 h"}, {time.Second, "/dm u1 he"},
		{0, "/room r1 x"}, {2 * time.Second, "/dm u1 hel"}, {time.Second, "/dm u1 hell"},
	} {
		now = now.Add(step.after)
		ty.typing(t.Context(), step.partial)
	}
	if got := strings.Join(sent, ","); got != "u1,r1,u1" {
		t.Errorf("typing sent to %s, want u1,r1,u1", got)
	}
}

// TestLifecycleUsage checks the mistakes foxholectl catches before asking
// the server.
func TestLifecycleUsage(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	registerCLI(t, srv.URL, client.Connect, "ada")
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"edit", "12"}, "foxholectl: usage: foxholectl edit EVENT_ID TEXT..."},
		{[]string{"edit", "twelve", "text"}, `foxholectl: "twelve" is not an event id`},
		{[]string{"rm-message"}, "foxholectl: usage: foxholectl rm-message EVENT_ID"},
		{[]string{"rm-message", "0"}, `foxholectl: "0" is not an event id`},
		{[]string{"block"}, "foxholectl: usage: foxholectl block USER_ID"},
		{[]string{"unblock", "a", "b"}, "foxholectl: usage: foxholectl unblock USER_ID"},
		{[]string{"blocked", "x"}, "foxholectl: blocked takes no arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := ctl(t, "", append([]string{"--server", srv.URL}, tc.args...)...)
			if code != exitUsage || !strings.HasPrefix(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q: want %d, %q...", code, errOut, exitUsage, tc.stderr)
			}
		})
	}
	srv.Stop()
	if _, errOut, code := ctl(t, "", "--server", srv.URL, "blocked"); code != exitUnreachable {
		t.Errorf("blocked with the server down: exit %d, %q: want %d", code, errOut, exitUnreachable)
	}
}
