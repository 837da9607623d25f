// Package auth creates users, exchanges their secrets for access tokens, and
// authenticates every call that needs a user.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// Users is the part of the store that auth needs.
type Users interface {
	CreateUser(ctx context.Context, u *store.User) error
	UserBySecretHash(ctx context.Context, h []byte) (*store.User, error)
	TokenVersion(ctx context.Context, id string) (int64, error)
	UserByID(ctx context.Context, id string) (*store.User, error)
	ReplaceSecret(ctx context.Context, id string, old, h []byte) (int64, error)
	BeginDeletion(ctx context.Context, id string, old, h []byte, ghost string) (int64, error)
	MarkUsed(ctx context.Context, id string, now int64) error
	SetBanned(ctx context.Context, id string, at *int64) (int64, error)
}

// Service implements registration, tokens and authentication.
type Service struct {
	users  Users
	tokens *Tokens
	cache  cache.Cache
	now    func() time.Time

	// OnRotate, when set, is told that the user's token version is now
	// version, right after RotateSecret stores it: open sessions (streams,
	// WebSockets) of older tokens must end, in every process.
	OnRotate func(ctx context.Context, userID string, version int64)

	// Erase, when set, removes everything of a user whose deletion began
	// (DeleteAccount): it must be safe to run again, in any process.
	Erase func(ctx context.Context, userID string) error

	// revoked remembers, per user, the token version a rotation made the
	// oldest valid one, as this process heard of it (Revoked). A shared
	// cache tells this process of a rotation elsewhere by an invalidation
	// that travels on another connection than the news that ends sessions,
	// and may arrive after it; with this, a token refused by a session is
	// refused by every call too. Entries outlive any token issued before.
	revoked *otter.Cache[string, int64]
}

// maxRevocations bounds the rotations remembered: those of one token
// lifetime, in practice far fewer.
const maxRevocations = 100_000

// versionTTL bounds how long a cached token version may be trusted.
// RotateSecret deletes the cached version at once; the TTL only matters
// for a cache that lost that delete (a shared cache that the rotating
// process could not reach while the others could): it bounds how long
// another process may still accept a revoked token, so it stays under the
// five seconds within which a revocation takes effect everywhere (API.md),
// as the realtime recheck of open sessions does. It costs one database
// read per active user and TTL, shared by every process through the cache.
//
// A cached version must never move backwards, or a revoked token and an old
// secret would work again until the entry expires. So a fill from the
// database (a value read at some earlier moment) goes through
// cache.ReadThrough, whose fill RotateSecret's delete refuses when the read
// may have come before the rotation.
const versionTTL = 4 * time.Second

// secretTTL bounds how long a secret's user and version are remembered: the
// version is checked against the current one (tokenVersion) at every use,
// so this entry never lets an old secret through.
const secretTTL = time.Minute

// secretPrefix marks user secrets so that people and secret scanners
// recognise them.
const secretPrefix = "fxs_"

// NewService returns a Service on the given store, tokens and cache.
func NewService(users Users, tokens *Tokens, c cache.Cache) *Service {
	return &Service{users: users, tokens: tokens, cache: c, now: time.Now,
		revoked: otter.Must(&otter.Options[string, int64]{
			MaximumSize:      maxRevocations,
			ExpiryCalculator: otter.ExpiryWriting[string, int64](tokens.ttl + leeway),
		}),
	}
}

// isRevoked reports whether a rotation this process heard of revoked the
// user's tokens at version.
func (s *Service) isRevoked(userID string, version int64) bool {
	oldest, ok := s.revoked.GetIfPresent(userID)
	return ok && version < oldest
}

// Revoked records that the user's tokens older than version are revoked:
// from now on this process refuses them at once, whatever its cache says.
func (s *Service) Revoked(userID string, version int64) {
	s.revoked.Compute(userID, func(old int64, found bool) (int64, otter.ComputeOp) {
		return max(old, version), otter.WriteOp
	})
}

