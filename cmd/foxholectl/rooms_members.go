package main

import (
	"context"
	"flag"
	"fmt"
)

var roomsMembersCommand = command{
	name:    "rooms members",
	args:    "ROOM_ID",
	summary: "list a room's members, in order of joining",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl rooms members ROOM_ID")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			members, err := c.ListMembers(ctx, args[0])
			if err != nil {
				return err
			}
			if e.json {
				for _, m := range members {
					if err := e.printProto(m); err != nil {
						return err
					}
				}
				return nil
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "USER_ID\tNAME\tROLE\tJOINED")
			for _, m := range members {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", clean(m.GetUser().GetId()), clean(m.GetUser().GetScreenName()), roleName(m.GetRole()), formatTime(m.GetJoinedAt().AsTime()))
			}
			return tw.Flush()
		}
	},
}
