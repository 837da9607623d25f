package main

import (
	"context"
	"flag"
	"fmt"
)

var roomsInviteCommand = command{
	name:    "rooms invite",
	args:    "ROOM_ID USER_ID",
	summary: "invite a user to a room (owner or admin)",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 2 {
				return usagef("usage: foxholectl rooms invite ROOM_ID USER_ID")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			if err := c.InviteMember(ctx, args[0], args[1]); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"roomId": args[0], "userId": args[1], "invited": true})
			}
			_, err = fmt.Fprintf(e.stdout, "invited %s to %s\n", clean(args[1]), clean(args[0]))
			return err
		}
	},
}
