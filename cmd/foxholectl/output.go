package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// Exit codes.
const (
	exitOK          = 0
	exitUsage       = 1 // bad flags or arguments, not logged in, a local file problem
	exitRefused     = 2 // the server answered with an error
	exitUnreachable = 3 // the server could not be reached
)

// usageError is a mistake of the command line's: the server was not asked.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// report prints err, if any, as one line on stderr and returns the exit
// code it calls for.
func (e *env) report(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	msg := err.Error()
	var ce *connect.Error
	switch {
	case code == exitUnreachable:
		msg = "cannot reach the server: " + networkCause(err).Error()
	case errors.As(err, &ce) && ce.Code() == connect.CodeUnauthenticated:
		msg += " (if the secret changed, run foxholectl login again)"
	}
	fmt.Fprintf(e.stderr, "foxholectl: %s\n", clean(msg))
	return code
}

// exitCode tells a mistake of the command line's (1) from a refusal by the
// server (2) and a server that could not be reached (3). connect-go
// reports both of the last two as Connect errors, a network failure with
// code unavailable; what tells them apart is the cause it wraps: a network
// error, where a server's answer wraps none.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case networkCause(err) != nil:
		return exitUnreachable
	case isConnectError(err):
		return exitRefused
	}
	return exitUsage
}

func isConnectError(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce)
}

// networkCause returns the network error a Connect error wraps, if any.
// Other errors (a local file's) are never the network's.
func networkCause(err error) error {
	if !isConnectError(err) {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return nil
}

// printProto prints m as one line of JSON, the way Connect and protojson
// spell it.
func (e *env) printProto(m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(b, '\n'))
	return err
}

// printJSON prints v as one line of JSON.
func (e *env) printJSON(v any) error {
	return json.NewEncoder(e.stdout).Encode(v)
}

// table returns a writer that aligns tab-separated columns; Flush it.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// formatSize spells n bytes for people: 512 B, 1.5 KiB, 64.0 MiB.
func formatSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n)/1024, 0
	for f >= 1024 && unit < 4 {
		f /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[unit])
}

func formatTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// progress returns a progress bar of size bytes drawn on stderr, or
// io.Discard when stderr is not a terminal: piped or redirected output
// stays quiet. Finish it with done.
func (e *env) progress(size int64, what string) (bar io.Writer, done func()) {
	f, ok := e.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return io.Discard, func() {}
	}
	b := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return b, func() { _ = b.Finish() }
}

// syncWriter serialises writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// printEvent prints one event: one JSON object with --json, else one line
// for people. me is the user's own id, which names personal messages.
func (e *env) printEvent(ev *foxholev1.Event, me string) error {
	return e.printEventIn(ev, me, "")
}

// printEventIn is printEvent for a listing of one room's events, which
// leaves out the room's id on each line.
func (e *env) printEventIn(ev *foxholev1.Event, me, room string) error {
	if e.json {
		return e.printProto(ev)
	}
	at := ev.GetCreatedAt().AsTime().Local().Format("15:04:05")
	id := ""
	if ev.GetId() != 0 {
		id = fmt.Sprintf(" #%d", ev.GetId())
	}
	var line string
	switch p := ev.GetPayload().(type) {
	case *foxholev1.Event_ChatMessage:
		m := p.ChatMessage
		from, content := clean(m.GetSender().GetScreenName()), clean(m.GetContent())
		switch {
		case m.GetDeleted():
			content = "[deleted]"
		case m.GetEditedAt() != nil:
			content += " (edited)"
		}
		switch to := m.GetRecipientId(); {
		case m.GetRoomId() != "":
			line = roomPrefix(m.GetRoomId(), room) + fmt.Sprintf("%s: %s", from, content)
		case to == "":
			line = fmt.Sprintf("%s: %s", from, content)
		case to == me:
			line = fmt.Sprintf("%s (%s) → you: %s", from, clean(m.GetSender().GetId()), content)
		default:
			line = fmt.Sprintf("%s → %s: %s", from, clean(to), content)
		}
	case *foxholev1.Event_FileEvent:
		f := p.FileEvent.GetFile()
		what := "stored"
		if p.FileEvent.GetKind() == foxholev1.FileEvent_KIND_DELETED {
			what = "deleted"
		}
		line = fmt.Sprintf("file %s %s (%s, %s)", what, clean(f.GetName()), clean(f.GetId()), formatSize(f.GetSize()))
	case *foxholev1.Event_Presence:
		line = presenceLine(p.Presence)
	case *foxholev1.Event_RoomEvent:
		line = roomPrefix(p.RoomEvent.GetRoomId(), room) + roomEventLine(p.RoomEvent, me)
	case *foxholev1.Event_MessageEdited:
		line = roomPrefix(p.MessageEdited.GetRoomId(), room) + fmt.Sprintf("#%d edited: %s", p.MessageEdited.GetEventId(), clean(p.MessageEdited.GetContent()))
	case *foxholev1.Event_MessageDeleted:
		line = roomPrefix(p.MessageDeleted.GetRoomId(), room) + fmt.Sprintf("#%d [deleted] by %s", p.MessageDeleted.GetEventId(), clean(p.MessageDeleted.GetActor().GetScreenName()))
	case *foxholev1.Event_Typing:
		line = roomPrefix(p.Typing.GetRoomId(), room) + clean(p.Typing.GetUser().GetScreenName()) + " is typing…"
	default:
		line = "(an event this version does not know)"
	}
	_, err := fmt.Fprintf(e.stdout, "%s%s %s\n", at, id, line)
	return err
}

// presenceLine tells who is online (a snapshot) or who came and went.
func presenceLine(p *foxholev1.PresenceEvent) string {
	names := func(us []*foxholev1.UserRef) string {
		s := make([]string, len(us))
		for i, u := range us {
			s[i] = fmt.Sprintf("%s (%s)", clean(u.GetScreenName()), clean(u.GetId()))
		}
		return strings.Join(s, ", ")
	}
	if p.GetSnapshot() && p.GetTruncated() {
		return fmt.Sprintf("online, among others (/who lists everyone): %s", names(p.GetJoined()))
	}
	if p.GetSnapshot() {
		return fmt.Sprintf("online: %s", names(p.GetJoined()))
	}
	var parts []string
	if len(p.GetJoined()) > 0 {
		parts = append(parts, "joined: "+names(p.GetJoined()))
	}
	if len(p.GetLeft()) > 0 {
		parts = append(parts, "left: "+names(p.GetLeft()))
	}
	return strings.Join(parts, "; ")
}

// onDisconnect is Subscribe's OnDisconnect: a note on stderr, for people.
func (e *env) onDisconnect(err error, retryIn time.Duration) {
	if e.json {
		return
	}
	fmt.Fprintf(e.stderr, "foxholectl: connection lost (%s); reconnecting in %.1fs\n", clean(fmt.Sprint(err)), retryIn.Seconds())
}

// ended reports whether err is only the end of ctx: the user interrupted a
// command that runs until then (watch, chat).
func ended(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || connect.CodeOf(err) == connect.CodeCanceled)
}
