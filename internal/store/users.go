package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/text"
)

// User is a row of the users table. Times are Unix microseconds.
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID           string `bun:"id,pk"`
	SecretHash   []byte `bun:"secret_hash"`
	ScreenName   string `bun:"screen_name"`
	TokenVersion int64  `bun:"token_version"`
	CreatedAt    int64  `bun:"created_at"`
	UpdatedAt    int64  `bun:"updated_at"`
	// UsedAt is when the user's first access token was created; nil while
	// none was: the account is unused, and expires (DeleteUnusedUsers).
	UsedAt *int64 `bun:"used_at"`
	// BannedAt is when an operator banned the user; nil: not banned.
	BannedAt *int64 `bun:"banned_at"`
	// Bio is the user's few words about themselves ("" when none).
	Bio string `bun:"bio"`
	// Attributes is the JSON object of the application's own profile
	// fields ("" when none).
	Attributes string `bun:"attributes"`
	// Avatar is the object key of the user's avatar ("" when none).
	Avatar string `bun:"avatar"`
	// GhostID, set when the account's deletion began, is the id that
	// replaces the user's in what others keep.
	GhostID *string `bun:"ghost_id"`
}

// MaxScreenName is the longest screen name, in characters.
const MaxScreenName = 64

// CleanScreenName trims s and checks it is a valid screen name: 1 to 64
// characters of any script, none of them a control character.
func CleanScreenName(s string) (string, error) {
	return text.Rule{Field: "screen_name", Required: true, Max: MaxScreenName}.Clean(s)
}

// newUserInserter returns the group commit of CreateUser on db: one INSERT
// of a user, prepared once, run for each user of a batch. Its columns are
// those of User, spelled out here, so a column added to User is added here.
func newUserInserter(db *bun.DB, pg bool) *inserter {
	query := `INSERT INTO users (id, secret_hash, screen_name, token_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`
	if pg {
		query = `INSERT INTO users (id, secret_hash, screen_name, token_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`
	}
	return newInserter(db, query, func(model any) []any {
		u := model.(*User)
		return []any{u.ID, u.SecretHash, u.ScreenName, u.TokenVersion, u.CreatedAt, u.UpdatedAt}
	})
}

// CreateUser inserts u, durably, sharing the commit with concurrent
// registrations.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	return s.users.insert(ctx, u)
}

// UserByID returns the user with that id, or errs.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
	u := new(User)
	err := s.r.NewSelect().Model(u).Where("id = ?", id).Scan(ctx)
	return u, notFound(err, "user")
}

// UserBySecretHash returns the user whose secret hashes to h, or errs.ErrNotFound.
func (s *Store) UserBySecretHash(ctx context.Context, h []byte) (*User, error) {
	u := new(User)
	err := s.r.NewSelect().Model(u).Where("secret_hash = ?", h).Scan(ctx)
	return u, notFound(err, "user")
}

// TokenVersion returns the user's current token version, or errs.ErrNotFound.
func (s *Store) TokenVersion(ctx context.Context, id string) (int64, error) {
	var v int64
	err := s.r.NewSelect().Table("users").Column("token_version").Where("id = ?", id).Scan(ctx, &v)
	return v, notFound(err, "user")
}

// RotateSecret stores a new secret hash for the user and bumps its token
// version, revoking every token issued before. It returns the new version.
// The profile's updated_at stays: a credential is not part of the profile.
func (s *Store) RotateSecret(ctx context.Context, id string, h []byte) (int64, error) {
	var v int64
	err := s.w.NewUpdate().Table("users").
		Set("secret_hash = ?", h).
		Set("token_version = token_version + 1").
		Where("id = ?", id).
		Returning("token_version").
		Scan(ctx, &v)
	return v, notFound(err, "user")
}

// ReplaceSecret is RotateSecret on condition that the user's secret hash is
// still old: of two rotations that proved the same secret, one wins. A user
// that does not exist, or whose secret is no longer old, is errs.ErrNotFound.
func (s *Store) ReplaceSecret(ctx context.Context, id string, old, h []byte) (int64, error) {
	var v int64
	err := s.w.NewUpdate().Table("users").
		Set("secret_hash = ?", h).
		Set("token_version = token_version + 1").
		Where("id = ?", id).
		Where("secret_hash = ?", old).
		Returning("token_version").
		Scan(ctx, &v)
	return v, notFound(err, "user")
}

// UpdateScreenName sets the user's screen name and returns the updated row.
func (s *Store) UpdateScreenName(ctx context.Context, id, name string, now int64) (*User, error) {
	return s.UpdateProfile(ctx, id, ProfileUpdate{ScreenName: &name}, now)
}

// ProfileUpdate lists the profile columns to change; nil leaves one as is.
type ProfileUpdate struct {
	ScreenName *string
	Bio        *string
	Attributes *string // JSON object, or "" for none
}

