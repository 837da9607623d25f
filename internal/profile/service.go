// Package profile reads and updates users' profiles.
package profile

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Users is the part of the store that profiles need.
type Users interface {
	UserByID(ctx context.Context, id string) (*store.User, error)
	UpdateScreenName(ctx context.Context, id, name string, now int64) (*store.User, error)
}

// Service implements profile reads and updates.
type Service struct {
	users Users
	cache cache.Cache
	now   func() time.Time
}

// NewService returns a Service on users, keeping profiles in c.
func NewService(users Users, c cache.Cache) *Service {
	return &Service{users: users, cache: c, now: time.Now}
}

// profileTTL bounds how stale a cached profile may be in a process that did
// not make the change (a shared cache sees every invalidation at once).
const profileTTL = 30 * time.Second

func profileKey(id string) string { return "profile:" + id }

// The cache keeps the public part of a user as id, screen name and both
// times, separated by NUL, which neither an id nor a screen name holds.
// (This is on every GetProfile; JSON here cost a tenth of the call.)
func encodeProfile(u *store.User) []byte {
	b := make([]byte, 0, len(u.ID)+len(u.ScreenName)+40)
	b = append(append(b, u.ID...), 0)
	b = append(append(b, u.ScreenName...), 0)
	b = append(strconv.AppendInt(b, u.CreatedAt, 10), 0)
	return strconv.AppendInt(b, u.UpdatedAt, 10)
}

func decodeProfile(b []byte) (*store.User, bool) {
	f := strings.Split(string(b), "\x00")
	if len(f) != 4 {
		return nil, false
	}
	created, err1 := strconv.ParseInt(f[2], 10, 64)
	updated, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &store.User{ID: f[0], ScreenName: f[1], CreatedAt: created, UpdatedAt: updated}, true
}

// Get returns the public fields of the user with that id (never its secret
// hash or token version), from the cache when it can.
func (s *Service) Get(ctx context.Context, id string) (*store.User, error) {
	return cache.ReadThrough(ctx, s.cache, profileKey(id), profileTTL, decodeProfile, func(ctx context.Context) (*store.User, []byte, error) {
		u, err := s.users.UserByID(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		return u, encodeProfile(u), nil
	})
}

// Changes lists the profile fields to update; nil means unchanged.
type Changes struct {
	ScreenName *string
}

// Update applies c to the user's profile and returns the result.
func (s *Service) Update(ctx context.Context, id string, c Changes) (*store.User, error) {
	if c.ScreenName == nil {
		return nil, errs.Invalidf("update_mask", "names no writable field; writable: screen_name")
	}
	name, err := store.CleanScreenName(*c.ScreenName)
	if err != nil {
		return nil, err
	}
	u, err := s.users.UpdateScreenName(ctx, id, name, s.now().UnixMicro())
	if err != nil {
		return nil, err
	}
	// Invalidated, not overwritten: two updates could overwrite in the
	// wrong order, and a delete also refuses the fill of any read that
	// began before this update (cache.ReadThrough). A failed delete leaves
	// the old name for at most profileTTL.
	if err := s.cache.Delete(ctx, profileKey(id)); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("invalidate the cached profile")
	}
	return u, nil
}
