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
	CreateFile(ctx context.Context, f *store.File, l store.FileLimits) error
	FileByID(ctx context.Context, ownerID, id string) (*store.File, error)
	FileByIDAnyOwner(ctx context.Context, id string) (*store.File, error)
	ListFiles(ctx context.Context, ownerID string, after *store.FileCursor, limit int) ([]store.File, error)
	DeleteFile(ctx context.Context, ownerID, id string) (*store.File, error)
	ReserveUpload(ctx context.Context, in *store.UploadIntent, size, max int64, l store.FileLimits) (int64, error)
	DeleteUploadIntent(ctx context.Context, id string) error
	UploadIntentsBefore(ctx context.Context, before int64, limit int) ([]string, error)
	KeyInUse(ctx context.Context, id string) (bool, error)
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
	UnaryMaxBytes       int64         // largest UploadFile content
	MaxBytes            int64         // largest file on any path
	Quota               int64         // total bytes charged per user; 0: unlimited
	MaxCount            int           // files per user; 0: unlimited
	MinCharge           int64         // what the quota charges for a smaller file, an empty one included
	MaxUploadsPerUser   int           // uploads in progress at once per user (in this process); 0: unlimited
	MaxUploads          int           // uploads in progress at once in this process; 0: unlimited
	MaxDownloadsPerUser int           // downloads in progress at once per file owner (in this process); 0: unlimited
	MaxDownloads        int           // downloads in progress at once in this process; 0: unlimited
	MinRate             int64         // the fewest bytes per second a transfer must move, measured over RateWindow; 0: no minimum
	RateWindow          time.Duration // the window MinRate is measured over, the first one a grace period
	UploadIdleTimeout   time.Duration // longest wait for the next bytes of a streamed upload; 0: none
	DownloadTimeout     time.Duration // longest a client may take to accept one chunk of DownloadFile; 0: none
	URLTTL              time.Duration // lifetime of download URLs
	UploadExpiry        time.Duration // how long an unfinished resumable upload lives after its last bytes
	MaxPendingUploads   int           // unfinished resumable uploads per user; 0: unlimited
	MaxSharesPerUser    int           // live share links per user; 0: unlimited
	Events              Events        // may be nil
	Verifier            URLVerifier   // nil when the store's URLs are not Foxhole's
}

// Service implements file storage.
type Service struct {
	meta  Metadata
	blobs blob.Store
	opt   Options
	now   func() time.Time

	uploads   *slots
	downloads *slots
}

// NewService returns a Service on meta and blobs.
func NewService(meta Metadata, blobs blob.Store, o Options) *Service {
	return &Service{
		meta: meta, blobs: blobs, opt: o, now: time.Now,
		uploads:   newSlots("uploads", o.MaxUploadsPerUser, o.MaxUploads),
		downloads: newSlots("downloads", o.MaxDownloadsPerUser, o.MaxDownloads),
	}
}

func (s *Service) limits() store.FileLimits {
	return store.FileLimits{Quota: s.opt.Quota, MaxCount: s.opt.MaxCount, MinCharge: s.opt.MinCharge}
}

// TakeUploadSlot takes one of the owner's upload slots and one of the
// process's, or refuses with errs.Limited when either is full. Every
// upload path takes one before it reads any content (the server does, as
// their policy declares); release gives it back.
func (s *Service) TakeUploadSlot(owner string) (release func(), err error) {
	return s.uploads.take(owner)
}

// TakeDownloadSlot takes one of the owner's download slots and one of the
// process's, or refuses with errs.Limited. A signed link's downloads count
// against the file's owner: whoever holds the link downloads on the
// owner's behalf.
func (s *Service) TakeDownloadSlot(owner string) (release func(), err error) {
	return s.downloads.take(owner)
}

// Upload stores everything r yields as a new file of owner. size is the
// length r will yield, or -1 when unknown. It fails with
// errs.ErrResourceExhausted past limit bytes (<= 0: the configured
// maximum), the owner's quota or file count, and then stores nothing.
func (s *Service) Upload(ctx context.Context, owner, name, contentType string, r io.Reader, size, limit int64) (*store.File, error) {
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
	if size > limit {
		return nil, errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", limit)
	}
	id := store.NewID() // also the object key
	// The intent protects the content from the orphan sweep until the file
	// row commits (or the upload fails), and reserves the upload's share of
	// the quota: its declared size, or what is left (at most limit) when
	// the size is unknown. Past that share the upload fails as too big.
	limit, err = s.meta.ReserveUpload(ctx, &store.UploadIntent{ID: id, OwnerID: owner, CreatedAt: s.now().UnixMicro()}, size, limit, s.limits())
	if err != nil {
		return nil, fmt.Errorf("record upload: %w", err)
	}
	tooBig := errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", limit)
	if q := s.opt.Quota; q > 0 && limit < s.opt.MaxBytes {
		tooBig = errs.New(errs.ErrResourceExhausted, "storage quota of %d bytes exceeded: this upload may store %d bytes, what the quota has left; every file counts at least %d", q, limit, s.opt.MinCharge)
	}
	in := &meter{r: r, limit: limit, tooBig: tooBig, hash: sha256.New()}
	size, err = s.blobs.Put(ctx, id, in, size)
	if err != nil {
		if in.err != nil {
			err = in.err
		}
		// The store kept nothing; only the intent is left to forget.
		s.abandon(ctx, id, false)
		return nil, fmt.Errorf("store content: %w", err)
	}
	contentType = DetectType(in.head, contentType, name)
	f := &store.File{
		ID:          id,
		OwnerID:     owner,
		Name:        name,
		Size:        size,
		ContentType: contentType,
		SHA256:      hex.EncodeToString(in.hash.Sum(nil)),
		CreatedAt:   s.now().UnixMicro(),
	}
	if err := s.meta.CreateFile(ctx, f, s.limits()); err != nil {
		// No metadata, so no content either.
		s.abandon(ctx, id, true)
		return nil, fmt.Errorf("store metadata: %w", err)
	}
	if s.opt.Events != nil {
		s.opt.Events.FileCreated(ctx, f)
	}
	return f, nil
}

