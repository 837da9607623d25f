package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"foxhole.dev/foxhole/client"
)

var sendCommand = command{
	name:    "send",
	args:    "[--to USER_ID | --room ROOM_ID] TEXT...",
	summary: "send a message to everyone, to one user, or to a room",
	text:    true,
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		to := fs.String("to", "", "send a personal message to `USER_ID` only")
		room := fs.String("room", "", "send to the members of room `ROOM_ID` (you must be one)")
		return func(ctx context.Context, e *env, args []string) error {
			text := strings.Join(args, " ")
			if strings.TrimSpace(text) == "" {
				return usagef("usage: foxholectl send [--to USER_ID | --room ROOM_ID] TEXT...")
			}
			if *to != "" && *room != "" {
				return usagef("send: --to and --room cannot go together")
			}
			return send(ctx, e, client.Conversation{RoomID: *room, PeerID: *to}, text)
		}
	},
}

func send(ctx context.Context, e *env, to client.Conversation, text string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	ev, err := c.Send(ctx, to, text)
	if err != nil {
		return err
	}
	if e.json {
		return e.printProto(ev)
	}
	_, err = fmt.Fprintf(e.stdout, "sent #%d\n", ev.GetId())
	return err
}