// UpdateProfile applies p to the user's profile, sets updated_at, and
// returns the updated row. A user being deleted is errs.ErrNotFound.
func (s *Store) UpdateProfile(ctx context.Context, id string, p ProfileUpdate, now int64) (*User, error) {
	u := new(User)
	q := s.w.NewUpdate().Model(u).Set("updated_at = ?", now)
	if p.ScreenName != nil {
		q = q.Set("screen_name = ?", *p.ScreenName)
	}
	if p.Bio != nil {
		q = q.Set("bio = ?", *p.Bio)
	}
	if p.Attributes != nil {
		q = q.Set("attributes = ?", *p.Attributes)
	}
	err := q.Where("id = ?", id).Where("ghost_id IS NULL").Returning("*").Scan(ctx)
	return u, notFound(err, "user")
}

// SetAvatar makes key the user's avatar and returns the key it replaces
// ("" when none), to be removed from the object store.
func (s *Store) SetAvatar(ctx context.Context, id, key string, now int64) (old string, err error) {
	err = s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Table("users").Column("avatar").Where("id = ?", id).Where("ghost_id IS NULL")
		if s.pg {
			q = q.For("UPDATE") // two at once: each sees the key the other replaced
		}
		if err := q.Scan(ctx, &old); err != nil {
			return notFound(err, "user")
		}
		_, err := tx.NewUpdate().Table("users").Set("avatar = ?", key).Set("updated_at = ?", now).
			Where("id = ?", id).Exec(ctx)
		return err
	})
	return old, err
}

// MarkUsed records that the user obtained an access token at now, unless
// it already had one: the account is used, and never expires as unused.
func (s *Store) MarkUsed(ctx context.Context, id string, now int64) error {
	_, err := s.w.NewUpdate().Table("users").Set("used_at = ?", now).
		Where("id = ?", id).Where("used_at IS NULL").Exec(ctx)
	return err
}

// unusedBatch bounds the accounts one statement of DeleteUnusedUsers
// removes, so that no statement holds the table for long.
const unusedBatch = 1000

// DeleteUnusedUsers removes the accounts never used (no access token ever
// created for them, see MarkUsed) that were made before cutoff (Unix
// microseconds), a batch per statement, and returns how many it removed.
// A used account is never touched, whenever it was made. An unused account
// owns nothing: files and events need a token.
func (s *Store) DeleteUnusedUsers(ctx context.Context, cutoff int64) (int64, error) {
	var removed int64
	for {
		res, err := s.w.NewDelete().Table("users").Where("id IN (?)",
			s.w.NewSelect().Table("users").Column("id").
				Where("used_at IS NULL").Where("created_at < ?", cutoff).Limit(unusedBatch)).
			Where("used_at IS NULL").
			Exec(ctx)
		if err != nil {
			return removed, err
		}
		n, _ := res.RowsAffected()
		removed += n
		if n < unusedBatch {
			return removed, nil
		}
	}
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.New(errs.ErrNotFound, "%s not found", what)
	}
	return err
}

// SetBanned bans the user (at, Unix microseconds) or lifts its ban (at
// nil). A ban revokes every token the user holds: it returns the new token
// version, to be announced as a rotation is. An unknown user is
// errs.ErrNotFound.
func (s *Store) SetBanned(ctx context.Context, id string, at *int64) (int64, error) {
	q := s.w.NewUpdate().Model((*User)(nil)).Set("banned_at = ?", at).Where("id = ?", id).Returning("token_version")
	if at != nil {
		q = q.Set("token_version = token_version + 1")
	}
	var version int64
	if err := q.Scan(ctx, &version); err != nil {
		return 0, notFound(err, "user")
	}
	return version, nil
}

// BeginDeletion marks the user for deletion, on condition that its secret
// hash is still old: it records ghost as the id that replaces the user's
// in what others keep, replaces the secret hash by h (which hashes no
// secret anyone holds), and bumps the token version, revoking every token.
// It returns the new token version. A user that does not exist, whose
// secret is no longer old, or whose deletion began already is
// errs.ErrNotFound.
func (s *Store) BeginDeletion(ctx context.Context, id string, old, h []byte, ghost string) (int64, error) {
	var v int64
	err := s.w.NewUpdate().Table("users").
		Set("secret_hash = ?", h).
		Set("token_version = token_version + 1").
		Set("ghost_id = ?", ghost).
		Where("id = ?", id).
		Where("secret_hash = ?", old).
		Where("ghost_id IS NULL").
		Returning("token_version").
		Scan(ctx, &v)
	return v, notFound(err, "user")
}

// Deleting returns the ids of users whose deletion began, up to limit.
func (s *Store) Deleting(ctx context.Context, limit int) ([]User, error) {
	var users []User
	err := s.r.NewSelect().Model(&users).Column("id", "ghost_id", "avatar").
		Where("ghost_id IS NOT NULL").OrderExpr("id").Limit(int64(limit)).Scan(ctx)
	return users, err
}
