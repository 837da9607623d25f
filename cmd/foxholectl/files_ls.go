package main

import (
	"context"
	"flag"
	"fmt"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var filesLsCommand = command{
	name:    "files ls",
	summary: "list your files, newest first",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) > 0 {
				return usagef("files ls takes no arguments")
			}
			return filesLs(ctx, e)
		}
	},
}

// listPageSize is how many files each ListFiles call asks for.
var listPageSize int32 = 1000

// filesLs lists every page.
func filesLs(ctx context.Context, e *env) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	var files []*foxholev1.File
	req := &foxholev1.ListFilesRequest{PageSize: listPageSize}
	for {
		res, err := c.File.ListFiles(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}
		files = append(files, res.Msg.GetFiles()...)
		if req.PageToken = res.Msg.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return e.printFiles(files)
}

// printFiles prints files as a table, or one JSON object each.
func (e *env) printFiles(files []*foxholev1.File) error {
	if e.json {
		for _, f := range files {
			if err := e.printProto(f); err != nil {
				return err
			}
		}
		return nil
	}
	if len(files) == 0 {
		return nil
	}
	tw := table(e.stdout)
	fmt.Fprintln(tw, "ID\tNAME\tSIZE\tTYPE\tCREATED")
	for _, f := range files {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(f.GetId()), clean(f.GetName()), formatSize(f.GetSize()), clean(f.GetContentType()), formatTime(f.GetCreatedAt().AsTime()))
	}
	return tw.Flush()
}