// Register creates a user named screenName (generated when empty) and
// returns it with its secret, which is not kept.
func (s *Service) Register(ctx context.Context, screenName string) (*store.User, string, error) {
	if screenName == "" {
		screenName = "anon-" + store.NewID()[:8]
	} else {
		var err error
		if screenName, err = store.CleanScreenName(screenName); err != nil {
			return nil, "", err
		}
	}
	secret := newSecret()
	now := s.now().UnixMicro()
	u := &store.User{
		ID:           store.NewID(),
		SecretHash:   hashSecret(secret),
		ScreenName:   screenName,
		TokenVersion: 1,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.users.CreateUser(ctx, u); err != nil {
		return nil, "", fmt.Errorf("create user: %w", err)
	}
	return u, secret, nil
}

// CreateToken returns an access token for the user whose secret is given.
func (s *Service) CreateToken(ctx context.Context, secret string) (string, time.Time, error) {
	h := hashSecret(secret)
	// A remembered secret is good only while its user's token version is
	// unchanged: RotateSecret changes it, so an old secret falls through to
	// the database, which no longer knows it.
	key := "auth:secret:" + hex.EncodeToString(h)
	if b, ok, err := s.cache.Get(ctx, key); err == nil && ok {
		if id, ver, ok := decodeSecretEntry(b); ok {
			if current, err := s.tokenVersion(ctx, id); err == nil && current == ver && !s.isRevoked(id, ver) {
				return s.tokens.Issue(id, ver, s.now())
			}
		}
	}
	u, err := s.users.UserBySecretHash(ctx, h)
	if errors.Is(err, errs.ErrNotFound) {
		return "", time.Time{}, errs.New(errs.ErrUnauthenticated, "unknown user secret")
	}
	if err != nil {
		return "", time.Time{}, err
	}
	// A banned user gets no token. Checked before its secret is cached:
	// the ban changed the token version, so no entry cached before it
	// matches, and none is cached after.
	if u.BannedAt != nil {
		return "", time.Time{}, errs.New(errs.ErrPermissionDenied, "this account is banned")
	}
	// The account's first token makes it used: it no longer expires as
	// unused. Before the secret is cached, so that a cached secret's
	// account is always used.
	if u.UsedAt == nil {
		if err := s.users.MarkUsed(ctx, u.ID, s.now().UnixMicro()); err != nil {
			return "", time.Time{}, err
		}
	}
	// Add, not Set: the entry is checked against the current token version
	// at every use, so one is as good as another, and the first stays.
	_, _ = s.cache.Add(ctx, key, []byte(u.ID+" "+strconv.FormatInt(u.TokenVersion, 10)), secretTTL)
	return s.tokens.Issue(u.ID, u.TokenVersion, s.now())
}

// decodeSecretEntry reads a remembered secret: its user's id and the token
// version it was good for.
func decodeSecretEntry(b []byte) (id string, ver int64, ok bool) {
	id, v, ok := strings.Cut(string(b), " ")
	if !ok {
		return "", 0, false
	}
	ver, err := strconv.ParseInt(v, 10, 64)
	return id, ver, err == nil
}

// errWrongSecret answers a RotateSecret whose secret is not the caller's.
var errWrongSecret = errs.New(errs.ErrUnauthenticated, "user_secret is not the caller's current secret")

// RotateSecret gives the user a new secret and revokes the old one and every
// token issued so far. current must be the user's secret: a token alone
// cannot replace it. A wrong one is errs.ErrUnauthenticated and changes
// nothing; so is a secret another rotation replaced meanwhile.
// SetBanned bans the user (on) or lifts its ban, for an operator. A ban
// revokes every token the user holds by the path a rotation takes, in
// every process: its sessions end within 5 s and no new token is issued
// while it lasts. Register is unaffected. An unknown user is
// errs.ErrNotFound.
func (s *Service) SetBanned(ctx context.Context, userID string, on bool) error {
	var at *int64
	if on {
		now := s.now().UnixMicro()
		at = &now
	}
	ver, err := s.users.SetBanned(ctx, userID, at)
	if err != nil || !on {
		return err
	}
	s.revoke(ctx, userID, ver)
	return nil
}

// revoke makes every process refuse the user's tokens older than ver and
// end their sessions: here at once, then through the shared cache and the
// news of OnRotate.
func (s *Service) revoke(ctx context.Context, userID string, ver int64) {
	// This process refuses the old tokens at once; then the shared cache
	// forgets the old version (Delete, not Set of the new one: two
	// rotations could Set in the wrong order; and the Delete refuses the
	// fill of any read of the version that began before the rotation, see
	// cache.ReadThrough); then the sessions of older tokens end, in every
	// process, which also makes every process refuse them (Revoked). A
	// cache that fails costs only speed: the rotation is stored, and the
	// news of it still goes out.
	s.Revoked(userID, ver)
	if err := s.cache.Delete(ctx, versionKey(userID)); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("invalidate the cached token version")
	}
	if s.OnRotate != nil {
		s.OnRotate(ctx, userID, ver)
	}
}

