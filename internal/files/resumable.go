package files

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// ResumableMetadata is the part of the store that resumable uploads need.
type ResumableMetadata interface {
	CreateResumable(ctx context.Context, in *store.UploadIntent, u *store.ResumableUpload, maxPending int, maxBytes int64, l store.FileLimits) error
	ResumableByID(ctx context.Context, ownerID, id string) (*store.ResumableUpload, error)
	AcquireLease(ctx context.Context, ownerID, id, token string, until, now int64) (*store.ResumableUpload, error)
	RequestSteal(ctx context.Context, id string) error
	RenewLease(ctx context.Context, id, token string, until int64) (bool, error)
	ReleaseLease(ctx context.Context, id, token string) error
	AdvanceResumable(ctx context.Context, u *store.ResumableUpload, token string, from int64, release bool) (bool, error)
	FinishResumable(ctx context.Context, f *store.File, l store.FileLimits, token string) error
	DeleteResumable(ctx context.Context, ownerID, id string) (*store.ResumableUpload, error)
	ExpiredResumables(ctx context.Context, now int64, limit int) ([]store.ResumableUpload, error)
	ResumableKeyInUse(ctx context.Context, id string) (bool, error)
}

// Errors of resumable uploads, which the tus route answers with their own
// statuses.
var (
	// ErrOffsetMismatch: the request's offset is not the upload's (409).
	ErrOffsetMismatch = errors.New("offset mismatch")
	// ErrChecksumMismatch: the chunk is not what its checksum says (460).
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrLocked: another request is writing the upload and did not let go
	// in time (423).
	ErrLocked = errors.New("upload locked")
	// ErrNoResumable: the blob store keeps no unfinished objects.
	ErrNoResumable = errors.New("the file store does not take resumable uploads")
)

// Interrupter is a body whose reads can be made to fail at once, from
// another goroutine.
type Interrupter interface{ Interrupt() }

// leaseTTL is how long a request's hold on an upload lasts without being
// renewed: a process killed midway blocks its uploads this long at most.
const leaseTTL = 6 * time.Second

// NewResumable describes an upload to create.
type NewResumable struct {
	Name        string
	ClaimedType string
	Length      int64
}

func (s *Service) resumable() (ResumableMetadata, blob.Partials, error) {
	rm, ok1 := s.meta.(ResumableMetadata)
	p, ok2 := s.blobs.(blob.Partials)
	if !ok1 || !ok2 {
		return nil, nil, ErrNoResumable
	}
	return rm, p, nil
}

// UploadExpiry is how long an unfinished upload lives after its last bytes.
func (s *Service) UploadExpiry() time.Duration { return s.opt.UploadExpiry }

