package auth

import (
	"context"

	"foxhole.dev/foxhole/internal/errs"
)

type callerKey struct{}

// WithUser returns a context that carries the authenticated user's id.
func WithUser(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, callerKey{}, userID)
}

// UserFrom returns the authenticated user's id, and false when the call is
// not authenticated.
func UserFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(callerKey{}).(string)
	return id, ok && id != ""
}

// Caller returns the authenticated user's id, or errs.ErrUnauthenticated for
// a call the middleware let through without a user.
func Caller(ctx context.Context) (string, error) {
	if id, ok := UserFrom(ctx); ok {
		return id, nil
	}
	return "", errs.ErrUnauthenticated
}
