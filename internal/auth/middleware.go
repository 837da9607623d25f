package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
)

// Middleware authenticates every request that isPublic does not exempt
// (public requests pass untouched, whatever token they carry),
// before anything reads its body, and puts the user in the request's call
// record, or its context when it has none.
// A request without a valid token is answered by fail with an
// errs.ErrUnauthenticated error.
func (s *Service) Middleware(isPublic func(*http.Request) bool, fail func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isPublic(r) {
				next.ServeHTTP(w, r)
				return
			}
			token := BearerToken(r)
			if token == "" {
				fail(w, r, errs.New(errs.ErrUnauthenticated, "missing access token: send Authorization: Bearer <token>"))
				return
			}
			id, err := s.Identify(r.Context(), token)
			if err != nil {
				fail(w, r, err)
				return
			}
			// In the server's call record when there is one, which spares a
			// copy of the request.
			if rec, ok := call.Lookup(r.Context()); ok {
				rec.SetCaller(id)
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

// Identify checks an access token as Authenticate does and returns
// everything it vouches for: the user, and the token's version and expiry,
// which long-lived sessions need in order to end with their credential.
func (s *Service) Identify(ctx context.Context, token string) (Identity, error) {
	id, err := s.tokens.Verify(token)
	if err != nil {
		return Identity{}, errs.New(errs.ErrUnauthenticated, "invalid access token")
	}
	current, err := s.tokenVersion(ctx, id.UserID)
	if errors.Is(err, errs.ErrNotFound) {
		return Identity{}, errs.New(errs.ErrUnauthenticated, "invalid access token")
	}
	if err != nil {
		return Identity{}, err
	}
	if id.TokenVersion != current || s.isRevoked(id.UserID, id.TokenVersion) {
		return Identity{}, errs.New(errs.ErrUnauthenticated, "access token revoked")
	}
	return id, nil
}

// BearerToken returns the access token of r: from `Authorization: Bearer`,
// or, for WebSocket upgrades that browsers cannot give headers, from the
// `token` query parameter.
func BearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(token)
	}
	if r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return r.URL.Query().Get("token")
	}
	return ""
}
