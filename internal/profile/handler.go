package profile

import (
	"context"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

var _ foxholev1connect.ProfileServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.ProfileService.
type Handler struct{ svc *Service }

// NewHandler returns the ProfileService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// GetProfile implements foxholev1connect.ProfileServiceHandler.
func (h *Handler) GetProfile(ctx context.Context, _ *connect.Request[foxholev1.GetProfileRequest]) (*connect.Response[foxholev1.GetProfileResponse], error) {
	userID, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := h.svc.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.GetProfileResponse{User: UserProto(ctx, u)}), nil
}

// UpdateProfile implements foxholev1connect.ProfileServiceHandler.
func (h *Handler) UpdateProfile(ctx context.Context, req *connect.Request[foxholev1.UpdateProfileRequest]) (*connect.Response[foxholev1.UpdateProfileResponse], error) {
	userID, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := changesFrom(req.Msg)
	if err != nil {
		return nil, err
	}
	u, err := h.svc.Update(ctx, userID, changes)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.UpdateProfileResponse{User: UserProto(ctx, u)}), nil
}

// GetUser implements foxholev1connect.ProfileServiceHandler.
func (h *Handler) GetUser(ctx context.Context, req *connect.Request[foxholev1.GetUserRequest]) (*connect.Response[foxholev1.GetUserResponse], error) {
	u, err := h.svc.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.GetUserResponse{User: UserProto(ctx, u)}), nil
}

// changesFrom reads the update: the fields named by the mask, or, without a
// mask, the writable fields that are set. Paths may use proto or JSON names.
func changesFrom(m *foxholev1.UpdateProfileRequest) (Changes, error) {
	var c Changes
	u := m.GetUser()
	name, bio := u.GetScreenName(), u.GetBio()
	paths := m.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		if name != "" {
			c.ScreenName = &name
		}
		if bio != "" {
			c.Bio = &bio
		}
		if u.GetAttributes() != nil {
			c.Attributes, c.SetAttributes = u.GetAttributes(), true
		}
		return c, nil
	}
	for _, p := range paths {
		switch p {
		case "screen_name", "screenName":
			c.ScreenName = &name
		case "bio":
			c.Bio = &bio
		case "attributes":
			c.Attributes, c.SetAttributes = u.GetAttributes(), true
		case "avatar_url", "avatarUrl":
			return Changes{}, errs.Invalidf("update_mask", "%q is set by PUT /avatar, not here", p)
		case "id", "created_at", "createdAt", "updated_at", "updatedAt":
			return Changes{}, errs.Invalidf("update_mask", "%q is not writable", p)
		default:
			return Changes{}, errs.Invalidf("update_mask", "unknown field %q", p)
		}
	}
	return c, nil
}

// UserProto returns the public view of u, its avatar URL absolute on the
// base URL of the call in ctx.
func UserProto(ctx context.Context, u *store.User) *foxholev1.User {
	p := auth.UserProto(u)
	p.Attributes = AttributesProto(u.Attributes)
	if u.Avatar != "" {
		base := ""
		if rec, ok := call.Lookup(ctx); ok {
			base = rec.BaseURL()
		}
		p.AvatarUrl = AvatarURL(base, u)
	}
	return p
}

// AvatarURL is the URL of u's avatar on base (a new one for every avatar,
// so that it can be cached for long), or "" when u has none.
func AvatarURL(base string, u *store.User) string {
	if u.Avatar == "" {
		return ""
	}
	return base + "/avatars/" + u.ID + "?v=" + u.Avatar
}
