package main

import (
	"context"
	"flag"
	"fmt"
)

var roomsLeaveCommand = command{
	name:    "rooms leave",
	args:    "ROOM_ID",
	summary: "leave a room, or decline its invitation",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl rooms leave ROOM_ID")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			if err := c.LeaveRoom(ctx, args[0]); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"roomId": args[0], "left": true})
			}
			_, err = fmt.Fprintf(e.stdout, "left %s\n", clean(args[0]))
			return err
		}
	},
}
