package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var chatCommand = command{
	name:    "chat",
	summary: "chat interactively: type to send, see everything as it arrives",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("chat takes no arguments")
			}
			return chat(ctx, e)
		}
	},
}

const chatHelp = "Type a line to send it to everyone. /dm USER_ID TEXT sends to one user, /room ROOM_ID TEXT to a room's members, /who lists who is online, /quit or the end of input (Ctrl-D) leaves."

// chat prints events as they arrive while it reads lines from stdin, each
// sent as a broadcast unless it is a command. It ends on /quit, at the end
// of input, when ctx ends, or when the stream is refused for good.
func chat(ctx context.Context, e *env) error {
	c, me, err := e.login(ctx)
	if err != nil {
		return err
	}
	// Events arrive on one goroutine while replies to commands are printed
	// on this one.
	out := *e
	out.stdout, out.stderr = &syncWriter{w: e.stdout}, &syncWriter{w: e.stderr}
	// At a terminal, a line editor keeps what is being typed below the
	// events, and sees the typing as it happens.
	// --json output is for programs: no line editor mixes into it.
	var tty *terminalInput
	atTerminal := false
	if !e.json {
		tty, atTerminal = startTerminal(e.stdin, e.stdout)
	}
	if atTerminal {
		defer tty.restore()
		out.stdout, out.stderr = tty.t, tty.t
	}
	e = &out

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streamDone := make(chan error, 1)
	go func() {
		streamDone <- c.Subscribe(ctx, client.SubscribeOptions{OnDisconnect: e.onDisconnect},
			func(ev *foxholev1.Event) error { return e.printEvent(ev, me.UserID) })
	}()
	// The stream's last events are printed before chat returns.
	stop := func(err error) error {
		cancel()
		if serr := <-streamDone; err == nil && !ended(ctx, serr) {
			err = serr
		}
		return err
	}

	var lines <-chan typedLine
	var partials <-chan string
	if atTerminal {
		lines, partials = tty.lines(ctx)
	} else {
		lines, partials = readLines(ctx, e.stdin)
	}
	typer := &typer{send: c.SendTyping, now: time.Now}

	if !e.json {
		fmt.Fprintf(e.stderr, "Chatting as %s (%s). %s\n", clean(me.ScreenName), clean(me.UserID), chatHelp)
	}
	for {
		select {
		case err := <-streamDone:
			streamDone <- err // for stop
			return stop(nil)
		case <-ctx.Done():
			return stop(nil)
		case partial := <-partials:
			typer.typing(ctx, partial)
		case typed, ok := <-lines:
			if !ok {
				return stop(nil)
			}
			if typed.err != nil {
				e.report(typed.err)
				continue
			}
			quit, err := chatLine(ctx, e, c, typed.text)
			if err != nil {
				e.report(err) // one failed line does not end the chat
			}
			if quit {
				return stop(nil)
			}
		}
	}
}

// chatLine acts on one typed line and reports whether the chat ends.
func chatLine(ctx context.Context, e *env, c *client.Client, line string) (quit bool, err error) {
	line = strings.TrimSpace(line)
	cmd, rest, _ := strings.Cut(line, " ")
	switch {
	case line == "":
		return false, nil
	case cmd == "/quit":
		return true, nil
	case cmd == "/who":
		return false, who(ctx, e, c)
	case cmd == "/dm":
		to, text, _ := strings.Cut(strings.TrimSpace(rest), " ")
		if to == "" || strings.TrimSpace(text) == "" {
			return false, usagef("usage: /dm USER_ID TEXT")
		}
		return false, chatSend(ctx, c, client.Direct(to), strings.TrimSpace(text))
	case cmd == "/room":
		room, text, _ := strings.Cut(strings.TrimSpace(rest), " ")
		if room == "" || strings.TrimSpace(text) == "" {
			return false, usagef("usage: /room ROOM_ID TEXT")
		}
		return false, chatSend(ctx, c, client.InRoom(room), strings.TrimSpace(text))
	case cmd == "/help":
		_, err := fmt.Fprintln(e.stderr, chatHelp)
		return false, err
	case strings.HasPrefix(cmd, "/"):
		return false, usagef("unknown command %s. %s", cmd, chatHelp)
	}
	return false, chatSend(ctx, c, client.Lobby, line)
}

// chatSend sends a message; the stream prints it when it comes back.
func chatSend(ctx context.Context, c *client.Client, to client.Conversation, text string) error {
	_, err := c.Send(ctx, to, text)
	return err
}

// who prints the users online now.
func who(ctx context.Context, e *env, c *client.Client) error {
	users, err := c.ListOnline(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return e.printProto(&foxholev1.ListPresenceResponse{Users: users})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "online (%d):\n", len(users))
	for _, u := range users {
		fmt.Fprintf(&b, "  %s (%s)\n", clean(u.GetScreenName()), clean(u.GetId()))
	}
	_, err = fmt.Fprint(e.stdout, b.String())
	return err
}
