package server

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/store"
)

// The tus 1.0 protocol (https://tus.io/protocols/resumable-upload) at
// /files/tus/: core, creation, creation-with-upload, termination,
// expiration and checksum (sha256). The state of every upload lives in the
// database and its bytes in the blob store, so an upload resumes after a
// dropped connection, a restart, or on another process sharing the store.

// TusPath is where the tus routes are mounted.
const TusPath = "/files/tus/"

const (
	tusVersion    = "1.0.0"
	tusExtensions = "creation,creation-with-upload,termination,expiration,checksum"
	tusChunkType  = "application/offset+octet-stream"
)

// tusHeaders are the request and response headers of tus, for CORS.
var (
	tusRequestHeaders  = []string{"Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset", "Upload-Checksum", "Upload-Defer-Length", "Upload-Concat", "X-HTTP-Method-Override"}
	tusResponseHeaders = []string{"Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length", "Upload-Expires", "Upload-Metadata", "Location"}
)

// tus serves the protocol for svc; every upload route holds an upload slot
// and reads its body within the idle timeout.
type tus struct {
	svc         *files.Service
	maxBytes    int64
	idleTimeout time.Duration
	fail        func(http.ResponseWriter, *http.Request, error)
}

// tusError answers err with tus's statuses where tus has its own.
func (t *tus) error(w http.ResponseWriter, r *http.Request, err error) {
	status := 0
	switch {
	case errors.Is(err, files.ErrOffsetMismatch):
		status = http.StatusConflict
	case errors.Is(err, files.ErrChecksumMismatch):
		status = 460
	case errors.Is(err, files.ErrLocked):
		status = http.StatusLocked
	}
	if status == 0 {
		t.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	code := map[int]string{http.StatusConflict: "failed_precondition", 460: "data_loss", http.StatusLocked: "aborted"}[status]
	_, _ = w.Write(errs.JSON(code, err.Error()))
}

// preamble sets the headers of every answer, checks the protocol version
// and returns the caller, whose uploads are the only ones it may touch;
// ok is false when it has answered the request already.
func (t *tus) preamble(w http.ResponseWriter, r *http.Request) (owner string, ok bool) {
	w.Header().Set("Tus-Resumable", tusVersion)
	w.Header().Set("Cache-Control", "no-store")
	if v := r.Header.Get("Tus-Resumable"); v != tusVersion {
		w.Header().Set("Tus-Version", tusVersion)
		t.fail412(w, r, v)
		return "", false
	}
	owner, err := auth.Caller(r.Context())
	if err != nil {
		t.fail(w, r, err)
		return "", false
	}
	return owner, true
}

func (t *tus) fail412(w http.ResponseWriter, _ *http.Request, v string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusPreconditionFailed)
	_, _ = w.Write(errs.JSON("failed_precondition", "Tus-Resumable must be "+tusVersion+", not "+strconv.Quote(v)))
}

// options answers OPTIONS /files/tus/: what this server speaks.
func (t *tus) options(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Tus-Resumable", tusVersion)
	h.Set("Tus-Version", tusVersion)
	h.Set("Tus-Extension", tusExtensions)
	h.Set("Tus-Max-Size", strconv.FormatInt(t.maxBytes, 10))
	h.Set("Tus-Checksum-Algorithm", "sha256")
	w.WriteHeader(http.StatusNoContent)
}

// parseLength reads a non-negative decimal header of at most 18 digits.
func parseLength(v, name string) (int64, error) {
	if v == "" || len(v) > 18 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, errs.Invalidf(name, "must be a non-negative decimal integer, not %q", v)
	}
	return strconv.ParseInt(v, 10, 64)
}

// parseMetadata reads Upload-Metadata: comma-separated "key base64(value)".
func parseMetadata(v string) (map[string]string, error) {
	md := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return md, nil
	}
	for pair := range strings.SplitSeq(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if k == "" {
			return nil, errs.Invalidf("Upload-Metadata", "has an empty key")
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val))
		if err != nil {
			return nil, errs.Invalidf("Upload-Metadata", "the value of %q is not base64", k)
		}
		md[k] = string(b)
	}
	return md, nil
}

