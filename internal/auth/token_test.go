package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyAcceptsOnlyItsOwnHS256Tokens(t *testing.T) {
	key := []byte(strings.Repeat("k", 64))
	tokens := NewTokens(key, time.Hour)
	now := time.Now()
	good, exp, err := tokens.Issue("u1", 3, now)
	if err != nil {
		t.Fatal(err)
	}
	// Sessions end at the expiry the token carries, to the second.
	if id, err := tokens.Verify(good); err != nil || id.UserID != "u1" || id.TokenVersion != 3 || !id.Expires.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("Verify(good) = %+v, %v, want u1 at version 3 expiring %v", id, err, exp)
	}

	sign := func(m jwt.SigningMethod, k any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := func() claims {
		return claims{Ver: 1, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Subject: "u1",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}
	}
	expired := valid()
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
	noExpiry := valid()
	noExpiry.ExpiresAt = nil
	wrongIssuer := valid()
	wrongIssuer.Issuer = "someone"
	noSubject := valid()
	noSubject.Subject = ""
	noVersion := valid()
	noVersion.Ver = 0
	future := valid()
	future.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))

	cases := map[string]string{
		"alg none":      sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()),
		"HS512":         sign(jwt.SigningMethodHS512, key, valid()),
		"other key":     sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 64)), valid()),
		"expired":       sign(jwt.SigningMethodHS256, key, expired),
		"no expiry":     sign(jwt.SigningMethodHS256, key, noExpiry),
		"wrong issuer":  sign(jwt.SigningMethodHS256, key, wrongIssuer),
		"no subject":    sign(jwt.SigningMethodHS256, key, noSubject),
		"no version":    sign(jwt.SigningMethodHS256, key, noVersion),
		"issued later":  sign(jwt.SigningMethodHS256, key, future),
		"empty":         "",
		"two parts":     "a.b",
		"garbage parts": "a.b.c",
	}
	for name, tok := range cases {
		if _, err := tokens.Verify(tok); err == nil {
			t.Errorf("%s: Verify accepted the token", name)
		}
	}
}

func TestLoadOrCreateKeyKeepsOneKey(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 32 || string(a) != string(b) {
		t.Fatalf("keys differ or are short: %d and %d bytes", len(a), len(b))
	}
}

// BenchmarkVerify is the cost every authenticated call pays for its token,
// which it has sent before: the check is remembered.
func BenchmarkVerify(b *testing.B) {
	tokens := NewTokens([]byte(strings.Repeat("k", 64)), time.Hour)
	tok, _, err := tokens.Issue("0123456789abcdefghjkmnpqrs", 1, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFirst is the cost of a token's first call: the signature
// and claims are checked.
func BenchmarkVerifyFirst(b *testing.B) {
	tokens := NewTokens([]byte(strings.Repeat("k", 64)), time.Hour)
	toks := make([]string, 4096)
	for i := range toks {
		tok, _, err := tokens.Issue("0123456789abcdefghjkmnpqrs", int64(i+1), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = tok
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(toks) { // every token is remembered now: start afresh
			b.StopTimer()
			tokens.verified.InvalidateAll()
			b.StartTimer()
			i = 0
		}
		if _, err := tokens.Verify(toks[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkIssue is the cost of CreateToken's signature.
func BenchmarkIssue(b *testing.B) {
	tokens := NewTokens([]byte(strings.Repeat("k", 64)), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := tokens.Issue("0123456789abcdefghjkmnpqrs", 1, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRememberedTokensStillExpire checks that a token remembered as verified
// is refused once its time is up.
func TestRememberedTokensStillExpire(t *testing.T) {
	tokens := NewTokens([]byte(strings.Repeat("k", 64)), time.Minute)
	now := time.Now()
	tok, _, err := tokens.Issue("u1", 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Verify(tok); err != nil {
		t.Fatal(err)
	}
	tokens.now = func() time.Time { return now.Add(time.Minute + leeway + time.Second) }
	if _, err := tokens.Verify(tok); err == nil {
		t.Fatal("an expired token was accepted because it was remembered")
	}
}
