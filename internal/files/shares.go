package files

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/blob"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// ShareMetadata is the part of the store that share links need.
type ShareMetadata interface {
	CreateShare(ctx context.Context, sh *store.Share, max int) error
	SharedFile(ctx context.Context, shareID string, now int64) (*store.File, error)
	DeleteShare(ctx context.Context, ownerID, id string) error
	ListShares(ctx context.Context, ownerID, fileID string, now int64) ([]store.Share, error)
	DeleteSharesOf(ctx context.Context, fileID string) error
}

// SharePath is where share links are served: SharePath + share id.
const SharePath = "/files/shared/"

func (s *Service) shares() (ShareMetadata, error) {
	sm, ok := s.meta.(ShareMetadata)
	if !ok {
		return nil, errs.New(errs.ErrUnavailable, "share links are not available")
	}
	return sm, nil
}

// Share makes a public link to the owner's file, for ttl (0: until
// revoked).
func (s *Service) Share(ctx context.Context, owner, fileID string, ttl time.Duration) (*store.Share, error) {
	sm, err := s.shares()
	if err != nil {
		return nil, err
	}
	if !blob.ValidKey(fileID) {
		return nil, errs.New(errs.ErrNotFound, "file not found")
	}
	now := s.now()
	sh := &store.Share{ID: store.NewID(), FileID: fileID, OwnerID: owner, CreatedAt: now.UnixMicro()}
	if ttl > 0 {
		sh.ExpiresAt = now.Add(ttl).UnixMicro()
	}
	if err := sm.CreateShare(ctx, sh, s.opt.MaxSharesPerUser); err != nil {
		return nil, err
	}
	return sh, nil
}

// RevokeShare ends the owner's link.
func (s *Service) RevokeShare(ctx context.Context, owner, id string) error {
	sm, err := s.shares()
	if err != nil {
		return err
	}
	return sm.DeleteShare(ctx, owner, id)
}

// ListShares returns the owner's live links, of one file or all.
func (s *Service) ListShares(ctx context.Context, owner, fileID string) ([]store.Share, error) {
	sm, err := s.shares()
	if err != nil {
		return nil, err
	}
	return sm.ListShares(ctx, owner, fileID, s.now().UnixMicro())
}

// SharedFile returns the file a live link names, whoever owns it.
func (s *Service) SharedFile(ctx context.Context, id string) (*store.File, error) {
	sm, err := s.shares()
	if err != nil {
		return nil, err
	}
	if !blob.ValidKey(id) {
		return nil, errs.New(errs.ErrNotFound, "share not found")
	}
	return sm.SharedFile(ctx, id, s.now().UnixMicro())
}

// ShareProto returns the API view of sh, its URL on base.
func ShareProto(sh *store.Share, base string) *foxholev1.Share {
	p := &foxholev1.Share{
		Id: sh.ID, FileId: sh.FileID, Url: base + SharePath + sh.ID,
		CreatedAt: timestamppb.New(time.UnixMicro(sh.CreatedAt)),
	}
	if sh.ExpiresAt != 0 {
		p.ExpiresAt = timestamppb.New(time.UnixMicro(sh.ExpiresAt))
	}
	return p
}
