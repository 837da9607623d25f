// Command foxholectl is Foxhole's command-line client: register or log in
// once, then manage your profile and files, send messages, chat and watch
// events from the terminal.
//
//	foxholectl [global flags] COMMAND [flags] [arguments]
//
// Every command takes the global flags --server, --protocol, --json and
// --insecure (http:// to a host other than this machine is refused without it).
// Credentials live in os.UserConfigDir()/foxhole/credentials.json, one
// entry per server. Exit codes: 0 success, 1 usage (bad arguments, not
// logged in, a local file problem), 2 the server refused, 3 the server
// could not be reached.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one foxholectl command. setup declares the command's own
// flags on fs and returns what runs it with the arguments left.
type command struct {
	name    string // as typed, such as "files put"
	args    string // the synopsis of its arguments and flags
	summary string
	// text: flags end at the first argument, and the rest is free text
	// (send). Otherwise flags may come anywhere among the arguments.
	text  bool
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

// commands lists every command, in the order help shows them.
var commands = []*command{
	&registerCommand, &loginCommand, &logoutCommand, &whoamiCommand, &rotateCommand,
	&profileSetCommand, &profileGetCommand, &avatarSetCommand, &avatarRmCommand,
	&accountExportCommand, &accountDeleteCommand,
	&filesPutCommand, &filesGetCommand, &filesLsCommand, &filesRmCommand,
	&profileSetCommand, &profileGetCommand,
	&filesPutCommand, &filesGetCommand, &filesLsCommand, &filesRmCommand, &filesShareCommand, &filesUnshareCommand,
	&sendCommand, &chatCommand, &watchCommand, &historyCommand,
	&editCommand, &rmMessageCommand, &blockCommand, &unblockCommand, &blockedCommand,
	&roomsLsCommand, &roomsCreateCommand, &roomsJoinCommand, &roomsLeaveCommand,
	&roomsInviteCommand, &roomsRemoveCommand, &roomsMembersCommand,
}

const defaultServer = "http://127.0.0.1:8080"

// run runs foxholectl with args (without the program name) and returns
// its exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, server: defaultServer, protocol: "connect"}
	if s := os.Getenv("FOXHOLE_SERVER"); s != "" {
		e.server = s
	}
	e.caFile = os.Getenv("FOXHOLE_CA_FILE")
	fs := flag.NewFlagSet("foxholectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	e.globalFlags(fs)
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		return helpOrUsage(err)
	}
	args = fs.Args()
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if args[0] == "help" {
		if cmd, _ := lookup(args[1:]); cmd != nil {
			fs, _ := cmd.flags(e)
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		usage(stdout)
		return exitOK
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		if subs := subcommands(args[0]); len(subs) > 0 {
			fmt.Fprintf(stderr, "foxholectl: %s needs a subcommand: %s\n", args[0], strings.Join(subs, ", "))
		} else {
			fmt.Fprintf(stderr, "foxholectl: unknown command %q\n\n", args[0])
			usage(stderr)
		}
		return exitUsage
	}
	fs, runCmd := cmd.flags(e)
	rest, err := parseArgs(fs, rest, cmd.text)
	if err != nil {
		return helpOrUsage(err)
	}
	if err := e.check(); err != nil {
		return e.report(err)
	}
	return e.report(runCmd(ctx, e, rest))
}

// lookup finds the command args start with, and returns the arguments
// after its name.
func lookup(args []string) (*command, []string) {
	for _, cmd := range commands {
		words := strings.Fields(cmd.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == cmd.name {
			return cmd, args[len(words):]
		}
	}
	return nil, nil
}

// subcommands lists the subcommands of group, such as put, get, ls and rm
// for files.
func subcommands(group string) []string {
	var subs []string
	for _, cmd := range commands {
		if sub, ok := strings.CutPrefix(cmd.name, group+" "); ok {
			subs = append(subs, sub)
		}
	}
	return subs
}

// flags returns the command's flag set, global flags included, and what
// runs the command.
func (cmd *command) flags(e *env) (*flag.FlagSet, func(context.Context, *env, []string) error) {
	fs := flag.NewFlagSet("foxholectl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	runCmd := cmd.setup(fs)
	own := flag.NewFlagSet("", flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) { own.Var(f.Value, f.Name, f.Usage) })
	e.globalFlags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: foxholectl %s %s\n\n%s.\n", cmd.name, cmd.args, upperFirst(cmd.summary))
		if hasFlags(own) {
			fmt.Fprintln(w, "\nflags:")
			own.SetOutput(w)
			own.PrintDefaults()
		}
		fmt.Fprintln(w, "\nGlobal flags (--server, --protocol, --json, --ca-file, --insecure): see foxholectl help.")
	}
	return fs, runCmd
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseArgs parses the flags of fs among args and returns the other
// arguments. Flags may follow arguments ("files get ID -o out"), unless
// text is set; "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string, text bool) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); text || len(rest) == 0 || (n > 0 && args[n-1] == "--") {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// helpOrUsage is the exit code of a failed flag parse, which the flag
// package has already explained.
func helpOrUsage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: foxholectl [global flags] COMMAND [flags] [arguments]

Commands:
`)
	for _, cmd := range commands {
		synopsis := strings.TrimSpace(cmd.name + " " + cmd.args)
		if len(synopsis) > 36 { // the summary goes on a line of its own
			fmt.Fprintf(w, "  %s\n  %-36s %s\n", synopsis, "", cmd.summary)
			continue
		}
		fmt.Fprintf(w, "  %-36s %s\n", synopsis, cmd.summary)
	}
	fmt.Fprintf(w, `
Global flags, before or after the command:
  --server URL        Foxhole to talk to (default $FOXHOLE_SERVER, else %s)
  --protocol NAME     connect, connect-json, grpc or grpcweb (default connect)
  --json              print one JSON object per line
  --ca-file FILE       trust the CA certificates in FILE for an https:// server (default $FOXHOLE_CA_FILE)
  --insecure          allow http:// to a host other than this machine (the secret crosses the network in clear)

"foxholectl help COMMAND" or "foxholectl COMMAND -h" explains a command.
Exit codes: 0 success, 1 usage, 2 the server refused, 3 the server could not be reached.
`, defaultServer)
}
