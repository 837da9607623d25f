// Package files stores users' files: content in a blob.Store, metadata in
// the database, each visible to its owner only.
package files

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Metadata is the part of the store that files need.
type Metadata interface {
	CreateFile(ctx context.Context, f *store.File, quota int64) error
	FileByID(ctx context.Context, ownerID, id string) (*store.File, error)
	FileByIDAnyOwner(ctx context.Context, id string) (*store.File, error)
	ListFiles(ctx context.Context, ownerID string, after *store.FileCursor, limit int) ([]store.File, error)
	DeleteFile(ctx context.Context, ownerID, id string) (*store.File, error)
	FileExists(ctx context.Context, id string) (bool, error)
	FileUsage(ctx context.Context, ownerID string) (int64, error)
}

// Events hears about files being created and deleted, after the fact. The
// realtime service implements it to tell the owner's sessions.
type Events interface {
	FileCreated(ctx context.Context, f *store.File)
	FileDeleted(ctx context.Context, f *store.File)
}

// URLVerifier checks the signature of a download URL that Foxhole serves
// itself (the local disk store's).
type URLVerifier interface {
	Verify(key, expires, signature string) bool
}

// Options are the file service's limits and collaborators.
type Options struct {
	UnaryMaxBytes int64         // largest UploadFile content
	MaxBytes      int64         // largest file on any path
	Quota         int64         // total bytes per user; 0: unlimited
	URLTTL        time.Duration // lifetime of download URLs
	Events        Events        // may be nil
	Verifier      URLVerifier   // nil when the store's URLs are not Foxhole's
}

// Service implements file storage.
type Service struct {
	meta  Metadata
	blobs blob.Store
	opt   Options
	now   func() time.Time
}

// NewService returns a Service on meta and blobs.
func NewService(meta Metadata, blobs blob.Store, o Options) *Service {
	return &Service{meta: meta, blobs: blobs, opt: o, now: time.Now}
}

// Upload stores everything r yields as a new file of owner. It fails with
// errs.ErrResourceExhausted past limit bytes (<= 0: the configured maximum)
// or the owner's quota, and then stores nothing.
func (s *Service) Upload(ctx context.Context, owner, name, contentType string, r io.Reader, limit int64) (*store.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	contentType, err := cleanContentType(contentType)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > s.opt.MaxBytes {
		limit = s.opt.MaxBytes
	}
	tooBig := errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", limit)
	if s.opt.Quota > 0 {
		used, err := s.meta.FileUsage(ctx, owner)
		if err != nil {
			return nil, err
		}
		if left := s.opt.Quota - used; left < limit {
			limit = max(0, left)
			tooBig = errs.New(errs.ErrResourceExhausted, "storage quota of %d bytes exceeded (%d used)", s.opt.Quota, used)
		}
	}

	id := store.NewID() // also the object key
	in := &meter{r: r, limit: limit, tooBig: tooBig, hash: sha256.New()}
	size, err := s.blobs.Put(ctx, id, in, -1)
	if err != nil {
		if in.err != nil {
			err = in.err
		}
		return nil, fmt.Errorf("store content: %w", err)
	}
	if contentType == "" {
		contentType = sniff(in.head)
	}
	f := &store.File{
		ID:          id,
		OwnerID:     owner,
		Name:        name,
		Size:        size,
		ContentType: contentType,
		SHA256:      hex.EncodeToString(in.hash.Sum(nil)),
		CreatedAt:   s.now().UnixMicro(),
	}
	if err := s.meta.CreateFile(ctx, f, s.opt.Quota); err != nil {
		// No metadata, so no content either. If this delete fails too, the
		// sweep removes the orphan later.
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), id); derr != nil {
			zerolog.Ctx(ctx).Warn().Err(derr).Str("blob", id).Msg("delete content of a file whose metadata failed")
		}
		return nil, fmt.Errorf("store metadata: %w", err)
	}
	if s.opt.Events != nil {
		s.opt.Events.FileCreated(ctx, f)
	}
	return f, nil
}

// Get returns the owner's file.
func (s *Service) Get(ctx context.Context, owner, id string) (*store.File, error) {
	return s.meta.FileByID(ctx, owner, id)
}

// DownloadURL returns a URL that fetches the file without credentials, and
// when it expires. A relative URL is on Foxhole's own origin.
func (s *Service) DownloadURL(ctx context.Context, f *store.File) (string, time.Time, error) {
	exp := s.now().Add(s.opt.URLTTL)
	u, err := s.blobs.URL(ctx, f.ID, s.opt.URLTTL, blob.URLOptions{ContentType: f.ContentType, FileName: f.Name})
	return u, exp, err
}

