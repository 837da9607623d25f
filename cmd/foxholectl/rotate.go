package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

var rotateCommand = command{
	name:    "rotate",
	summary: "replace your secret, ending every session of the old one, and save the new one",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("rotate takes no arguments")
			}
			return rotate(ctx, e)
		}
	},
}

// rotate replaces the user's secret. The old one stops working at once, so
// the new one is saved before anything else can fail.
func rotate(ctx context.Context, e *env) error {
	// Held from reading the saved secret to saving the new one: a login or
	// another rotate racing this one cannot save an older secret after it.
	unlock, err := e.lockCredentials(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	c, creds, err := e.login(ctx)
	if err != nil {
		return err
	}
	secret, err := c.RotateSecret(ctx)
	if err != nil {
		return err
	}
	creds.Secret, creds.Token, creds.Expires = secret, "", time.Time{} // the rotation revoked the token too
	if err := e.saveCredentials(ctx, creds); err != nil {
		return fmt.Errorf("the secret changed but could not be saved, keep it: %s\n%w", secret, err)
	}
	if e.json {
		err = e.printJSON(map[string]string{"userId": creds.UserID, "userSecret": secret})
	} else {
		_, err = fmt.Fprintf(e.stdout, "secret  %s\n", secret)
	}
	fmt.Fprintln(e.stderr, "The old secret no longer works. Keep the new one safe: it is not shown again (it is saved for this server).")
	return err
}