// create answers POST /files/tus/: a new upload, with its first bytes when
// the request carries some (creation-with-upload).
func (t *tus) create(w http.ResponseWriter, r *http.Request) {
	owner, ok := t.preamble(w, r)
	if !ok {
		return
	}
	if r.Header.Get("Upload-Defer-Length") != "" {
		t.fail(w, r, errs.Invalidf("Upload-Defer-Length", "is not supported: give Upload-Length"))
		return
	}
	if r.Header.Get("Upload-Concat") != "" {
		t.fail(w, r, errs.Invalidf("Upload-Concat", "is not supported"))
		return
	}
	length, err := parseLength(r.Header.Get("Upload-Length"), "Upload-Length")
	if err != nil {
		t.fail(w, r, err)
		return
	}
	if length > t.maxBytes {
		t.fail(w, r, errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", t.maxBytes))
		return
	}
	md, err := parseMetadata(r.Header.Get("Upload-Metadata"))
	if err != nil {
		t.fail(w, r, err)
		return
	}
	name := md["filename"]
	if name == "" {
		name = md["name"] // Uppy's
	}
	claimed := md["filetype"]
	if claimed == "" {
		claimed = md["type"]
	}
	withBody := r.ContentLength != 0 && r.Header.Get("Content-Type") == tusChunkType
	if withBody && r.ContentLength > length {
		t.fail(w, r, errs.New(errs.ErrResourceExhausted, "the body is longer than Upload-Length"))
		return
	}
	u, err := t.svc.CreateResumable(r.Context(), owner, files.NewResumable{Name: name, ClaimedType: claimed, Length: length})
	if err != nil {
		t.fail(w, r, err)
		return
	}
	w.Header().Set("Location", call.From(r.Context()).BaseURL()+TusPath+u.ID)
	w.Header().Set("Upload-Expires", time.UnixMicro(u.ExpiresAt).UTC().Format(http.TimeFormat))
	if withBody || length == 0 {
		u, err = t.write(w, r, owner, u.ID, 0, nil)
		if err != nil {
			// The upload exists: its Location stands, and the client
			// resumes from its offset.
			w.Header().Set("Upload-Offset", strconv.FormatInt(u.Received, 10))
			t.error(w, r, err)
			return
		}
		w.Header().Set("Upload-Offset", strconv.FormatInt(u.Received, 10))
	} else {
		w.Header().Set("Upload-Offset", "0")
	}
	w.WriteHeader(http.StatusCreated)
}

// head answers HEAD /files/tus/{id}: the upload's offset.
func (t *tus) head(w http.ResponseWriter, r *http.Request) {
	owner, ok := t.preamble(w, r)
	if !ok {
		return
	}
	u, err := t.svc.Resumable(r.Context(), owner, r.PathValue("id"))
	if err != nil {
		t.headError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Upload-Offset", strconv.FormatInt(u.Received, 10))
	h.Set("Upload-Length", strconv.FormatInt(u.Length, 10))
	if u.FileID == "" {
		h.Set("Upload-Expires", time.UnixMicro(u.ExpiresAt).UTC().Format(http.TimeFormat))
	}
	w.WriteHeader(http.StatusOK)
}

// headError answers a HEAD, which has no body, with the status alone.
func (t *tus) headError(w http.ResponseWriter, r *http.Request, err error) {
	ce := toConnect(r.Context(), err)
	setCode(r.Context(), ce)
	w.WriteHeader(httpStatus(ce))
}

// patch answers PATCH /files/tus/{id}: bytes at the upload's offset.
func (t *tus) patch(w http.ResponseWriter, r *http.Request) {
	owner, ok := t.preamble(w, r)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != tusChunkType {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnsupportedMediaType)
		_, _ = w.Write(errs.JSON("invalid_argument", "Content-Type must be "+tusChunkType))
		return
	}
	off, err := parseLength(r.Header.Get("Upload-Offset"), "Upload-Offset")
	if err != nil {
		t.fail(w, r, err)
		return
	}
	var checksum []byte
	if v := r.Header.Get("Upload-Checksum"); v != "" {
		algo, sum, _ := strings.Cut(v, " ")
		if algo != "sha256" {
			t.fail(w, r, errs.Invalidf("Upload-Checksum", "the algorithm must be sha256, not %q", algo))
			return
		}
		checksum, err = base64.StdEncoding.DecodeString(sum)
		if err != nil || len(checksum) != 32 {
			t.fail(w, r, errs.Invalidf("Upload-Checksum", "must be \"sha256 \" and a base64 SHA-256"))
			return
		}
	}
	u, err := t.write(w, r, owner, r.PathValue("id"), off, checksum)
	if u != nil {
		w.Header().Set("Upload-Offset", strconv.FormatInt(u.Received, 10))
		if u.FileID == "" {
			w.Header().Set("Upload-Expires", time.UnixMicro(u.ExpiresAt).UTC().Format(http.TimeFormat))
		}
	}
	if err != nil {
		t.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// write stores the request's body in the upload at off, bounded like a
// `PUT /files` body: idle timeout, minimum rate, and the upload's length.
func (t *tus) write(w http.ResponseWriter, r *http.Request, owner, id string, off int64, checksum []byte) (*store.ResumableUpload, error) {
	rec := call.From(r.Context())
	if !rec.HoldsSlot() {
		return nil, errors.New("upload reached its handler without an upload slot")
	}
	if !blob.ValidKey(id) {
		return nil, errs.New(errs.ErrNotFound, "upload not found")
	}
	body := &bodyReader{
		ctx:  r.Context(),
		r:    http.MaxBytesReader(w, r.Body, t.maxBytes+1),
		idle: files.NewIdle(rec.Deadlines().Read, t.idleTimeout),
		pace: t.svc.NewPace("upload"),

		interrupt: rec.Deadlines().Read,
	}
	_, u, err := t.svc.WriteResumable(r.Context(), owner, id, off, body, r.ContentLength, checksum)
	if err != nil {
		if body.err != nil && !errors.Is(err, files.ErrOffsetMismatch) && !errors.Is(err, files.ErrLocked) {
			err = body.err
		}
		if body.pace.Failed() {
			_ = rec.Deadlines().Read(time.Now())
		} else {
			body.idle.Renew()
		}
	}
	return u, err
}

// terminate answers DELETE /files/tus/{id}.
func (t *tus) terminate(w http.ResponseWriter, r *http.Request) {
	owner, ok := t.preamble(w, r)
	if !ok {
		return
	}
	if err := t.svc.DeleteResumable(r.Context(), owner, r.PathValue("id")); err != nil {
		t.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
