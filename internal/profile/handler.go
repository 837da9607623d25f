package profile

import (
	"context"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/errs"
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
	return connect.NewResponse(&foxholev1.GetProfileResponse{User: auth.UserProto(u)}), nil
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
	return connect.NewResponse(&foxholev1.UpdateProfileResponse{User: auth.UserProto(u)}), nil
}

// GetUser implements foxholev1connect.ProfileServiceHandler.
func (h *Handler) GetUser(ctx context.Context, req *connect.Request[foxholev1.GetUserRequest]) (*connect.Response[foxholev1.GetUserResponse], error) {
	u, err := h.svc.Get(ctx, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.GetUserResponse{User: auth.UserProto(u)}), nil
}

// changesFrom reads the update: the fields named by the mask, or, without a
// mask, the writable fields that are set. Paths may use proto or JSON names.
func changesFrom(m *foxholev1.UpdateProfileRequest) (Changes, error) {
	var c Changes
	name := m.GetUser().GetScreenName()
	paths := m.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		if name != "" {
			c.ScreenName = &name
		}
		return c, nil
	}
	for _, p := range paths {
		switch p {
		case "screen_name", "screenName":
			c.ScreenName = &name
		case "id", "created_at", "createdAt", "updated_at", "updatedAt":
			return Changes{}, errs.Invalidf("update_mask", "%q is not writable", p)
		default:
			return Changes{}, errs.Invalidf("update_mask", "unknown field %q", p)
		}
	}
	return c, nil
}
