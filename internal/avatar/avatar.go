// Package avatar keeps users' pictures: it recognises an upload's format
// from its bytes, refuses one too large in bytes or pixels before decoding
// it, stores it re-encoded (which drops every metadata block: EXIF, GPS,
// comments) in the blob store, and makes square thumbnails, once per size,
// kept beside it.
package avatar

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/gif" // registers GIF for image.Decode
	"image/jpeg"
	"image/png"
	"io"
	"slices"
	"strconv"
	"time"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers WebP for image.Decode
	"golang.org/x/sync/singleflight"

	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Formats are the formats accepted, as image.DecodeConfig names them.
var Formats = []string{"png", "jpeg", "gif", "webp"}

// Sizes are the thumbnail sides made, in pixels; a request for another
// side between the first and the last gets the next larger one.
var Sizes = []int{32, 64, 128, 256, 512}

// DefaultSize is the thumbnail side when a request names none.
const DefaultSize = 128

// masterSide bounds the side of the stored picture: thumbnails never need
// more, and a smaller master is faster to thumbnail.
const masterSide = 1024

// Users is the part of the store avatars need.
type Users interface {
	UserByID(ctx context.Context, id string) (*store.User, error)
	SetAvatar(ctx context.Context, id, key string, now int64) (old string, err error)
}

// Options bound avatars.
type Options struct {
	MaxBytes int64 // an upload
	MaxSide  int   // width and height of an upload, in pixels
	// Decodes bounds the pictures decoded at once (each may take up to
	// MaxSide² × 4 bytes); 0: 2.
	Decodes int
	// OnChange, when set, is told that the user's avatar changed (to drop
	// a cached profile).
	OnChange func(ctx context.Context, userID string)
}

// Service sets, removes and serves avatars.
type Service struct {
	users   Users
	blobs   blob.Store
	opt     Options
	decodes chan struct{}
	thumbs  singleflight.Group
	now     func() time.Time
}

// NewService returns a Service keeping pictures in blobs.
func NewService(users Users, blobs blob.Store, o Options) *Service {
	if o.Decodes <= 0 {
		o.Decodes = 2
	}
	return &Service{users: users, blobs: blobs, opt: o, decodes: make(chan struct{}, o.Decodes), now: time.Now}
}

// MaxBytes is the largest upload accepted.
func (s *Service) MaxBytes() int64 { return s.opt.MaxBytes }

// ThumbKey is the object key of key's thumbnail of side size.
func ThumbKey(key string, size int) string { return key + "s" + strconv.Itoa(size) }

// Keys returns every object key an avatar stored at key may use.
func Keys(key string) []string {
	keys := []string{key}
	for _, n := range Sizes {
		keys = append(keys, ThumbKey(key, n))
	}
	return keys
}

