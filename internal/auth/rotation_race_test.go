package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/cache"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/inmem"
	"foxhole.dev/foxhole/internal/store"
	"foxhole.dev/foxhole/internal/testutil/backends"
	"foxhole.dev/foxhole/internal/valkey"
)

// pausingUsers is the real store, except that the first TokenVersion read
// after arm, once it has read the version from the database, tells paused and
// waits for resume before returning it: the moment a cache fill is most
// exposed to a rotation.
type pausingUsers struct {
	auth.Users
	armed  atomic.Bool
	paused chan struct{}
	resume chan struct{}
}

func (u *pausingUsers) TokenVersion(ctx context.Context, id string) (int64, error) {
	v, err := u.Users.TokenVersion(ctx, id)
	if u.armed.CompareAndSwap(true, false) {
		close(u.paused)
		<-u.resume
	}
	return v, err
}

// TestRotationRacingVersionFill forces a token-version fill to straddle a
// secret rotation: the fill reads the old version, the rotation commits and
// finishes, then the fill writes to the cache. The old version must not end
// up cached, or the revoked token and the old secret would keep working for
// as long as the entry lives.
func TestRotationRacingVersionFill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, c := storeAndCache(t)
	users := &pausingUsers{Users: st, paused: make(chan struct{}), resume: make(chan struct{})}
	svc := auth.NewService(users, auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour), c)

	u, oldSecret, err := svc.Register(ctx, "racer")
	if err != nil {
		t.Fatal(err)
	}
	// CreateToken by the database path caches the secret with version 1 but
	// not the version itself, so the next Authenticate fills it.
	oldToken, _, err := svc.CreateToken(ctx, oldSecret)
	if err != nil {
		t.Fatal(err)
	}

	users.armed.Store(true)
	filled := make(chan error, 1)
	go func() {
		// Concurrent with the rotation, this call may be answered either
		// way; what matters is what it leaves in the cache.
		_, err := svc.Authenticate(ctx, oldToken)
		filled <- err
	}()
	<-users.paused // the fill holds version 1, read before the rotation
	newSecret, err := svc.RotateSecret(ctx, u.ID, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	close(users.resume)
	<-filled

	if _, err := svc.Authenticate(ctx, oldToken); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("Authenticate(token issued before rotation) = %v, want unauthenticated", err)
	}
	if _, _, err := svc.CreateToken(ctx, oldSecret); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Errorf("CreateToken(old secret) = %v, want unauthenticated", err)
	}
	newToken, _, err := svc.CreateToken(ctx, newSecret)
	if err != nil {
		t.Fatalf("CreateToken(new secret): %v", err)
	}
	if id, err := svc.Authenticate(ctx, newToken); err != nil || id != u.ID {
		t.Errorf("Authenticate(new token) = %q, %v; want %q", id, err, u.ID)
	}
}

// TestRevocationHeardBeforeTheCache plays a rotation made by another
// process whose news (Revoked, from the hub) arrives before this process's
// cache learns the new version: the old token and the old secret are
// refused at once all the same.
func TestRevocationHeardBeforeTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, c := storeAndCache(t)
	svc := auth.NewService(st, auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour), c)
	u, secret, err := svc.Register(ctx, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, token); err != nil { // caches version 1
		t.Fatal(err)
	}
	// Another process rotates: the database changes, this process's cache
	// still says version 1, and the news arrives.
	v, err := st.RotateSecret(ctx, u.ID, []byte("another secret's hash"))
	if err != nil {
		t.Fatal(err)
	}
	svc.Revoked(u.ID, v)
	if _, err := svc.Authenticate(ctx, token); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("old token after the revocation was heard: %v", err)
	}
	if _, _, err := svc.CreateToken(ctx, secret); !errors.Is(err, errs.ErrUnauthenticated) {
		t.Fatalf("old secret after the revocation was heard: %v", err)
	}
}

