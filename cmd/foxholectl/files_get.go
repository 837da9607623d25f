package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

var filesGetCommand = command{
	name:    "files get",
	args:    "ID [-o PATH] [--force]",
	summary: "download a file",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		out := fs.String("o", "", "write to `PATH` (a directory: the file's name in it; -: stdout; default: the file's name in the current directory)")
		force := fs.Bool("force", false, "overwrite a file that exists")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 1 {
				return usagef("usage: foxholectl files get ID [-o PATH] [--force]")
			}
			return filesGet(ctx, e, args[0], *out, *force)
		}
	},
}

// filesGet downloads a file into a temporary file beside its destination
// and renames it there once its SHA-256 matches, so that a failed download
// leaves nothing behind and never clobbers what was there.
func filesGet(ctx context.Context, e *env, id, out string, force bool) error {
	c, _, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: id}))
	if err != nil {
		return err
	}
	meta := res.Msg.GetFile()
	if out == "-" {
		h := sha256.New()
		if _, err := c.Download(ctx, id, io.MultiWriter(e.stdout, h), nil); err != nil {
			return err
		}
		return checkSum(meta, h.Sum(nil))
	}
	dest := out
	if info, err := os.Stat(out); out == "" || (err == nil && info.IsDir()) {
		name, err := localName(meta.GetName())
		if err != nil {
			return err
		}
		dest = filepath.Join(out, name)
	}
	if err := mayWrite(dest, force); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	h := sha256.New()
	bar, done := e.progress(meta.GetSize(), "downloading "+filepath.Base(dest))
	_, err = c.Download(ctx, id, io.MultiWriter(tmp, h, bar), nil)
	done()
	if err == nil {
		err = checkSum(meta, h.Sum(nil))
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := mayWrite(dest, force); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return err
	}
	if e.json {
		f, err := protojson.Marshal(meta)
		if err != nil {
			return err
		}
		return e.printJSON(map[string]any{"path": dest, "file": json.RawMessage(f)})
	}
	_, err = fmt.Fprintf(e.stdout, "%s → %s (%s)\n", clean(meta.GetId()), clean(dest), formatSize(meta.GetSize()))
	return err
}

// localName is the name a file is saved under by default: the last element
// of its name on the server, in the current directory. A file name is the
// uploader's metadata, not a path: "../x" or "/etc/x" must not reach
// outside the current directory.
func localName(name string) (string, error) {
	base := filepath.Base(name)
	if base == "." || base == ".." || base == string(filepath.Separator) || !filepath.IsLocal(base) {
		return "", usagef("the file's name %q cannot be a local file name: choose one with -o PATH", name)
	}
	return base, nil
}

// mayWrite refuses to overwrite path unless force is set.
func mayWrite(path string, force bool) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil && !force:
		return usagef("%s exists: use --force to overwrite it, or -o PATH", path)
	case err == nil || errors.Is(err, os.ErrNotExist):
		return nil
	}
	return err
}

// checkSum checks the downloaded content against the file's SHA-256.
func checkSum(f *foxholev1.File, sum []byte) error {
	if got := hex.EncodeToString(sum); f.GetSha256() != "" && got != f.GetSha256() {
		return fmt.Errorf("download of %s is corrupt: SHA-256 %s, want %s", f.GetId(), got, f.GetSha256())
	}
	return nil
}
