package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TusPath is where Foxhole speaks tus 1.0, the protocol of resumable uploads.
const TusPath = "/files/tus/"

// DefaultResumableChunk is the size of one PATCH of UploadResumable.
const DefaultResumableChunk = 8 << 20

// ResumableOptions tune UploadResumable.
type ResumableOptions struct {
	// URL is an unfinished upload to resume, as OnCreate reported it
	// earlier; empty: a new upload.
	URL string
	// OnCreate is called with the URL of a new upload before its first
	// byte is sent, to be recorded for resuming after the process ends.
	OnCreate func(url string)
	// Progress is called after every chunk with the bytes stored so far.
	Progress func(offset, length int64)
	// ChunkSize is the size of each request's body; 0: DefaultResumableChunk.
	ChunkSize int64
	// Checksum sends a SHA-256 of every chunk: the server refuses a chunk
	// that arrives altered, and the chunk is sent again.
	Checksum bool
	// Retries is how many times in a row a chunk is retried after a
	// network failure or a server error (each time from the offset the
	// server reports); 0: 8. Negative: none.
	Retries int
}

// ErrUploadGone reports that the upload to resume no longer exists (it
// expired, was deleted, or belongs to someone else).
var ErrUploadGone = errors.New("the upload is gone")

// UploadResumable stores size bytes of r as a file named name over tus,
// in chunks: a dropped connection or a restarted server costs a retry from
// the offset the server kept, not a new upload. contentType may be empty:
// the server recognises the content. The file's id is the upload's.
func (c *Client) UploadResumable(ctx context.Context, name, contentType string, r io.ReaderAt, size int64, o ResumableOptions) (*foxholev1.File, error) {
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultResumableChunk
	}
	if o.Retries == 0 {
		o.Retries = 8
	}
	url := o.URL
	if url == "" {
		var err error
		if url, err = c.createUpload(ctx, name, contentType, size); err != nil {
			return nil, err
		}
		if o.OnCreate != nil {
			o.OnCreate(url)
		}
	}
	off, length, err := c.uploadOffset(ctx, url)
	if err != nil {
		return nil, err
	}
	if length != size {
		return nil, fmt.Errorf("the upload at %s is %d bytes long, not %d: %w", url, length, size, ErrUploadGone)
	}
	failures, conflicts := 0, 0
	for off < size {
		n := min(o.ChunkSize, size-off)
		next, err := c.patch(ctx, url, off, io.NewSectionReader(r, off, n), n, o.Checksum)
		if err == nil {
			off, failures, conflicts = next, 0, 0
			if o.Progress != nil {
				o.Progress(off, size)
			}
			continue
		}
		var st statusError
		isStatus := errors.As(err, &st)
		// The offset moved (the server recorded a cut-off request after we
		// asked) or another request still holds the upload: ask again,
		// whatever Retries says, a bounded number of times.
		if isStatus && (st.code == http.StatusConflict || st.code == http.StatusLocked) && conflicts < maxConflicts {
			conflicts++
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff(conflicts)):
			}
			if off, _, err = c.uploadOffset(ctx, url); err != nil {
				return nil, err
			}
			continue
		}
		retry := !isStatus || st.code >= 500 || st.code == 460 || st.code == http.StatusTooManyRequests
		if ctx.Err() != nil || !retry || o.Retries < 0 || failures >= o.Retries {
			return nil, err
		}
		failures++
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff(failures)):
		}
		// Ask the server where the upload stands: a chunk cut off midway
		// kept what arrived.
		if off, _, err = c.uploadOffset(ctx, url); err != nil {
			var st statusError
			if errors.As(err, &st) && st.code < 500 {
				return nil, err
			}
			failures++ // the next round retries the HEAD through the PATCH's 409
		}
	}
	id := url[strings.LastIndex(url, "/")+1:]
	res, err := c.File.GetFile(ctx, connect.NewRequest(&foxholev1.GetFileRequest{Id: id}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetFile(), nil
}

// maxConflicts bounds the retries in a row after 409 or 423.
const maxConflicts = 20

func backoff(failures int) time.Duration {
	return min(time.Duration(1<<min(failures, 6))*100*time.Millisecond, 5*time.Second)
}

// statusError is an answer of the tus routes that is not a success.
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string {
	if e.msg != "" {
		return fmt.Sprintf("upload: %d %s: %s", e.code, http.StatusText(e.code), e.msg)
	}
	return fmt.Sprintf("upload: %d %s", e.code, http.StatusText(e.code))
}

func (e statusError) Is(target error) bool {
	return target == ErrUploadGone && (e.code == http.StatusNotFound || e.code == http.StatusGone)
}

func readStatusError(res *http.Response) error {
	var body struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&body)
	return statusError{code: res.StatusCode, msg: body.Error.Message}
}

func (c *Client) tusRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if c.Tokens != nil {
		tok, err := c.Tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

func (c *Client) createUpload(ctx context.Context, name, contentType string, size int64) (string, error) {
	req, err := c.tusRequest(ctx, http.MethodPost, c.baseURL+TusPath, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	md := "filename " + base64.StdEncoding.EncodeToString([]byte(name))
	if contentType != "" {
		md += ",filetype " + base64.StdEncoding.EncodeToString([]byte(contentType))
	}
	req.Header.Set("Upload-Metadata", md)
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return "", readStatusError(res)
	}
	loc := res.Header.Get("Location")
	if strings.HasPrefix(loc, "/") {
		loc = c.baseURL + loc
	}
	if loc == "" {
		return "", errors.New("upload: the server gave no Location")
	}
	return loc, nil
}

// uploadOffset asks where the upload at url stands.
func (c *Client) uploadOffset(ctx context.Context, url string) (off, length int64, err error) {
	req, err := c.tusRequest(ctx, http.MethodHead, url, nil)
	if err != nil {
		return 0, 0, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, 0, statusError{code: res.StatusCode}
	}
	off, err1 := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	length, err2 := strconv.ParseInt(res.Header.Get("Upload-Length"), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("upload: the server's answer has no offset or length")
	}
	return off, length, nil
}

func (c *Client) patch(ctx context.Context, url string, off int64, body *io.SectionReader, n int64, checksum bool) (int64, error) {
	req, err := c.tusRequest(ctx, http.MethodPatch, url, body)
	if err != nil {
		return 0, err
	}
	req.ContentLength = n
	if n == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
	if checksum {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(body, 0, n)); err != nil {
			return 0, err
		}
		req.Header.Set("Upload-Checksum", "sha256 "+base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return 0, readStatusError(res)
	}
	next, err := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		return 0, errors.New("upload: the server's answer has no offset")
	}
	return next, nil
}

// DeleteUpload ends an unfinished upload and removes its bytes.
func (c *Client) DeleteUpload(ctx context.Context, url string) error {
	req, err := c.tusRequest(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		return readStatusError(res)
	}
	return nil
}
