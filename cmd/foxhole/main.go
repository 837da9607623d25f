// Command foxhole serves the Foxhole API on one port, backs up and
// restores the data directory of the embedded default, and acts on users
// as an operator.
//
//	foxhole [serve]      serve (the default)
//	foxhole backup DIR   copy the running server's data into DIR
//	foxhole restore DIR  put a backup in place of an empty data directory
//	foxhole admin ...    list, show, ban, unban and delete users; purge messages
//	foxhole version      print the version and build information
//	foxhole help         print this
//
// Every command reads its configuration from the FOXHOLE_* variables.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one foxhole command.
type command struct {
	name    string
	args    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists every command, in the order help shows them; set in
// init, since help lists them.
var commands []*command

func init() {
	commands = []*command{&serveCommand, &backupCommand, &restoreCommand, &adminCommand, &versionCommand, &helpCommand}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command named by args[0] (serve when there is none) and
// returns the exit code: 0 success, 1 failure, 2 usage or configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "foxhole: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}