// abandon cleans up after an upload that will have no file: its content,
// when some was stored, then its intent. Whatever fails here, the sweep
// removes later (the content an hour after the intent is gone, the intent
// after IntentHorizon).
func (s *Service) abandon(ctx context.Context, id string, stored bool) {
	ctx = context.WithoutCancel(ctx)
	log := zerolog.Ctx(ctx)
	if stored {
		if err := s.blobs.Delete(ctx, id); err != nil {
			log.Warn().Err(err).Str("blob", id).Msg("delete content of a failed upload; the sweep will retry")
			return // the intent stays, and with it the sweep's retry
		}
	}
	if err := s.meta.DeleteUploadIntent(ctx, id); err != nil {
		log.Warn().Err(err).Str("blob", id).Msg("forget a failed upload; the sweep will retry")
	}
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

// SignedFile returns the file a signed download URL names, whoever owns
// it. A bad or expired signature looks exactly like a missing file.
func (s *Service) SignedFile(ctx context.Context, id, expires, signature string) (*store.File, error) {
	if s.opt.Verifier == nil || !s.opt.Verifier.Verify(id, expires, signature) {
		return nil, errs.New(errs.ErrNotFound, "file not found")
	}
	return s.meta.FileByIDAnyOwner(ctx, id)
}

// Content returns a reader of f's content from offset to its end.
func (s *Service) Content(ctx context.Context, f *store.File, offset int64) (io.ReadCloser, error) {
	return s.blobs.Get(ctx, f.ID, offset, -1)
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
	// Its links answer 404 already (they need the file); their rows go too.
	if sm, ok := s.meta.(ShareMetadata); ok {
		if err := sm.DeleteSharesOf(context.WithoutCancel(ctx), id); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("file", id).Msg("delete links of a deleted file")
		}
	}
	if err := s.blobs.Delete(context.WithoutCancel(ctx), id); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("blob", id).Msg("delete content; the sweep will retry")
	}
	if s.opt.Events != nil {
		s.opt.Events.FileDeleted(ctx, f)
	}
	return nil
}

// IntentHorizon is how old an upload intent must be before the sweep takes
// its upload for dead and removes its content. Uploads have an idle timeout
// per chunk but no total one, and removing the content of an upload about
// to commit would lose data the client is then told is stored (CreateFile
// refuses once the intent is gone, but the client has sent everything); a
// day is far beyond any real upload, and a crash's leftovers still go
// within a day.
const IntentHorizon = 24 * time.Hour

// Sweep deletes stored content that neither a file nor an upload in
// progress names and that is older than grace, and forgets uploads older
// than IntentHorizon with their content. It returns how many objects it
// removed.
func (s *Service) Sweep(ctx context.Context, grace time.Duration) (int, error) {
	expired, err := s.ExpireResumables(ctx)
	if err != nil {
		return expired, err
	}
	removed, err := s.sweepIntents(ctx)
	removed += expired
	if err != nil {
		return removed, err
	}
	cutoff := s.now().Add(-grace)
	n, err := s.sweepPartials(ctx, cutoff)
	removed += n
	if err != nil {
		return removed, err
	}
	var orphans []string
	err = s.blobs.Walk(ctx, func(i blob.Info) error {
		if i.ModTime.After(cutoff) {
			return nil
		}
		used, err := s.meta.KeyInUse(ctx, i.Key)
		if err == nil && !used {
			orphans = append(orphans, i.Key)
		}
		return err
	})
	for _, key := range orphans {
		// Checked again: a row may have been committed meanwhile. After this
		// check none can appear: an upload records its intent before it
		// writes any content, and keys are never reused.
		if used, err := s.meta.KeyInUse(ctx, key); err != nil || used {
			continue
		}
		if s.blobs.Delete(ctx, key) == nil {
			removed++
		}
	}
	return removed, err
}

// sweepIntents forgets uploads older than IntentHorizon: the intent first,
// so that CreateFile refuses them from then on, then their content.
func (s *Service) sweepIntents(ctx context.Context) (int, error) {
	removed := 0
	before := s.now().Add(-IntentHorizon).UnixMicro()
	for {
		ids, err := s.meta.UploadIntentsBefore(ctx, before, 100)
		if err != nil || len(ids) == 0 {
			return removed, err
		}
		for _, id := range ids {
			if err := s.meta.DeleteUploadIntent(ctx, id); err != nil {
				return removed, err
			}
			if err := s.blobs.Delete(ctx, id); err != nil {
				// Now an orphan without an intent: the walk takes it later.
				zerolog.Ctx(ctx).Warn().Err(err).Str("blob", id).Msg("delete content of an abandoned upload")
				continue
			}
			removed++
		}
	}
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
	if len(m.head) < HeadBytes {
		m.head = append(m.head, p[:min(n, HeadBytes-len(m.head))]...)
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
