// Package account deletes accounts, leaving nothing of them behind, and
// exports everything held on one.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/avatar"
	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/files"
	"foxhole.dev/foxhole/internal/rooms"
	"foxhole.dev/foxhole/internal/store"
)

// GhostName is the screen name shown, in what others keep, for a user
// whose account was deleted.
const GhostName = "Deleted user"

// Options configure the service.
type Options struct {
	// MaxExportsPerUser bounds one user's exports at once in this process.
	MaxExportsPerUser int
	// OnErased, when set, is told that a user is gone (to drop caches).
	OnErased func(ctx context.Context, userID string)
}

// Service erases and exports accounts.
type Service struct {
	db      *store.Store
	files   *files.Service
	rooms   *rooms.Service
	avatars *avatar.Service
	blobs   blob.Store
	opt     Options

	mu      sync.Mutex
	exports map[string]int // exports in progress, per user
}

// NewService returns the Service.
func NewService(db *store.Store, f *files.Service, r *rooms.Service, a *avatar.Service, blobs blob.Store, o Options) *Service {
	if o.MaxExportsPerUser <= 0 {
		o.MaxExportsPerUser = 1
	}
	return &Service{db: db, files: f, rooms: r, avatars: a, blobs: blobs, opt: o, exports: map[string]int{}}
}

// Erase removes everything of a user whose deletion began
// (store.BeginDeletion): uploads in progress, files (content first, so
// that a crash never leaves content without a row naming it), room
// memberships (through rooms.Service.Leave, which hands an owned room on
// or deletes it), the avatar, the user's file events; then it erases each
// message the user sent to a tombstone and puts the user's ghost id in
// place of theirs wherever others' history names them; last, the user's
// row, with what refers to it (bans, blocks, read markers). Every step may
// run again: after a crash, Erase run again (here or in another process)
// finishes the job. A user already gone is nil.
func (s *Service) Erase(ctx context.Context, userID string) error {
	u, err := s.db.UserByID(ctx, userID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.GhostID == nil {
		return fmt.Errorf("erase %s: the deletion of this account has not begun", userID)
	}
	ghost := *u.GhostID

	resumables, err := s.db.ResumablesOf(ctx, userID)
	if err != nil {
		return fmt.Errorf("erase resumable uploads: %w", err)
	}
	for _, id := range resumables {
		if err := s.files.DeleteResumable(ctx, userID, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("erase a resumable upload: %w", err)
		}
	}
	intents, err := s.db.DeleteUploadIntentsOf(ctx, userID)
	if err != nil {
		return fmt.Errorf("erase uploads in progress: %w", err)
	}
	for _, id := range intents {
		if err := s.blobs.Delete(ctx, id); err != nil {
			return fmt.Errorf("erase an upload in progress: %w", err)
		}
	}
	for {
		fs, err := s.db.ListFiles(ctx, userID, nil, 100)
		if err != nil {
			return fmt.Errorf("erase files: %w", err)
		}
		if len(fs) == 0 {
			break
		}
		for _, f := range fs {
			if err := s.blobs.Delete(ctx, f.ID); err != nil {
				return fmt.Errorf("erase a file's content: %w", err)
			}
			if err := s.files.Delete(ctx, userID, f.ID); err != nil && !errors.Is(err, errs.ErrNotFound) {
				return fmt.Errorf("erase a file: %w", err)
			}
		}
	}
	roomIDs, err := s.db.RoomsToLeave(ctx, userID)
	if err != nil {
		return fmt.Errorf("erase memberships: %w", err)
	}
	for _, id := range roomIDs {
		if err := s.rooms.Leave(ctx, userID, id); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("leave room %s: %w", id, err)
		}
	}
	if u.Avatar != "" {
		if err := s.avatars.Purge(ctx, u.Avatar); err != nil {
			return fmt.Errorf("erase the avatar: %w", err)
		}
	}
	n, err := EraseMessagesBy(ctx, s.db, userID, ghost)
	if err != nil {
		return err
	}
	if err := s.db.DeleteUser(ctx, userID); err != nil {
		return fmt.Errorf("erase the user: %w", err)
	}
	if err := s.db.ForgetFreed(ctx); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("empty the write-ahead log after an account's deletion")
	}
	if s.opt.OnErased != nil {
		s.opt.OnErased(ctx, userID)
	}
	zerolog.Ctx(ctx).Info().Str("user_id", userID).Int64("events_rewritten", n).Msg("account deleted")
	return nil
}

// FinishPending finishes the deletions that began and did not end (their
// process died), and returns how many it finished.
func (s *Service) FinishPending(ctx context.Context) (int, error) {
	users, err := s.db.Deleting(ctx, 100)
	if err != nil {
		return 0, err
	}
	done := 0
	var errList []error
	for _, u := range users {
		if err := s.Erase(ctx, u.ID); err != nil {
			errList = append(errList, err)
			continue
		}
		done++
	}
	return done, errors.Join(errList...)
}

