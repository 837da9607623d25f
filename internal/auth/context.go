package auth

import (
	"context"
	"time"

	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
)

// Identity is what an access token vouches for: the user, the token version
// it was issued at, and until when. Sessions that outlive the request
// (streams, WebSockets) keep the version and expiry so that they end with
// the credential that opened them.
type Identity struct {
	UserID       string
	TokenVersion int64
	Expires      time.Time // zero: unknown, never ends by itself
}

type callerKey struct{}

// WithIdentity returns a context that carries the authenticated caller.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, callerKey{}, id)
}

// WithUser returns a context that carries the authenticated user's id only,
// with no token version or expiry.
func WithUser(ctx context.Context, userID string) context.Context {
	return WithIdentity(ctx, Identity{UserID: userID})
}

// IdentityFrom returns the authenticated caller, and false when the call is
// not authenticated.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(callerKey{}).(Identity)
	if !ok {
		if rec, found := call.Lookup(ctx); found {
			id, ok = rec.Caller().(Identity)
		}
	}
	return id, ok && id.UserID != ""
}

// UserFrom returns the authenticated user's id, and false when the call is
// not authenticated.
func UserFrom(ctx context.Context) (string, bool) {
	id, ok := IdentityFrom(ctx)
	return id.UserID, ok
}

// Caller returns the authenticated user's id, or errs.ErrUnauthenticated for
// a call the middleware let through without a user.
func Caller(ctx context.Context) (string, error) {
	if id, ok := UserFrom(ctx); ok {
		return id, nil
	}
	return "", errs.ErrUnauthenticated
}