// CreateResumable records a new resumable upload of owner, reserving its
// length of the quota; nothing is stored yet.
func (s *Service) CreateResumable(ctx context.Context, owner string, n NewResumable) (*store.ResumableUpload, error) {
	rm, _, err := s.resumable()
	if err != nil {
		return nil, err
	}
	if err := checkName(n.Name); err != nil {
		return nil, err
	}
	ct, err := cleanContentType(n.ClaimedType)
	if err != nil {
		return nil, err
	}
	if n.Length < 0 {
		return nil, errs.Invalidf("Upload-Length", "must not be negative")
	}
	if n.Length > s.opt.MaxBytes {
		return nil, errs.New(errs.ErrResourceExhausted, "file is larger than the limit of %d bytes", s.opt.MaxBytes)
	}
	st, err := sha256.New().(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	now := s.now()
	id := store.NewID()
	u := &store.ResumableUpload{
		ID: id, OwnerID: owner, Name: n.Name, ClaimedType: ct, Length: n.Length,
		HashState: st, Head: []byte{}, ExpiresAt: now.Add(s.opt.UploadExpiry).UnixMicro(),
	}
	in := &store.UploadIntent{ID: id, OwnerID: owner, CreatedAt: now.UnixMicro()}
	if err := rm.CreateResumable(ctx, in, u, s.opt.MaxPendingUploads, s.opt.MaxBytes, s.limits()); err != nil {
		return nil, err
	}
	return u, nil
}

// Resumable returns the owner's upload. One whose bytes have all arrived
// but which is not a file yet (a crash between the two) is finished now.
func (s *Service) Resumable(ctx context.Context, owner, id string) (*store.ResumableUpload, error) {
	rm, _, err := s.resumable()
	if err != nil {
		return nil, err
	}
	if !blob.ValidKey(id) {
		return nil, errs.New(errs.ErrNotFound, "upload not found")
	}
	u, err := rm.ResumableByID(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if u.FileID == "" && u.Received == u.Length {
		if _, u2, err := s.WriteResumable(ctx, owner, id, u.Length, eofReader{}, 0, nil); err == nil {
			return u2, nil
		}
	}
	return u, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// WriteResumable appends what r yields to the owner's upload at off, which
// must be its offset. Without a checksum, every byte that arrives is kept,
// also when r breaks off; with one (a SHA-256), the chunk is kept whole or
// not at all. Once the upload has all its bytes it becomes a file, which
// is returned. It returns the upload as it stands after the write; on an
// error, the offset stands where it was before whatever was refused.
//
// size is the length r declares, or -1: a chunk that would go past the
// upload's length is refused before any of it is read.
func (s *Service) WriteResumable(ctx context.Context, owner, id string, off int64, r io.Reader, size int64, checksum []byte) (*store.File, *store.ResumableUpload, error) {
	rm, parts, err := s.resumable()
	if err != nil {
		return nil, nil, err
	}
	if !blob.ValidKey(id) {
		return nil, nil, errs.New(errs.ErrNotFound, "upload not found")
	}
	token := store.NewID()
	u, err := s.lease(ctx, rm, owner, id, token)
	if err != nil {
		return nil, nil, err
	}
	released := false
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed, written := make(chan struct{}), make(chan struct{})
	interrupter, _ := r.(Interrupter)
	go func() {
		defer close(renewed)
		t := time.NewTicker(leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-written:
				return
			case <-t.C:
				ok, err := rm.RenewLease(ctx, id, token, s.now().Add(leaseTTL).UnixMicro())
				if err != nil || ok {
					continue
				}
			}
			// Another request asked for the upload: a client that came back
			// on a new connection while this one waits for bytes that will
			// never come. Stop reading, again until the read gives up.
			cancel(ErrLocked)
			for {
				if interrupter != nil {
					interrupter.Interrupt()
				}
				select {
				case <-written:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}()
	defer func() {
		close(written)
		cancel(nil)
		<-renewed
		if released {
			return
		}
		if err := rm.ReleaseLease(context.WithoutCancel(ctx), id, token); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("upload", id).Msg("release upload lease; it runs out by itself")
		}
	}()

	if u.Received != off {
		return nil, u, fmt.Errorf("%w: the upload is at offset %d, not %d", ErrOffsetMismatch, u.Received, off)
	}
	if size > u.Length-off {
		return nil, u, errs.New(errs.ErrResourceExhausted, "the chunk of %d bytes at offset %d goes past the upload's length of %d", size, off, u.Length)
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.HashState); err != nil {
		return nil, u, fmt.Errorf("upload %s: hash state: %w", id, err)
	}
	in := &chunk{r: r, left: u.Length - off, hash: h, head: u.Head, pos: off}
	if checksum != nil {
		in.sum = sha256.New()
	}
	var n int64
	var werr error
	if off < u.Length || off == 0 {
		n, werr = parts.WritePartial(ctx, id, off, in)
	}
	if in.err != nil {
		werr = in.err
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrLocked) {
		werr = fmt.Errorf("%w: another request took over this upload", ErrLocked)
	}
	if checksum != nil {
		if werr != nil {
			return nil, u, werr
		}
		if got := in.sum.Sum(nil); string(got) != string(checksum) {
			return nil, u, fmt.Errorf("%w: the chunk's SHA-256 is %x, not %x", ErrChecksumMismatch, got, checksum)
		}
	}
	if n > 0 {
		st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, u, err
		}
		from := u.Received
		u.Received, u.HashState, u.Head = from+n, st, in.head
		u.ExpiresAt = s.now().Add(s.opt.UploadExpiry).UnixMicro()
		// The usual end of a chunk: recorded and let go in one write.
		release := u.Received < u.Length
		ok, err := rm.AdvanceResumable(context.WithoutCancel(ctx), u, token, from, release)
		if err != nil {
			return nil, u, err
		}
		if !ok {
			return nil, u, fmt.Errorf("%w: another request took over this upload", ErrLocked)
		}
		released = release
	}
	if werr != nil {
		return nil, u, werr
	}
	if u.Received < u.Length {
		return nil, u, nil
	}
	f, err := s.finish(context.WithoutCancel(ctx), rm, parts, u, h, token)
	if err != nil {
		return nil, u, err
	}
	u.FileID = f.ID
	return f, u, nil
}

// lease takes the right to write the upload, asking a request that holds
// it to let go (a client that lost its connection and came back finds its
// old request still waiting for bytes), and waiting a little for that.
func (s *Service) lease(ctx context.Context, rm ResumableMetadata, owner, id, token string) (*store.ResumableUpload, error) {
	deadline := time.Now().Add(leaseTTL + time.Second)
	asked := false
	for {
		now := s.now()
		u, err := rm.AcquireLease(ctx, owner, id, token, now.Add(leaseTTL).UnixMicro(), now.UnixMicro())
		if err != nil || u != nil {
			return u, err
		}
		cur, err := rm.ResumableByID(ctx, owner, id)
		if err != nil {
			return nil, err
		}
		if cur.FileID != "" {
			return nil, fmt.Errorf("%w: the upload is finished", ErrOffsetMismatch)
		}
		if !asked {
			if err := rm.RequestSteal(ctx, id); err != nil {
				return nil, err
			}
			asked = true
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: another request is writing this upload; retry shortly", ErrLocked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// finish makes a whole upload a file: the unfinished object becomes the
// object, then the file row replaces the upload's intent.
func (s *Service) finish(ctx context.Context, rm ResumableMetadata, parts blob.Partials, u *store.ResumableUpload, h hash.Hash, token string) (*store.File, error) {
	err := parts.FinishPartial(ctx, u.ID, u.Length)
	if errors.Is(err, blob.ErrNotFound) {
		// Finished once already, and the file row failed after.
		if i, serr := s.blobs.Stat(ctx, u.ID); serr == nil && i.Size == u.Length {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("finish upload %s: %w", u.ID, err)
	}
	f := &store.File{
		ID:          u.ID,
		OwnerID:     u.OwnerID,
		Name:        u.Name,
		Size:        u.Length,
		ContentType: DetectType(u.Head, u.ClaimedType, u.Name),
		SHA256:      hex.EncodeToString(h.Sum(nil)),
		CreatedAt:   s.now().UnixMicro(),
	}
	if err := rm.FinishResumable(ctx, f, s.limits(), token); err != nil {
		return nil, fmt.Errorf("record finished upload: %w", err)
	}
	if s.opt.Events != nil {
		s.opt.Events.FileCreated(ctx, f)
	}
	return f, nil
}

// DeleteResumable ends the owner's upload and removes its bytes.
func (s *Service) DeleteResumable(ctx context.Context, owner, id string) error {
	rm, parts, err := s.resumable()
	if err != nil {
		return err
	}
	if !blob.ValidKey(id) {
		return errs.New(errs.ErrNotFound, "upload not found")
	}
	u, err := rm.ResumableByID(ctx, owner, id)
	if err != nil {
		return err
	}
	if u.FileID != "" {
		return errs.New(errs.ErrNotFound, "upload not found: it is finished, and its file is deleted with DeleteFile")
	}
	if _, err := rm.DeleteResumable(ctx, owner, id); err != nil {
		return err
	}
	if err := parts.DeletePartial(context.WithoutCancel(ctx), id); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("upload", id).Msg("delete unfinished upload's bytes; the sweep will retry")
	}
	return nil
}

// ExpireResumables forgets uploads past their expiry and removes their
// bytes; it returns how many unfinished ones it removed.
func (s *Service) ExpireResumables(ctx context.Context) (int, error) {
	rm, parts, err := s.resumable()
	if err != nil {
		return 0, nil
	}
	removed := 0
	for {
		us, err := rm.ExpiredResumables(ctx, s.now().UnixMicro(), 100)
		if err != nil || len(us) == 0 {
			return removed, err
		}
		for _, u := range us {
			if _, err := rm.DeleteResumable(ctx, u.OwnerID, u.ID); err != nil && !errors.Is(err, errs.ErrNotFound) {
				return removed, err
			}
			if u.FileID != "" {
				continue // a finished upload's record, kept for HEAD
			}
			if err := parts.DeletePartial(ctx, u.ID); err != nil {
				return removed, err
			}
			// Finished in the store but never recorded as a file.
			if used, err := s.meta.KeyInUse(ctx, u.ID); err == nil && !used {
				_ = s.blobs.Delete(ctx, u.ID)
			}
			removed++
		}
	}
}

// sweepPartials removes unfinished objects that no upload names and that
// are older than cutoff (a termination or an expiry that failed midway).
func (s *Service) sweepPartials(ctx context.Context, cutoff time.Time) (int, error) {
	rm, parts, err := s.resumable()
	if err != nil {
		return 0, nil
	}
	var orphans []string
	err = parts.WalkPartials(ctx, func(i blob.Info) error {
		if i.ModTime.After(cutoff) {
			return nil
		}
		used, err := rm.ResumableKeyInUse(ctx, i.Key)
		if err == nil && !used {
			orphans = append(orphans, i.Key)
		}
		return err
	})
	removed := 0
	for _, key := range orphans {
		if parts.DeletePartial(ctx, key) == nil {
			removed++
		}
	}
	return removed, err
}

// chunk reads one request's bytes of an upload: at most left, hashed into
// the upload's hash (and the chunk's own, when it has a checksum), the
// upload's first bytes kept for type detection.
type chunk struct {
	r    io.Reader
	left int64
	pos  int64
	hash hash.Hash
	sum  hash.Hash
	head []byte
	err  error
}

func (c *chunk) Read(p []byte) (int, error) {
	if c.left == 0 {
		// One byte more than the upload's length is an error, not the end.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			c.err = errs.New(errs.ErrResourceExhausted, "the body goes past the upload's length")
			return 0, c.err
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.hash.Write(p[:n])
	if c.sum != nil {
		c.sum.Write(p[:n])
	}
	if c.pos < HeadBytes {
		c.head = append(c.head, p[:min(int64(n), HeadBytes-c.pos)]...)
	}
	c.pos += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}
