package main

import (
	"context"
	"flag"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var profileSetCommand = command{
	name:    "profile set",
	args:    "[--name NAME] [--bio TEXT] [--attributes JSON]",
	summary: "change your profile: screen name, bio, attributes (an empty --bio or --attributes '{}' clears it)",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		var name, bio, attrs optionalString
		fs.Var(&name, "name", "new screen `NAME`")
		fs.Var(&bio, "bio", "new bio `TEXT` (up to 500 characters)")
		fs.Var(&attrs, "attributes", "new attributes, a `JSON` object replacing the old one")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 || (!name.set && !bio.set && !attrs.set) {
				return usagef("usage: foxholectl profile set [--name NAME] [--bio TEXT] [--attributes JSON]")
			}
			if name.set && name.v == "" {
				return usagef("--name must not be empty")
			}
			u := &foxholev1.User{ScreenName: name.v, Bio: bio.v}
			var paths []string
			if name.set {
				paths = append(paths, "screen_name")
			}
			if bio.set {
				paths = append(paths, "bio")
			}
			if attrs.set {
				paths = append(paths, "attributes")
				u.Attributes = &structpb.Struct{}
				if err := protojson.Unmarshal([]byte(attrs.v), u.Attributes); err != nil {
					return usagef("--attributes must be a JSON object: %v", err)
				}
			}
			return profileSet(ctx, e, u, paths)
		}
	},
}

// optionalString is a string flag that knows whether it was given.
type optionalString struct {
	v   string
	set bool
}

func (o *optionalString) String() string     { return o.v }
func (o *optionalString) Set(v string) error { o.v, o.set = v, true; return nil }

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

func profileSet(ctx context.Context, e *env, user *foxholev1.User, paths []string) error {
	c, creds, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.Profile.UpdateProfile(ctx, connect.NewRequest(&foxholev1.UpdateProfileRequest{
		User:       user,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
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
