package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/testutil"
)

// UploadOp returns the op factory of the upload scenario: each caller PUTs
// files of size bytes to /files/{name} as its own user.
func (t *Target) UploadOp(ctx context.Context, size int64) func(int) (Op, error) {
	hc := client.HTTPClient(false)
	return func(int) (Op, error) {
		u, err := t.NewUser(ctx)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, t.URL+"/files/load.bin", testutil.Content(size))
			if err != nil {
				return err
			}
			req.ContentLength = size
			req.Header.Set("Authorization", "Bearer "+u.Token)
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			io.Copy(io.Discard, res.Body)
			if res.StatusCode != http.StatusCreated {
				return fmt.Errorf("PUT answered %d", res.StatusCode)
			}
			return nil
		}, nil
	}
}

// DiskOp returns the op factory of the raw disk baseline: each caller
// writes size bytes to its own file in dir and fsyncs it, as Foxhole's
// local store does with an upload.
func DiskOp(dir string, size int64) func(int) (Op, error) {
	return func(caller int) (Op, error) {
		path := filepath.Join(dir, fmt.Sprintf("raw-%d", caller))
		buf := make([]byte, 1<<20)
		return func(context.Context) error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.CopyBuffer(f, testutil.Content(size), buf); err != nil {
				return err
			}
			return f.Sync()
		}, nil
	}
}

// DownloadOp returns the op factory of the download scenario: each caller
// uploads one file of size bytes, then fetches it again and again through
// its download URL, as a browser would.
func (t *Target) DownloadOp(ctx context.Context, size int64) func(int) (Op, error) {
	hc := client.HTTPClient(false)
	return func(int) (Op, error) {
		u, err := t.NewUser(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, t.URL+"/files/load.bin", testutil.Content(size))
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+u.Token)
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		var f struct{ ID string }
		err = json.NewDecoder(res.Body).Decode(&f)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("upload the file to download: %d %v", res.StatusCode, err)
		}
		got, err := t.client(u.Token).File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: f.ID}))
		if err != nil {
			return nil, err
		}
		link := got.Msg.GetDownloadUrl()
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
			if err != nil {
				return err
			}
			res, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			n, err := io.Copy(io.Discard, res.Body)
			if err == nil && (res.StatusCode != http.StatusOK || n != size) {
				err = fmt.Errorf("download answered %d with %d bytes", res.StatusCode, n)
			}
			return err
		}, nil
	}
}
