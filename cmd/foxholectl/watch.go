package main

import (
	"context"
	"flag"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var watchCommand = command{
	name:    "watch",
	args:    "[--after ID] [--no-presence] [--room ROOM_ID]...",
	summary: "print events as they arrive, until interrupted",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		after := fs.Int64("after", -1, "first replay the stored events after event `ID` (0: all that are kept)")
		noPresence := fs.Bool("no-presence", false, "leave out users joining and leaving")
		var rooms roomIDs
		fs.Var(&rooms, "room", "of the rooms' events, print only those of room `ROOM_ID` (repeat it, or separate ids with commas); the lobby, direct messages and file events come either way")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("watch takes no arguments")
			}
			o := client.SubscribeOptions{SkipPresence: *noPresence, RoomIDs: rooms, OnDisconnect: e.onDisconnect}
			if *after >= 0 {
				o.AfterEventID = after
			}
			return watch(ctx, e, o)
		}
	},
}

// watch prints events until ctx ends. A dropped stream is opened again and
// resumes after the last stored event printed: none is lost or repeated.
func watch(ctx context.Context, e *env, o client.SubscribeOptions) error {
	c, me, err := e.login(ctx)
	if err != nil {
		return err
	}
	err = c.Subscribe(ctx, o, func(ev *foxholev1.Event) error { return e.printEvent(ev, me.UserID) })
	if ended(ctx, err) {
		return nil
	}
	return err
}
