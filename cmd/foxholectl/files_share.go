package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var filesShareCommand = command{
	name:    "files share",
	args:    "[--expires DURATION] ID...",
	summary: "make public links to files, printed one a line; anyone with a link downloads the file",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		expires := fs.Duration("expires", 0, "how long each link works, such as 24h (default: until files unshare)")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("usage: foxholectl files share [--expires DURATION] ID...")
			}
			if *expires < 0 {
				return usagef("--expires must be positive")
			}
			return filesShare(ctx, e, args, *expires)
		}
	},
}

var filesUnshareCommand = command{
	name:    "files unshare",
	args:    "LINK|SHARE-ID|FILE-ID...",
	summary: "end links at once: a link or its id, or every link to a file",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("usage: foxholectl files unshare LINK|SHARE-ID|FILE-ID...")
			}
			return filesUnshare(ctx, e, args)
		}
	},
}

func filesShare(ctx context.Context, e *env, ids []string, ttl time.Duration) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		req := &foxholev1.ShareFileRequest{Id: id}
		if ttl > 0 {
			req.ExpiresIn = durationpb.New(ttl)
		}
		res, err := c.File.ShareFile(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}
		sh := res.Msg.GetShare()
		if e.json {
			err = e.printProto(sh)
		} else {
			_, err = fmt.Fprintln(e.stdout, sh.GetUrl())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func filesUnshare(ctx context.Context, e *env, args []string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	for _, arg := range args {
		id := arg
		if i := strings.LastIndex(arg, "/files/shared/"); i >= 0 {
			id = arg[i+len("/files/shared/"):]
		}
		// A file id: every link to the file.
		ids := []string{id}
		if list, err := c.File.ListShares(ctx, connect.NewRequest(&foxholev1.ListSharesRequest{FileId: id})); err == nil && len(list.Msg.GetShares()) > 0 {
			ids = ids[:0]
			for _, sh := range list.Msg.GetShares() {
				ids = append(ids, sh.GetId())
			}
		}
		for _, sid := range ids {
			if _, err := c.File.RevokeShare(ctx, connect.NewRequest(&foxholev1.RevokeShareRequest{Id: sid})); err != nil {
				return err
			}
			if e.json {
				err = e.printJSON(map[string]any{"id": sid, "revoked": true})
			} else {
				_, err = fmt.Fprintf(e.stdout, "unshared %s\n", sid)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
