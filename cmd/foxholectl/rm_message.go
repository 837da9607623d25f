package main

import (
	"context"
	"flag"
	"fmt"
)

var rmMessageCommand = command{
	name:    "rm-message",
	args:    "EVENT_ID",
	summary: "delete a message you sent, or one in a room you own or administer",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl rm-message EVENT_ID")
			}
			id, err := eventID(args[0])
			if err != nil {
				return err
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			if err := c.DeleteMessage(ctx, id); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"eventId": id, "deleted": true})
			}
			_, err = fmt.Fprintf(e.stdout, "deleted #%d\n", id)
			return err
		}
	},
}
