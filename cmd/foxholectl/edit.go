package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

var editCommand = command{
	name:    "edit",
	args:    "EVENT_ID TEXT...",
	summary: "replace the text of a message you sent",
	text:    true,
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			const use = "usage: foxholectl edit EVENT_ID TEXT..."
			if len(args) < 2 {
				return usagef(use)
			}
			id, err := eventID(args[0])
			if err != nil {
				return err
			}
			text := strings.Join(args[1:], " ")
			if strings.TrimSpace(text) == "" {
				return usagef(use)
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			ev, err := c.EditMessage(ctx, id, text)
			if err != nil {
				return err
			}
			if e.json {
				return e.printProto(ev)
			}
			_, err = fmt.Fprintf(e.stdout, "edited #%d\n", ev.GetId())
			return err
		}
	},
}

// eventID parses a message's event id, as watch, chat and history print
// it (a leading # is allowed).
func eventID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not an event id: want a number such as 42, as watch and history print it (#42)", s)
	}
	return id, nil
}
