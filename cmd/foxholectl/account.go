package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

var avatarSetCommand = command{
	name:    "avatar set",
	args:    "FILE",
	summary: "make the picture in FILE (PNG, JPEG, GIF or WebP) your avatar",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl avatar set FILE")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			u, err := c.SetAvatar(ctx, f)
			if err != nil {
				return err
			}
			return e.printUser(u)
		}
	},
}

var avatarRmCommand = command{
	name:    "avatar rm",
	summary: "remove your avatar",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usagef("avatar rm takes no arguments")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			return c.RemoveAvatar(ctx)
		}
	},
}

var accountExportCommand = command{
	name:    "account export",
	args:    "-o FILE",
	summary: "download a zip of everything the server holds on you: profile, files, messages, rooms",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		out := fs.String("o", "", "write the zip to `FILE`")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 || *out == "" {
				return usagef("usage: foxholectl account export -o FILE")
			}
			c, _, err := e.login(ctx)
			if err != nil {
				return err
			}
			// Written beside the target and renamed once whole: an export cut
			// off never passes for a complete one.
			tmp, err := os.CreateTemp(filepath.Dir(*out), ".foxhole-export-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			n, err := c.Export(ctx, tmp)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), *out); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"file": *out, "bytes": n})
			}
			_, err = fmt.Fprintf(e.stdout, "exported %d bytes to %s\n", n, *out)
			return err
		}
	},
}

var accountDeleteCommand = command{
	name:    "account delete",
	args:    "[--secret-file PATH]",
	summary: "delete your account for good: asks for your secret as confirmation",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		file := fs.String("secret-file", "", "read the secret from `PATH` (default: stdin, or a prompt on a terminal)")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usagef("account delete takes no arguments: the secret is read from stdin, --secret-file or a prompt, never from the command line")
			}
			c, creds, err := e.login(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "This deletes the account %s (%s) on %s for good: profile, avatar, files, memberships; your messages become tombstones.\nType your secret to confirm.\n", creds.UserID, clean(creds.ScreenName), e.server)
			secret, err := readSecret(e, *file)
			if err != nil {
				return err
			}
			if err := c.DeleteAccount(ctx, secret); err != nil {
				return err
			}
			if err := e.updateCredentials(ctx, func(f *credentialsFile) bool {
				cur, ok := f.Servers[e.server]
				if !ok || cur.UserID != creds.UserID {
					return false
				}
				delete(f.Servers, e.server)
				return true
			}); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"userId": creds.UserID, "deleted": true})
			}
			_, err = fmt.Fprintf(e.stdout, "account %s deleted\n", creds.UserID)
			return err
		}
	},
}
