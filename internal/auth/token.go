package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/maypok86/otter/v2"
)

const issuer = "foxhole"

// Tokens issues and verifies HS256 access tokens.
type Tokens struct {
	key    []byte
	signer *hs256
	ttl    time.Duration
	parser *jwt.Parser
	now    func() time.Time
	// verified remembers tokens whose signature and claims checked out,
	// until they expire: a client sends the same token with every call of
	// its hour, and parsing and checking it again cost a third of the
	// allocations of a whole GetProfile. Revocation is not affected: the
	// token version is checked on every call, after Verify.
	verified *otter.Cache[string, Identity]
}

// verifiedTokens bounds the tokens remembered, about 300 bytes each.
const verifiedTokens = 50_000

// leeway is the clock skew allowed on a token's times.
const leeway = 5 * time.Second

// claims are the access token's claims. Ver is the user's token version when
// the token was issued: RotateSecret bumps it, revoking every older token.
type claims struct {
	Ver int64 `json:"ver"`
	jwt.RegisteredClaims
}

// NewTokens returns Tokens that sign with key and issue tokens valid for ttl.
func NewTokens(key []byte, ttl time.Duration) *Tokens {
	return &Tokens{
		key:    key,
		signer: newHS256(key),
		ttl:    ttl,
		now:    time.Now,
		verified: otter.Must(&otter.Options[string, Identity]{
			MaximumSize: verifiedTokens,
			ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[string, Identity]) time.Duration {
				return time.Until(e.Value.Expires.Add(leeway))
			}),
		}),
		// Only HS256 is accepted: no "none", no switching to another algorithm.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
		),
	}
}

// Issue signs a token for the user at the given token version.
func (t *Tokens) Issue(userID string, version int64, now time.Time) (string, time.Time, error) {
	exp := now.Add(t.ttl)
	c := claims{Ver: version, RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}}
	s, err := jwt.NewWithClaims(t.signer, c).SignedString(nil)
	return s, exp, err
}

// Verify checks the token's signature, algorithm, issuer and times, and
// returns all it vouches for: its user, token version and expiry.
func (t *Tokens) Verify(token string) (Identity, error) {
	if id, ok := t.verified.GetIfPresent(token); ok {
		if t.now().Before(id.Expires.Add(leeway)) {
			return id, nil
		}
		return Identity{}, jwt.ErrTokenExpired
	}
	var c claims
	if _, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil }); err != nil {
		return Identity{}, err
	}
	if c.Subject == "" || c.Ver < 1 {
		return Identity{}, errors.New("token has no subject or version")
	}
	// The parser requires an expiry, so ExpiresAt is never nil here.
	id := Identity{UserID: c.Subject, TokenVersion: c.Ver, Expires: c.ExpiresAt.Time}
	t.verified.Set(token, id)
	return id, nil
}

// LoadOrCreateKey returns the signing key kept in dir, creating a random one
// (mode 0600) the first time, so that tokens survive a restart.
func LoadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "jwt.key")
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) < 32 {
			return nil, fmt.Errorf("signing key %s is shorter than 32 bytes", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key = make([]byte, 64)
	rand.Read(key)
	// Write beside, fsync, then link into place: a crash never leaves a short key,
	// and two processes starting together agree on one key.
	tmp, err := os.CreateTemp(dir, ".jwt.key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	return key, nil
}

// hs256 is jwt's HS256 for one key, its HMAC kept between tokens: jwt's
// own makes a new HMAC for every token, hashing the key into it again.
// Tokens are verified by jwt's own, which accepts what this signs.
type hs256 struct{ hmacs sync.Pool }

func newHS256(key []byte) *hs256 {
	s := &hs256{}
	s.hmacs.New = func() any { return hmac.New(sha256.New, key) }
	return s
}

func (*hs256) Alg() string { return jwt.SigningMethodHS256.Alg() }

// Sign signs with the key hs256 was made for; the key jwt passes is unused.
func (s *hs256) Sign(signingString string, _ any) ([]byte, error) {
	h := s.hmacs.Get().(hash.Hash)
	defer s.hmacs.Put(h)
	h.Reset()
	io.WriteString(h, signingString)
	return h.Sum(nil), nil
}

func (*hs256) Verify(signingString string, sig []byte, key any) error {
	return jwt.SigningMethodHS256.Verify(signingString, sig, key)
}