// Check reads the format and dimensions from the header of data, without
// decoding the picture, and refuses what is not an accepted format or is
// larger than the limits. It is what makes a decompression bomb (a few KB
// of PNG claiming 50,000 × 50,000 pixels) cost nothing.
func (s *Service) Check(data []byte) (string, error) {
	if int64(len(data)) > s.opt.MaxBytes {
		return "", errs.New(errs.ErrResourceExhausted, "avatar is larger than the limit of %d bytes", s.opt.MaxBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || !slices.Contains(Formats, format) {
		return "", errs.Invalidf("avatar", "must be a PNG, JPEG, GIF or WebP image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > s.opt.MaxSide || cfg.Height > s.opt.MaxSide {
		return "", errs.Invalidf("avatar", "must be at most %d×%d pixels, not %d×%d", s.opt.MaxSide, s.opt.MaxSide, cfg.Width, cfg.Height)
	}
	return format, nil
}

// Set makes the picture r holds (at most MaxBytes) the user's avatar.
func (s *Service) Set(ctx context.Context, userID string, r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, s.opt.MaxBytes+1))
	if err != nil {
		return err
	}
	if _, err := s.Check(data); err != nil {
		return err
	}
	img, err := s.decode(ctx, data)
	if err != nil {
		return err
	}
	data = nil
	var out bytes.Buffer
	if err := encode(&out, fit(img, masterSide)); err != nil {
		return fmt.Errorf("encode avatar: %w", err)
	}
	key := store.NewID()
	if _, err := s.blobs.Put(ctx, key, bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil {
		return fmt.Errorf("store avatar: %w", err)
	}
	old, err := s.users.SetAvatar(ctx, userID, key, s.now().UnixMicro())
	if err != nil {
		s.Purge(context.WithoutCancel(ctx), key)
		return err
	}
	s.changed(ctx, userID, old)
	return nil
}

// Remove removes the user's avatar, if any.
func (s *Service) Remove(ctx context.Context, userID string) error {
	old, err := s.users.SetAvatar(ctx, userID, "", s.now().UnixMicro())
	if err != nil {
		return err
	}
	s.changed(ctx, userID, old)
	return nil
}

func (s *Service) changed(ctx context.Context, userID, old string) {
	if s.opt.OnChange != nil {
		s.opt.OnChange(ctx, userID)
	}
	if old != "" {
		s.Purge(context.WithoutCancel(ctx), old)
	}
}

// Purge removes the picture stored at key and its thumbnails. What it
// cannot remove now is no longer named by any user, so the orphan sweep
// removes it later.
func (s *Service) Purge(ctx context.Context, key string) error {
	var errList []error
	for _, k := range Keys(key) {
		if err := s.blobs.Delete(ctx, k); err != nil {
			errList = append(errList, err)
		}
	}
	return errors.Join(errList...)
}

// decode decodes data, at most Options.Decodes at once in this process.
func (s *Service) decode(ctx context.Context, data []byte) (image.Image, error) {
	select {
	case s.decodes <- struct{}{}:
		defer func() { <-s.decodes }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, errs.Invalidf("avatar", "is not a readable image: %v", err)
	}
	return img, nil
}

// Thumbnail is a stored thumbnail, to serve.
type Thumbnail struct {
	Data    []byte
	ETag    string // the key of the thumbnail: a new avatar has a new one
	Current string // the avatar's key, which its URL carries as v
	ModTime time.Time
}

// SnapSize returns the thumbnail side served for a request of n pixels
// (0: the default), or errs.ErrInvalid out of range.
func SnapSize(n int) (int, error) {
	if n == 0 {
		return DefaultSize, nil
	}
	if n < Sizes[0] || n > Sizes[len(Sizes)-1] {
		return 0, errs.Invalidf("size", "must be from %d to %d", Sizes[0], Sizes[len(Sizes)-1])
	}
	i, _ := slices.BinarySearch(Sizes, n)
	return Sizes[i], nil
}

// Thumb returns the user's avatar as a square of side size (one of
// Sizes), making and storing it the first time. No user, or no avatar, is
// errs.ErrNotFound.
func (s *Service) Thumb(ctx context.Context, userID string, size int) (*Thumbnail, error) {
	u, err := s.users.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Avatar == "" || u.GhostID != nil {
		return nil, errs.New(errs.ErrNotFound, "no avatar")
	}
	key := ThumbKey(u.Avatar, size)
	v, err, _ := s.thumbs.Do(key, func() (any, error) {
		if b, err := s.read(ctx, key); err == nil {
			return b, nil
		} else if !errors.Is(err, blob.ErrNotFound) {
			return nil, err
		}
		master, err := s.read(ctx, u.Avatar)
		if errors.Is(err, blob.ErrNotFound) {
			return nil, errs.New(errs.ErrNotFound, "no avatar") // replaced meanwhile
		} else if err != nil {
			return nil, err
		}
		img, err := s.decode(ctx, master)
		if err != nil {
			return nil, err
		}
		var out bytes.Buffer
		if err := encode(&out, square(img, size)); err != nil {
			return nil, err
		}
		if _, err := s.blobs.Put(context.WithoutCancel(ctx), key, bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil {
			return nil, fmt.Errorf("store thumbnail: %w", err)
		}
		return out.Bytes(), nil
	})
	if err != nil {
		return nil, err
	}
	return &Thumbnail{Data: v.([]byte), ETag: key, Current: u.Avatar, ModTime: time.UnixMicro(u.UpdatedAt)}, nil
}

func (s *Service) read(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.blobs.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// encode writes img as PNG when it has transparency, else as JPEG: either
// way with no metadata at all.
func encode(w io.Writer, img image.Image) error {
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: 90})
	}
	return png.Encode(w, img)
}

// fit returns img scaled down to fit in side × side, or img as is when it
// fits, as an RGBA (or NRGBA) image whatever the source's model.
func fit(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > side || h > side {
		if w >= h {
			w, h = side, max(1, h*side/w)
		} else {
			w, h = max(1, w*side/h), side
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	} else {
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	}
	return dst
}

// square returns the centre square of img scaled to side × side.
func square(img image.Image, side int) image.Image {
	b := img.Bounds()
	n := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-n)/2, b.Min.Y+(b.Dy()-n)/2
	dst := image.NewNRGBA(image.Rect(0, 0, side, side))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, image.Rect(x0, y0, x0+n, y0+n), xdraw.Src, nil)
	return dst
}
