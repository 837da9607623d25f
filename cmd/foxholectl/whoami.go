package main

import (
	"context"
	"flag"
	"fmt"
	"google.golang.org/protobuf/encoding/protojson"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var whoamiCommand = command{
	name:    "whoami",
	summary: "show the user you are logged in as",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("whoami takes no arguments")
			}
			return whoami(ctx, e)
		}
	},
}

func whoami(ctx context.Context, e *env) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil {
		return err
	}
	return e.printUser(res.Msg.GetUser())
}

// printUser prints a user's public profile.
func (e *env) printUser(u *foxholev1.User) error {
	if e.json {
		return e.printProto(u)
	}
	tw := table(e.stdout)
	fmt.Fprintf(tw, "id\t%s\n", clean(u.GetId()))
	fmt.Fprintf(tw, "name\t%s\n", clean(u.GetScreenName()))
	if u.GetBio() != "" {
		fmt.Fprintf(tw, "bio\t%s\n", clean(u.GetBio()))
	}
	if len(u.GetAttributes().GetFields()) > 0 {
		b, _ := protojson.Marshal(u.GetAttributes())
		fmt.Fprintf(tw, "attributes\t%s\n", clean(string(b)))
	}
	if u.GetAvatarUrl() != "" {
		fmt.Fprintf(tw, "avatar\t%s\n", clean(u.GetAvatarUrl()))
	}
	fmt.Fprintf(tw, "server\t%s\n", e.server)
	fmt.Fprintf(tw, "created\t%s\n", formatTime(u.GetCreatedAt().AsTime()))
	return tw.Flush()
}
