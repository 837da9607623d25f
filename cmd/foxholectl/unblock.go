package main

import (
	"context"
	"flag"
	"fmt"
)

var unblockCommand = command{
	name:    "unblock",
	args:    "USER_ID",
	summary: "unblock a user: their messages reach you again from now on",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl unblock USER_ID")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			if err := c.UnblockUser(ctx, args[0]); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"userId": args[0], "blocked": false})
			}
			_, err = fmt.Fprintf(e.stdout, "unblocked %s\n", clean(args[0]))
			return err
		}
	},
}
