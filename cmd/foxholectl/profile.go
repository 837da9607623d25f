package main

import (
	"context"
	"flag"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var profileSetCommand = command{
	name:    "profile set",
	args:    "--name NAME",
	summary: "change your profile",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		name := fs.String("name", "", "new screen `NAME`")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 || *name == "" {
				return usagef("usage: foxholectl profile set --name NAME")
			}
			return profileSet(ctx, e, *name)
		}
	},
}

var profileGetCommand = command{
	name:    "profile get",
	args:    "USER_ID",
	summary: "show another user's public profile",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl profile get USER_ID")
			}
			return profileGet(ctx, e, args[0])
		}
	},
}

func profileSet(ctx context.Context, e *env, name string) error {
	c, creds, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
		User:       &foxholev1.User{ScreenName: name},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"screen_name"}},
	}))
	if err != nil {
		return err
	}
	u := res.Msg.GetUser()
	// Only the name: another command may have saved a new secret meanwhile.
	err = e.updateCredentials(ctx, func(f *credentialsFile) bool {
		cur, ok := f.Servers[e.server]
		if !ok || cur.UserID != creds.UserID {
			return false
		}
		cur.ScreenName = u.GetScreenName()
		f.Servers[e.server] = cur
		return true
	})
	if err != nil {
		return err
	}
	return e.printUser(u)
}

func profileGet(ctx context.Context, e *env, id string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: id}))
	if err != nil {
		return err
	}
	return e.printUser(res.Msg.GetUser())
}
