package main

import (
	"context"
	"flag"
	"fmt"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var roomsLsCommand = command{
	name:    "rooms ls",
	args:    "[--directory] [--query TEXT]",
	summary: "list your rooms, latest activity first, or the public ones",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		directory := fs.Bool("directory", false, "list the directory of public rooms instead of yours")
		query := fs.String("query", "", "with --directory, only rooms whose name contains `TEXT` (ignoring case)")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("rooms ls takes no arguments")
			}
			if *query != "" && !*directory {
				return usagef("--query searches the directory: add --directory")
			}
			return roomsLs(ctx, e, *directory, *query)
		}
	},
}

func roomsLs(ctx context.Context, e *env, directory bool, query string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	var rooms []*foxholev1.Room
	if directory {
		rooms, err = c.PublicRooms(ctx, query)
	} else {
		rooms, err = c.JoinedRooms(ctx)
	}
	if err != nil {
		return err
	}
	if e.json {
		for _, r := range rooms {
			if err := e.printProto(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rooms) == 0 {
		return nil
	}
	tw := table(e.stdout)
	if directory {
		fmt.Fprintln(tw, "ID\tNAME\tMEMBERS\tYOU\tTOPIC")
		for _, r := range rooms {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", clean(r.GetId()), clean(r.GetName()), r.GetMemberCount(), roleName(r.GetRole()), clean(r.GetTopic()))
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tMEMBERS\tUNREAD\tVISIBILITY\tTOPIC")
	for _, r := range rooms {
		unread := fmt.Sprint(r.GetUnreadCount())
		if r.GetUnreadCount() >= 1000 {
			unread = "1000+"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", clean(r.GetId()), clean(r.GetName()), roleName(r.GetRole()), r.GetMemberCount(), unread, visibilityName(r.GetVisibility()), clean(r.GetTopic()))
	}
	return tw.Flush()
}
