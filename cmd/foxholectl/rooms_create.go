package main

import (
	"context"
	"flag"

	"foxhole.dev/foxhole/client"
)

var roomsCreateCommand = command{
	name:    "rooms create",
	args:    "NAME [--topic TEXT] [--public]",
	summary: "create a room, private unless --public, with you as its owner",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		topic := fs.String("topic", "", "the room's `TEXT` topic")
		public := fs.Bool("public", false, "list the room in the directory, where anyone may join it")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl rooms create NAME [--topic TEXT] [--public] (quote a name with spaces)")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			r, err := c.CreateRoom(ctx, args[0], client.RoomOptions{Topic: *topic, Public: *public})
			if err != nil {
				return err
			}
			return e.printRoom("created", r)
		}
	},
}
