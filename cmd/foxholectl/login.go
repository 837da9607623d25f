package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"connectrpc.com/connect"
	"golang.org/x/term"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var loginCommand = command{
	name:    "login",
	args:    "[--secret-file PATH]",
	summary: "save the credentials of an existing user, from its secret",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		file := fs.String("secret-file", "", "read the secret from `PATH` (default: stdin, or a prompt on a terminal)")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("login takes no arguments: the secret is read from stdin, --secret-file or a prompt, never from the command line")
			}
			return login(ctx, e, *file)
		}
	},
}

// login checks the secret with the server and saves it. The secret never
// comes from an argument, which other users could read in the process
// list and which shells keep in their history.
func login(ctx context.Context, e *env, file string) error {
	secret, err := readSecret(e, file)
	if err != nil {
		return err
	}
	// Held from the check to the save: a rotate racing this login either
	// rotates the secret saved here, or finishes first, and then the server
	// refuses the old secret here; either way the newest secret stays saved.
	unlock, err := e.lockCredentials(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	c := e.newClient(secret)
	res, err := c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil {
		return err
	}
	u := res.Msg.GetUser()
	if loginChecked != nil {
		loginChecked()
	}
	if err := e.saveCredentials(ctx, credentials{UserID: u.GetId(), ScreenName: u.GetScreenName(), Secret: secret}); err != nil {
		return err
	}
	if e.json {
		return e.printProto(u)
	}
	_, err = fmt.Fprintf(e.stdout, "logged in to %s as %s (%s)\n", e.server, clean(u.GetScreenName()), u.GetId())
	return err
}

// readSecret reads the secret from file, else from a prompt when stdin is
// a terminal, else from the first line of stdin.
func readSecret(e *env, file string) (string, error) {
	var r io.Reader
	switch f, isFile := e.stdin.(*os.File); {
	case file != "":
		fh, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer fh.Close()
		r = fh
	case isFile && term.IsTerminal(int(f.Fd())):
		fmt.Fprint(e.stderr, "secret: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		r = strings.NewReader(string(b))
	default:
		r = e.stdin
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	secret := strings.TrimSpace(line)
	if secret == "" {
		return "", usagef("no secret given: pipe it on stdin, use --secret-file, or type it at the prompt")
	}
	return secret, nil
}
