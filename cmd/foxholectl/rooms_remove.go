package main

import (
	"context"
	"flag"
	"fmt"
)

var roomsRemoveCommand = command{
	name:    "rooms remove",
	args:    "ROOM_ID USER_ID [--ban]",
	summary: "remove a member or withdraw an invitation (owner or admin)",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		ban := fs.Bool("ban", false, "also ban the user: they cannot join again")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 2 {
				return usagef("usage: foxholectl rooms remove ROOM_ID USER_ID [--ban]")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			if err := c.RemoveMember(ctx, args[0], args[1], *ban); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"roomId": args[0], "userId": args[1], "removed": true, "banned": *ban})
			}
			verb := "removed"
			if *ban {
				verb = "banned"
			}
			_, err = fmt.Fprintf(e.stdout, "%s %s from %s\n", verb, clean(args[1]), clean(args[0]))
			return err
		}
	},
}