// Open returns the owner's file and a reader of its whole content.
func (s *Service) Open(ctx context.Context, owner, id string) (*store.File, io.ReadCloser, error) {
	f, err := s.meta.FileByID(ctx, owner, id)
	if err != nil {
		return nil, nil, err
	}
	rc, err := s.blobs.Get(ctx, f.ID, 0, -1)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil, fmt.Errorf("content of file %s is missing: %w", f.ID, err)
	}
	return f, rc, err
}

// DefaultPageSize and MaxPageSize bound ListFiles pages.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// List returns a page of the owner's files, newest first, and the token of
// the next page ("" on the last one).
func (s *Service) List(ctx context.Context, owner string, pageSize int, pageToken string) ([]store.File, string, error) {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	if pageSize > MaxPageSize {
		return nil, "", errs.Invalidf("page_size", "must be at most %d", MaxPageSize)
	}
	var after *store.FileCursor
	if pageToken != "" {
		c, err := decodeCursor(pageToken)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	files, err := s.meta.ListFiles(ctx, owner, after, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(files) > pageSize {
		files = files[:pageSize]
		last := files[len(files)-1]
		next = encodeCursor(store.FileCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return files, next, nil
}

// Delete removes the owner's file: metadata first, so it vanishes at once,
// then content (an orphan left by a failure here is swept later).
func (s *Service) Delete(ctx context.Context, owner, id string) error {
	f, err := s.meta.DeleteFile(ctx, owner, id)
	if err != nil {
		return err
	}
	if err := s.blobs.Delete(context.WithoutCancel(ctx), id); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("blob", id).Msg("delete content; the sweep will retry")
	}
	if s.opt.Events != nil {
		s.opt.Events.FileDeleted(ctx, f)
	}
	return nil
}

// Sweep deletes stored content that no file's metadata names and that is
// older than grace (younger content may belong to an upload finishing now).
// It returns how many objects it removed.
func (s *Service) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := s.now().Add(-grace)
	var orphans []string
	err := s.blobs.Walk(ctx, func(i blob.Info) error {
		if i.ModTime.After(cutoff) {
			return nil
		}
		ok, err := s.meta.FileExists(ctx, i.Key)
		if err == nil && !ok {
			orphans = append(orphans, i.Key)
		}
		return err
	})
	removed := 0
	for _, key := range orphans {
		// Checked again: the metadata may have been committed meanwhile.
		if ok, err := s.meta.FileExists(ctx, key); err != nil || ok {
			continue
		}
		if s.blobs.Delete(ctx, key) == nil {
			removed++
		}
	}
	return removed, err
}

// MaxNameBytes bounds file names.
const MaxNameBytes = 255

// checkName enforces the file name rules: 1 to 255 bytes of UTF-8 without
// control characters. The name is metadata only; "/" and ".." are ordinary.
func checkName(name string) error {
	switch {
	case name == "":
		return errs.Invalidf("name", "must not be empty")
	case len(name) > MaxNameBytes:
		return errs.Invalidf("name", "must be at most %d bytes, not %d", MaxNameBytes, len(name))
	case !utf8.ValidString(name):
		return errs.Invalidf("name", "must be valid UTF-8")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errs.Invalidf("name", "must not contain control characters")
	}
	return nil
}

// cleanContentType checks a media type given by a client ("" stays "").
func cleanContentType(ct string) (string, error) {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return "", nil
	}
	if len(ct) > 255 {
		return "", errs.Invalidf("content_type", "must be at most 255 bytes")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return "", errs.Invalidf("content_type", "%q is not a media type such as text/plain", ct)
	}
	return mime.FormatMediaType(mt, params), nil
}

func sniff(head []byte) string {
	if len(head) == 0 {
		return "application/octet-stream"
	}
	return http.DetectContentType(head)
}

// meter passes content through while hashing it, keeping its first bytes
// for type detection, and failing past the limit.
type meter struct {
	r      io.Reader
	n      int64
	limit  int64
	tooBig error
	hash   hash.Hash
	head   []byte
	err    error // the reason the meter failed, when it did
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.n > m.limit {
		m.err = m.tooBig
		return 0, m.err
	}
	m.hash.Write(p[:n])
	if len(m.head) < 512 {
		m.head = append(m.head, p[:min(n, 512-len(m.head))]...)
	}
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}

// Page tokens are the position after which the next page starts, encoded
// so clients treat them as opaque.
func encodeCursor(c store.FileCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt, 10) + "." + c.ID))
}

func decodeCursor(tok string) (store.FileCursor, error) {
	bad := errs.Invalidf("page_token", "is not a token returned by ListFiles")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return store.FileCursor{}, bad
	}
	ts, id, ok := strings.Cut(string(raw), ".")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !blob.ValidKey(id) {
		return store.FileCursor{}, bad
	}
	return store.FileCursor{CreatedAt: t, ID: id}, nil
}
