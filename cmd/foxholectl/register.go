package main

import (
	"context"
	"flag"
	"fmt"
)

var registerCommand = command{
	name:    "register",
	args:    "[--name NAME] [--force]",
	summary: "create a user and save its credentials",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		name := fs.String("name", "", "screen `NAME` (default: one the server picks)")
		force := fs.Bool("force", false, "replace the credentials already saved for this server")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("register takes no arguments (a name goes with --name)")
			}
			return register(ctx, e, *name, *force)
		}
	},
}

// register creates a user and saves its secret, shown once, which is the
// user's only credential.
func register(ctx context.Context, e *env, name string, force bool) error {
	c := e.newClient("")
	// Held until the secret is saved: a login or register racing this one
	// saves after it, or sees its entry.
	unlock, err := e.lockCredentials(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	saved, err := loadCredentials()
	if err != nil {
		return err
	}
	if old, ok := saved.Servers[e.server]; ok && !force {
		return usagef("already logged in to %s as %s (%s): run foxholectl logout first, or register --force", e.server, clean(old.ScreenName), old.UserID)
	}
	res, err := c.Register(ctx, name)
	if err != nil {
		return err
	}
	u := res.GetUser()
	if err := e.saveCredentials(ctx, credentials{UserID: u.GetId(), ScreenName: u.GetScreenName(), Secret: res.GetUserSecret()}); err != nil {
		return fmt.Errorf("registered %s but could not save the secret, keep it: %s\n%w", u.GetId(), res.GetUserSecret(), err)
	}
	path, _ := credentialsPath()
	if e.json {
		err = e.printProto(res)
	} else {
		fmt.Fprintf(e.stdout, "registered on %s\nid      %s\nname    %s\nsecret  %s\n", e.server, u.GetId(), clean(u.GetScreenName()), res.GetUserSecret())
	}
	fmt.Fprintf(e.stderr, "Keep the secret safe: it is your only credential and is not shown again.\nIt is saved in %s; \"foxholectl login\" takes it on another machine.\n", path)
	return err
}
