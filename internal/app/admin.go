package app

import (
	"context"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/account"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/store"
)

// Admin is what the operator's commands (foxhole admin) act through: the
// services of the server's own configuration, built as a serving process
// builds them, beside the processes that serve, but serving nothing and
// running no background work. What it changes reaches every process as a
// serving process's change would: through the database, the shared cache
// and the hub.
type Admin struct{ a *App }

// OpenAdmin opens the backends named by cfg for an operator's command.
func OpenAdmin(ctx context.Context, cfg config.Config, log zerolog.Logger) (*Admin, error) {
	a, err := build(ctx, cfg, log, false)
	if err != nil {
		return nil, err
	}
	return &Admin{a: a}, nil
}

// Close releases the backends.
func (ad *Admin) Close() error {
	_ = ad.a.realtime.Shutdown(context.Background())
	return ad.a.Close()
}

// Users returns up to limit users in order of id, after the id after.
func (ad *Admin) Users(ctx context.Context, after string, limit int) ([]store.UserSummary, error) {
	return ad.a.store.UserSummaries(ctx, after, limit)
}

// User returns one user, or errs.ErrNotFound.
func (ad *Admin) User(ctx context.Context, id string) (*store.UserSummary, error) {
	return ad.a.store.UserSummary(ctx, id)
}

// Ban bans the user (on) or lifts its ban: its tokens are refused and its
// sessions end within 5 s in every process, and it gets no new token while
// banned.
func (ad *Admin) Ban(ctx context.Context, id string, on bool) error {
	return ad.a.auth.SetBanned(ctx, id, on)
}

// Delete deletes the user as DeleteAccount does, without its secret.
func (ad *Admin) Delete(ctx context.Context, id string) error {
	return ad.a.auth.DeleteUser(ctx, id)
}

// Purge erases every message the user sent to a tombstone, with their
// edits, and returns how many events changed.
func (ad *Admin) Purge(ctx context.Context, id string) (int64, error) {
	if _, err := ad.a.store.UserByID(ctx, id); err != nil {
		return 0, err
	}
	return account.EraseMessagesBy(ctx, ad.a.store, id, "")
}
