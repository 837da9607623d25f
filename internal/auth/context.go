package auth

import "context"

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