// RunPending calls FinishPending at once and then every interval until ctx
// ends.
func (s *Service) RunPending(ctx context.Context, interval time.Duration, log zerolog.Logger) {
	for {
		if n, err := s.FinishPending(log.WithContext(ctx)); err != nil && ctx.Err() == nil {
			log.Warn().Err(err).Msg("finish account deletions; retrying")
		} else if n > 0 {
			log.Info().Int("accounts", n).Msg("finished account deletions")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// EraseMessagesBy rewrites every stored event that names userID: each chat
// message the user sent becomes a tombstone (no content, `deleted` set;
// sender, recipient and room kept) and its edits go, and, when ghost is not "", the user's file events go and
// the user's id becomes ghost, and their screen name GhostName, wherever
// the rest names them (others' direct messages to them, room history).
// With ghost "" it only erases the user's messages (an operator's purge).
// It runs in batches, and may run again after a crash. It returns how many
// events it changed.
func EraseMessagesBy(ctx context.Context, db *store.Store, userID, ghost string) (int64, error) {
	n, err := db.RewriteEvents(ctx, userID, func(e *store.Event) (store.EventChange, error) {
		if e.Kind == store.KindFile && e.Conv == store.FileConversation(userID) {
			if ghost == "" {
				return store.EventKeep, nil
			}
			return store.EventDiscard, nil
		}
		ev := new(foxholev1.Event)
		if err := proto.Unmarshal(e.Body, ev); err != nil {
			return 0, fmt.Errorf("event %d: %w", e.ID, err)
		}
		// An edit of the user's message holds its text: it goes, as a
		// deletion's does (store.ReviseMessage).
		if e.Kind == store.KindRevision && e.SenderID == userID && ev.GetMessageEdited() != nil {
			return store.EventDiscard, nil
		}
		changed := false
		if m := ev.GetChatMessage(); m != nil && e.Kind == store.KindChat && e.SenderID == userID && !m.GetDeleted() {
			m.Content, m.Deleted, m.EditedAt = "", true, nil
			changed = true
		}
		if ghost != "" {
			changed = scrub(ev.ProtoReflect(), userID, ghost) || changed
			if e.SenderID == userID {
				e.SenderID, changed = ghost, true
			}
			if e.RecipientID != nil && *e.RecipientID == userID {
				e.RecipientID, changed = &ghost, true
			}
			if rest, ok := strings.CutPrefix(e.Conv, "d:"); ok {
				if a, b, ok := strings.Cut(rest, ":"); ok && (a == userID || b == userID) {
					if a == userID {
						a = ghost
					} else {
						b = ghost
					}
					e.Conv, changed = store.DirectConversation(a, b), true
				}
			}
		}
		if !changed {
			return store.EventKeep, nil
		}
		body, err := proto.Marshal(ev)
		if err != nil {
			return 0, err
		}
		e.Body = body
		return store.EventUpdate, nil
	})
	if err != nil {
		return n, fmt.Errorf("erase messages: %w", err)
	}
	return n, nil
}

var userRefName = (&foxholev1.UserRef{}).ProtoReflect().Descriptor().FullName()

// scrub replaces, in m and every message in it, a UserRef of user by one
// of ghost named GhostName, and any other string field equal to user (a
// recipient id, a room event's target) by ghost. It reports whether it
// changed anything.
func scrub(m protoreflect.Message, user, ghost string) bool {
	if m.Descriptor().FullName() == userRefName {
		fields := m.Descriptor().Fields()
		id, name := fields.ByName("id"), fields.ByName("screen_name")
		if m.Get(id).String() != user {
			return false
		}
		m.Set(id, protoreflect.ValueOfString(ghost))
		m.Set(name, protoreflect.ValueOfString(GhostName))
		return true
	}
	changed := false
	type set struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	var sets []set
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				switch fd.Kind() {
				case protoreflect.MessageKind, protoreflect.GroupKind:
					changed = scrub(l.Get(i).Message(), user, ghost) || changed
				case protoreflect.StringKind:
					if l.Get(i).String() == user {
						l.Set(i, protoreflect.ValueOfString(ghost))
						changed = true
					}
				}
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			changed = scrub(v.Message(), user, ghost) || changed
		case fd.Kind() == protoreflect.StringKind && v.String() == user:
			sets = append(sets, set{fd, protoreflect.ValueOfString(ghost)})
		}
		return true
	})
	for _, s := range sets {
		m.Set(s.fd, s.v)
		changed = true
	}
	return changed
}
