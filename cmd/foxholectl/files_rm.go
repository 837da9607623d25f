package main

import (
	"context"
	"flag"
	"fmt"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var filesRmCommand = command{
	name:    "files rm",
	args:    "ID...",
	summary: "delete files",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("usage: foxholectl files rm ID...")
			}
			return filesRm(ctx, e, args)
		}
	},
}

func filesRm(ctx context.Context, e *env, ids []string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := c.File.DeleteFile(ctx, connect.NewRequest(&foxholev1.DeleteFileRequest{Id: id})); err != nil {
			return err
		}
		if e.json {
			err = e.printJSON(map[string]any{"id": id, "deleted": true})
		} else {
			_, err = fmt.Fprintf(e.stdout, "deleted %s\n", id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
