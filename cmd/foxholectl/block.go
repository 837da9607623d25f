package main

import (
	"context"
	"flag"
	"fmt"
)

var blockCommand = command{
	name:    "block",
	args:    "USER_ID",
	summary: "block a user: none of their messages or typing reach you, and their direct messages are refused",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl block USER_ID")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			if err := c.BlockUser(ctx, args[0]); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"userId": args[0], "blocked": true})
			}
			_, err = fmt.Fprintf(e.stdout, "blocked %s\n", clean(args[0]))
			return err
		}
	},
}
