package main

import (
	"context"
	"flag"
)

var roomsJoinCommand = command{
	name:    "rooms join",
	args:    "ROOM_ID",
	summary: "join a public room, or a private one you are invited to",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl rooms join ROOM_ID")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			r, err := c.JoinRoom(ctx, args[0])
			if err != nil {
				return err
			}
			return e.printRoom("joined", r)
		}
	},
}
