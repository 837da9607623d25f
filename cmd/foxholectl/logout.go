package main

import (
	"context"
	"flag"
	"fmt"
)

var logoutCommand = command{
	name:    "logout",
	summary: "forget the credentials saved for the server",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("logout takes no arguments")
			}
			return logout(ctx, e)
		}
	},
}

// logout removes the server's entry from the credentials file. The secret
// itself still works: rotate it first to end it everywhere.
func logout(ctx context.Context, e *env) error {
	var was bool
	err := e.updateCredentials(ctx, func(f *credentialsFile) bool {
		_, was = f.Servers[e.server]
		delete(f.Servers, e.server)
		return was
	})
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"server": e.server, "loggedOut": was})
	}
	if !was {
		_, err = fmt.Fprintf(e.stdout, "not logged in to %s\n", e.server)
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "logged out of %s\n", e.server)
	return err
}
