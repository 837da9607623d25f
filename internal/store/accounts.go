package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// rewriteBatch bounds the events one transaction of RewriteEvents changes.
const rewriteBatch = 500

// EventChange is what a RewriteEvents callback does with an event.
type EventChange int

const (
	EventKeep    EventChange = iota // leave it as it is
	EventUpdate                     // store its body, sender, recipient and conversation as changed
	EventDiscard                    // remove it
)

// RewriteEvents passes every stored event that names user (as its sender
// or recipient, or in its conversation) to fn, in id order, a batch per
// transaction, and applies what fn says. An event fn updates so that it
// no longer names user is not met again, so a rewrite cut off halfway
// resumes where it stopped when run again. It returns how many events fn
// changed.
func (s *Store) RewriteEvents(ctx context.Context, user string, fn func(*Event) (EventChange, error)) (int64, error) {
	var changed int64
	after := int64(0)
	for {
		var evs []Event
		err := s.r.NewSelect().Model(&evs).
			Where("id > ?", after).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("sender_id = ?", user).WhereOr("recipient_id = ?", user).WhereOr("conv = ?", FileConversation(user))
			}).
			OrderExpr("id").Limit(rewriteBatch).Scan(ctx)
		if err != nil {
			return changed, fmt.Errorf("events of a user: %w", err)
		}
		if len(evs) == 0 {
			return changed, nil
		}
		after = evs[len(evs)-1].ID
		err = s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for i := range evs {
				e := &evs[i]
				what, err := fn(e)
				if err != nil {
					return err
				}
				switch what {
				case EventUpdate:
					_, err = tx.NewUpdate().Model(e).Column("body", "sender_id", "recipient_id", "conv").WherePK().Exec(ctx)
				case EventDiscard:
					_, err = tx.NewDelete().Model(e).WherePK().Exec(ctx)
				default:
					continue
				}
				if err != nil {
					return err
				}
				changed++
			}
			return nil
		})
		if err != nil {
			return changed, fmt.Errorf("rewrite events: %w", err)
		}
	}
}

// MessagesOf passes to fn, in id order, every stored chat message user
// sent or could read as the recipient of a direct message, a page at a
// time (for an export).
func (s *Store) MessagesOf(ctx context.Context, user string, fn func(*Event) error) error {
	after := int64(0)
	for {
		var evs []Event
		err := s.r.NewSelect().Model(&evs).
			Where("id > ? AND kind = ?", after, KindChat).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("sender_id = ?", user).WhereOr("recipient_id = ? AND room_id IS NULL", user)
			}).
			OrderExpr("id").Limit(rewriteBatch).Scan(ctx)
		if err != nil {
			return fmt.Errorf("messages of a user: %w", err)
		}
		for i := range evs {
			if err := fn(&evs[i]); err != nil {
				return err
			}
		}
		if len(evs) < rewriteBatch {
			return nil
		}
		after = evs[len(evs)-1].ID
	}
}

// RoomsToLeave returns the ids of the rooms user is a member of or invited
// to.
func (s *Store) RoomsToLeave(ctx context.Context, user string) ([]string, error) {
	var ids []string
	err := s.r.NewSelect().Model((*Member)(nil)).Column("room_id").
		Where("user_id = ? AND state IN (?)", user, bun.List([]MemberState{Joined, Invited})).Scan(ctx, &ids)
	return ids, err
}

// DeleteUploadIntentsOf forgets the owner's uploads in progress and
// returns their keys, whose content is to be removed. Their uploads can
// no longer commit.
func (s *Store) DeleteUploadIntentsOf(ctx context.Context, owner string) ([]string, error) {
	var ids []string
	err := s.w.NewDelete().Table("upload_intents").Where("owner_id = ?", owner).Returning("id").Scan(ctx, &ids)
	return ids, err
}

// ResumablesOf returns the ids of the owner's resumable uploads.
func (s *Store) ResumablesOf(ctx context.Context, owner string) ([]string, error) {
	var ids []string
	err := s.r.NewSelect().Table("resumable_uploads").Column("id").Where("owner_id = ?", owner).Scan(ctx, &ids)
	return ids, err
}

// DeleteUser removes the row of a user whose deletion began (BeginDeletion)
// and, by their foreign keys, what still refers to it: room memberships,
// bans and invitations, files' metadata, blocks. A user that is not being
// deleted stays.
// Share links and resumable uploads name their owner without a foreign
// key: they go in the same transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.w.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Table("users").Where("id = ?", id).Where("ghost_id IS NOT NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		for _, table := range []string{"shares", "resumable_uploads", "upload_intents"} {
			if _, err := tx.NewDelete().Table(table).Where("owner_id = ?", id).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForgetFreed makes what was deleted unreadable from the data dir: on
// SQLite (which overwrites deleted content, secure_delete) it copies the
// write-ahead log back into the database file and empties it, since the
// log still holds pages as they were before the deletion. PostgreSQL keeps
// its files elsewhere and reclaims dead rows by VACUUM: nothing to do.
func (s *Store) ForgetFreed(ctx context.Context) error {
	if s.pg {
		return nil
	}
	_, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}
