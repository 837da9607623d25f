// Package profile reads and updates users' profiles.
package profile

import (
	"context"
	"time"

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
	now   func() time.Time
}

// NewService returns a Service on users.
func NewService(users Users) *Service { return &Service{users: users, now: time.Now} }

// Get returns the user with that id.
func (s *Service) Get(ctx context.Context, id string) (*store.User, error) {
	return s.users.UserByID(ctx, id)
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
	return s.users.UpdateScreenName(ctx, id, name, s.now().UnixMicro())
}
