package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var filesPutCommand = command{
	name:    "files put",
	args:    "PATH...",
	summary: "upload files, streaming them",
	setup: func(*flag.FlagSet) func(context.Context, *env, []string) error {
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("usage: foxholectl files put PATH...")
			}
			return filesPut(ctx, e, args)
		}
	},
}

// filesPut uploads each file under its base name and lists the files
// stored, even when a later one fails.
func filesPut(ctx context.Context, e *env, paths []string) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	var files []*foxholev1.File
	for _, path := range paths {
		f, err := put(ctx, e, c, path)
		if err != nil {
			e.printFiles(files)
			return err
		}
		files = append(files, f)
	}
	return e.printFiles(files)
}

// put uploads one file. Its content streams from the disk in chunks, so
// memory stays the same whatever the size.
func put(ctx context.Context, e *env, c *client.Client, path string) (*foxholev1.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, usagef("%s is not a regular file", path)
	}
	name := filepath.Base(path)
	bar, done := e.progress(info.Size(), "uploading "+name)
	file, err := c.Upload(ctx, name, mime.TypeByExtension(filepath.Ext(name)), io.TeeReader(f, bar))
	done()
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", path, err)
	}
	return file, nil
}
