package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var filesPutCommand = command{
	name:    "files put",
	args:    "[--resume] PATH...",
	summary: "upload files, resumably: an interrupted upload continues where it stopped",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		resume := fs.Bool("resume", false, "only continue the interrupted upload of each file, failing when there is none (without it, one found is continued, else a new one starts)")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) == 0 {
				return usagef("usage: foxholectl files put [--resume] PATH...")
			}
			return filesPut(ctx, e, args, *resume)
		}
	},
}

// filesPut uploads each file under its base name and lists the files
// stored, even when a later one fails.
func filesPut(ctx context.Context, e *env, paths []string, resume bool) error {
	c, creds, err := e.login(ctx)
	if err != nil {
		return err
	}
	var files []*foxholev1.File
	for _, path := range paths {
		f, err := put(ctx, e, c, creds.UserID, path, resume)
		if err != nil {
			e.printFiles(files)
			return err
		}
		files = append(files, f)
	}
	return e.printFiles(files)
}

// unfinished is an upload foxholectl started and has not seen finish,
// kept in os.UserConfigDir()/foxhole/uploads.json by server, user and
// path, with the size and time of the file it was started for: a file
// changed since starts again.
type unfinished struct {
	URL     string    `json:"url"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

func uploadsPath() (string, error) {
	p, err := credentialsPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "uploads.json"), nil
}

// updateUploads changes the record of unfinished uploads under the
// credentials' lock, and returns the entry under key after the change.
func (e *env) updateUploads(ctx context.Context, key string, change func(m map[string]unfinished)) (unfinished, error) {
	unlock, err := e.lockCredentials(ctx)
	if err != nil {
		return unfinished{}, err
	}
	defer unlock()
	path, err := uploadsPath()
	if err != nil {
		return unfinished{}, err
	}
	m := map[string]unfinished{}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return unfinished{}, err
	}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &m) // a damaged record only loses the chance to resume
	}
	if change == nil {
		return m[key], nil
	}
	change(m)
	b, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		return unfinished{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return unfinished{}, err
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return unfinished{}, err
	}
	return m[key], os.Rename(tmp, path)
}

// put uploads one file over tus, in chunks read from the disk, so memory
// stays the same whatever the size. An upload this command began for the
// same file (same path, size and time) and did not finish is continued
// from the offset the server kept.
func put(ctx context.Context, e *env, c *client.Client, user, path string, resume bool) (*foxholev1.File, error) {
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
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	key := e.server + " " + user + " " + abs
	prev, err := e.updateUploads(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	if prev.URL != "" && (prev.Size != info.Size() || !prev.ModTime.Equal(info.ModTime())) {
		prev = unfinished{} // the file changed: its old upload is of other bytes
	}
	if resume && prev.URL == "" {
		return nil, usagef("no interrupted upload of %s to resume: run foxholectl files put without --resume", path)
	}
	name := filepath.Base(path)
	what := "uploading " + name
	if prev.URL != "" {
		what = "resuming " + name
	}
	bar, done := e.progress(info.Size(), what)
	var shown int64
	o := client.ResumableOptions{
		URL: prev.URL,
		OnCreate: func(url string) {
			_, err := e.updateUploads(ctx, key, func(m map[string]unfinished) {
				m[key] = unfinished{URL: url, Size: info.Size(), ModTime: info.ModTime()}
			})
			if err != nil {
				fmt.Fprintf(e.stderr, "foxholectl: cannot record the upload for resuming: %v\n", err)
			}
		},
		Progress: func(off, _ int64) {
			if off < shown {
				return
			}
			advance(bar, off-shown)
			shown = off
		},
	}
	file, err := c.UploadResumable(ctx, name, mime.TypeByExtension(filepath.Ext(name)), f, info.Size(), o)
	if errors.Is(err, client.ErrUploadGone) && prev.URL != "" && !resume {
		// Expired or deleted meanwhile: start again.
		o.URL = ""
		file, err = c.UploadResumable(ctx, name, mime.TypeByExtension(filepath.Ext(name)), f, info.Size(), o)
	}
	done()
	if err != nil {
		if !errors.Is(err, client.ErrUploadGone) {
			if rec, _ := e.updateUploads(context.WithoutCancel(ctx), key, nil); rec.URL != "" {
				fmt.Fprintf(e.stderr, "foxholectl: the upload of %s stopped; run the same command again to continue it\n", path)
			}
		}
		return nil, fmt.Errorf("upload %s: %w", path, err)
	}
	if _, err := e.updateUploads(context.WithoutCancel(ctx), key, func(m map[string]unfinished) { delete(m, key) }); err != nil {
		fmt.Fprintf(e.stderr, "foxholectl: cannot clear the record of the finished upload: %v\n", err)
	}
	return file, nil
}

var zeros [64 << 10]byte

// advance moves a progress bar n bytes on.
func advance(bar io.Writer, n int64) {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		_, _ = bar.Write(zeros[:k])
		n -= k
	}
}