// storeAndCache opens a real store and cache for the test.
func storeAndCache(t *testing.T) (*store.Store, *inmem.Cache) {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := inmem.NewCache(1000)
	t.Cleanup(c.Close)
	return st, c
}

// TestRotationRacingVersionFillElsewhere is TestRotationRacingVersionFill
// with the fill in one service and the rotation in another that shares
// its cache (two processes on Valkey), without the news of the rotation:
// the filling side has only the cache and the database to go by, so an
// old version restored by its late fill would let the revoked token in.
func TestRotationRacingVersionFillElsewhere(t *testing.T) {
	t.Parallel()
	caches := map[string]func(t *testing.T) (filler, rotator cache.Cache){
		"inmem": func(t *testing.T) (cache.Cache, cache.Cache) {
			c := inmem.NewCache(1000)
			t.Cleanup(c.Close)
			return c, c
		},
		"valkey": func(t *testing.T) (cache.Cache, cache.Cache) {
			v := backends.StartValkey(t)
			prefix := "rot" + store.NewID() + ":"
			open := func() cache.Cache {
				c, err := valkey.New(context.Background(), valkey.Options{URL: v.URL, Prefix: prefix})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			return open(), open()
		},
	}
	for name, newCaches := range caches {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, _ := storeAndCache(t)
			fc, rc := newCaches(t)
			key := []byte("0123456789abcdef0123456789abcdef")
			users := &pausingUsers{Users: st, paused: make(chan struct{}), resume: make(chan struct{})}
			filler := auth.NewService(users, auth.NewTokens(key, time.Hour), fc)
			rotator := auth.NewService(st, auth.NewTokens(key, time.Hour), rc)

			u, secret, err := rotator.Register(ctx, "racer")
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := rotator.CreateToken(ctx, secret)
			if err != nil {
				t.Fatal(err)
			}
			users.armed.Store(true)
			filled := make(chan error, 1)
			go func() {
				_, err := filler.Authenticate(ctx, token)
				filled <- err
			}()
			<-users.paused // the filler holds version 1, read before the rotation
			if _, err := rotator.RotateSecret(ctx, u.ID, secret); err != nil {
				t.Fatal(err)
			}
			close(users.resume)
			<-filled
			for range 2 { // the first may fill the cache, the second reads it
				if _, err := filler.Authenticate(ctx, token); !errors.Is(err, errs.ErrUnauthenticated) {
					t.Fatalf("the filler's process accepts the token revoked by the rotation: %v", err)
				}
			}
		})
	}
}

// droppingCache is a shared cache that the rotating process cannot write
// to (its Sets and Deletes fail), while the others read it as before.
type droppingCache struct{ cache.Cache }

func (droppingCache) Set(context.Context, string, []byte, time.Duration) error {
	return errors.New("cache unreachable from this process")
}

func (droppingCache) Delete(context.Context, string) error {
	return errors.New("cache unreachable from this process")
}

// TestCachedVersionOutlivesNoRevocationForLong: a rotation whose write to
// the shared cache was lost, and whose news never reached another process,
// still makes that process refuse the old token within the five seconds
// API.md promises, once the cached version expires.
func TestCachedVersionOutlivesNoRevocationForLong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, c := storeAndCache(t)
	key := auth.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	rotating := auth.NewService(st, key, droppingCache{c})
	other := auth.NewService(st, key, c)
	u, secret, err := other.Register(ctx, "cached")
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := other.CreateToken(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Authenticate(ctx, token); err != nil { // caches version 1
		t.Fatal(err)
	}
	if _, err := rotating.RotateSecret(ctx, u.ID, secret); err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	for {
		_, err := other.Authenticate(ctx, token)
		if errors.Is(err, errs.ErrUnauthenticated) {
			break
		}
		if time.Since(rotated) > 5*time.Second {
			t.Fatalf("the revoked token still works %v after the rotation: %v", time.Since(rotated), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
