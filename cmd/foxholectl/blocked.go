package main

import (
	"context"
	"flag"
	"fmt"
)

var blockedCommand = command{
	name:    "blocked",
	summary: "list the users you block",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("blocked takes no arguments")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			users, err := c.ListBlockedUsers(ctx)
			if err != nil {
				return err
			}
			if e.json {
				for _, u := range users {
					if err := e.printProto(u); err != nil {
						return err
					}
				}
				return nil
			}
			if len(users) == 0 {
				return nil
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "USER_ID\tNAME")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\n", clean(u.GetId()), clean(u.GetScreenName()))
			}
			return tw.Flush()
		}
	},
}