func (s *Service) RotateSecret(ctx context.Context, userID, current string) (string, error) {
	if current == "" {
		return "", errs.Invalidf("user_secret", "must be the caller's current secret")
	}
	u, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, errs.ErrNotFound) {
		return "", errWrongSecret
	}
	if err != nil {
		return "", fmt.Errorf("rotate secret: %w", err)
	}
	old := hashSecret(current)
	if subtle.ConstantTimeCompare(old, u.SecretHash) != 1 {
		return "", errWrongSecret
	}
	secret := newSecret()
	ver, err := s.users.ReplaceSecret(ctx, userID, old, hashSecret(secret))
	if errors.Is(err, errs.ErrNotFound) {
		return "", errWrongSecret // rotated meanwhile
	}
	if err != nil {
		return "", fmt.Errorf("rotate secret: %w", err)
	}
	s.revoke(ctx, userID, ver)
	return secret, nil
}

// DeleteAccount deletes the user's account. current must be the user's
// secret; a wrong one is errs.ErrUnauthenticated and changes nothing. The
// first step, in one statement, revokes the secret and every token and
// records that the deletion began, with the id that replaces the user's in
// what others keep; then the sessions end, in every process; then Erase
// removes the rest. If this process dies after the first step, any process
// finishes the deletion (see Erase's caller in internal/app).
func (s *Service) DeleteAccount(ctx context.Context, userID, current string) error {
	if current == "" {
		return errs.Invalidf("user_secret", "must be the caller's current secret")
	}
	u, err := s.users.UserByID(ctx, userID)
	if errors.Is(err, errs.ErrNotFound) {
		return errWrongSecret
	}
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	old := hashSecret(current)
	if subtle.ConstantTimeCompare(old, u.SecretHash) != 1 {
		return errWrongSecret
	}
	err = s.deleteAccount(ctx, userID, old)
	if errors.Is(err, errNotBegun) {
		return errWrongSecret // rotated or deleted meanwhile
	}
	return err
}

// DeleteUser deletes the account as DeleteAccount does, without its
// secret: an operator's deletion. An unknown user is errs.ErrNotFound.
func (s *Service) DeleteUser(ctx context.Context, userID string) error {
	u, err := s.users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	err = s.deleteAccount(ctx, userID, u.SecretHash)
	if errors.Is(err, errNotBegun) {
		return errs.New(errs.ErrNotFound, "user %q not found (its secret changed, or it was deleted, meanwhile)", userID)
	}
	return err
}

// errNotBegun is deleteAccount's answer when the account's secret is no
// longer the one given (rotated or deleted meanwhile).
var errNotBegun = errors.New("the account's secret changed")

// deleteAccount deletes the account whose secret hashes to old (else
// errNotBegun): its tokens are revoked everywhere, then Erase removes
// everything of it.
func (s *Service) deleteAccount(ctx context.Context, userID string, old []byte) error {
	// The new hash is of a secret nobody is given: the old secret stops
	// working, and the column stays unique and not null.
	ver, err := s.users.BeginDeletion(ctx, userID, old, hashSecret(newSecret()), store.NewID())
	if errors.Is(err, errs.ErrNotFound) {
		return errNotBegun
	}
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	s.revoke(ctx, userID, ver)
	if s.Erase == nil {
		return nil
	}
	// Not cut short by the caller leaving: the account is going either way.
	return s.Erase(context.WithoutCancel(ctx), userID)
}

// Authenticate checks an access token and returns its user's id. A bad,
// expired or revoked token, or one whose user is gone, is errs.ErrUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, token string) (string, error) {
	id, err := s.Identify(ctx, token)
	return id.UserID, err
}

func (s *Service) tokenVersion(ctx context.Context, userID string) (int64, error) {
	return cache.ReadThrough(ctx, s.cache, versionKey(userID), versionTTL, decodeVersion, func(ctx context.Context) (int64, []byte, error) {
		v, err := s.users.TokenVersion(ctx, userID)
		if err != nil {
			return 0, nil, err
		}
		return v, strconv.AppendInt(nil, v, 10), nil
	})
}

func decodeVersion(b []byte) (int64, bool) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

func versionKey(userID string) string { return "auth:ver:" + userID }

// newSecret returns 256 random bits, URL-safe.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}
