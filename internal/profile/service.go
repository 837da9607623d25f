// Package profile reads and updates users' profiles.
package profile

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/structpb"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Users is the part of the store that profiles need.
type Users interface {
	UserByID(ctx context.Context, id string) (*store.User, error)
	UpdateProfile(ctx context.Context, id string, p store.ProfileUpdate, now int64) (*store.User, error)
}

// Service implements profile reads and updates.
type Service struct {
	users Users
	cache cache.Cache
	now   func() time.Time

	// MaxAttributesBytes bounds a profile's attributes as JSON.
	MaxAttributesBytes int64
}

// NewService returns a Service on users, keeping profiles in c.
func NewService(users Users, c cache.Cache) *Service {
	return &Service{users: users, cache: c, now: time.Now, MaxAttributesBytes: 4 << 10}
}

// profileTTL bounds how stale a cached profile may be in a process that did
// not make the change (a shared cache sees every invalidation at once).
const profileTTL = 30 * time.Second

func profileKey(id string) string { return "profile:" + id }

// The cache keeps the public part of a user as id, screen name, both
// times, bio, attributes and avatar key, separated by NUL, which none of
// them holds (control characters are refused, and JSON escapes them).
// (This is on every GetProfile; JSON here cost a tenth of the call.)
func encodeProfile(u *store.User) []byte {
	b := make([]byte, 0, len(u.ID)+len(u.ScreenName)+len(u.Bio)+len(u.Attributes)+len(u.Avatar)+48)
	b = append(append(b, u.ID...), 0)
	b = append(append(b, u.ScreenName...), 0)
	b = append(strconv.AppendInt(b, u.CreatedAt, 10), 0)
	b = append(strconv.AppendInt(b, u.UpdatedAt, 10), 0)
	b = append(append(b, u.Bio...), 0)
	b = append(append(b, u.Attributes...), 0)
	return append(b, u.Avatar...)
}

func decodeProfile(b []byte) (*store.User, bool) {
	var f [7]string
	rest := string(b)
	for i := range f[:6] {
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, "\x00"); !ok {
			return nil, false
		}
	}
	if f[6] = rest; strings.Contains(rest, "\x00") {
		return nil, false
	}
	created, err1 := strconv.ParseInt(f[2], 10, 64)
	updated, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &store.User{ID: f[0], ScreenName: f[1], CreatedAt: created, UpdatedAt: updated,
		Bio: f[4], Attributes: f[5], Avatar: f[6]}, true
}

// Get returns the public fields of the user with that id (never its secret
// hash or token version), from the cache when it can.
func (s *Service) Get(ctx context.Context, id string) (*store.User, error) {
	return cache.ReadThrough(ctx, s.cache, profileKey(id), profileTTL, decodeProfile, func(ctx context.Context) (*store.User, []byte, error) {
		u, err := s.users.UserByID(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if u.GhostID != nil { // being deleted: gone already for everyone else
			return nil, nil, errs.New(errs.ErrNotFound, "user not found")
		}
		return u, encodeProfile(u), nil
	})
}

// Changes lists the profile fields to update; nil means unchanged.
type Changes struct {
	ScreenName *string
	Bio        *string
	// Attributes replace the stored ones when SetAttributes is true (nil
	// or empty: none).
	Attributes    *structpb.Struct
	SetAttributes bool
}

// Update applies c to the user's profile and returns the result. Every
// field is checked before any is written: a bad one changes nothing.
func (s *Service) Update(ctx context.Context, id string, c Changes) (*store.User, error) {
	if c.ScreenName == nil && c.Bio == nil && !c.SetAttributes {
		return nil, errs.Invalidf("update_mask", "names no writable field; writable: screen_name, bio, attributes")
	}
	var p store.ProfileUpdate
	if c.ScreenName != nil {
		name, err := store.CleanScreenName(*c.ScreenName)
		if err != nil {
			return nil, err
		}
		p.ScreenName = &name
	}
	if c.Bio != nil {
		bio, err := CleanBio(*c.Bio)
		if err != nil {
			return nil, err
		}
		p.Bio = &bio
	}
	if c.SetAttributes {
		a, err := AttributesJSON(c.Attributes, s.MaxAttributesBytes)
		if err != nil {
			return nil, err
		}
		p.Attributes = &a
	}
	u, err := s.users.UpdateProfile(ctx, id, p, s.now().UnixMicro())
	if err != nil {
		return nil, err
	}
	s.Forget(ctx, id)
	return u, nil
}

// Forget drops the user's cached profile, after a change made elsewhere
// (a new avatar, a deletion).
func (s *Service) Forget(ctx context.Context, id string) {
	// Invalidated, not overwritten: two updates could overwrite in the
	// wrong order, and a delete also refuses the fill of any read that
	// began before this update (cache.ReadThrough). A failed delete leaves
	// the old name for at most profileTTL.
	if err := s.cache.Delete(ctx, profileKey(id)); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("invalidate the cached profile")
	}
}
