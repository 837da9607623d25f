package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var sendCommand = command{
	name:    "send",
	args:    "[--to USER_ID] TEXT...",
	summary: "send a message to everyone, or to one user",
	text:    true,
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		to := fs.String("to", "", "send a personal message to `USER_ID` only")
		return func(ctx context.Context, e *env, args []string) error {
			text := strings.Join(args, " ")
			if strings.TrimSpace(text) == "" {
				return usagef("usage: foxholectl send [--to USER_ID] TEXT...")
			}
			return send(ctx, e, *to, text)
		}
	},
}

func send(ctx context.Context, e *env, to, text string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: text, RecipientId: to}))
	if err != nil {
		return err
	}
	if e.json {
		return e.printProto(res.Msg.GetEvent())
	}
	_, err = fmt.Fprintf(e.stdout, "sent #%d\n", res.Msg.GetEvent().GetId())
	return err
}
