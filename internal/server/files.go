package server

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/store"
)

// uploadRoute serves `PUT /files/{name}`: a raw body of at most maxBytes
// becomes a file, each read within idleTimeout. fail writes an error
// response.
func uploadRoute(svc *files.Service, maxBytes int64, idleTimeout time.Duration, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		owner, err := auth.Caller(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		rec := call.From(r.Context())
		if !rec.HoldsSlot() {
			fail(w, r, errors.New("upload reached its handler without an upload slot"))
			return
		}
		if r.ContentLength > maxBytes {
			fail(w, r, errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", maxBytes))
			return
		}
		body := &bodyReader{
			ctx:  r.Context(),
			r:    http.MaxBytesReader(w, r.Body, maxBytes),
			idle: files.NewIdle(rec.Deadlines().Read, idleTimeout),
			pace: svc.NewPace("upload"),
		}
		// r.ContentLength is -1 when unknown (chunked), as Upload expects;
		// a known one lets S3 take the content in one request.
		f, err := svc.Upload(r.Context(), owner, r.PathValue("name"), r.Header.Get("Content-Type"), body, r.ContentLength, 0)
		if err != nil {
			if body.err != nil {
				err = body.err
			}
			// net/http reads what is left of a short body before answering,
			// to keep the connection; a stalled client must not hold that
			// read forever either, and a trickling one gets no more time.
			if body.pace.Failed() {
				_ = rec.Deadlines().Read(time.Now())
			} else {
				body.idle.Renew()
			}
			fail(w, r, err)
			return
		}
		b, err := protojson.Marshal(files.FileProto(f))
		if err != nil {
			fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(b)
	})
}

// downloadRoute serves `GET /files/download/{id}`, the signed download URLs
// of files kept on the local disk, with Range and conditional requests. A
// link works for anyone who holds it, so each download holds one of the
// file owner's download slots, and is cut off when the client stops
// reading (a write deadline per write) or reads too slowly (the minimum
// transfer rate).
func downloadRoute(svc *files.Service, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f, err := svc.SignedFile(r.Context(), r.PathValue("id"), q.Get("expires"), q.Get("signature"))
		if err != nil {
			fail(w, r, err)
			return
		}
		serveFile(w, r, svc, f, fail)
	})
}

// shareRoute serves `GET /files/shared/{id}`, a share link: like a signed
// download link, but looked up in the database on every request, so a
// revoked link or a deleted file answers 404 at once, in every process.
func shareRoute(svc *files.Service, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := svc.SharedFile(r.Context(), r.PathValue("id"))
		if err != nil {
			fail(w, r, err)
			return
		}
		serveFile(w, r, svc, f, fail)
	})
}

// serveFile answers a GET or HEAD of f's bytes, with Range and conditional
// requests, as an attachment that no browser runs.
func serveFile(w http.ResponseWriter, r *http.Request, svc *files.Service, f *store.File, fail func(http.ResponseWriter, *http.Request, error)) {
	{
		rec := call.From(r.Context())
		if err := rec.TakeSlot(f.OwnerID); err != nil {
			fail(w, r, err)
			return
		}
		setWrite := rec.Deadlines().Write
		// A keep-alive connection's next request must not inherit it.
		defer func() { _ = setWrite(time.Time{}) }()
		w = &pacedWriter{ResponseWriter: w, setWrite: setWrite, timeout: svc.DownloadWriteTimeout(), pace: svc.NewPace("download")}
		h := w.Header()
		h.Set("Content-Type", f.ContentType)
		h.Set("ETag", `"`+f.SHA256+`"`)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
		// The content is the user's, served from Foxhole's origin: never let
		// a browser run it.
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Cache-Control", "private, max-age=0")
		content := &blobSeeker{ctx: r.Context(), svc: svc, f: f}
		defer content.Close()
		http.ServeContent(w, r, "", time.UnixMicro(f.CreatedAt), content)
	}
}

// bodyReader reads a request body, each read within the idle timeout, and
// remembers why reading failed, to answer a body over the limit with 413, a
// stalled one as timed out, and a cut-off one as cancelled, never with the
// text of the underlying error.
type bodyReader struct {
	ctx  context.Context
	r    io.Reader
	idle files.Idle
	pace *files.Pace
	err  error

	// interrupt, when set, ends a read in progress (the read deadline);
	// interrupted makes every later read fail.
	interrupt   func(time.Time) error
	interrupted atomic.Bool
}

// errTakenOver ends the body of an upload another request took over.
var errTakenOver = errors.New("another request took over the upload")

// Interrupt makes the read in progress, and every later one, fail.
func (b *bodyReader) Interrupt() {
	b.interrupted.Store(true)
	if b.interrupt != nil {
		_ = b.interrupt(time.Now())
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.interrupted.Load() {
		return 0, errTakenOver
	}
	b.idle.Renew()
	n, err := b.r.Read(p)
	if perr := b.pace.Add(n); perr != nil && err == nil {
		b.err, err = perr, perr
	}
	switch {
	case err == nil:
	case err == io.EOF:
		b.idle.Clear()
	case b.err != nil:
	case b.idle.Expired(err) != nil:
		b.err = b.idle.Expired(err)
	default:
		if tooBig, ok := errors.AsType[*http.MaxBytesError](err); ok {
			b.err = errs.New(errs.ErrResourceExhausted, "body is larger than the limit of %d bytes", tooBig.Limit)
		} else {
			zerolog.Ctx(b.ctx).Debug().Err(err).Msg("upload body broke off")
			b.err = files.ErrInterrupted
		}
	}
	return n, err
}

// blobSeeker lets http.ServeContent, which answers Range and conditional
// requests, read a stored object: seeks are free, and a read opens the
// object at the current offset.
type blobSeeker struct {
	ctx context.Context
	svc *files.Service
	f   *store.File
	off int64
	rc  io.ReadCloser
}

func (b *blobSeeker) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.off
	case io.SeekEnd:
		offset += b.f.Size
	}
	if offset < 0 {
		return 0, errors.New("seek before start")
	}
	if offset != b.off && b.rc != nil {
		b.rc.Close()
		b.rc = nil
	}
	b.off = offset
	return offset, nil
}

// Close closes the object reader, if one is open.
func (b *blobSeeker) Close() {
	if b.rc != nil {
		b.rc.Close()
	}
}

func (b *blobSeeker) Read(p []byte) (int, error) {
	if b.off >= b.f.Size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, err := b.svc.Content(b.ctx, b.f, b.off)
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.off += int64(n)
	return n, err
}

// pacedWriter writes a download's response, each write within the write
// timeout, and fails once the download moves too slowly.
type pacedWriter struct {
	http.ResponseWriter
	setWrite func(time.Time) error
	timeout  time.Duration
	pace     *files.Pace
	err      error
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.timeout > 0 {
		_ = p.setWrite(time.Now().Add(p.pace.Bound(p.timeout)))
	}
	n, err := p.ResponseWriter.Write(b)
	if err == nil {
		err = p.pace.Add(n)
	}
	p.err = err
	return n, err
}
