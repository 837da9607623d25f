package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/term"

	"foxhole.dev/foxhole/client"
)

// maxLine bounds a typed line: a longer one is dropped with an error, as
// no message could carry it.
const maxLine = 1 << 20

// typedLine is one line read from the input, or why a line was dropped.
type typedLine struct {
	text string
	err  error
}

// readLines reads r until its end or ctx's, sending each line (without
// its line ending) on lines, which it closes at the end. Whenever the
// input stops in the middle of a line, the line so far goes on partials
// (dropped when chat has not taken the previous one): a terminal in line
// mode hands over nothing before Enter, but one that passes keys as they
// are typed, or a program writing to chat's input, shows the typing.
func readLines(ctx context.Context, r io.Reader) (<-chan typedLine, <-chan string) {
	lines := make(chan typedLine)
	partials := make(chan string, 1)
	go func() {
		defer close(lines)
		emit := func(l typedLine) bool {
			select {
			case lines <- l:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var pending []byte
		tooLong := false
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			chunk := buf[:n]
			for len(chunk) > 0 {
				i := bytes.IndexByte(chunk, '\n')
				if i < 0 {
					pending = append(pending, chunk...)
					break
				}
				pending = append(pending, chunk[:i]...)
				chunk = chunk[i+1:]
				l := typedLine{text: strings.TrimSuffix(string(pending), "\r")}
				if tooLong {
					l = typedLine{err: usagef("a line of more than %d bytes was dropped", maxLine)}
				}
				pending, tooLong = pending[:0], false
				if !emit(l) {
					return
				}
			}
			if len(pending) > maxLine {
				pending, tooLong = pending[:0], true
			}
			if err != nil {
				if len(pending) > 0 && !tooLong {
					emit(typedLine{text: string(pending)})
				}
				return
			}
			if len(pending) > 0 {
				select {
				case <-partials: // chat has not taken the older one
				default:
				}
				partials <- string(pending)
			}
		}
	}()
	return lines, partials
}

// typingEvery is the least time between two typing signals to one
// conversation: peers show one for 5 seconds.
const typingEvery = 3 * time.Second

// typer tells a conversation that the user is typing in it, at most once
// every typingEvery.
type typer struct {
	send func(context.Context, client.Conversation) error
	now  func() time.Time
	mu   sync.Mutex
	last map[client.Conversation]time.Time
}

// typing acts on a line being typed: one that starts "/dm USER_ID " or
// "/room ROOM_ID " followed by text is typing to that user or room. The
// lobby has no typing. A refusal (the rate of signals, a block) is not
// the user's concern and goes unreported.
func (t *typer) typing(ctx context.Context, partial string) {
	to, ok := typingTarget(partial)
	if !ok {
		return
	}
	t.mu.Lock()
	now := t.now()
	if last, ok := t.last[to]; ok && now.Sub(last) < typingEvery {
		t.mu.Unlock()
		return
	}
	if t.last == nil {
		t.last = make(map[client.Conversation]time.Time)
	}
	t.last[to] = now
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, typingEvery)
	defer cancel()
	_ = t.send(ctx, to)
}

// typingTarget returns the conversation a partly typed line goes to, when
// it is a direct one or a room's and its text has begun.
func typingTarget(partial string) (client.Conversation, bool) {
	cmd, rest, _ := strings.Cut(strings.TrimLeft(partial, " \t"), " ")
	id, text, _ := strings.Cut(strings.TrimLeft(rest, " \t"), " ")
	if id == "" || strings.TrimSpace(text) == "" {
		return client.Conversation{}, false
	}
	switch cmd {
	case "/dm":
		return client.Direct(id), true
	case "/room":
		return client.InRoom(id), true
	}
	return client.Conversation{}, false
}

// terminalInput is chat's input from a terminal: the terminal in raw mode
// behind a line editor (golang.org/x/term's), which sees each key as it is
// typed, so that typing goes out before Enter, and which keeps the line
// being typed below the events printed meanwhile.
type terminalInput struct {
	t       *term.Terminal
	restore func()
}

// startTerminal takes over stdin and stdout when both are the same kind of
// terminal a person types at; ok is false otherwise.
func startTerminal(stdin io.Reader, stdout io.Writer) (ti *terminalInput, ok bool) {
	in, isFile := stdin.(*os.File)
	out, isOutFile := stdout.(*os.File)
	if !isFile || !isOutFile || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(out.Fd())) {
		return nil, false
	}
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, false
	}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, "> ")
	if w, h, err := term.GetSize(int(out.Fd())); err == nil {
		_ = t.SetSize(w, h)
	}
	return &terminalInput{t: t, restore: func() {
		_, _ = io.WriteString(out, "\r\x1b[K") // the prompt left on the last line
		_ = term.Restore(int(in.Fd()), state)
	}}, true
}

// lines reads lines from the terminal until Ctrl-D on an empty line,
// Ctrl-C or ctx's end, sending the line being typed on partials after each
// key, as readLines does.
func (ti *terminalInput) lines(ctx context.Context) (<-chan typedLine, <-chan string) {
	lines := make(chan typedLine)
	partials := make(chan string, 1)
	ti.t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		if unicode.IsPrint(key) {
			select {
			case <-partials:
			default:
			}
			partials <- line[:pos] + string(key) + line[pos:]
		}
		return "", 0, false
	}
	go func() {
		defer close(lines)
		for {
			line, err := ti.t.ReadLine()
			if err != nil {
				return
			}
			select {
			case lines <- typedLine{text: line}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return lines, partials
}
